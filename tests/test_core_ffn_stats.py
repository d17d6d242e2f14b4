"""core.ffn_stats against independent computations with the models' own modules."""

from functools import lru_cache

import numpy as np
import pytest
import torch

from core import trace_text
from core.analysis.ffn_stats import (
    ffn_shape,
    most_active_neurons,
    near_zero_by_layer,
    near_zero_share,
    residual_stream,
    top_neurons_of_token,
    top_tokens_of_neuron,
)

from .tiny_models import build_tiny

TEXT = "Paris is the capital of France, and Berlin is the capital of Germany."


@lru_cache(maxsize=None)
def _tiny(family):
    explorer, reference = build_tiny(family)
    return explorer, reference, trace_text(explorer, TEXT)


@pytest.fixture(scope="module")
def bundled_trace(bundled):
    return trace_text(bundled, TEXT)


def test_ffn_shape_of_the_default_model(bundled):
    shape = ffn_shape(bundled.info)
    assert (shape.d_model, shape.d_ff, shape.gated) == (384, 1536, False)
    assert shape.arrow == "384 → 1,536 → 384"
    assert shape.expansion == 4.0
    assert shape.activation_label == "GELU"
    # The weight count equals the model's own FFN matrices (biases left out).
    layer = bundled.torch_module.encoder.layer[0]
    assert shape.weight_count == layer.intermediate.dense.weight.numel() + layer.output.dense.weight.numel()


def test_gated_ffn_shape_counts_the_gate():
    explorer, _, _ = _tiny("llama")
    shape = ffn_shape(explorer.info)
    mlp = explorer.torch_module.layers[0].mlp
    assert shape.gated and shape.activation_label == "SiLU"
    assert shape.weight_count == sum(m.weight.numel() for m in (mlp.gate_proj, mlp.up_proj, mlp.down_proj))


def test_traced_activations_are_after_the_non_linearity(bundled, bundled_trace):
    """GELU(W_in · x) from the model's own modules equals what the page shows as activations."""
    for index in (0, 5):
        block = bundled.torch_module.encoder.layer[index]
        with torch.no_grad():
            expected = block.intermediate(torch.tensor(bundled_trace.layers[index].post_attention)).numpy()
        np.testing.assert_allclose(bundled_trace.layers[index].ffn_activations, expected, atol=1e-4)
        assert bundled_trace.layers[index].ffn_activations.min() >= -0.1701  # GELU's minimum


def test_gated_activations_are_act_gate_times_up():
    explorer, _, trace = _tiny("llama")
    block = explorer.torch_module.layers[1]
    with torch.no_grad():
        x = block.post_attention_layernorm(torch.tensor(trace.layers[1].post_attention))
        expected = (torch.nn.functional.silu(block.mlp.gate_proj(x)) * block.mlp.up_proj(x)).numpy()
    np.testing.assert_allclose(trace.layers[1].ffn_activations, expected, atol=1e-5)


def test_neuron_rankings_and_near_zero_share(bundled_trace):
    acts = bundled_trace.layers[3].ffn_activations
    neurons = most_active_neurons(acts, 10)
    peak = np.abs(acts).max(0)
    assert set(neurons.tolist()) == set(np.argsort(peak)[-10:].tolist())
    assert list(peak[neurons]) == sorted(peak[neurons], reverse=True)
    ids, values = top_neurons_of_token(acts, 4, 5)
    assert values[0] == pytest.approx(acts[4].max()) and list(values) == sorted(values, reverse=True)
    np.testing.assert_allclose(values, acts[4, ids])
    positions, values = top_tokens_of_neuron(acts, int(neurons[0]), 3)
    assert values[0] == pytest.approx(acts[:, neurons[0]].max())
    np.testing.assert_allclose(values, acts[positions, neurons[0]])
    count = sum(1 for row in acts for a in row if abs(a) < 0.05)
    assert near_zero_share(acts, 0.05) == pytest.approx(count / acts.size)
    shares = near_zero_by_layer(bundled_trace, 0.05)
    assert shares.shape == (6,) and shares[3] == pytest.approx(count / acts.size)


