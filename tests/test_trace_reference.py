"""The trace against the model's own outputs (transformers' eager output_hidden_states/attentions)."""

import numpy as np
import pytest
import torch
from scipy.special import softmax

from core import count_registered_hooks, trace_text

from .tiny_models import build_tiny, tiny_configs

TEXT = "The cat sat on the mat, and then it slept for a very long time."
TOL = 1e-5


def _reference_outputs(reference, trace):
    inputs = {"input_ids": torch.as_tensor(trace.tokens.input_ids).unsqueeze(0)}
    with torch.no_grad():
        out = reference(**inputs, output_hidden_states=True, output_attentions=True)
    hidden = torch.stack(out.hidden_states)[:, 0].numpy()
    attentions = torch.stack(out.attentions)[:, 0].numpy()
    return hidden, attentions, out.last_hidden_state[0].numpy()


def _check_internal_consistency(trace):
    for layer in trace.layers:
        masked = np.where(layer.attention_allowed, layer.attention_scores, -np.inf)
        np.testing.assert_allclose(softmax(masked, axis=-1), layer.attention_probs, atol=TOL)
        np.testing.assert_allclose(layer.attention_probs.sum(-1), 1.0, atol=TOL)
        context = np.einsum("hts,hsd->htd", layer.attention_probs, layer.value)
        np.testing.assert_allclose(context, layer.attention_context, atol=TOL)


def test_bundled_model_matches_its_own_outputs(bundled):
    from transformers import AutoModel

    reference = AutoModel.from_pretrained(bundled.source_dir, attn_implementation="eager").eval()
    trace = trace_text(bundled, TEXT)
    hidden, attentions, last = _reference_outputs(reference, trace)
    assert trace.hidden_states.shape == (7, len(trace.tokens), 384)
    assert trace.attentions.shape == (6, 12, len(trace.tokens), len(trace.tokens))
    np.testing.assert_allclose(trace.hidden_states, hidden, atol=TOL)
    np.testing.assert_allclose(trace.attentions, attentions, atol=TOL)
    np.testing.assert_allclose(trace.last_hidden_state, last, atol=TOL)
    # The embedding stage: raw rows are the table's rows, and BERT's sum-then-LayerNorm gives layer 1's input.
    table = bundled.weights("word_embeddings")
    np.testing.assert_array_equal(trace.embeddings.token_rows, table[trace.tokens.input_ids])
    summed = trace.embeddings.token_rows + trace.embeddings.position_rows + trace.embeddings.token_type_rows
    ln = bundled.torch_module.embeddings.LayerNorm
    expected = torch.nn.functional.layer_norm(torch.as_tensor(summed), (384,), ln.weight, ln.bias, ln.eps).numpy()
    np.testing.assert_allclose(trace.embeddings.output, expected, atol=TOL)
    _check_internal_consistency(trace)
    assert count_registered_hooks(bundled.torch_module) == 0


@pytest.mark.parametrize("family", sorted(tiny_configs()))
def test_tiny_family_matches_eager_reference(family):
    explorer, reference = build_tiny(family)
    trace = trace_text(explorer, TEXT)
    hidden, attentions, last = _reference_outputs(reference, trace)
    info = explorer.info
    n = len(trace.tokens)
    assert trace.hidden_states.shape == (info.n_layers + 1, n, info.d_model)
    assert trace.attentions.shape == (info.n_layers, info.n_heads, n, n)
    np.testing.assert_allclose(trace.hidden_states, hidden, atol=TOL)
    np.testing.assert_allclose(trace.attentions, attentions, atol=TOL)
    np.testing.assert_allclose(trace.last_hidden_state, last, atol=TOL)
    _check_internal_consistency(trace)
    for layer in trace.layers:
        assert layer.query.shape == (info.n_heads, n, info.d_head)
        assert layer.ffn_activations.shape[0] == n
        # The block's output is the residual stream after attention plus what the FFN adds (pre-norm; Gemma
        # normalises the FFN's output first) — or its LayerNorm (post-norm): either way the recorded pieces
        # must account for it.
        if info.pre_norm:
            np.testing.assert_allclose(layer.post_attention + layer.ffn_added, layer.output, atol=1e-4)
    if info.causal:
        assert not trace.layers[0].attention_allowed[0, 1]  # the first token cannot see the second
        assert trace.layers[0].attention_allowed[-1].all()
    if info.position_kind == "rope":
        assert trace.embeddings.rotary_angles is not None
        assert trace.embeddings.position_rows is None
        np.testing.assert_allclose(trace.embeddings.rotary_angles[0], 0.0, atol=1e-6)  # position 0 is not rotated
    elif info.position_kind == "relative":  # T5: positions only as a bias on the scores
        assert trace.embeddings.position_rows is None and trace.embeddings.rotary_angles is None
        assert all(layer.attention_bias is not None for layer in trace.layers)
    else:
        assert trace.embeddings.position_rows is not None
    assert count_registered_hooks(explorer.torch_module) == 0


def test_modernbert_local_layers_use_a_sliding_window():
    explorer, _ = build_tiny("modernbert")
    trace = trace_text(explorer, TEXT)
    global_layer, local_layer = trace.layers[0], trace.layers[1]
    assert global_layer.attention_allowed.all()
    assert not local_layer.attention_allowed.all()
    assert local_layer.attention_allowed[0, 0] and not local_layer.attention_allowed[0, -1]
    # Local and global layers rotate with different base frequencies.
    assert not np.allclose(global_layer.rotary_angles, local_layer.rotary_angles)
