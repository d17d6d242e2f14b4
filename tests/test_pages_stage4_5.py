"""The attention and feed-forward pages under Streamlit's AppTest: what they draw is the model's own numbers."""

import base64
import json
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from bench.page_rerun import payload_bytes

from core import trace_text
from ui.attention_views import head_from_selection

from .hostile import HOSTILE_TEXTS

APP = str(Path(__file__).resolve().parent.parent / "app.py")
ATTENTION = "pages/attention.py"
FFN = "pages/feed_forward.py"
TEXT = "The cat sat unhappily"


def open_page(page, text=None, model_field=None, **state):
    app = AppTest.from_file(APP, default_timeout=300)
    app.run()
    if text is not None:
        app.session_state["text"] = text
    if model_field is not None:
        app.session_state["model_field"] = model_field
        app.run()
    for key, value in state.items():
        app.session_state[key] = value
    app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def _decode(value):
    """Plotly's JSON with its base64 typed arrays turned back into numpy arrays."""
    if isinstance(value, dict):
        if set(value) <= {"dtype", "bdata", "shape"} and "bdata" in value:
            array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]).newbyteorder("<"))
            if "shape" in value:
                array = array.reshape([int(d) for d in str(value["shape"]).split(",")])
            return array
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def chart(app, key):
    for element in app.get("plotly_chart"):
        if element.proto.id.endswith("-" + key):
            return _decode(json.loads(element.proto.spec))
    raise AssertionError(f"no chart {key}; have {[e.proto.id for e in app.get('plotly_chart')]}")


def strings(value):
    """Every string inside a decoded figure (labels, hover texts, titles)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def all_text(app) -> str:
    parts = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "error", "metric", "latex"):
        for element in getattr(app, kind):
            parts.append(str(getattr(element, "value", "")) + " " + str(getattr(element, "label", "")))
    return "\n".join(parts)


@lru_cache(maxsize=None)
def eager_attentions(text):
    """transformers' own output_attentions (eager) for the bundled model: [L, H, T, T]."""
    from transformers import AutoModel, AutoTokenizer

    from core.models.bundled import bundled_model_dir

    folder = str(bundled_model_dir())
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.no_grad():
        out = model(**tokenizer(text, return_tensors="pt"), output_attentions=True)
    return torch.stack(out.attentions)[:, 0].numpy()


@pytest.fixture(scope="module")
def tiny_gpt2_folder(tmp_path_factory):
    """A tiny random GPT-2 with the real GPT-2 tokenizer, saved as a local model folder."""
    import transformers as tf

    from core import gpt2_tokenizer

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    torch.manual_seed(0)
    tf.GPT2Model(tf.GPT2Config(vocab_size=50257, n_embd=32, n_layer=2, n_head=4, n_positions=64)).save_pretrained(folder)
    gpt2_tokenizer().save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def tiny_llama_folder(tmp_path_factory):
    import transformers as tf

    from core import gpt2_tokenizer

    folder = tmp_path_factory.mktemp("tiny-llama")
    torch.manual_seed(0)
    config = tf.LlamaConfig(vocab_size=50257, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            num_key_value_heads=2, intermediate_size=64, max_position_embeddings=64,
                            bos_token_id=50256, eos_token_id=50256)
    tf.LlamaModel(config).save_pretrained(folder)
    gpt2_tokenizer().save_pretrained(folder)
    return str(folder)


# --- attention --------------------------------------------------------------------------------


def test_attention_map_rows_sum_to_one_and_equal_eager_output_attentions():
    expected = eager_attentions(TEXT)
    app = open_page(ATTENTION)
    assert "4 · Attention" in [t.value for t in app.title]
    text = all_text(app)
    assert "[12 heads × 9 × 32]" in text and "[9 × 384]" in text  # the shapes of this text and model
    for layer, head in ((0, 0), (3, 7), (5, 11)):
        app.session_state["attn_layer"] = layer
        app.session_state["attn_head"] = head
        app.run()
        assert not app.exception
        shown = chart(app, "attn_map")["data"][0]
        z = shown["z"].astype(np.float64)
        assert z.shape == (9, 9)
        np.testing.assert_allclose(z.sum(1), 1.0, atol=5e-3)           # sent with 3 decimals
        np.testing.assert_allclose(z, expected[layer, head], atol=6e-4)  # = the model's own attention
        assert shown["y"][0] == "[CLS]" and shown["x"][-1] == "[SEP]"
        grid = chart(app, "attn_grid")["data"]
        assert len(grid) == 12
        np.testing.assert_allclose(np.stack([g["z"] for g in grid]), expected[layer], atol=6e-4)


