"""The numbers the pages show, from core, against independent references: plain numpy/scipy/sklearn
recomputations from the trace's arrays, sentence-transformers' ``cos_sim``, transformers' own attentions."""

from __future__ import annotations

import math
import statistics
from collections import Counter

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cosine as scipy_cosine_distance
from scipy.stats import scoreatpercentile
from sentence_transformers.util import cos_sim
from sklearn.decomposition import PCA

from core import trace_text
from core.analysis.attention_stats import (
    head_overview,
    query_key_projection,
    share_outside,
    shown_attention,
    worked_attention,
)
from core.analysis.colour_scale import colour_cap, robust_limit
from core.analysis.ffn_stats import lowest_activation, residual_stream
from core.analysis.pooling_comparison import compare_poolings, pooling_names
from core.analysis.similarity import (
    cosine,
    diagonal_mean,
    occurrence_cosines,
    off_diagonal_mean,
    pair_contributions,
    repeated_tokens,
    summarise_occurrences,
)
from core.analysis.token_view import token_view
from core.analysis.training_summary import before_after_projection, chance_level_loss
from core.analysis.vector_stats import l2_norm, max_abs_difference, vector_stats

TEXT = "The cat sat unhappily on the warm mat."
BANK = ["I sat on the bank of the river.", "The bank approved my loan.", "We fished from the grassy bank."]


@pytest.fixture(scope="module")
def trace(bundled):
    return trace_text(bundled, TEXT)


@pytest.fixture(scope="module")
def bank_traces(bundled):
    return [trace_text(bundled, text) for text in BANK]


def _scipy_cos(a, b) -> float:
    return 1.0 - scipy_cosine_distance(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))


def _norm(v) -> float:
    return math.sqrt(math.fsum(float(x) * float(x) for x in np.ravel(v)))


def _same_up_to_sign(actual, expected, atol):
    """PCA axes have no sign: compare each column with the reference's, or with its negation."""
    for column in range(expected.shape[1]):
        a, e = actual[:, column], expected[:, column]
        assert min(np.abs(a - e).max(), np.abs(a + e).max()) < atol


# ---------------------------------------------------------------------------------- pooling page


def test_pooling_comparison_against_numpy_poolings(trace, bundled):
    h = np.asarray(trace.last_hidden_state, dtype=np.float64)
    T = h.shape[0]
    rng = np.random.default_rng(0)
    idf = rng.uniform(0.5, 3.0, size=bundled.info.vocab_size)
    w = idf[trace.tokens.input_ids]
    expected = {
        "cls": h[0],
        "mean": h.sum(0) / T,
        "max": h.max(0),
        "weightedmean": (np.arange(1, T + 1)[:, None] * h).sum(0) / (T * (T + 1) / 2),
        "idf": (w[:, None] * h).sum(0) / w.sum(),
    }
    names = pooling_names(trace)
    assert names == ["cls", "mean", "max", "weightedmean", "idf"]  # an encoder: no last-token pooling
    compared = compare_poolings(trace, idf, names)
    assert compared.reference == trace.native_pooling == "mean"
    for name in names:
        np.testing.assert_allclose(compared.pooled[name], expected[name], atol=1e-5)
        assert compared.norms[name] == pytest.approx(_norm(expected[name]), rel=1e-5)
        assert compared.cosine_to_reference[name] == pytest.approx(_scipy_cos(expected[name], expected["mean"]), abs=1e-5)
    np.testing.assert_allclose(compared.rows, np.stack([expected[n] for n in names]), atol=1e-5)
    # max pooling: each dimension is won by the token holding its largest value
    counts = Counter(int(np.argmax(h[:, k])) for k in range(h.shape[1]))
    assert compared.max_wins.tolist() == [counts.get(i, 0) for i in range(T)]
    assert compared.max_wins.sum() == h.shape[1]
    assert compared.top_winner == max(range(T), key=lambda i: (counts.get(i, 0), -i))
    # normalisation check: mean against [CLS]
    check = compared.normalisation
    assert (check.name, check.other) == ("mean", "cls")
    assert check.norm == pytest.approx(_norm(expected["mean"]), rel=1e-5)
    assert check.unit_norm == pytest.approx(1.0, abs=1e-6)
    reference_cos = _scipy_cos(expected["mean"], expected["cls"])
    assert check.cosine == pytest.approx(reference_cos, abs=1e-5)
    assert check.dot == pytest.approx(reference_cos, abs=1e-5)
    assert check.difference < 1e-5


