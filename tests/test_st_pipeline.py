"""The explorer follows a model's whole sentence-transformers pipeline, as its folder declares it:
prompts, every Pooling mode (with and without the prompt's tokens), Dense layers, Normalize and
the similarity function; checked against ``SentenceTransformer(folder).encode`` itself.

Every folder is a tiny random model written offline by ``tests.st_tiny.build_st_folder`` and is
built (and loaded in both libraries) once per module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from .st_tiny import build_st_folder, write_pooling_config

TOL = 1e-5
POOLING_MODES = ("cls", "mean", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
SIMILARITIES = ("cosine", "dot", "euclidean", "manhattan")

TEXT = "The cat sat on the mat."
# Different lengths, so a batch is padded; the last one is long but fits in 64 tokens with a prompt.
TEXTS = [
    "The cat sat on the mat.",
    "Embeddings",
    "A much longer sentence, with punctuation, about how transformers pool their token vectors into one.",
]
PROMPTS = {"query": "query: ", "passage": "passage: "}
CUSTOM = "custom: "


@dataclass
class Pair:
    folder: Path
    st: object        # sentence_transformers.SentenceTransformer
    model: object     # core.ExplorerModel


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """These models are tiny: with torch's default thread pool on a busy 2-core machine every
    op waits for its threads (~170 ms an encode instead of ~2 ms). Restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def core_api():
    # Imported here, not at the top, so the file is collected even while core/ is mid-edit.
    import core
    from core.pipeline.similarity import similarity_matrix

    return core, similarity_matrix


@pytest.fixture(scope="module")
def pair(tmp_path_factory, core_api):
    """pair(**build_st_folder settings) → Pair, each folder built and loaded once per module."""
    from sentence_transformers import SentenceTransformer

    core, _ = core_api
    root = tmp_path_factory.mktemp("st_pipeline")
    cache: dict[str, Pair] = {}

    def get(**settings) -> Pair:
        key = json.dumps(settings, sort_keys=True, default=repr)
        if key not in cache:
            folder = build_st_folder(root, **settings)
            st = SentenceTransformer(str(folder), device="cpu")
            cache[key] = Pair(folder, st, core.load_model(str(folder), "cpu"))
        return cache[key]

    return get


def _close(actual, expected, atol=TOL):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=0)


def _check_encode(core, p: Pair, *, prompt_names=("query",), prompts=(CUSTOM,)):
    """The trace and the batch embedding against st.encode: by default, per prompt name, per prompt."""
    _close(core.trace_text(p.model, TEXT).native_embedding, p.st.encode(TEXT))
    _close(core.embed_texts(p.model, TEXTS), p.st.encode(TEXTS))
    for name in prompt_names:
        _close(core.trace_text(p.model, TEXT, prompt_name=name).native_embedding, p.st.encode(TEXT, prompt_name=name))
        _close(core.embed_texts(p.model, TEXTS, prompt_name=name), p.st.encode(TEXTS, prompt_name=name))
    for prompt in prompts:
        _close(core.trace_text(p.model, TEXT, prompt=prompt).native_embedding, p.st.encode(TEXT, prompt=prompt))
        _close(core.embed_texts(p.model, TEXTS, prompt=prompt), p.st.encode(TEXTS, prompt=prompt))


def _nonempty(prompts) -> dict:
    # sentence-transformers 6 adds {"query": "", "document": ""} to every model's prompts (and saves them).
    return {name: text for name, text in dict(prompts).items() if text}


# --- every pooling mode -------------------------------------------------------------------------


@pytest.mark.parametrize("include_prompt", [True, False], ids=["with-prompt", "without-prompt"])
@pytest.mark.parametrize("mode", POOLING_MODES)
def test_pooling_mode_matches_encode(pair, core_api, mode, include_prompt):
    core, _ = core_api
    p = pair(pooling=mode, include_prompt=include_prompt, normalize=False, prompts=PROMPTS)
    pipeline = p.model.pipeline
    assert pipeline.pooling_mode == mode
    assert pipeline.include_prompt is include_prompt
    assert pipeline.dense == () and pipeline.normalize is False
    assert _nonempty(pipeline.prompts) == PROMPTS and pipeline.default_prompt_name is None
    assert pipeline.similarity_fn_name == "cosine"          # no similarity_fn_name saved → cosine
    _check_encode(core, p)


