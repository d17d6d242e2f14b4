"""core.retrieval against independent references: sentence-transformers' encode, util.semantic_search
and quantize_embeddings, numpy recomputations, the tokenizer itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core import InputTextError
from core.retrieval.corpus import Chunking, docstring_example, make_corpus, stsb_example
from core.retrieval.explain import explain_pair, query_token_difference
from core.retrieval.scores import mean_pairwise_cosine, score_context
from core.retrieval.search import (
    build_index, encode_queries, encode_query, int8_ranges, quantize_binary, quantize_int8, rank, recall_at_k,
    truncate_dimensions,
)
from core.retrieval.teach import teach_pair
from core.retrieval.whatif import passage_what_ifs, query_what_ifs

ROOT = Path(__file__).resolve().parent.parent
STSB_DEV = ROOT / "assets" / "stsb" / "stsb-en-dev.csv"
PASSAGES = [
    "The cat sat on the mat and purred.",
    "Stock markets fell sharply on Tuesday after the announcement.",
    "A feline rested on the rug near the fire.",
    "Photosynthesis converts light into chemical energy in plants.",
    "The bank raised its interest rates again this quarter.",
    "We had a picnic on the river bank in the sun.",
    "Dogs are loyal companions and love long walks.",
    "Python is a programming language used for data science.",
]
QUERY = "Where did the kitten lie down?"


@pytest.fixture(scope="module")
def st_model(bundled):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(bundled.source_dir, device="cpu")


@pytest.fixture(scope="module")
def index(bundled):
    return build_index(bundled, PASSAGES)


@pytest.fixture(scope="module")
def query(bundled):
    return encode_query(bundled, QUERY)


def _semantic_search(query_vectors, corpus_vectors, score_function=None):
    from sentence_transformers import util

    kwargs = {} if score_function is None else {"score_function": score_function}
    hits = util.semantic_search(torch.tensor(query_vectors), torch.tensor(corpus_vectors), top_k=len(corpus_vectors), **kwargs)
    return [[(hit["corpus_id"], hit["score"]) for hit in row] for row in hits]


def test_ranking_equals_semantic_search(bundled, st_model, index, query):
    ranking = rank(index, query)
    expected = _semantic_search(st_model.encode([QUERY]), st_model.encode(PASSAGES))[0]
    assert [p for p, _ in ranking.top(len(PASSAGES))] == [p for p, _ in expected]
    np.testing.assert_allclose([s for _, s in ranking.top(len(PASSAGES))], [s for _, s in expected], atol=1e-5)
    assert ranking.top(1)[0][0] == 2  # the feline passage, as the model sees it


def test_dot_product_model_ranks_by_dot(tmp_path):
    from sentence_transformers import SentenceTransformer, util

    from core import load_model

    from .st_tiny import build_st_folder

    folder = build_st_folder(tmp_path, pooling="mean", normalize=False, similarity_fn_name="dot",
                             prompts={"query": "query: ", "document": "passage: "})
    explorer = load_model(str(folder), "cpu")
    reference = SentenceTransformer(str(folder), device="cpu")
    built = build_index(explorer, PASSAGES)
    encoded = encode_query(explorer, QUERY)
    assert built.document_prompt == "passage: " and encoded.prompt == "query: "
    ranking = rank(built, encoded)
    expected = _semantic_search(reference.encode([QUERY], prompt_name="query"),
                                reference.encode(PASSAGES, prompt_name="document"), util.dot_score)[0]
    assert [p for p, _ in ranking.top(len(PASSAGES))] == [p for p, _ in expected]
    np.testing.assert_allclose([s for _, s in ranking.top(len(PASSAGES))], [s for _, s in expected], rtol=1e-5, atol=1e-5)


def test_chunks_fit_cover_in_order_and_overlap(bundled):
    text = docstring_example().passages[0] * 3
    corpus = make_corpus(bundled.tokenizer, [text, "short one"], 256, Chunking("chunks", 64, 8))
    chunks = [u for u in corpus.units if u.passage == 0]
    assert len(chunks) > 3
    ids = bundled.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    starts = [s for s, _ in ids["offset_mapping"]]
    for previous, chunk in zip(chunks, chunks[1:]):
        assert chunk.start_char > previous.start_char and chunk.end_char > previous.end_char  # in order
        shared = sum(1 for s in starts if chunk.start_char <= s < previous.end_char)
        assert 1 <= shared <= 8 + 2  # the overlap asked for, to the next word start
    for chunk in chunks:
        assert len(bundled.tokenizer(chunk.text)["input_ids"]) <= 64  # special tokens included
        assert chunk.text == text[chunk.start_char:chunk.end_char]
    assert chunks[0].start_char == 0 and chunks[-1].end_char == len(text.rstrip())


def test_chunked_ranking_takes_each_passages_best_chunk(bundled, st_model):
    long_passage = " ".join(["Tax law and accounting rules for the quarter."] * 60) + " The kitten lay down on the rug."
    passages = [long_passage, *PASSAGES[1:4]]
    built = build_index(bundled, passages, chunking=Chunking("chunks", 48, 8))
    ranking = rank(built, encode_query(bundled, QUERY))
    query_vector = st_model.encode(QUERY)
    for passage in range(len(passages)):
        units = [u.text for u in built.corpus.units if u.passage == passage]
        best = float((st_model.encode(units) @ query_vector).max())
        assert ranking.scores[passage] == pytest.approx(best, abs=1e-5)
    truncated = rank(build_index(bundled, passages), encode_query(bundled, QUERY))
    assert ranking.scores[0] > truncated.scores[0] + 0.1  # its answer lies past the window: only chunks see it


def test_query_what_ifs_equal_fresh_encodes(bundled, st_model, index, query):
    report = query_what_ifs(bundled, index, query, expected=2)
    corpus = st_model.encode(PASSAGES)
    for item in report.group("query token"):
        scores = corpus @ st_model.encode(item.edited_text)
        assert item.score == pytest.approx(float(scores[2]), abs=1e-5)
        assert item.rank == 1 + int(np.sum(scores > scores[2] + 1e-6))
    assert len(report.group("query token")) == len(bundled.tokenize(QUERY).tokens) - 2
    poolings = {item.label for item in report.group("pooling")}
    assert "max pooling" in poolings and "[CLS] token pooling" in poolings
    assert any("prompt" in note for note in report.notes)  # the bundled model has no query prompt


def test_dimension_cuts_and_quantisation_equal_numpy_and_sentence_transformers(bundled, st_model, index, query):
    from sentence_transformers.quantization import quantize_embeddings

    corpus, q = st_model.encode(PASSAGES), st_model.encode([QUERY])
    # 128 dimensions, renormalised
    cut = lambda v: v[:, :128] / np.linalg.norm(v[:, :128], axis=1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(rank(index, query, dims=128).scores, (cut(corpus) @ cut(q)[0]), atol=1e-5)
    np.testing.assert_allclose(truncate_dimensions(corpus, 128), cut(corpus), atol=1e-6)
    # int8 with the corpus as calibration, as sentence-transformers quantises it
    ranges = int8_ranges(corpus)
    np.testing.assert_array_equal(quantize_int8(corpus, ranges),
                                  quantize_embeddings(corpus, precision="int8", calibration_embeddings=corpus))
    q8 = quantize_embeddings(q, precision="int8", ranges=ranges)
    c8 = quantize_int8(corpus, ranges).astype(np.float64)
    expected = (c8 @ q8[0].astype(np.float64)) / np.linalg.norm(c8, axis=1) / np.linalg.norm(q8[0].astype(np.float64))
    np.testing.assert_allclose(rank(index, query, quantization="int8").scores, expected, atol=1e-4)
    # binary: sign bits, ranked by Hamming distance
    np.testing.assert_array_equal(quantize_binary(corpus), quantize_embeddings(corpus, precision="ubinary"))
    hamming = [(np.unpackbits(np.bitwise_xor(quantize_binary(q)[0], row))).sum() for row in quantize_binary(corpus)]
    np.testing.assert_array_equal(rank(index, query, quantization="binary").scores, -np.asarray(hamming, dtype=np.float32))


def test_passage_what_ifs_equal_fresh_encodes(bundled, st_model, index, query):
    report = passage_what_ifs(bundled, index, query, passage=0)
    q = st_model.encode(QUERY)
    corpus = st_model.encode(PASSAGES)
    assert len(report.items) == len(PASSAGES[0].split())
    for item in report.items[:4]:
        fresh = float(st_model.encode(item.edited_text) @ q)
        assert item.score == pytest.approx(fresh, abs=1e-5)
        others = np.delete(corpus @ q, 0)
        assert item.rank == 1 + int(np.sum(others > fresh + 1e-6))


def test_token_pair_split_sums_to_the_score(bundled, st_model, index, query):
    explanation = explain_pair(bundled, query, PASSAGES[2], index.document_prompt, passage=2)
    score = float(st_model.encode(QUERY) @ st_model.encode(PASSAGES[2]))
    assert explanation.exact
    assert explanation.contributions.sum() == pytest.approx(score, abs=1e-5)
    assert explanation.score == pytest.approx(score, abs=1e-5)
    np.testing.assert_allclose(explanation.query_shares.sum(), score, atol=1e-5)
    np.testing.assert_allclose(explanation.passage_words.shares.sum(), score, atol=1e-5)
    assert "feline" in explanation.passage_words.words
    # the last layer's pooled cosine is the score itself; layer 0 is the embedding output
    assert explanation.layer_similarity[-1] == pytest.approx(score, abs=1e-5)
    assert explanation.layer_similarity.shape == (bundled.info.n_layers + 1,)
    other = explain_pair(bundled, query, PASSAGES[0], index.document_prompt, passage=0)
    difference = query_token_difference(explanation, other)
    np.testing.assert_allclose(difference.sum(), explanation.score - other.score, atol=1e-5)


def test_score_context_against_numpy(bundled, st_model, index, query):
    context = score_context(index, query, pairs=200)
    corpus = st_model.encode(PASSAGES)
    n = len(PASSAGES)
    cosines = corpus @ corpus.T
    exact = (cosines.sum() - np.trace(cosines)) / (n * (n - 1))
    assert context.anisotropy == pytest.approx(exact, abs=1e-5)
    assert mean_pairwise_cosine(corpus) == pytest.approx(exact, abs=1e-6)
    assert set(np.round(context.random_pair_scores, 4)) <= set(np.round(cosines[~np.eye(n, dtype=bool)], 4))
    score = float(context.query_scores[2])
    assert context.percentile_among_query(score) == pytest.approx(100 * np.mean(corpus @ st_model.encode(QUERY) < score))


def test_recall_on_the_stsb_example_equals_an_independent_computation(bundled, st_model):
    from sentence_transformers import util

    example = stsb_example(STSB_DEV)
    built = build_index(bundled, list(example.passages))
    ours = recall_at_k(built, encode_queries(bundled, list(example.queries)), example.answers, ks=(1, 10))
    hits = util.semantic_search(st_model.encode(list(example.queries), convert_to_tensor=True),
                                st_model.encode(list(example.passages), convert_to_tensor=True), top_k=10)
    independent = {k: float(np.mean([answer in [h["corpus_id"] for h in row[:k]] for row, answer in zip(hits, example.answers)]))
                   for k in (1, 10)}
    assert ours == pytest.approx(independent)
    result = subprocess.run([sys.executable, "-m", "core", "search", "--example", "stsb-dev", "--evaluate"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-1500:]
    printed = dict(line.split("\t") for line in result.stdout.splitlines() if line.startswith("recall@"))
    assert float(printed["recall@1"]) == pytest.approx(ours[1] * 100, abs=0.005)
    assert float(printed["recall@10"]) == pytest.approx(ours[10] * 100, abs=0.005)


def test_teaching_a_pair_raises_its_rank_and_leaves_the_shared_model_alone(bundled):
    example = stsb_example(STSB_DEV)
    passages = list(example.passages[:60])
    built = build_index(bundled, passages)
    queries = encode_queries(bundled, list(example.queries[:60]))
    pairs = [(q, a) for q, a in zip(queries, example.answers[:60]) if a < 60]
    # a query whose answer is not first today
    taught, answer = next((q, a) for q, a in pairs if rank(built, q).rank_of(a) > 1)
    before = {name: p.detach().clone() for name, p in bundled.torch_module.named_parameters()}
    held = [(q.text, a) for q, a in pairs if q is not taught][:20]
    result = teach_pair(bundled, built, taught.text, answer, steps=8,
                        held_out=([q for q, _ in held], [a for _, a in held]))
    assert result.rank_before == rank(built, taught).rank_of(answer)  # mean pooling + normalise = this model's own
    assert result.rank_after < result.rank_before
    assert len(result.held_out) == 20 and result.improved + result.worsened + result.unchanged == 20
    for name, parameter in bundled.torch_module.named_parameters():
        assert torch.equal(parameter, before[name]), name
    assert rank(build_index(bundled, passages), taught).rank_of(answer) == result.rank_before


@pytest.mark.parametrize("passages, message", [
    ([], "empty"), (["", "  "], "empty"), (["only one"], "one passage"), (["x" * 200_001, "y"], "200,000"),
])
def test_bad_corpora_are_refused_with_a_clear_message(bundled, passages, message):
    with pytest.raises(InputTextError, match=message):
        build_index(bundled, passages)


def test_empty_query_and_duplicates(bundled):
    with pytest.raises(InputTextError, match="query"):
        encode_query(bundled, "   ")
    corpus = make_corpus(bundled.tokenizer, ["same", "other", "same"], 256)
    assert corpus.duplicates == ((2, 0),)


def test_an_index_of_precomputed_vectors_ranks_like_embedding_them(bundled, st_model, index, query):
    from core.retrieval.search import index_from_vectors
    from core.text.datasets import DatasetError

    precomputed, agreement = index_from_vectors(bundled, PASSAGES, st_model.encode(PASSAGES))
    assert agreement == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(rank(precomputed, query).scores, rank(index, query).scores, atol=1e-5)
    _, other = index_from_vectors(bundled, PASSAGES, np.random.default_rng(0).standard_normal((len(PASSAGES), 384)))
    assert other < 0.5
    with pytest.raises(DatasetError, match="100 dimensions"):
        index_from_vectors(bundled, PASSAGES, np.ones((len(PASSAGES), 100)))
    with pytest.raises(DatasetError, match="match one to one"):
        index_from_vectors(bundled, PASSAGES, np.ones((3, 384)))
