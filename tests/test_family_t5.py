"""T5 encoders (sentence-t5, GTR) traced as they are: no position rows, only a learned bias per
relative-offset bucket (computed in layer 0 and shared by every layer), no 1/√d scaling of the scores,
T5's RMSNorm (T5LayerNorm), a ReLU FFN (T5) or a gated GELU one (T5 v1.1); and the sentence-transformers
pipeline (mean pooling, Dense without bias, Normalize) against SentenceTransformer.encode.

References: transformers' eager T5EncoderModel (its outputs, its modules, its own
``_relative_position_bucket`` and ``compute_bias``), numpy formulas, and sentence-transformers."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
import torch
from transformers.models.t5.modeling_t5 import T5Attention

from core import count_registered_hooks, embed_texts, trace_text
from core.analysis.attention_stats import worked_attention
from core.analysis.ffn_stats import ffn_shape, near_zero_share
from core.analysis.positional import ablation_plan, relative_buckets, relative_position_bucket, word_order_experiment
from core.models.family_notes import normalisation, position_scheme

from .st_tiny import build_st_folder
from .tiny_models import build_tiny

TOL = 1e-5
# 29 tokens: offsets up to 28, past the tiny config's max_distance of 16 and across every bucket boundary
TEXT = "The cat sat on the mat, and then it slept there for a very long time until the sun went down again."


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models on a shared 2-core machine


@lru_cache(maxsize=None)
def _tiny(name):
    explorer, reference = build_tiny(name)
    return explorer, reference, trace_text(explorer, TEXT)


def _eager(reference, trace):
    with torch.no_grad():
        return reference(input_ids=torch.as_tensor(trace.tokens.input_ids)[None], output_hidden_states=True,
                         output_attentions=True)


@pytest.mark.parametrize("name", ["t5", "t5-gated"])
def test_every_hidden_state_and_attention_matches_eager_t5(name):
    explorer, reference, trace = _tiny(name)
    assert type(reference).__name__ == explorer.info.class_name == "T5EncoderModel"
    config = explorer.torch_module.config
    assert trace.n_tokens - 1 > config.relative_attention_max_distance  # offsets reach the shared far bucket
    out = _eager(reference, trace)
    np.testing.assert_allclose(trace.hidden_states, torch.stack(out.hidden_states)[:, 0].numpy(), atol=TOL)
    np.testing.assert_allclose(trace.attentions, torch.stack(out.attentions)[:, 0].numpy(), atol=TOL)
    np.testing.assert_allclose(trace.last_hidden_state, out.last_hidden_state[0].numpy(), atol=TOL)
    for layer in trace.layers:
        assert layer.attention_scale == 1.0  # T5 does not divide q·k by √d_head
        assert layer.attention_allowed.all()
        # scores = q·k + the relative bias: softmax of them is the model's own pattern
        scores = layer.attention_scores
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        np.testing.assert_allclose(probs / probs.sum(-1, keepdims=True), layer.attention_probs, atol=TOL)
        assert worked_attention(layer, 1, 4).has_bias
    assert trace.embeddings.position_rows is None and trace.embeddings.rotary_angles is None
    # layer 0 computes the bias and every layer reuses it: the trace holds it once
    assert all(layer.attention_bias is trace.layers[0].attention_bias for layer in trace.layers)
    assert count_registered_hooks(explorer.torch_module) == 0


@pytest.mark.parametrize("num_buckets,max_distance", [(32, 128), (8, 16), (16, 20)])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_bucket_rule_matches_transformers(num_buckets, max_distance, bidirectional):
    offsets = np.arange(-700, 701)
    expected = T5Attention._relative_position_bucket(torch.as_tensor(offsets), bidirectional=bidirectional,
                                                     num_buckets=num_buckets, max_distance=max_distance).numpy()
    actual = relative_position_bucket(offsets, num_buckets=num_buckets, max_distance=max_distance, bidirectional=bidirectional)
    np.testing.assert_array_equal(actual, expected)


def test_relative_buckets_are_the_bias_the_model_added():
    explorer, reference, trace = _tiny("t5")
    n, config = trace.n_tokens, explorer.torch_module.config
    buckets = relative_buckets(explorer, n)
    assert (buckets.num_buckets, buckets.max_distance, buckets.bidirectional) == (8, 16, True)
    positions = np.arange(n)
    offsets = positions[None, :] - positions[:, None]  # key − query
    expected_buckets = T5Attention._relative_position_bucket(torch.as_tensor(offsets), bidirectional=True,
                                                             num_buckets=8, max_distance=16).numpy()
    np.testing.assert_array_equal(buckets.buckets, expected_buckets)
    attention = reference.encoder.block[0].layer[0].SelfAttention
    np.testing.assert_array_equal(buckets.table, attention.relative_attention_bias.weight.detach().numpy())
    with torch.no_grad():
        model_bias = attention.compute_bias(n, n)[0].numpy()  # transformers' own bias for this length
    np.testing.assert_allclose(buckets.bias, model_bias, atol=0)
    assert buckets.largest_difference([layer.attention_bias for layer in trace.layers]) == 0.0
    # each bucket's offsets, read off transformers' own buckets of every (query, key) pair
    expected_spans = sorted(((int(b), int(offsets[expected_buckets == b].min()), int(offsets[expected_buckets == b].max()))
                             for b in np.unique(expected_buckets)), key=lambda span: span[1])
    assert list(buckets.bucket_spans()) == expected_spans
    # the offsets below exact_offsets are alone in their bucket; offsets past max_distance share one per side
    for bucket, low, high in expected_spans:
        assert (low == high) == (min(abs(low), abs(high)) < buckets.exact_offsets)
    far = np.abs(buckets.offsets) >= config.relative_attention_max_distance
    assert len(set(buckets.offset_buckets[far & (buckets.offsets > 0)])) == 1
    assert len(set(buckets.offset_buckets[far & (buckets.offsets < 0)])) == 1


def test_mpnet_bias_uses_the_same_buckets():
    explorer, _ = build_tiny("mpnet")
    trace = trace_text(explorer, TEXT)
    buckets = relative_buckets(explorer, trace.n_tokens)
    assert buckets.num_buckets == 32 and buckets.max_distance == 128
    assert buckets.largest_difference([layer.attention_bias for layer in trace.layers]) < 1e-6


def test_relu_and_gated_ffns():
    for name in ("t5", "t5-gated"):
        explorer, reference, trace = _tiny(name)
        config = explorer.torch_module.config
        shape = ffn_shape(explorer.info)
        assert shape.gated is config.is_gated_act and shape.d_ff == config.d_ff and shape.output_norm == ""
        for layer in trace.layers:
            ff = reference.encoder.block[layer.index].layer[1]
            with torch.no_grad():
                x = ff.layer_norm(torch.as_tensor(np.array(layer.post_attention)))
                if config.is_gated_act:  # T5 v1.1: gelu_new(wi_0 x) × wi_1 x
                    expected = torch.nn.functional.gelu(ff.DenseReluDense.wi_0(x), approximate="tanh") * ff.DenseReluDense.wi_1(x)
                else:
                    expected = torch.relu(ff.DenseReluDense.wi(x))
            np.testing.assert_allclose(layer.ffn_activations, expected.numpy(), atol=1e-5)
            np.testing.assert_allclose(layer.post_attention + layer.ffn_output, layer.output, atol=1e-5)
        dense = reference.encoder.block[0].layer[1].DenseReluDense
        assert shape.weight_count == sum(p.numel() for p in dense.parameters())  # no biases in T5
        if config.is_gated_act:
            assert shape.activation == "gelu_new" and shape.activation_label == "GELU (tanh)"
        else:
            assert shape.activation == "relu" and shape.activation_label == "ReLU"
            acts = trace.layers[0].ffn_activations
            assert acts.min() == 0.0 and near_zero_share(acts, 1e-12) > 0.2  # ReLU cuts every negative to exactly 0


def test_t5_layer_norm_is_an_rms_norm():
    explorer, reference, trace = _tiny("t5")
    info = explorer.info
    assert info.norm_kind == "RMSNorm" and info.pre_norm and not info.output_norms
    assert info.position_kind == "relative" and info.family == "T5 encoder" and not info.causal
    assert info.d_head == explorer.torch_module.config.d_kv and info.d_ff == explorer.torch_module.config.d_ff
    norm = reference.encoder.final_layer_norm
    x = trace.layers[-1].output.astype(np.float64)
    expected = x / np.sqrt((x ** 2).mean(-1, keepdims=True) + norm.variance_epsilon) * norm.weight.detach().numpy()
    np.testing.assert_allclose(trace.last_hidden_state, expected, atol=1e-5)  # no mean subtracted, no shift
    assert "RMSNorm" in normalisation(info) and "bucket" in position_scheme(info.position_kind)


def test_without_its_bias_t5_cannot_tell_word_order():
    explorer, _, _ = _tiny("t5")
    plan = ablation_plan(explorer)
    assert plan.zeroed == ("encoder.block.0.layer.0.SelfAttention.relative_attention_bias",) and plan.order_left is None
    result = word_order_experiment(explorer, "the cat bit the dog", "the dog bit the cat")
    assert result.same_tokens and result.cosine < 1 - 1e-4
    assert result.cosine_without_positions == pytest.approx(1.0, abs=1e-5)
    assert count_registered_hooks(explorer.torch_module) == 0


# --- the sentence-transformers pipeline: sentence-t5's mean → Dense (no bias, identity) → Normalize -------

TEXTS = ["The cat sat on the mat.", "Embeddings", "A longer sentence about how a model pools its token vectors."]


def test_native_embedding_equals_sentence_transformers_encode(tmp_path):
    from sentence_transformers import SentenceTransformer

    from core import load_model

    folder = build_st_folder(tmp_path, family="t5", pooling="mean", dense=[(24, "identity", False)], normalize=True)
    st_model = SentenceTransformer(str(folder), device="cpu")
    explorer = load_model(str(folder), "cpu")
    assert type(st_model[0].auto_model).__name__ == explorer.info.class_name == "T5EncoderModel"
    (dense,) = explorer.pipeline.dense
    assert dense.label == "Dense 32 → 24, identity" and dense.bias is None and explorer.pipeline.normalize
    trace = trace_text(explorer, TEXTS[0])
    assert [stage.name for stage in trace.pipeline_stages] == ["mean pooling", "Dense 32 → 24, identity", "Normalize"]
    np.testing.assert_allclose(trace.native_embedding, st_model.encode(TEXTS[0]), atol=TOL)
    np.testing.assert_allclose(embed_texts(explorer, TEXTS), st_model.encode(TEXTS), atol=TOL)  # a padded batch
    # a fresh-weights copy (the training page's untrained twin) is built as the encoder alone too
    from core.models.loading import untrained_copy

    twin = untrained_copy(explorer, seed=3, model_id="untrained t5")
    assert type(twin.torch_module) is type(explorer.torch_module)
    assert set(twin.torch_module.state_dict()) == set(explorer.torch_module.state_dict())
    assert trace_text(twin, TEXTS[0]).native_embedding.shape == (32,)  # mean pooling, no Dense


def test_the_positional_view_draws_the_models_own_bias():
    """The figures of ui.relative_position_views carry the bias the model added (read off the trace)."""
    from ui.relative_position_views import bias_by_offset_figure, bucket_map_figure, bucket_table

    explorer, _, trace = _tiny("t5")
    buckets = relative_buckets(explorer, trace.n_tokens)
    np.testing.assert_array_equal(np.asarray(bucket_map_figure(buckets).data[0].z), buckets.buckets)
    recorded = trace.layers[0].attention_bias  # [H, query, key]
    figure = bias_by_offset_figure(buckets, [0, 2])
    for line, head in zip(figure.data, (0, 2)):
        offsets = np.asarray(line.x)
        # offset o ≥ 0 is (query 0, key o); o < 0 is (query −o, key 0)
        from_trace = np.where(offsets >= 0, recorded[head, 0, np.maximum(offsets, 0)], recorded[head, np.maximum(-offsets, 0), 0])
        np.testing.assert_allclose(np.asarray(line.y, dtype=float), from_trace, atol=1e-4)
    assert line.name == "head 3"  # heads are numbered from 1, as on the attention page
    table = bucket_table(buckets)
    assert len(table) == len(buckets.bucket_spans()) and list(table.columns[:2]) == ["bucket", "offsets"]


def test_size_estimate_and_cpu_twin_build_the_encoder_alone():
    """The size cap counts what is loaded (not T5's decoder), and the CPU twin that takes over when an
    accelerator runs out of memory is the same encoder with the same weights."""
    import dataclasses

    from core.models.explorer_model import ExplorerModel
    from core.models.loading import estimated_parameters

    explorer, _, trace = _tiny("t5")
    assert estimated_parameters(explorer.torch_module.config) == explorer.info.parameter_count
    on_accelerator = ExplorerModel(explorer.torch_module, explorer.tokenizer, explorer.architecture,
                                   dataclasses.replace(explorer.info, device="cuda"), explorer.pipeline, "")
    twin = on_accelerator.cpu_twin()
    assert twin is not on_accelerator and type(twin.torch_module) is type(explorer.torch_module)
    np.testing.assert_allclose(trace_text(twin, TEXT).hidden_states, trace.hidden_states, atol=TOL)