def test_poolings_differ_visibly(pair, core_api):
    """The tiny models are random enough that a wrong pooling cannot pass by accident."""
    core, _ = core_api
    vectors = [pair(pooling=mode, include_prompt=True, normalize=False, prompts=PROMPTS).st.encode(TEXT)
               for mode in POOLING_MODES]
    for i in range(len(vectors)):
        for j in range(i + 1, len(vectors)):
            assert np.abs(vectors[i] - vectors[j]).max() > 100 * TOL, (POOLING_MODES[i], POOLING_MODES[j])


@pytest.mark.parametrize("mode", ["cls", "mean", "weightedmean"])
def test_excluded_prompt_changes_the_embedding(pair, mode):
    """include_prompt=False really drops the prompt's tokens (and [CLS], counted in prompt_length)."""
    kept = pair(pooling=mode, include_prompt=True, normalize=False, prompts=PROMPTS).st
    dropped = pair(pooling=mode, include_prompt=False, normalize=False, prompts=PROMPTS).st
    np.testing.assert_allclose(kept.encode(TEXT), dropped.encode(TEXT), atol=TOL)   # no prompt: same
    assert np.abs(kept.encode(TEXT, prompt_name="query") - dropped.encode(TEXT, prompt_name="query")).max() > 100 * TOL


# --- prompts ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prompted(pair):
    """A default prompt, with CLS pooling that excludes the prompt (so the first text token is pooled)."""
    return pair(pooling="cls", include_prompt=False, normalize=True, prompts=PROMPTS, default_prompt_name="query")


def test_default_prompt_is_read_and_applied(prompted, core_api):
    core, _ = core_api
    pipeline = prompted.model.pipeline
    assert _nonempty(pipeline.prompts) == PROMPTS
    assert pipeline.default_prompt_name == "query"
    assert pipeline.pooling_mode == "cls" and pipeline.include_prompt is False and pipeline.normalize is True
    trace = core.trace_text(prompted.model, TEXT)
    _close(trace.native_embedding, prompted.st.encode(TEXT))
    _close(trace.native_embedding, prompted.st.encode(TEXT, prompt_name="query"))
    # the default prompt matters here: without it the vector is another one
    assert np.abs(trace.native_embedding - prompted.st.encode(TEXT, prompt="")).max() > 100 * TOL
    _close(core.embed_texts(prompted.model, TEXTS), prompted.st.encode(TEXTS))


def test_prompt_name_and_explicit_prompt_override_the_default(prompted, core_api):
    core, _ = core_api
    _check_encode(core, prompted, prompt_names=("query", "passage"), prompts=(CUSTOM, "custom:"))


def test_empty_prompt_overrides_the_default(prompted, core_api):
    core, _ = core_api
    _close(core.trace_text(prompted.model, TEXT, prompt="").native_embedding, prompted.st.encode(TEXT, prompt=""))
    _close(core.embed_texts(prompted.model, TEXTS, prompt=""), prompted.st.encode(TEXTS, prompt=""))


def test_trace_tokens_include_the_prompt(prompted, core_api):
    core, _ = core_api
    tokenizer = prompted.st.tokenizer
    text_pieces = tokenizer.tokenize(TEXT)
    for kwargs, prompt in (({}, PROMPTS["query"]), ({"prompt_name": "passage"}, PROMPTS["passage"]),
                           ({"prompt": CUSTOM}, CUSTOM)):
        tokens = list(core.trace_text(prompted.model, TEXT, **kwargs).tokens.tokens)
        expected = ["[CLS]", *tokenizer.tokenize(prompt), *text_pieces, "[SEP]"]
        assert tokens == expected, (kwargs, tokens)
    assert list(core.trace_text(prompted.model, TEXT, prompt="").tokens.tokens) == ["[CLS]", *text_pieces, "[SEP]"]


def test_prompt_counts_towards_max_seq_length(pair, core_api):
    core, _ = core_api
    p = pair(pooling="mean", include_prompt=False, normalize=False, prompts=PROMPTS, max_seq_length=12)
    long_text = TEXTS[2]
    trace = core.trace_text(p.model, long_text, prompt_name="query")
    assert len(trace.tokens.tokens) == 12
    _close(trace.native_embedding, p.st.encode(long_text, prompt_name="query"))
    _close(core.embed_texts(p.model, TEXTS, prompt_name="query"), p.st.encode(TEXTS, prompt_name="query"))


# --- Dense and Normalize ------------------------------------------------------------------------

DENSE_CASES = {
    "one-dense": [(16, "tanh", True)],
    "two-dense": [(16, "tanh", True), (8, "identity", False)],
}


