"""core.positional against independent references: the article's own code, transformers' RoPE,
sentence-transformers' encode, and a copy of the model with its position table zeroed."""

from __future__ import annotations

import copy
import threading

import numpy as np
import pytest
import torch

from core import count_registered_hooks, trace_text
from core.analysis.positional import (
    ablation_plan,
    cosine_matrix,
    dot_products,
    embed_one,
    offset_profile,
    position_ablation,
    rope_frequencies,
    rope_offset_check,
    rope_rotate,
    rotation_path,
    sinusoidal_encoding,
    word_order_experiment,
)

from .tiny_models import build_tiny


def article_sinusoidal(seq_len: int, d_model: int) -> np.ndarray:
    """The article's code, verbatim."""
    pos = np.arange(seq_len)[:, np.newaxis]
    i = np.arange(d_model)[np.newaxis, :]
    angle_rates = 1 / np.power(10000, (2 * (i // 2)) / d_model)
    angle_rads = pos * angle_rates
    PE = np.zeros((seq_len, d_model))
    PE[:, 0::2] = np.sin(angle_rads[:, 0::2])
    PE[:, 1::2] = np.cos(angle_rads[:, 1::2])
    return PE


@pytest.mark.parametrize("seq_len,d_model", [(9, 384), (256, 384), (50, 64), (7, 7)])
def test_sinusoidal_matches_the_article(seq_len, d_model):
    np.testing.assert_allclose(sinusoidal_encoding(seq_len, d_model), article_sinusoidal(seq_len, d_model), atol=1e-6)


def test_sinusoidal_dot_products_depend_only_on_distance():
    n, d = 40, 64
    encoding = sinusoidal_encoding(n, d)
    dots = dot_products(encoding)
    frequencies = 10000.0 ** (-2 * np.arange(d // 2) / d)
    offsets = np.arange(n)[:, None] - np.arange(n)[None, :]
    analytic = np.cos(offsets[..., None] * frequencies).sum(axis=-1)  # Σ cos(ω (m − n))
    np.testing.assert_allclose(dots, analytic, atol=1e-4)
    profile = offset_profile(dots)
    assert profile.relative_spread < 1e-5
    assert profile.offsets.tolist() == list(range(-(n - 1), n))
    assert profile.mean[n - 1] == pytest.approx(d / 2, rel=1e-5)  # offset 0: Σ sin² + cos² over d/2 pairs


def test_offset_profile_sees_a_matrix_that_is_not_a_function_of_distance():
    rng = np.random.default_rng(0)
    toeplitz = np.array([[abs(i - j) * 0.5 for j in range(6)] for i in range(6)])
    assert offset_profile(toeplitz).max_spread == 0
    assert offset_profile(rng.normal(size=(6, 6))).relative_spread > 0.1


def test_offset_profile_keeps_each_diagonals_min_and_max():
    matrix = np.array([[1.0, 0.2, -0.5], [0.4, 1.0, 0.3], [0.1, 0.9, 1.0]])
    profile = offset_profile(matrix)
    index = {int(o): i for i, o in enumerate(profile.offsets)}
    assert profile.minimum[index[1]] == 0.2 and profile.maximum[index[1]] == 0.3
    assert profile.minimum[index[-1]] == 0.4 and profile.maximum[index[-1]] == 0.9
    np.testing.assert_allclose(profile.spread, profile.maximum - profile.minimum)
    assert np.all(profile.minimum <= profile.mean) and np.all(profile.mean <= profile.maximum)


@pytest.mark.parametrize("n", [9, 64])
def test_learned_cosine_whiskers_stay_inside_the_min_max_range(bundled, n):
    """The positional page's "Learned rows: cosine similarity by distance": whiskers span each diagonal's own
    min–max on the real model's table, so no whisker passes cosine 1."""
    from ui.position_views import offset_figure

    rows = bundled.weights("position_embeddings")[:n]
    profile = offset_profile(cosine_matrix(rows))
    trace = offset_figure(profile, title="t", y_title="cosine").data[0]
    y = np.asarray(trace.y, dtype=float)
    upper = y + np.asarray(trace.error_y.array, dtype=float)
    lower = y - np.asarray(trace.error_y.arrayminus, dtype=float)
    keep = profile.offsets >= 0
    assert trace.error_y.symmetric is False
    assert upper.max() <= 1 + 1e-6
    # the plotted mean is rounded to 4 decimals; a one-value diagonal's whisker is then off by < 5e-5
    np.testing.assert_allclose(upper, profile.maximum[keep], atol=5.1e-5)
    np.testing.assert_allclose(lower, profile.minimum[keep], atol=5.1e-5)
    assert profile.spread[keep][1] > 0.05  # the real table is not a function of distance: whiskers are visible


def test_cosine_matrix_matches_torch():
    rows = np.random.default_rng(1).normal(size=(12, 20)).astype(np.float32)
    reference = torch.nn.functional.cosine_similarity(torch.tensor(rows)[:, None], torch.tensor(rows)[None], dim=-1)
    np.testing.assert_allclose(cosine_matrix(rows), reference.numpy(), atol=1e-6)


@pytest.fixture(scope="module")
def tiny_llama():
    explorer, _ = build_tiny("llama")
    return explorer


def test_rope_rotation_matches_transformers(tiny_llama):
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    seq, head_dim = 11, tiny_llama.info.d_head
    positions = torch.arange(seq)[None]
    x = torch.zeros(1, seq, tiny_llama.info.d_model)
    cos, sin = tiny_llama.torch_module.rotary_emb(x, positions)
    q = torch.randn(1, 1, seq, head_dim, generator=torch.Generator().manual_seed(0))
    k = torch.randn(1, 1, seq, head_dim, generator=torch.Generator().manual_seed(1))
    q_ref, k_ref = apply_rotary_pos_emb(q, k, cos, sin)
    angles = torch.atan2(sin[0, :, : head_dim // 2], cos[0, :, : head_dim // 2]).numpy()
    np.testing.assert_allclose(rope_rotate(q[0, 0].numpy(), angles), q_ref[0, 0].numpy(), atol=1e-5)
    np.testing.assert_allclose(rope_rotate(k[0, 0].numpy(), angles), k_ref[0, 0].numpy(), atol=1e-5)
    # frequencies read off the angles are the model's inv_freq
    np.testing.assert_allclose(rope_frequencies(angles), tiny_llama.torch_module.rotary_emb.inv_freq.numpy(), rtol=1e-4)


def test_rope_offset_check_on_the_models_own_queries_and_keys(tiny_llama):
    trace = trace_text(tiny_llama, "the quick brown fox jumps over the lazy dog again and again")
    layer = trace.layers[0]
    check = rope_offset_check(layer.query, layer.key, layer.rotary_angles, head=1, query_token=2, key_token=5)
    assert check.scores.shape == (trace.n_tokens, trace.n_tokens)
    assert check.profile.relative_spread < 1e-5
    # the placed pair at its real positions reproduces the model's own score q·k
    real = float(np.dot(layer.query[1, 2], layer.key[1, 5]))
    assert check.scores[2, 5] == pytest.approx(real, rel=1e-4, abs=1e-5)
    # negative control: angles that are not proportional to position break the property
    shuffled = layer.rotary_angles[np.random.default_rng(0).permutation(trace.n_tokens)]
    broken = rope_offset_check(layer.query, layer.key, shuffled, head=1, query_token=2, key_token=5)
    assert broken.profile.relative_spread > 1e-2


def test_rotation_path_keeps_length_and_turns_by_the_angle():
    angles = np.array([[0.0, 0.0], [np.pi / 2, 0.1], [np.pi, 0.2]])
    path = rotation_path(angles, 0)
    np.testing.assert_allclose(path, [[1, 0], [0, 1], [-1, 0]], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(rotation_path(angles, 1, (0.3, 0.4)), axis=1), 0.5)


# -- the word-order experiment ----------------------------------------------------------------------


def _reference_embedding(model, tokenizer, text):
    encoded = tokenizer(text, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**encoded).last_hidden_state[0]
    vector = hidden.mean(dim=0)
    return (vector / vector.norm()).numpy()


def test_word_order_matches_sentence_transformers(bundled):
    from sentence_transformers import SentenceTransformer

    from core.models.bundled import bundled_model_dir

    st_model = SentenceTransformer(str(bundled_model_dir()), device="cpu")
    a, b = "The cat bit the dog", "The dog bit the cat"
    reference = st_model.encode([a, b])
    result = word_order_experiment(bundled, a, b)
    expected = float(reference[0] @ reference[1] / np.linalg.norm(reference[0]) / np.linalg.norm(reference[1]))
    assert result.cosine == pytest.approx(expected, abs=1e-5)
    assert result.cosine < 0.9999  # the model does tell them apart
    assert result.same_tokens and not result.identical_tokens
    assert result.cosine_without_positions == pytest.approx(1.0, abs=1e-6)
    assert result.plan.zeroed == ("embeddings.position_embeddings",) and result.plan.order_left is None
    assert count_registered_hooks(bundled.torch_module) == 0


def test_ablation_equals_a_model_whose_position_table_is_zero(bundled):
    reference = copy.deepcopy(bundled.torch_module)
    reference.embeddings.position_embeddings.weight.data.zero_()
    text = "Position information breaks the tie"
    with position_ablation(bundled):
        ablated, _ = embed_one(bundled, text)
    np.testing.assert_allclose(ablated, _reference_embedding(reference, bundled.tokenizer, text), atol=1e-5)
    normal, _ = embed_one(bundled, text)
    np.testing.assert_allclose(normal, _reference_embedding(bundled.torch_module, bundled.tokenizer, text), atol=1e-5)
    assert np.abs(normal - ablated).max() > 1e-3
    assert count_registered_hooks(bundled.torch_module) == 0


def test_ablation_hooks_come_off_after_an_error(bundled):
    with pytest.raises(RuntimeError):
        with position_ablation(bundled):
            assert count_registered_hooks(bundled.torch_module) == 1
            raise RuntimeError("boom")
    assert count_registered_hooks(bundled.torch_module) == 0


def test_ablation_does_not_reach_another_threads_forward_pass(bundled):
    """Even a forward pass that skipped the lock, in another thread, runs with its positions."""
    encoded = bundled.tokenizer("The cat bit the dog", return_tensors="pt")
    with torch.inference_mode():
        expected = bundled.torch_module(**encoded).last_hidden_state
    seen = {}

    def other_thread():
        with torch.inference_mode():
            seen["out"] = bundled.torch_module(**encoded).last_hidden_state

    with position_ablation(bundled):
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join(timeout=60)
    torch.testing.assert_close(seen["out"], expected)


def test_gpt2_keeps_order_through_its_causal_mask():
    explorer, _ = build_tiny("gpt2")
    plan = ablation_plan(explorer)
    assert plan.zeroed == ("wpe",) and "causal" in plan.order_left
    result = word_order_experiment(explorer, "the cat bit the dog", "the dog bit the cat")
    assert result.same_tokens
    assert result.cosine_without_positions < 1 - 1e-5  # the causal mask still tells them apart
    assert count_registered_hooks(explorer.torch_module) == 0


def test_rope_ablation_skips_the_rotation():
    """ModernBERT (bidirectional RoPE) with a window wider than the text: without rotation an
    order-only change gives the same mean-pooled vector; with it, not."""
    import transformers as tf
    from transformers import AutoTokenizer

    from core import build_model_from_config
    from core.models.bundled import bundled_model_dir

    # initializer_range 0.5: with the default 0.02 a random model's attention is almost uniform,
    # and order would barely matter even with RoPE on.
    config = tf.ModernBertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=64, local_attention=64, global_attn_every_n_layers=1, initializer_range=0.5,
        pad_token_id=0, bos_token_id=101, eos_token_id=102, cls_token_id=101, sep_token_id=102,
    )
    torch.manual_seed(0)
    explorer = build_model_from_config(config, AutoTokenizer.from_pretrained(str(bundled_model_dir())), device="cpu",
                                       model_id="tiny-modernbert")
    plan = ablation_plan(explorer)
    assert plan.identity_rotation == ("rotary_emb",) and plan.zeroed == ()
    assert "sliding-window" in plan.order_left and ablation_plan(explorer, seq_len=20).order_left is None
    result = word_order_experiment(explorer, "the cat bit the dog", "the dog bit the cat")
    assert result.cosine < 1 - 1e-4
    assert result.cosine_without_positions == pytest.approx(1.0, abs=1e-5)
    assert count_registered_hooks(explorer.torch_module) == 0