def test_post_norm_residual_pieces_add_up_through_the_layer_norms(bundled, bundled_trace):
    """BERT: after attention = LN(input + attention output); after FFN = LN(after attention + FFN output)."""
    for index, layer in enumerate(bundled_trace.layers):
        block = bundled.torch_module.encoder.layer[index]
        with torch.no_grad():
            after_attention = block.attention.output.LayerNorm(torch.tensor(layer.input + layer.attention_output)).numpy()
            after_ffn = block.output.LayerNorm(torch.tensor(layer.post_attention + layer.ffn_output)).numpy()
        np.testing.assert_allclose(after_attention, layer.post_attention, atol=1e-4)
        np.testing.assert_allclose(after_ffn, layer.output, atol=1e-4)


@pytest.mark.parametrize("family, second_norm", [("gpt2", "ln_2"), ("llama", "post_attention_layernorm")])
def test_pre_norm_residual_pieces_add_up(family, second_norm):
    explorer, reference, trace = _tiny(family)
    # Independent reference: the stream after attention is what the eager reference model feeds its
    # second norm, caught by a hook of the test's own on that module.
    seen = {}
    blocks = reference.h if family == "gpt2" else reference.layers
    handles = [getattr(block, second_norm).register_forward_pre_hook(
        lambda module, args, index=index: seen.__setitem__(index, args[0][0].detach().numpy().copy()))
        for index, block in enumerate(blocks)]
    try:
        with torch.no_grad():
            reference(input_ids=torch.tensor(trace.tokens.input_ids)[None])
    finally:
        for handle in handles:
            handle.remove()
    for layer in trace.layers:
        np.testing.assert_allclose(layer.post_attention, seen[layer.index], atol=1e-5)
        np.testing.assert_allclose(layer.post_attention + layer.ffn_output, layer.output, atol=1e-5)
    stream = residual_stream(trace)
    # In a pre-norm model the 'change' of a sub-layer is exactly its output's size.
    np.testing.assert_allclose(stream.attention_change, stream.attention_update, atol=1e-5)
    np.testing.assert_allclose(stream.ffn_change, stream.ffn_update, atol=1e-5)


def test_residual_stream_norms_follow_the_models_hidden_states(bundled, bundled_trace):
    from transformers import AutoModel

    reference = AutoModel.from_pretrained(bundled.source_dir, attn_implementation="eager").eval()
    with torch.no_grad():
        out = reference(input_ids=torch.tensor(bundled_trace.tokens.input_ids).unsqueeze(0), output_hidden_states=True)
    hidden = torch.stack(out.hidden_states)[:, 0].numpy()
    stream = residual_stream(bundled_trace)
    n_layers = len(bundled_trace.layers)
    assert stream.norms.shape == (2 * n_layers + 1, bundled_trace.n_tokens)
    assert stream.stages[:3] == ("embeddings", "L1 attention", "L1 FFN")
    # Stage 0 is the embeddings, stage 2l+2 the output of layer l+1: the model's own hidden states.
    np.testing.assert_allclose(stream.norms[0::2], np.linalg.norm(hidden, axis=-1), rtol=1e-5)
    layer = bundled_trace.layers[2]
    expected = np.linalg.norm(layer.post_attention - layer.input, axis=-1) / np.linalg.norm(layer.input, axis=-1)
    np.testing.assert_allclose(stream.attention_change[2], expected, rtol=1e-5)
    expected = np.linalg.norm(layer.ffn_output, axis=-1) / np.linalg.norm(layer.post_attention, axis=-1)
    np.testing.assert_allclose(stream.ffn_update[2], expected, rtol=1e-5)


def test_near_zero_overall_is_the_share_over_every_activation(bundled):
    from core import trace_text
    from core.analysis.ffn_stats import near_zero_by_layer, near_zero_overall

    trace = trace_text(bundled, "Overall shares count every activation once")
    everything = np.concatenate([layer.ffn_activations.ravel() for layer in trace.layers])
    assert near_zero_overall(trace, 0.05) == pytest.approx(float((np.abs(everything) < 0.05).mean()))
    assert near_zero_overall(trace, 0.05) == pytest.approx(float(near_zero_by_layer(trace, 0.05).mean()))