def test_worked_formula_numbers_come_from_the_model():
    expected = eager_attentions(TEXT)
    app = open_page(ATTENTION, attn_layer=2, attn_head=4, attn_query=3)
    table = next(df.value for df in app.dataframe if "weight (the model's)" in df.value.columns)
    assert list(table["key token"]) == ["[CLS]", "the", "cat", "sat", "un", "##ha", "##pp", "##ily", "[SEP]"]
    np.testing.assert_allclose(table["weight (the model's)"], expected[2, 4, 3], atol=1e-5)
    np.testing.assert_allclose(table["weight (computed here)"], expected[2, 4, 3], atol=1e-5)
    assert table["weight (computed here)"].sum() == pytest.approx(1.0, abs=1e-4)
    # No bias in this model: the score is q·k × 1/√32, one column (not a "× 0.1768" column equal to "score")
    score = next(c for c in table.columns if c.startswith("score = q·k × "))
    assert score == "score = q·k × 0.1768" and "+ bias" not in table.columns
    np.testing.assert_allclose(table[score], table["q·k"] * 0.1767767, atol=2e-4)
    keys = chart(app, "attn_keys")
    assert list(keys["layout"]["yaxis"]["ticktext"]) == list(keys["data"][0]["y"])  # all 9 rows labelled
    scores = chart(app, "attn_scores")["layout"]
    left, right = scores["yaxis"]["range"], scores["yaxis2"]["range"]
    assert -left[0] / (left[1] - left[0]) == pytest.approx(-right[0] / (right[1] - right[0]))  # zeros aligned
    metrics = {m.label: float(m.value) for m in app.metric}
    assert all(value < 1e-4 for value in metrics.values()) and len(metrics) == 3
    # The weighted sum drawn next to the model's own head output: the same numbers.
    bars, dots = chart(app, "attn_sum")["data"][:2]
    np.testing.assert_allclose(bars["y"], dots["y"], atol=2e-4)
    assert "sat" in " ".join(m.value for m in app.markdown)


def test_toggles_hide_special_columns_and_average_heads():
    expected = eager_attentions(TEXT)
    app = open_page(ATTENTION, attn_layer=1, attn_hide_special=True)
    shown = chart(app, "attn_map")["data"][0]
    assert "[CLS]" not in shown["x"] and "[SEP]" not in shown["x"] and len(shown["x"]) == 7
    np.testing.assert_allclose(shown["z"], expected[1, 0][:, 1:-1], atol=6e-4)
    assert "hidden columns carried" in all_text(app)
    app.session_state["attn_hide_special"] = False
    app.session_state["attn_average"] = True
    app.run()
    np.testing.assert_allclose(chart(app, "attn_map")["data"][0]["z"], expected[1].mean(0), atol=6e-4)
    assert "average of all 12 heads" in all_text(app)


def test_overview_has_one_number_per_head_and_a_click_opens_it():
    app = open_page(ATTENTION)
    overview = chart(app, "attn_overview")["data"][0]
    assert len(overview["x"]) == 6 * 12
    expected = eager_attentions(TEXT)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(expected > 0, expected * np.log2(expected), 0), -1).mean(-1)
    np.testing.assert_allclose(np.asarray(overview["marker"]["color"]).reshape(6, 12), entropy, atol=2e-3)
    # The selection Streamlit reports for a click on the square of layer 4, head 7.
    # What Streamlit reports for a click on the square of layer 4, head 7 (seen in a real browser).
    click = {"selection": {"points": [{"curve_number": 0, "point_number": 42, "point_index": 42, "x": 7, "y": 4,
                                       "customdata": {"0": 3, "1": 6}}], "point_indices": [42]}}
    assert head_from_selection(click) == (3, 6)
    assert head_from_selection({"selection": {"points": []}}) is None
    for metric in ("distance", "special", "neighbours"):
        app.session_state["attn_metric"] = metric
        app.run()
        assert not app.exception
    app.button(key="attn_go_positional").click().run()
    neighbours = (expected * (np.abs(np.subtract.outer(np.arange(9), np.arange(9))) == 1)).sum(-1).mean(-1)
    expected_head = np.unravel_index(neighbours.argmax(), neighbours.shape)
    assert (app.session_state["attn_layer"], app.session_state["attn_head"]) == expected_head