def test_cosine_and_matrix_means_against_cos_sim():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(5, 16)).astype(np.float32)
    reference = cos_sim(torch.tensor(vectors), torch.tensor(vectors)).numpy().astype(np.float64)
    assert cosine(vectors[0], vectors[3]) == pytest.approx(float(reference[0, 3]), abs=1e-6)
    n = len(vectors)
    off = [reference[i, j] for i in range(n) for j in range(n) if i != j]
    assert off_diagonal_mean(reference) == pytest.approx(math.fsum(off) / len(off), abs=1e-12)
    assert diagonal_mean(reference) == pytest.approx(math.fsum(reference[i, i] for i in range(n)) / n, abs=1e-12)
    assert off_diagonal_mean(np.ones((1, 1))) == 0.0  # one sentence: no pair of different ones


def test_pair_contribution_total_is_the_cos_sim_of_the_mean_vectors(bank_traces):
    a, b = bank_traces[0], bank_traces[1]
    split = pair_contributions(a.last_hidden_state, b.last_hidden_state, "mean")
    mean_a = torch.tensor(np.asarray(a.last_hidden_state)).mean(0, keepdim=True)
    mean_b = torch.tensor(np.asarray(b.last_hidden_state)).mean(0, keepdim=True)
    assert split.total == pytest.approx(float(cos_sim(mean_a, mean_b)[0, 0]), abs=1e-5)
    assert split.largest_share == pytest.approx(max(abs(float(x)) for x in split.contributions.ravel()))


# ---------------------------------------------------------------------------------- projections page


def test_occurrence_summary_against_scipy_cosines(bank_traces):
    hidden = [t.hidden_states for t in bank_traces]
    repeated = repeated_tokens([t.tokens.tokens for t in bank_traces], [t.tokens.special_mask for t in bank_traces])
    places = repeated["bank"]
    pairs = occurrence_cosines(hidden, places, "bank")
    layer = hidden[0].shape[0] - 1
    summary = summarise_occurrences(pairs, layer)

    def cos_at(pair, index):
        (s1, p1), (s2, p2) = pair.first, pair.second
        return _scipy_cos(hidden[s1][index, p1], hidden[s2][index, p2])

    start = [cos_at(p, 0) for p in pairs]
    now = [cos_at(p, layer) for p in pairs]
    assert summary.count == len(pairs) == 3
    assert (summary.start_low, summary.start_high) == pytest.approx((min(start), max(start)), abs=1e-6)
    assert (summary.low, summary.high) == pytest.approx((min(now), max(now)), abs=1e-6)
    assert summary.closest == now.index(max(now)) and summary.farthest == now.index(min(now))
    assert summary.mean_change == pytest.approx(statistics.fmean(n - s for n, s in zip(now, start)), abs=1e-6)


def test_token_view_is_a_pca_of_the_non_special_tokens(bank_traces):
    layer = 3
    hidden_of = {i: t.hidden_states for i, t in enumerate(bank_traces)}
    view = token_view(hidden_of, {i: t.tokens.tokens for i, t in enumerate(bank_traces)},
                      {i: t.tokens.special_mask for i, t in enumerate(bank_traces)}, layer)
    rows = [(i, p) for i, t in enumerate(bank_traces) for p in range(t.n_tokens) if not t.tokens.special_mask[p]]
    assert view.tokens == tuple(bank_traces[i].tokens.tokens[p] for i, p in rows)
    assert view.sentences == tuple(i for i, _ in rows)
    assert "[CLS]" not in view.tokens and "[SEP]" not in view.tokens
    vectors = np.stack([bank_traces[i].hidden_states[layer][p] for i, p in rows]).astype(np.float64)
    _same_up_to_sign(view.points, PCA(n_components=2, svd_solver="full").fit_transform(vectors), atol=1e-3)
    few = token_view({0: hidden_of[0]}, {0: ["[CLS]", "a", "[SEP]"]}, {0: [True, False, True]}, layer)
    assert few.count == 1 and few.points.shape == (0, 2)


