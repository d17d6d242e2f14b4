"""Gemma 3 text encoders (EmbeddingGemma) traced as they are: bidirectional attention with sliding-window
and global layers, q/k norms, RMSNorm of the (1 + weight) kind before and after each sub-layer, a gated
GELU-tanh FFN, RoPE with one base per layer type, token rows × √d; and the sentence-transformers
pipeline (mean pooling, two Dense layers, Normalize, prompts) against SentenceTransformer.encode.

References: transformers' eager Gemma3TextModel (its outputs and, through hooks of the test's own, its
modules' inputs and outputs), numpy formulas from the config, and sentence-transformers."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
import torch

from core import count_registered_hooks, embed_texts, trace_text
from core.analysis.ffn_stats import ffn_shape, residual_stream
from core.analysis.positional import ablation_plan, rope_offset_check
from core.models.family_notes import normalisation
from core.text.vocabulary import embedding_parts

from .st_tiny import build_st_folder
from .tiny_models import build_tiny, tiny_configs

TOL = 1e-5
# 25 tokens: longer than the sliding window (|i − j| < 5) so the local layers really cut pairs off
TEXT = "The cat sat on the mat, and then it slept there for a very long time until the sun went down."


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models on a shared 2-core machine


@lru_cache(maxsize=None)
def _tiny():
    """The tiny Gemma with random norm weights (zeros would make every (1 + weight) norm a plain one)."""
    explorer, reference = build_tiny("gemma3")
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, parameter in explorer.torch_module.named_parameters():
            if "norm" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    reference.load_state_dict(explorer.torch_module.state_dict())
    return explorer, reference, trace_text(explorer, TEXT)


def _module_values(reference, input_ids, paths, *, inputs=()):
    """Outputs (or, for ``inputs``, first inputs) of the reference model's modules, by path, in one forward."""
    modules = dict(reference.named_modules())
    seen, handles = {}, []
    for path in paths:
        if path in inputs:
            handles.append(modules[path].register_forward_pre_hook(
                lambda module, args, path=path: seen.__setitem__(path, args[0][0].detach().clone())))
        else:
            handles.append(modules[path].register_forward_hook(
                lambda module, args, output, path=path: seen.__setitem__(path, output[0].detach().clone())))
    try:
        with torch.no_grad():
            out = reference(input_ids=torch.as_tensor(input_ids)[None], output_hidden_states=True, output_attentions=True)
    finally:
        for handle in handles:
            handle.remove()
    return out, {path: value.numpy() for path, value in seen.items()}