def test_decoder_draws_the_causal_mask(tiny_gpt2_folder):
    app = open_page(ATTENTION, text="The cat sat on the mat", model_field=tiny_gpt2_folder)
    assert "GPT-2" in all_text(app)
    z = chart(app, "attn_map")["data"][0]["z"]
    n = z.shape[0]
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    assert np.isnan(z[upper]).all() and not np.isnan(z[~upper]).any()
    np.testing.assert_allclose(np.nansum(z, 1), 1.0, atol=5e-3)
    assert "causal mask" in all_text(app)
    assert app.toggle(key="attn_hide_special").disabled  # GPT-2 adds no special tokens


def test_long_text_is_reduced_and_light():
    app = open_page(ATTENTION, text=HOSTILE_TEXTS["long_5000_tokens"])
    assert any("dropped" in w.value for w in app.warning)
    grid = chart(app, "attn_grid")["data"]
    assert grid[0]["z"].shape == (64, 64)                      # block averages, said so in a caption
    assert "average weight over blocks" in all_text(app)
    assert chart(app, "attn_map")["data"][0]["z"].shape == (256, 256)  # the enlarged map keeps every cell
    assert payload_bytes(app) < 2_000_000


@pytest.mark.parametrize("name", sorted(HOSTILE_TEXTS))
def test_attention_page_with_hostile_texts(name):
    app = open_page(ATTENTION, text=HOSTILE_TEXTS[name])
    assert not app.exception
    assert not app.error
    if not HOSTILE_TEXTS[name].strip():
        assert any("empty" in w.value for w in app.warning)
        assert app.sidebar.text_area[0].value == HOSTILE_TEXTS[name]  # the text stays
        return
    texts = [t for key in ("attn_map", "attn_grid", "attn_head_view", "attn_qk") for t in strings(chart(app, key))]
    assert texts and not any("<img" in t or "<script" in t for t in texts)  # labels reach Plotly escaped
    for md in app.markdown:
        assert "<img" not in md.value and "<script" not in md.value
    if name == "markup":
        labels = chart(app, "attn_map")["data"][0]["x"]
        assert "&lt;" in labels and "&gt;" in labels
    labels = chart(app, "attn_map")["data"][0]["x"]
    invisible = [c for label in labels for c in label if unicodedata.category(c) in ("Cc", "Cf")]
    assert not invisible, invisible  # shown as ⟨U+200B⟩ marks, never as raw invisible characters


# --- feed-forward -----------------------------------------------------------------------------


def test_ffn_page_shows_the_expansion_and_the_models_activations(bundled):
    app = open_page(FFN)
    assert "5 · Feed-forward network" in [t.value for t in app.title]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["width: in → inside → out"] == "384 → 1,536 → 384"
    assert metrics["non-linearity"] == "GELU"
    trace = trace_text(bundled, TEXT)
    acts = trace.layers[0].ffn_activations
    heat = chart(app, "ffn_heatmap")["data"][0]
    neurons = [int(x[1:]) for x in heat["x"]]
    assert len(neurons) == 40
    np.testing.assert_allclose(heat["z"], acts[:, neurons], atol=1e-3)
    assert np.abs(acts[:, neurons]).max(0)[0] == pytest.approx(np.abs(acts).max())  # the most active first
    share = float((np.abs(acts) < 0.05).mean())
    assert f"**{share:.0%}**" in all_text(app)
    np.testing.assert_allclose(chart(app, "ffn_zero_bars")["data"][0]["y"][0], share, atol=1e-4)
    # the wording follows the number: "most neurons" only at a threshold where most of them are near zero
    wide = float((np.abs(acts) < 0.25).mean())
    assert share < 0.5 < wide and "Most neurons stay" not in all_text(app)
    assert "That is fewer than half." in all_text(app) and f"Within ±0.25, **{wide:.0%}** are near zero" in all_text(app)