# ---------------------------------------------------------------------------------- attention page


@pytest.fixture(scope="module")
def eager_attentions(bundled, trace):
    from transformers import AutoModel

    reference = AutoModel.from_pretrained(bundled.source_dir, attn_implementation="eager").eval()
    with torch.no_grad():
        out = reference(input_ids=torch.as_tensor(trace.tokens.input_ids).unsqueeze(0), output_attentions=True)
    return torch.stack(out.attentions)[:, 0].numpy().astype(np.float64)   # [L, H, T, T]


def test_shown_attention_against_transformers_attentions(trace, eager_attentions):
    layer = trace.layers[2]
    heads = eager_attentions[2]
    average = shown_attention(layer, None)
    np.testing.assert_allclose(average.probs, sum(heads[h] for h in range(heads.shape[0])) / heads.shape[0], atol=1e-5)
    np.testing.assert_allclose(average.masked, average.probs, atol=1e-6)   # an encoder masks nothing
    one = shown_attention(layer, 4)
    np.testing.assert_allclose(one.probs, heads[4], atol=1e-5)
    row_error = max(abs(math.fsum(float(x) for x in row) - 1.0) for row in one.probs)
    assert one.row_sum_deviation == pytest.approx(row_error, abs=1e-7)
    assert one.row_sum_deviation < 1e-5
    queries, keys = [0, 1, 2, 3], [1, 2, 5]
    outside = [1.0 - sum(heads[4][q, k] for k in keys) for q in queries]
    assert share_outside(one.probs, queries, keys) == pytest.approx(statistics.fmean(outside), abs=1e-5)


def test_head_metric_extremes_are_the_largest_and_smallest_cells(trace):
    for metric in head_overview(trace):
        cells = [(float(metric.values[l, h]), l, h) for l in range(metric.values.shape[0]) for h in range(metric.values.shape[1])]
        top = max(cells, key=lambda c: (c[0], -c[1], -c[2]))
        bottom = min(cells, key=lambda c: (c[0], c[1], c[2]))
        assert metric.highest == (top[1], top[2], pytest.approx(top[0]))
        assert metric.lowest == (bottom[1], bottom[2], pytest.approx(bottom[0]))


def test_worked_attention_scaled_dots_and_weight_total(trace, eager_attentions):
    layer = trace.layers[1]
    worked = worked_attention(layer, 2, 3)
    q, k = np.asarray(layer.query[2, 3], dtype=np.float64), np.asarray(layer.key[2], dtype=np.float64)
    d_head = q.size
    np.testing.assert_allclose(worked.scaled_dots, [float(np.dot(q, key)) / math.sqrt(d_head) for key in k], atol=1e-5)
    assert worked.weights_total == pytest.approx(math.fsum(eager_attentions[1, 2, 3]), abs=1e-5)


def test_query_key_projection_explained_total_against_sklearn(trace):
    layer = trace.layers[0]
    projection = query_key_projection(layer, 1)
    q = np.asarray(layer.query[1], dtype=np.float64)
    k = np.asarray(layer.key[1], dtype=np.float64)
    c = projection.scale_factor
    # the two moves leave every q·k unchanged; sklearn's PCA of the moved cloud keeps the same share
    moved = np.concatenate([(q - q.mean(0)) * c, (k - k.mean(0)) / c])
    expected = PCA(n_components=2, svd_solver="full").fit(moved).explained_variance_ratio_.sum()
    assert projection.explained_total == pytest.approx(float(expected), abs=1e-6)


# ---------------------------------------------------------------------------------- FFN page and colour scales


