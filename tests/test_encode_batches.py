"""ExplorerModel.encode's token-budget batches (core.models.batching) give the vectors of
``SentenceTransformer.encode`` (within 1e-5), in the input order, with every text reported.

Texts of very different lengths (one word to past the model's max_seq_length), a single text,
and budgets small enough that batches split at the budget; with prompts and a non-default
pooling. No timings here: bench/encode_throughput.py measures the speed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.st_tiny import build_st_folder

TOL = 1e-5
LONG = " ".join(f"word{i} and some more text" for i in range(120))  # far past 256 tokens: truncated
TEXTS = [
    "Embeddings",
    "The cat sat on the mat.",
    LONG,
    "A much longer sentence, with punctuation, about how transformers pool their token vectors into one.",
    "Hi",
    "A man is playing a guitar.",
    "A man is playing a guitar.",  # a duplicate: both rows filled
    "Three dogs run across a snowy field while their owner watches from a distance, laughing.",
    LONG[: len(LONG) // 3],
    "ok",
    "Short one.",
]


@pytest.fixture(scope="module")
def bundled_pair():
    from sentence_transformers import SentenceTransformer

    from core import load_model

    model = load_model(None, "cpu")
    return model, SentenceTransformer(model.source_dir, device="cpu")


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory):
    """A tiny model whose pipeline pools the position-weighted mean without the prompt's tokens, with a
    Dense layer and a default prompt."""
    from sentence_transformers import SentenceTransformer

    from core import load_model

    folder = build_st_folder(tmp_path_factory.mktemp("encode_batches"), pooling="weightedmean", include_prompt=False,
                             dense=[(16, "tanh", True)], prompts={"query": "query: ", "passage": "passage: "},
                             default_prompt_name="query", max_seq_length=32)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_model(str(folder), "cpu"), SentenceTransformer(str(folder), device="cpu")
    torch.set_num_threads(threads)


def _close(actual, expected):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, atol=TOL, rtol=0)


def test_batches_follow_the_token_budget():
    from core.models.batching import token_budget_batches

    lengths = [5, 300, 12, 12, 7, 40, 5, 12]
    batches = token_budget_batches(lengths, max_tokens=36)
    order = np.concatenate(batches)
    assert sorted(order.tolist()) == list(range(len(lengths)))           # every text exactly once
    assert [lengths[i] for i in order] == sorted(lengths, reverse=True)  # longest first
    assert order[2:5].tolist() == [2, 3, 7]                              # ties in input order
    for batch in batches:
        padded = len(batch) * max(lengths[i] for i in batch)
        assert padded <= 36 or len(batch) == 1                            # a text over the budget alone
    assert [len(b) for b in batches] == [1, 1, 3, 3]
    assert [len(b) for b in token_budget_batches(lengths, max_tokens=10_000, max_texts=3)] == [3, 3, 2]


@pytest.mark.parametrize("max_tokens", [None, 64, 300], ids=["default", "budget-64", "budget-300"])
def test_bundled_model_matches_encode(bundled_pair, max_tokens):
    model, st = bundled_pair
    seen = []
    vectors = model.encode(TEXTS, max_tokens=max_tokens, progress=lambda done, total: seen.append((done, total)))
    _close(vectors, st.encode(TEXTS, normalize_embeddings=True))
    assert seen[-1] == (len(TEXTS), len(TEXTS))
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    if max_tokens == 64:  # the long texts (256 tokens) are batches of their own; the short ones share
        assert 3 <= len(seen) < len(TEXTS)


def test_order_is_the_input_order(bundled_pair):
    model, st = bundled_pair
    vectors = model.encode(TEXTS, max_tokens=64)
    for i, text in enumerate(TEXTS):
        _close(vectors[i], st.encode(text, normalize_embeddings=True))
    assert np.abs(vectors[2] - vectors[8]).max() > 100 * TOL  # truncated long texts stay apart


def test_single_text_and_explicit_prompt(bundled_pair):
    model, st = bundled_pair
    _close(model.encode(["The cat sat on the mat."]), st.encode(["The cat sat on the mat."]))
    _close(model.encode(TEXTS, prompt="query: ", max_tokens=96), st.encode(TEXTS, prompt="query: "))


def test_poolings_at_once_match_their_single_runs(bundled_pair):
    model, _ = bundled_pair
    both = model.encode(TEXTS, pooling=["cls", "max"], max_tokens=64)
    _close(both["cls"], model.encode(TEXTS, pooling="cls", batch_size=1))
    _close(both["max"], model.encode(TEXTS, pooling="max"))


def test_non_default_pooling_prompts_and_dense(tiny_pair):
    model, st = tiny_pair
    assert model.pipeline.pooling_mode == "weightedmean" and model.pipeline.include_prompt is False
    for max_tokens in (None, 40, 1):
        _close(model.encode(TEXTS, max_tokens=max_tokens), st.encode(TEXTS))                         # default prompt
        _close(model.encode(TEXTS, prompt_name="passage", max_tokens=max_tokens), st.encode(TEXTS, prompt_name="passage"))
        _close(model.encode(TEXTS, prompt="", max_tokens=max_tokens), st.encode(TEXTS, prompt=""))
    _close(model.encode(["Hi"]), st.encode(["Hi"]))


def test_progress_counts_every_text_and_stop_says_how_far(tiny_pair):
    from core.models.explorer_model import EmbeddingStopped

    model, _ = tiny_pair
    seen = []
    model.encode(TEXTS, max_tokens=40, progress=lambda done, total: seen.append(done))
    assert seen[-1] == len(TEXTS) and len(seen) > 2
    calls = []

    def stop_after_two():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(EmbeddingStopped) as stopped:
        model.encode(TEXTS, max_tokens=40, should_stop=stop_after_two)
    assert stopped.value.done == seen[1] and stopped.value.total == len(TEXTS)