def test_token_top_neurons_and_neuron_top_tokens(bundled):
    app = open_page(FFN, ffn_layer=3, ffn_token=2, ffn_neuron=100)
    acts = trace_text(bundled, TEXT).layers[3].ffn_activations
    bars = chart(app, "ffn_token_neurons")["data"][0]
    assert [int(y[1:]) for y in bars["y"]] == list(np.argsort(-acts[2])[:12])
    table = next(df.value for df in app.dataframe if "activation" in df.value.columns)
    assert list(table["position"]) == list(np.argsort(-acts[:, 100], kind="stable")[:8])
    np.testing.assert_allclose(table["activation"], np.sort(acts[:, 100])[::-1][:8], atol=1e-4)


def test_residual_stream_norms_are_the_hidden_state_norms(bundled):
    app = open_page(FFN)
    trace = trace_text(bundled, TEXT)
    lines = chart(app, "ffn_norms")["data"]
    assert len(lines) == 10  # 9 tokens + the mean
    assert lines[0]["x"][:3] == ["embeddings", "L1 attention", "L1 FFN"] and len(lines[0]["x"]) == 13
    np.testing.assert_allclose(lines[2]["y"][0::2], np.linalg.norm(trace.hidden_states[:, 2], axis=-1), atol=2e-3)
    attention = chart(app, "ffn_change_attention")["data"][0]["z"]
    assert attention.shape == (9, 6)
    layer = trace.layers[0]
    change = np.linalg.norm(layer.post_attention - layer.input, axis=-1) / np.linalg.norm(layer.input, axis=-1)
    np.testing.assert_allclose(attention[:, 0], change, atol=2e-3)


def test_gated_ffn_is_drawn_as_gated(tiny_llama_folder):
    app = open_page(FFN, text="The cat sat on the mat", model_field=tiny_llama_folder)
    assert "Llama" in all_text(app)
    assert "gated" in all_text(app).lower()
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["width: in → inside → out"] == "32 → 64 → 32" and "gated" in metrics["non-linearity"]
    diagram = app.get("graphviz_chart")[0].proto.spec
    assert "W_gate" in diagram and "W_up" in diagram


@pytest.mark.parametrize("name", sorted(HOSTILE_TEXTS))
def test_ffn_page_with_hostile_texts(name):
    app = open_page(FFN, text=HOSTILE_TEXTS[name])
    assert not app.exception
    assert not app.error
    if not HOSTILE_TEXTS[name].strip():
        assert any("empty" in w.value for w in app.warning)
        return
    texts = [t for key in ("ffn_heatmap", "ffn_norms", "ffn_neuron_tokens", "ffn_change_ffn") for t in strings(chart(app, key))]
    assert texts and not any("<img" in t or "<script" in t for t in texts)
    for md in app.markdown:
        assert "<img" not in md.value and "<script" not in md.value
    if name == "long_5000_tokens":
        assert any("dropped" in w.value for w in app.warning)
        assert payload_bytes(app) < 2_000_000


def test_one_token_text_on_a_decoder(tiny_gpt2_folder):
    """GPT-2 adds no special tokens: 'Hi' is a single token, one 1 × 1 attention map per head."""
    for page in (ATTENTION, FFN):
        app = open_page(page, text="Hi", model_field=tiny_gpt2_folder)
        assert not app.exception and not app.error
        if page == ATTENTION:
            z = chart(app, "attn_map")["data"][0]["z"]
            assert z.shape == (1, 1) and z[0, 0] == pytest.approx(1.0)
        else:
            assert len(chart(app, "ffn_norms")["data"]) == 2  # the token and the mean


@pytest.mark.parametrize("n_heads, n_tokens", [(16, 5), (12, 3), (20, 7), (32, 16), (1, 1)])
def test_the_head_grid_lays_out_any_head_count(n_heads, n_tokens):
    """Float rounding once put a domain at -5.6e-17 for 16 heads (bert-large, Qwen3-Embedding) and Plotly refused it."""
    from ui.attention_views import head_grid

    maps = np.full((n_heads, n_tokens, n_tokens), 1.0 / n_tokens)
    labels = [f"t{i}" for i in range(n_tokens)]
    for ticks in (True, False):
        figure = head_grid(maps, labels, labels, head_names=[f"head {h}" for h in range(n_heads)], show_ticks=ticks)
        for axis in [name for name in figure.layout if name.startswith(("xaxis", "yaxis"))]:
            low, high = figure.layout[axis].domain
            assert 0.0 <= low < high <= 1.0