def _rms_norm(x, weight, eps):
    """Gemma's RMSNorm by its formula: x / √(mean(x²) + eps) × (1 + weight)."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps) * (1.0 + np.asarray(weight, dtype=np.float64))


def test_every_hidden_state_and_attention_matches_eager_gemma():
    explorer, reference, trace = _tiny()
    out, _ = _module_values(reference, trace.tokens.input_ids, [])
    n, info = trace.n_tokens, explorer.info
    assert n > 2 * 5  # the text is longer than the sliding window
    assert trace.hidden_states.shape == (info.n_layers + 1, n, info.d_model)
    np.testing.assert_allclose(trace.hidden_states, torch.stack(out.hidden_states)[:, 0].numpy(), atol=TOL)
    np.testing.assert_allclose(trace.attentions, torch.stack(out.attentions)[:, 0].numpy(), atol=TOL)
    np.testing.assert_allclose(trace.last_hidden_state, out.last_hidden_state[0].numpy(), atol=TOL)
    assert count_registered_hooks(explorer.torch_module) == 0


def test_sliding_window_and_global_layers_are_bidirectional():
    explorer, _, trace = _tiny()
    config = explorer.torch_module.config
    assert not explorer.info.causal and explorer.info.default_pooling == "mean"
    offsets = np.abs(np.arange(trace.n_tokens)[:, None] - np.arange(trace.n_tokens)[None, :])
    for layer, kind in zip(trace.layers, config.layer_types):
        if kind == "sliding_attention":  # both directions, within the window
            np.testing.assert_array_equal(layer.attention_allowed, offsets < config.sliding_window)
            assert (layer.attention_probs[:, offsets >= config.sliding_window] == 0).all()
        else:
            assert layer.attention_allowed.all()
        assert layer.attention_allowed[0, 1]  # the first token sees the next one: not causal
    # Gemma's scale is 1/√query_pre_attn_scalar, not 1/√d_head
    assert trace.layers[0].attention_scale == pytest.approx(config.query_pre_attn_scalar ** -0.5)
    assert trace.layers[0].attention_scale != pytest.approx(explorer.info.d_head ** -0.5)


def test_norms_on_both_sides_of_each_sub_layer_and_the_gated_ffn():
    explorer, reference, trace = _tiny()
    paths, inputs = [], []
    for index in range(explorer.info.n_layers):
        block = f"layers.{index}"
        paths += [f"{block}.post_attention_layernorm", f"{block}.pre_feedforward_layernorm",
                  f"{block}.post_feedforward_layernorm", f"{block}.mlp.down_proj"]
        inputs += [f"{block}.pre_feedforward_layernorm", f"{block}.mlp.down_proj"]
    _, seen = _module_values(reference, trace.tokens.input_ids, paths, inputs=inputs)
    eps = explorer.torch_module.config.rms_norm_eps
    for layer in trace.layers:
        block = reference.layers[layer.index]
        # the stream after attention is what the reference feeds its pre-FFN norm
        np.testing.assert_allclose(layer.post_attention, seen[f"layers.{layer.index}.pre_feedforward_layernorm"], atol=TOL)
        # what is added is the post-attention norm of W_o's output, by the (1 + weight) formula
        np.testing.assert_allclose(layer.attention_added, _rms_norm(layer.attention_output,
                                   block.post_attention_layernorm.weight.detach().numpy(), eps), atol=1e-4)
        np.testing.assert_allclose(layer.attention_output_normed, seen[f"layers.{layer.index}.post_attention_layernorm"],
                                   atol=TOL)
        # gated FFN: gelu_tanh(W_gate x) × (W_up x) on x = pre-FFN norm of the stream, computed here
        x = torch.as_tensor(_rms_norm(layer.post_attention, block.pre_feedforward_layernorm.weight.detach().numpy(), eps),
                            dtype=torch.float32)
        with torch.no_grad():
            gate = torch.nn.functional.gelu(x @ block.mlp.gate_proj.weight.T, approximate="tanh")
            expected = (gate * (x @ block.mlp.up_proj.weight.T)).numpy()
        np.testing.assert_allclose(layer.ffn_activations, expected, atol=1e-4)
        np.testing.assert_allclose(layer.ffn_activations, seen[f"layers.{layer.index}.mlp.down_proj"], atol=TOL)
        np.testing.assert_allclose(layer.ffn_output_normed, seen[f"layers.{layer.index}.post_feedforward_layernorm"],
                                   atol=TOL)
        np.testing.assert_allclose(layer.post_attention + layer.ffn_added, layer.output, atol=TOL)
        assert np.abs(layer.ffn_added - layer.ffn_output).max() > 1e-3  # the norm really changes what is added
    stream = residual_stream(trace)
    # pre-norm: each sub-layer's change of the stream is exactly what it adds (the normalised output)
    np.testing.assert_allclose(stream.attention_change, stream.attention_update, atol=1e-5)
    np.testing.assert_allclose(stream.ffn_change, stream.ffn_update, atol=1e-5)


def test_model_info_names_gemmas_blocks():
    explorer, _, _ = _tiny()
    info = explorer.info
    assert (info.family, info.class_name, info.model_type) == ("Gemma 3", "Gemma3TextModel", "gemma3_text")
    assert info.norm_kind == "RMSNorm" and info.output_norms and info.pre_norm
    assert info.position_kind == "rope" and info.ffn_gated
    config = explorer.torch_module.config
    assert (info.d_ff, info.d_head, info.n_kv_heads) == (config.intermediate_size, config.head_dim, config.num_key_value_heads)
    shape = ffn_shape(info)
    assert shape.activation == config.hidden_activation == "gelu_pytorch_tanh" and shape.activation_label == "GELU (tanh)"
    assert shape.output_norm == "RMSNorm"
    from ui.ffn_views import ffn_diagram

    assert "down -> norm -> out" in ffn_diagram(shape)  # the FFN page draws the norm on the FFN's output
    mlp = explorer.torch_module.layers[0].mlp
    assert shape.weight_count == sum(m.weight.numel() for m in (mlp.gate_proj, mlp.up_proj, mlp.down_proj))
    text = normalisation(info)
    assert "RMSNorm" in text and "1 + weight" in text and "again on the sub-layer's output" in text


def test_token_rows_are_the_table_and_layer_one_gets_them_times_sqrt_d():
    explorer, reference, trace = _tiny()
    table = reference.embed_tokens.weight.detach().numpy()
    np.testing.assert_array_equal(trace.embeddings.token_rows, table[trace.tokens.input_ids])
    d = explorer.torch_module.config.hidden_size
    assert trace.embeddings.token_scale == pytest.approx(np.sqrt(d))
    np.testing.assert_allclose(trace.embeddings.output, table[trace.tokens.input_ids] * np.sqrt(d), rtol=1e-6)
    parts = embedding_parts(explorer, trace.embeddings, 3)
    assert parts.names[0] == "token row (the lookup)" and "√d" in parts.names[-1] and parts.norm_module is None
    assert parts.max_abs_difference < 1e-5


def test_rope_angles_use_each_layer_types_base():
    explorer, _, trace = _tiny()
    config = explorer.torch_module.config
    positions = np.arange(trace.n_tokens)[:, None]
    for layer, kind in zip(trace.layers, config.layer_types):
        base = config.rope_parameters[kind]["rope_theta"]
        angles = positions * base ** (-np.arange(0, config.head_dim, 2) / config.head_dim)  # p · θ_i
        # the trace's angles are atan2(sin, cos), wrapped to −π…π: compare on the circle
        np.testing.assert_allclose(np.cos(layer.rotary_angles), np.cos(angles), atol=1e-5)
        np.testing.assert_allclose(np.sin(layer.rotary_angles), np.sin(angles), atol=1e-5)
        check = rope_offset_check(layer.query, layer.key, layer.rotary_angles, head=1, query_token=2, key_token=6)
        assert check.profile.relative_spread < 1e-4
    assert not np.allclose(trace.layers[0].rotary_angles, trace.layers[1].rotary_angles)  # two bases
    plan = ablation_plan(explorer, trace.n_tokens)
    assert plan.identity_rotation == ("rotary_emb",) and plan.zeroed == ()
    assert f"the {config.sliding_window - 1} tokens on either side" in plan.order_left


def test_a_causal_gemma_is_traced_as_causal():
    """Gemma 3 without use_bidirectional_attention is a decoder: same family, causal mask, last-token pooling."""
    config, _ = tiny_configs()["gemma3"]
    config.use_bidirectional_attention = False
    from core import build_model_from_config

    from .tiny_models import _bert_tokenizer

    explorer = build_model_from_config(config, _bert_tokenizer(), device="cpu", seed=1)
    assert explorer.info.causal and explorer.info.default_pooling == "lasttoken"
    trace = trace_text(explorer, TEXT)
    lower = np.tril(np.ones((trace.n_tokens, trace.n_tokens), dtype=bool))
    assert not (trace.layers[1].attention_allowed & ~lower).any()  # nothing after the query, even in the global layer
    # the seeded build leaves Gemma's (1 + weight) norms neutral: weight 0, as transformers initialises them
    norm = explorer.torch_module.layers[0].input_layernorm.weight
    assert torch.count_nonzero(norm) == 0


# --- the sentence-transformers pipeline: EmbeddingGemma's Dense → Dense → Normalize and its prompts ---------

PROMPTS = {"query": "task: search result | query: ", "document": "title: none | text: "}
TEXTS = ["The cat sat on the mat.", "Embeddings", "A longer sentence about how a model pools its token vectors."]


@pytest.fixture(scope="module")
def gemma_st(tmp_path_factory):
    from sentence_transformers import SentenceTransformer

    from core import load_model

    folder = build_st_folder(tmp_path_factory.mktemp("gemma_st"), family="gemma3", pooling="mean",
                             dense=[(64, "identity", False), (32, "identity", False)], normalize=True, prompts=PROMPTS)
    return SentenceTransformer(str(folder), device="cpu"), load_model(str(folder), "cpu")


def test_native_embedding_equals_sentence_transformers_encode(gemma_st):
    st_model, explorer = gemma_st
    assert type(st_model[0].auto_model).__name__ == explorer.info.class_name == "Gemma3TextModel"
    pipeline = explorer.pipeline
    assert [layer.label for layer in pipeline.dense] == ["Dense 32 → 64, identity", "Dense 64 → 32, identity"]
    assert all(layer.bias is None for layer in pipeline.dense) and pipeline.normalize
    trace = trace_text(explorer, TEXTS[0], prompt_name="query")
    assert trace.prompt == PROMPTS["query"]
    assert [stage.name for stage in trace.pipeline_stages] == [
        "mean pooling", "Dense 32 → 64, identity", "Dense 64 → 32, identity", "Normalize"]
    np.testing.assert_allclose(trace.native_embedding, st_model.encode(TEXTS[0], prompt_name="query"), atol=TOL)
    np.testing.assert_allclose(trace_text(explorer, TEXTS[0]).native_embedding, st_model.encode(TEXTS[0]), atol=TOL)
    # a padded batch through the explorer's encode, with the document prompt
    np.testing.assert_allclose(embed_texts(explorer, TEXTS, prompt_name="document"),
                               st_model.encode(TEXTS, prompt_name="document"), atol=TOL)
    # the prompt matters: without it the vector is another one
    assert np.abs(trace.native_embedding - st_model.encode(TEXTS[0])).max() > 100 * TOL