def test_colour_cap_and_robust_limit_against_scipy_percentiles(trace):
    acts = np.asarray(trace.layers[0].ffn_activations)[:, :40]
    magnitudes = np.abs(acts.astype(np.float64)).ravel()
    cap = colour_cap(acts)
    assert cap.limit == pytest.approx(scoreatpercentile(magnitudes, 99), rel=1e-5)
    assert cap.largest == pytest.approx(float(max(acts.ravel(), key=abs)))
    assert cap.clipped == (magnitudes.max() > 1.5 * scoreatpercentile(magnitudes, 99))
    spiky = np.concatenate([np.linspace(-1, 1, 200), [50.0]])
    assert colour_cap(spiky).clipped and colour_cap(spiky).largest == 50.0
    assert not colour_cap(np.linspace(-1, 1, 200)).clipped
    rows = np.asarray(trace.embeddings.token_rows)
    assert robust_limit(rows) == pytest.approx(scoreatpercentile(np.abs(rows.astype(np.float64)).ravel(), 99), rel=1e-5)
    assert robust_limit(np.zeros(5)) == 1.0 and robust_limit([0, 0, 0, 0, 2.0], 50) == 2.0


def test_residual_stream_summaries_against_numpy_norms(trace):
    stream = residual_stream(trace)

    def norms(x):
        return [_norm(row) for row in np.asarray(x)]

    after = [v for layer in trace.layers for part in (layer.post_attention, layer.output) for v in norms(part)]
    assert stream.norm_range == pytest.approx((min(after), max(after)), rel=1e-5)
    changes, attention_updates, ffn_updates = [], [], []
    for layer in trace.layers:
        before, middle = norms(layer.input), norms(layer.post_attention)
        changes += [d / b for d, b in zip(norms(np.asarray(layer.post_attention, np.float64) - layer.input), before)]
        changes += [d / m for d, m in zip(norms(np.asarray(layer.output, np.float64) - layer.post_attention), middle)]
        attention_updates += [u / b for u, b in zip(norms(layer.attention_output), before)]
        ffn_updates += [u / m for u, m in zip(norms(layer.ffn_output), middle)]
    assert stream.largest_change == pytest.approx(max(changes), rel=1e-5)
    assert stream.mean_attention_update == pytest.approx(statistics.fmean(attention_updates), rel=1e-5)
    assert stream.mean_ffn_update == pytest.approx(statistics.fmean(ffn_updates), rel=1e-5)
    acts = trace.layers[0].ffn_activations
    assert lowest_activation(acts) == pytest.approx(min(float(x) for x in np.ravel(acts)))


# ---------------------------------------------------------------------------------- lookup, home, pipeline, training


def test_vector_stats_against_statistics_module(trace):
    vectors = np.stack([trace.embeddings.token_rows[1], trace.embeddings.output[1]])
    stats = vector_stats(vectors)
    for i, row in enumerate(vectors.astype(np.float64)):
        assert stats.norms[i] == pytest.approx(_norm(row), rel=1e-5)
        assert stats.means[i] == pytest.approx(statistics.fmean(row), abs=1e-6)
        assert stats.stds[i] == pytest.approx(statistics.pstdev(row), rel=1e-4)
    assert l2_norm(trace.native_embedding) == pytest.approx(_norm(trace.native_embedding), rel=1e-6)
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 1.0])
    assert max_abs_difference(a, b) == 2.0 and max_abs_difference(a, a) == 0.0


def test_chance_level_loss_is_the_cross_entropy_of_uniform_logits():
    for batch in (2, 7, 32):
        uniform = torch.nn.functional.cross_entropy(torch.zeros(batch, batch), torch.arange(batch))
        assert chance_level_loss(batch) == pytest.approx(float(uniform), rel=1e-6)


def test_before_after_projection_is_one_pca_of_all_four_sets():
    rng = np.random.default_rng(2)
    parts = [rng.normal(size=(4, 12)) for _ in range(4)]
    points = before_after_projection(*parts)
    assert points.shape == (16, 2)
    _same_up_to_sign(points, PCA(n_components=2, svd_solver="full").fit_transform(np.concatenate(parts)), atol=1e-5)
