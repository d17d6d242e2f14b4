"""core.attention_stats against independent computations and the models' own eager outputs."""

import dataclasses
from functools import lru_cache

import numpy as np
import pytest
import torch
from scipy.stats import entropy as scipy_entropy

from core import trace_text
from core.analysis.attention_stats import (
    block_average,
    head_entropy,
    head_overview,
    hidden_share,
    masked_map,
    mean_attended_distance,
    output_projection_check,
    query_key_projection,
    share_on,
    strongest_links,
    worked_attention,
)

from .tiny_models import build_tiny

TEXT = "The bank by the river flooded, so the bank moved its offices."


@lru_cache(maxsize=None)
def _tiny(family):
    explorer, reference = build_tiny(family)
    return explorer, reference, trace_text(explorer, TEXT)


def _eager_attentions(reference, trace):
    ids = torch.as_tensor(trace.tokens.input_ids).unsqueeze(0)
    with torch.no_grad():
        out = reference(input_ids=ids, output_attentions=True)
    return torch.stack(out.attentions)[:, 0].numpy()


@pytest.fixture(scope="module")
def bundled_trace(bundled):
    return trace_text(bundled, TEXT)


@pytest.fixture(scope="module")
def bundled_eager(bundled, bundled_trace):
    from transformers import AutoModel

    reference = AutoModel.from_pretrained(bundled.source_dir, attn_implementation="eager").eval()
    return _eager_attentions(reference, bundled_trace)