@pytest.mark.parametrize("normalize", [True, False], ids=["normalized", "unnormalized"])
@pytest.mark.parametrize("dense_case", sorted(DENSE_CASES))
def test_dense_layers_and_normalize_match_encode(pair, core_api, dense_case, normalize):
    core, _ = core_api
    dense = DENSE_CASES[dense_case]
    p = pair(pooling="mean", dense=dense, normalize=normalize, prompts=PROMPTS)
    pipeline = p.model.pipeline
    assert len(pipeline.dense) == len(dense)
    assert pipeline.normalize is normalize
    vector = core.trace_text(p.model, TEXT).native_embedding
    assert vector.shape == (dense[-1][0],)
    if normalize:
        assert abs(float(np.linalg.norm(vector)) - 1.0) < TOL
    _check_encode(core, p)


def test_normalize_without_dense(pair, core_api):
    core, _ = core_api
    p = pair(pooling="weightedmean", normalize=True, prompts=PROMPTS)
    assert p.model.pipeline.normalize is True and p.model.pipeline.dense == ()
    embeddings = core.embed_texts(p.model, TEXTS)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=TOL)
    _check_encode(core, p)


# --- other layouts ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode,include_prompt", [("cls", True), ("weightedmean", False)])
def test_legacy_folder_layout(pair, core_api, mode, include_prompt):
    """modules.json with sentence_transformers.models.X and pooling_mode_*_tokens flags (most hub models)."""
    core, _ = core_api
    p = pair(pooling=mode, include_prompt=include_prompt, dense=[(16, "tanh", True)], prompts=PROMPTS,
             legacy_layout=True)
    pipeline = p.model.pipeline
    assert pipeline.pooling_mode == mode and pipeline.include_prompt is include_prompt
    assert len(pipeline.dense) == 1 and pipeline.normalize is True
    _check_encode(core, p)


@pytest.mark.parametrize("mode,include_prompt", [("lasttoken", True), ("weightedmean", False)])
def test_decoder_family(pair, core_api, mode, include_prompt):
    """GPT-2 (no special tokens, right padding with the end-of-text token). With BPE, 'query: '
    measured alone ends in a lone 'Ġ' token that merges into the text's first word in context, so
    sentence-transformers' prompt_length drops one text token too; the explorer must do the same."""
    core, _ = core_api
    p = pair(family="gpt2", pooling=mode, include_prompt=include_prompt, normalize=False, prompts=PROMPTS)
    assert p.model.pipeline.pooling_mode == mode and p.model.pipeline.include_prompt is include_prompt
    _check_encode(core, p)


# --- similarity ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SIMILARITIES)
def test_similarity_matches_st_similarity(pair, core_api, name):
    core, similarity_matrix = core_api
    p = pair(pooling="mean", normalize=False, similarity_fn_name=name)
    assert p.model.pipeline.similarity_fn_name == name
    assert p.st.similarity_fn_name == name
    a = core.embed_texts(p.model, TEXTS)
    b = core.embed_texts(p.model, TEXTS[:2])
    expected = p.st.similarity(torch.as_tensor(a), torch.as_tensor(b)).numpy()
    actual = np.asarray(similarity_matrix(a, b, name))
    assert actual.shape == (3, 2)
    np.testing.assert_allclose(actual, expected, atol=TOL, rtol=1e-6)
    if name in ("euclidean", "manhattan"):
        assert (actual <= 0).all()      # sentence-transformers' similarity: the negative distance
    # and from sentence-transformers' own vectors
    sa, sb = p.st.encode(TEXTS), p.st.encode(TEXTS[:2])
    np.testing.assert_allclose(similarity_matrix(sa, sb, name),
                               p.st.similarity(torch.as_tensor(sa), torch.as_tensor(sb)).numpy(), atol=TOL, rtol=1e-6)


# --- refusals and the bundled model -------------------------------------------------------------


def test_unknown_pooling_mode_is_refused(tmp_path, core_api):
    from sentence_transformers import SentenceTransformer

    core, _ = core_api
    folder = build_st_folder(tmp_path)
    write_pooling_config(folder, {"embedding_dimension": 32, "pooling_mode": "median", "include_prompt": True})
    with pytest.raises(ValueError, match="median"):          # sentence-transformers refuses it too
        SentenceTransformer(str(folder), device="cpu")
    with pytest.raises(core.ModelLoadError, match="median"):
        core.load_model(str(folder), "cpu")


def test_bundled_model_pipeline(bundled):
    pipeline = bundled.pipeline
    assert pipeline.pooling_mode == "mean"
    assert pipeline.include_prompt is True
    assert pipeline.normalize is True
    assert pipeline.dense == ()
    assert pipeline.similarity_fn_name == "cosine"
    assert pipeline.prompts == {}
    assert pipeline.default_prompt_name is None
