"""Pages 1–3 (tokenization, embedding lookup, positional encoding) under Streamlit's AppTest:
they render, follow a new text and a new model, and survive hostile text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from core.models.bundled import bundled_model_dir
from ui.tokenization_views import LONG_EXAMPLE

from .hostile import HOSTILE_TEXTS

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TOKENIZATION, LOOKUP, POSITIONAL = "pages/tokenization.py", "pages/embedding_lookup.py", "pages/positional_encoding.py"


def _open(page: str, text: str | None = None, model: str | None = None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=180)
    app.run()
    if text is not None:
        app.session_state["text"] = text
    if model is not None:
        app.session_state["model_field"] = model
    app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def _texts(app: AppTest) -> str:
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "subheader", "code"):
        for element in getattr(app, kind):
            parts.append(str(element.value))
    for metric in app.metric:
        parts.append(f"{metric.label}: {metric.value}")
    return "\n".join(parts)


def _metric(app: AppTest, label: str) -> str:
    values = [m.value for m in app.metric if m.label.startswith(label)]
    assert values, f"no metric {label!r} in {[m.label for m in app.metric]}"
    return values[0]


def _html(app: AppTest) -> str:
    return "\n".join(element.value for element in app.html)


def _charts(app: AppTest) -> dict[str, dict]:
    return {chart.proto.id: json.loads(chart.proto.spec) for chart in app.get("plotly_chart")}


def _z_shape(trace: dict) -> tuple[int, ...]:
    z = trace["z"]
    if isinstance(z, dict):  # plotly's base64 typed array
        return tuple(int(v) for v in str(z["shape"]).split(","))
    return (len(z), len(z[0]))


def _shapes(app: AppTest) -> str:
    return app.info[0].value


@pytest.fixture(scope="module")
def tiny_folders(tmp_path_factory):
    """A tiny BERT (learned positions, d=32) and a tiny ModernBERT (RoPE) saved like any model folder."""
    import transformers as tf
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(bundled_model_dir()))
    folders = {}
    common = dict(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
    configs = {
        "bert": tf.BertConfig(max_position_embeddings=64, **common),
        "modernbert": tf.ModernBertConfig(max_position_embeddings=64, local_attention=16, global_attn_every_n_layers=2,
                                          pad_token_id=0, bos_token_id=101, eos_token_id=102, cls_token_id=101,
                                          sep_token_id=102, **common),
    }
    for name, config in configs.items():
        torch.manual_seed(0)
        folder = tmp_path_factory.mktemp(f"tiny-{name}")
        tf.AutoModel.from_config(config).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        folders[name] = str(folder)
    return folders


# -- 1 · tokenization --------------------------------------------------------------------------


def test_tokenization_shows_chips_both_tokenizers_and_the_vocabulary():
    app = _open(TOKENIZATION)
    assert _shapes(app).startswith("4 words") and "9 tokens → 9 ids" in _shapes(app) and "9 × 384" in _shapes(app)
    html = _html(app)
    hover = "id 3270 · position 5 · characters 14–16 “ha” · word “unhappily”"
    assert f'<span class="ee-chip ee-cont" role="listitem" title="{hover}">' in html
    assert 'class="ee-chip ee-special"' in html and "special token (cls_token)" in html
    assert "Ġunh" in html and ">813<" in html  # GPT-2's pieces and ids, side by side
    assert _metric(app, "words") == "4"
    # short labels (three tokenizers side by side cut long ones off at 1400 px); the special tokens in help and caption
    assert [(m.label, m.value) for m in app.metric if m.label == "tokens"] == [("tokens", "7"), ("tokens", "6")]
    assert [m.proto.help for m in app.metric if m.label == "tokens"][0].endswith("(9 in all)")
    assert "Tokens for the words; +2 special tokens on top." in [c.value for c in app.caption]
    assert [m.value for m in app.metric if m.label == "per word"] == ["1.75", "1.50"]
    assert all(len(m.label) <= 8 for m in app.metric[:6])
    words = app.dataframe[0].value
    row = words[words["word"] == "unhappily"].iloc[0]
    assert row["WordPiece"] == "un · ##ha · ##pp · ##ily" and row["GPT-2 BPE"] == "Ġunh · app · ily"
    text = _texts(app)
    assert "['the', 'cat', 'sat', 'un', '##happily']" in text  # the article's claim …
    assert "'un', '##ha', '##pp', '##ily'" in text              # … next to what the tokenizer really does
    assert "max_seq_length = 256" in text and "the tokenizer alone would allow 512" in text
    assert _metric(app, "vocabulary size") == "30,522"
    specials = app.dataframe[2].value
    assert dict(zip(specials["special token"], specials["id"])) == {
        "[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103}
    assert "cat" in [c.value for c in app.code] and "cat → 4937" in [c.value for c in app.code]


def test_word_counts_agree_across_the_banner_the_overview_and_the_two_tokenizers():
    text = "The cat sat on the mat, unhappily."  # 7 space-separated words; the pre-tokenizer makes 9 pieces
    app = _open(TOKENIZATION, text=text)
    assert _shapes(app).startswith("7 words (9 once the tokenizer splits off punctuation) → 14 tokens")
    assert _metric(app, "words") == "7"
    app.switch_page("pages/home.py").run()
    assert not app.exception
    stages = [df.value for df in app.dataframe if "what happens" in df.value.columns][0]
    assert stages["what happens"].iloc[0] == "7 words → 14 tokens"


def test_tokenization_empty_text_says_one_thing():
    app = _open(TOKENIZATION, text="   ")
    assert "Nothing to compare yet: type a sentence in the sidebar." in [i.value for i in app.info]
    assert not any("Nothing to compare yet: The text is empty" in i.value for i in app.info)


def test_tokenization_lookups_react():
    app = _open(TOKENIZATION)
    app.number_input(key="tok_lookup_id").set_value(102).run()
    app.text_input(key="tok_lookup_token").set_value("unhappily").run()
    assert not app.exception
    assert "[SEP]" in [c.value for c in app.code]
    assert any("is not one entry of this vocabulary" in i.value for i in app.info)
    assert any("un (4895) · \\#\\#ha (3270)" in c.value for c in app.caption)
    app.number_input(key="tok_lookup_id").set_value(99999).run()
    assert any("There is no id 99,999" in w.value for w in app.warning)


def test_tokenization_follows_a_new_text_and_reveals_the_cut():
    app = _open(TOKENIZATION)
    assert any("Your text fits: 9 of 256" in s.value for s in app.success)
    app.button(key="tok_long_example").click().run()  # loads the long example into the shared text
    assert not app.exception
    assert app.session_state["text"] == LONG_EXAMPLE
    warning = " ".join(w.value for w in app.warning)
    assert "needs 442 tokens; the model reads 256 and drops the last 186" in warning
    html = _html(app)
    assert "✂ the model stops reading here" in html and 'class="ee-tail"' in html and "ee-chip ee-dropped" in html
    chunks = app.dataframe[1].value
    assert len(chunks) == 2 and chunks["tokens"].max() <= 256
    app.slider(key="tok_chunk_overlap").set_value(60).run()
    overlapping = app.dataframe[1].value
    assert overlapping["tokens"].max() <= 256 and overlapping["tokens"].iloc[1] >= chunks["tokens"].iloc[1] + 60
    app.session_state["text"] = "Hello world"
    app.run()
    assert "4 tokens → 4 ids" in _shapes(app)


# -- 2 · embedding lookup ------------------------------------------------------------------------


def test_embedding_lookup_rows_table_and_nearest_rows(bundled):
    app = _open(LOOKUP)
    assert _shapes(app) == "9 ids → 9 rows of the 30,522 × 384 table → 9 × 384"
    assert _metric(app, "shape") == "30,522 × 384" and _metric(app, "parameters in this table") == "11,720,448"
    assert _metric(app, "share of the whole model") == f"{30522 * 384 / bundled.info.parameter_count:.1%}"
    assert "51.2 million" in _texts(app) and "11.72 million" in _texts(app)
    charts = _charts(app)
    strip = next(spec for key, spec in charts.items() if "emb_strip" in key)
    assert strip["data"][0]["y"][2] == "2: cat · id 4937"
    app.selectbox(key="emb_token").set_value(2).run()  # "cat"
    nearest = app.dataframe[0].value
    assert list(nearest["token"])[:3] == ["cats", "kitten", "kitty"]
    assert nearest["cosine"].is_monotonic_decreasing
    parts = app.dataframe[1].value
    assert list(parts["vector"]) == ["token row (the lookup)", "+ position row", "+ token-type row", "= sum",
                                     "after LayerNorm = enters layer 1"]
    assert any("LayerNorm (embeddings.LayerNorm)" in c.value for c in app.caption)
    assert "Of all 30,522 rows of the table, the 10 most similar (by cosine) to row 4937" in _texts(app)
    # raw row vs what enters layer 1: every row on its own colour scale, so the small rows are not washed out
    parts_spec = next(spec for key, spec in _charts(app).items() if "emb_parts" in key)
    traces = parts_spec["data"]
    assert [t["name"] for t in traces] == list(parts["vector"])
    limits = [t["zmax"] for t in traces]
    assert all(t["zmin"] == -t["zmax"] and t["showscale"] is False for t in traces)
    assert limits[-1] > 5 * limits[0]  # LayerNorm's output is far larger than the raw token row
    assert traces[0]["y"][0].startswith("token row (the lookup) (±")
    assert any("Each row has its own colour scale" in c.value for c in app.caption)
    app.radio(key="emb_strip_view").set_value("what enters layer 1").run()
    assert not app.exception


def test_embedding_lookup_windows_a_long_text():
    app = _open(LOOKUP, text=LONG_EXAMPLE)
    assert _shapes(app).startswith("256 ids")
    assert app.select_slider(key="emb_window_start").options == ["0–63", "64–127", "128–191", "192–255"]
    app.select_slider(key="emb_window_start").set_value(192).run()
    assert not app.exception
    strip = next(spec for key, spec in _charts(app).items() if "emb_strip" in key)
    assert len(strip["data"][0]["y"]) == 64 and strip["data"][0]["y"][0].startswith("192: ")


# -- 3 · positional encoding -------------------------------------------------------------------------


def test_positional_page_sinusoids_learned_table_and_word_order(bundled):
    app = _open(POSITIONAL)
    assert _shapes(app) == "9 positions → 9 × 384 position rows, added to the 9 × 384 token rows → 9 × 384"
    text = _texts(app)
    assert "learned table of absolute positions" in text and "does not use the article's sinusoids" in text
    info_box = next(i.value for i in app.info if "article's sinusoids" in i.value)
    assert "sinusoids: those" not in info_box and info_box.count(":") <= 1  # one colon, not two stacked clauses
    # 9 positions: the float32 dot products on each diagonal are exactly equal, so no "at most 0.0e+00"
    assert any("the dot products are identical: they depend only on the distance" in c.value for c in app.caption)
    assert "0.0e+00" not in text
    assert "A learned table of 512 × 384" in text and "at most 256 tokens" in text
    # the trend is read from the live rows: neighbours (offset 1) against the farthest pair (offset 8)
    from core.analysis.positional import cosine_matrix, offset_profile
    from core.trace.tracer import trace_text

    profile = offset_profile(cosine_matrix(trace_text(bundled, "The cat sat unhappily").embeddings.position_rows))
    near, far = (float(profile.mean[profile.offsets == k][0]) for k in (1, 8))
    assert near > far and f"neighbouring positions average a cosine of {near:.2f}, positions 8 apart {far:.2f}" in text
    assert _metric(app, "cosine similarity, as the model computes it") == "0.990707"
    assert _metric(app, "cosine similarity, position information removed") == "1.000000"
    assert any("become identical" in s.value for s in app.success)
    charts = _charts(app)
    assert any("pos_sin_heat" in key for key in charts) and any("pos_learned_heat" in key for key in charts)
    app.radio(key="pos_sin_view").set_value("dot products between positions").run()
    app.radio(key="pos_learned_view").set_value("cosine similarity between positions").run()
    charts = _charts(app)
    assert any("pos_sin_dots" in key for key in charts) and any("pos_learned_cos" in key for key in charts)
    app.text_input(key="pos_order_b").set_value("A dog was bitten by a cat").run()
    assert not app.exception
    assert any("different tokens" in c.value for c in app.caption)
    app.text_input(key="pos_order_b").set_value("   ").run()
    assert any("empty" in w.value for w in app.warning)


# -- every page: a new model, and hostile text -------------------------------------------------------


def test_pages_follow_a_new_model(tiny_folders):
    app = _open(LOOKUP, model=tiny_folders["bert"])
    assert _shapes(app) == "9 ids → 9 rows of the 30,522 × 32 table → 9 × 32"
    app.switch_page(TOKENIZATION).run()
    assert not app.exception and "9 × 32" in _shapes(app)
    assert "max_seq_length = 64" in _texts(app)
    app.switch_page(POSITIONAL).run()
    assert not app.exception
    assert "9 × 32 position rows" in _shapes(app) and "A learned table of 64 × 32" in _texts(app)


def test_positional_page_on_a_rope_model(tiny_folders):
    app = _open(POSITIONAL, model=tiny_folders["modernbert"])
    assert "9 × 4 rotation angles" in _shapes(app) and "token rows pass unchanged" in _shapes(app)
    assert "RoPE" in _texts(app)
    charts = _charts(app)
    assert any("pos_rope_angles" in key for key in charts) and any("pos_rope_circle" in key for key in charts)
    assert any("the score depends only on the offset" in c.value for c in app.caption)
    app.slider(key="pos_rope_pair").set_value(3).run()
    app.selectbox(key="pos_rope_layer").set_value(1).run()
    assert not app.exception
    assert "Removed: RoPE's cos/sin are replaced by 1/0" in _texts(app)
    app.switch_page(LOOKUP).run()
    assert not app.exception and any("RoPE" in c.value for c in app.caption)


@pytest.mark.parametrize("page", [TOKENIZATION, LOOKUP, POSITIONAL])
def test_hostile_text_on_every_page(page):
    app = _open(page)
    for name, text in HOSTILE_TEXTS.items():
        app.session_state["text"] = text
        app.run()
        assert not app.exception, (name, app.exception)
        assert app.session_state["text"] == text  # what the user typed stays
        if name in ("empty", "whitespace"):
            assert any("empty" in w.value for w in app.warning), name
        elif name == "long_5000_tokens":
            assert any("drop" in w.value for w in app.warning), name
        elif name == "markup":
            html = _html(app)
            assert "<img" not in html and "<script" not in html
            if page == TOKENIZATION:
                assert '<span class="ee-tok">&lt;</span>' in html and "alert" in html  # shown, as text
        for spec in _charts(app).values():
            for trace in spec["data"]:
                for axis in ("x", "y"):
                    labels = trace.get(axis)
                    if isinstance(labels, list):
                        assert not any("<" in str(label) for label in labels), (name, labels[:5])


def test_positional_page_windows_a_long_text():
    app = _open(POSITIONAL, text=LONG_EXAMPLE)
    assert _shapes(app).startswith("256 positions")
    app.select_slider(key="pos_learned_window").set_value(128).run()
    assert not app.exception
    heat = next(spec for key, spec in _charts(app).items() if "pos_learned_heat" in key)
    assert heat["data"][0]["y"][0] == "128" and len(heat["data"][0]["y"]) == 64
    app.radio(key="pos_sin_view").set_value("dot products between positions").run()
    dots = next(spec for key, spec in _charts(app).items() if "pos_sin_dots" in key)
    assert _z_shape(dots["data"][0]) == (256, 256)  # the T × T view keeps every position