def test_attention_rows_sum_to_one_and_equal_eager_output_attentions(bundled_trace, bundled_eager):
    shown = bundled_trace.attentions
    np.testing.assert_allclose(shown.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(shown, bundled_eager, atol=1e-5)


def test_head_metrics_match_independent_formulas(bundled_trace):
    probs = bundled_trace.layers[2].attention_probs
    n = probs.shape[-1]
    for h in (0, 5, 11):
        rows = probs[h].astype(np.float64)
        expected_entropy = np.mean([scipy_entropy(row, base=2) for row in rows])
        expected_distance = np.mean([sum(rows[i, j] * abs(i - j) for j in range(n)) for i in range(n)])
        expected_special = np.mean(rows[:, 0] + rows[:, -1])  # [CLS] first, [SEP] last
        assert head_entropy(probs)[h] == pytest.approx(expected_entropy, abs=1e-6)  # scipy renormalises rows
        assert mean_attended_distance(probs)[h] == pytest.approx(expected_distance, abs=1e-9)
        assert share_on(probs, bundled_trace.tokens.special_mask)[h] == pytest.approx(expected_special, abs=1e-6)
    overview = {m.key: m.values for m in head_overview(bundled_trace)}
    assert overview["entropy"].shape == (6, 12)
    assert overview["entropy"][2, 5] == pytest.approx(head_entropy(probs)[5])
    assert np.all(overview["entropy"] <= np.log2(n) + 1e-9) and np.all(overview["entropy"] >= 0)
    assert np.all((overview["special"] >= 0) & (overview["special"] <= 1 + 1e-9))


def test_one_hot_and_uniform_rows_have_known_entropy():
    n = 8
    one_hot = np.eye(n)[None]
    uniform = np.full((1, n, n), 1 / n)
    assert head_entropy(one_hot)[0] == pytest.approx(0.0)
    assert head_entropy(uniform)[0] == pytest.approx(3.0)
    assert mean_attended_distance(one_hot)[0] == pytest.approx(0.0)


@pytest.mark.parametrize("layer, head, query", [(0, 0, 0), (3, 7, 4), (5, 11, -1)])
def test_worked_formula_on_the_bundled_model(bundled, bundled_trace, bundled_eager, layer, head, query):
    trace = bundled_trace
    query = query % trace.n_tokens
    worked = worked_attention(trace.layers[layer], head, query)
    # The scores equal q · k / sqrt(d_k) with q and k from the model's own query and key projections,
    # run here on the layer's input (independent of the traced Q and K).
    attention = bundled.torch_module.encoder.layer[layer].attention.self
    with torch.no_grad():
        hidden = torch.tensor(trace.layers[layer].input)
        q = attention.query(hidden).numpy()[:, head * 32:(head + 1) * 32]
        k = attention.key(hidden).numpy()[:, head * 32:(head + 1) * 32]
    np.testing.assert_allclose(k @ q[query] / np.sqrt(32), worked.scores, atol=1e-4)
    assert worked.scale == pytest.approx(32 ** -0.5)
    assert not worked.has_bias
    # The softmax row computed here equals the eager model's own attention row.
    np.testing.assert_allclose(worked.weights, bundled_eager[layer, head, query], atol=1e-6)
    assert worked.weights.sum() == pytest.approx(1.0)
    # Σ weight · v equals the traced head output (what enters W_o) ...
    np.testing.assert_allclose(worked.weighted_sum, trace.layers[layer].attention_context[head, query], atol=1e-5)
    assert worked.sum_max_error < 1e-5 and worked.weights_max_error < 1e-6
    # ... and an independent V from the model's own value projection gives the same sum.
    attention = bundled.torch_module.encoder.layer[layer].attention.self
    with torch.no_grad():
        v = attention.value(torch.tensor(trace.layers[layer].input)).numpy()
    v_head = v[:, head * 32:(head + 1) * 32]
    np.testing.assert_allclose(bundled_eager[layer, head, query] @ v_head, worked.weighted_sum, atol=1e-4)


def test_heads_joined_through_w_o_give_the_attention_output(bundled, bundled_trace):
    for layer in bundled_trace.layers:
        assert output_projection_check(bundled, layer) < 1e-4


@pytest.mark.parametrize("family", ["gpt2", "llama", "mpnet", "modernbert"])
def test_worked_formula_on_other_families(family):
    explorer, reference, trace = _tiny(family)
    eager = _eager_attentions(reference, trace)
    n = trace.n_tokens
    for layer_index, layer in enumerate(trace.layers):
        for query in (0, n // 2, n - 1):
            worked = worked_attention(layer, 1, query)
            np.testing.assert_allclose(worked.weights, eager[layer_index, 1, query], atol=1e-5)
            np.testing.assert_allclose(worked.weighted_sum, layer.attention_context[1, query], atol=1e-5)
            assert worked.weights[~worked.allowed].sum() == 0.0
            if family in ("gpt2", "llama"):
                # Causal: the query sees itself and the tokens before it, never after.
                assert worked.allowed[: query + 1].all() and not worked.allowed[query + 1:].any()
        assert output_projection_check(explorer, layer) < 1e-4
    if family == "mpnet":  # the relative-position bias is part of the score and shown as such
        assert worked_attention(trace.layers[0], 0, 3).has_bias


def test_masked_map_greys_out_the_causal_upper_triangle():
    _, _, trace = _tiny("gpt2")
    layer = trace.layers[0]
    shown = masked_map(layer.attention_probs, layer.attention_allowed)
    n = trace.n_tokens
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    assert np.isnan(shown[:, upper]).all()
    assert not np.isnan(shown[:, ~upper]).any()
    np.testing.assert_allclose(np.nansum(shown, -1), 1.0, atol=1e-5)


def test_query_key_projection_removes_shift_and_scale_that_do_not_change_attention(bundled_trace):
    layer = bundled_trace.layers[1]
    rng = np.random.default_rng(0)
    q = rng.normal(size=layer.query.shape).astype(np.float32)
    # Keys = 4 × queries + a constant vector: every softmax row is that of q·q (up to a per-row constant
    # and a factor moved between q and k), so each token's query and key land on the same point.
    k = 4.0 * q + rng.normal(size=(1, 1, q.shape[-1])).astype(np.float32) * 10
    fake = dataclasses.replace(layer, query=q, key=k)
    projection = query_key_projection(fake, 2)
    np.testing.assert_allclose(projection.queries, projection.keys, atol=1e-4)
    assert projection.scale_factor == pytest.approx(2.0, rel=1e-4)
    real = query_key_projection(layer, 2)
    assert real.queries.shape == (bundled_trace.n_tokens, 2) == real.keys.shape
    assert 0 < sum(real.explained) <= 1.0 + 1e-9


def test_block_average_matches_a_loop_and_skips_masked_cells():
    rng = np.random.default_rng(1)
    matrix = rng.random((2, 10, 7)).astype(np.float32)
    matrix[0, 0, :3] = np.nan
    small, rows, cols = block_average(matrix, 4)
    assert small.shape == (2, 4, 4)
    r_edges, c_edges = list(rows) + [10], list(cols) + [7]
    for h in range(2):
        for i in range(4):
            for j in range(4):
                block = matrix[h, r_edges[i]:r_edges[i + 1], c_edges[j]:c_edges[j + 1]]
                assert small[h, i, j] == pytest.approx(np.nanmean(block), abs=1e-6)
    same, rows, cols = block_average(matrix, 16)
    assert same is matrix and list(rows) == list(range(10))


def test_strongest_links_and_hidden_share():
    probs = np.array([[0.7, 0.2, 0.1], [0.05, 0.9, 0.05], [0.3, 0.3, 0.4]])
    links = strongest_links(probs, min_weight=0.2)
    assert list(links.weight) == sorted(links.weight, reverse=True)
    assert set(zip(links.query.tolist(), links.key.tolist())) == {(0, 0), (0, 1), (1, 1), (2, 0), (2, 1), (2, 2)}
    top = strongest_links(probs, min_weight=0.5, top_per_query=2)
    assert set(zip(top.query.tolist(), top.key.tolist())) == {(0, 0), (0, 1), (1, 1), (1, 0), (2, 2), (2, 0)}
    only = strongest_links(probs, min_weight=0.0, queries=[2], keys=[0, 2])
    assert set(only.key.tolist()) == {0, 2} and set(only.query.tolist()) == {2}
    assert hidden_share(probs, np.array([True, False, False])) == pytest.approx((0.7 + 0.05 + 0.3) / 3)
