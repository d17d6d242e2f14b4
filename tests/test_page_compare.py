""""Compare with…" on the six stage pages: the second model's numbers are exactly what the same page
shows when that model is the only one, and the pooling page's matrices equal SentenceTransformer.encode."""

from __future__ import annotations

import numpy as np
import pytest

from .test_pages_stage4_5 import chart, open_page

TOKENIZATION, LOOKUP, POSITIONS = "pages/tokenization.py", "pages/embedding_lookup.py", "pages/positional_encoding.py"
ATTENTION, FFN, POOLING = "pages/attention.py", "pages/feed_forward.py", "pages/pooling.py"
TEXT = "The cat sat unhappily on the riverbank"


@pytest.fixture(scope="module")
def second_folder(tmp_path_factory):
    """A tiny GPT-2-family sentence-transformers model: another tokenizer, another width, a Dense layer."""
    from .st_tiny import build_st_folder

    return str(build_st_folder(tmp_path_factory.mktemp("second"), family="gpt2", pooling="mean",
                               dense=[(16, "tanh", True)], normalize=True))


def metrics(app) -> list[tuple[str, str]]:
    return [(m.label, m.value) for m in app.metric]


@pytest.fixture(scope="module")
def alone(second_folder):
    """Each page with the second model as the only model."""
    return {page: open_page(page, text=TEXT, model_field=second_folder) for page in (TOKENIZATION, LOOKUP, ATTENTION, FFN)}


@pytest.fixture(scope="module")
def compared(second_folder):
    """Each page with the bundled model, compared with the second model."""
    return {page: open_page(page, text=TEXT, compare_field=second_folder)
            for page in (TOKENIZATION, LOOKUP, POSITIONS, ATTENTION, FFN)}


def test_every_stage_page_draws_the_second_model(compared, second_folder):
    for page, app in compared.items():
        assert not app.exception, page
        shown = " ".join(str(e.value) for e in [*app.markdown, *app.subheader, *app.caption])
        assert "Compared" in shown or "compared" in shown or "Both models" in shown, page
        assert app.session_state["compare_model_id"] == second_folder


def test_tokenization_columns_equal_each_model_alone(compared, alone):
    # Columns: this model (3 metrics), the compared model (3), GPT-2 (3); alone: this model, GPT-2.
    side_by_side = metrics(compared[TOKENIZATION])
    assert side_by_side[3:6] == metrics(alone[TOKENIZATION])[:3]
    table = compared[TOKENIZATION].dataframe[0].value
    assert {"WordPiece", "compared (byte-level BPE)", "GPT-2 BPE", "same split"} <= set(table.columns)
    # The tiny model's tokenizer is GPT-2's own: the compared and GPT-2 columns split every word alike.
    assert list(table["compared (byte-level BPE)"]) == list(table["GPT-2 BPE"])
    assert not table["same split"].all()  # WordPiece and byte-level BPE differ on 'unhappily' and 'riverbank'


def test_lookup_and_ffn_metrics_equal_the_second_model_alone(compared, alone):
    lookup = metrics(compared[LOOKUP])
    assert lookup[3:6] == metrics(alone[LOOKUP])[:3]
    assert lookup[0][1] == "30,522 × 384" and lookup[3][1] == "50,257 × 32"
    ffn = metrics(compared[FFN])
    assert ffn[4:8] == metrics(alone[FFN])[:4]
    np.testing.assert_array_equal(chart(compared[FFN], "ffn_zero_bars_compared")["data"][0]["y"],
                                  chart(alone[FFN], "ffn_zero_bars")["data"][0]["y"])


def test_attention_overview_of_the_second_model_equals_its_own_page(compared, alone):
    beside = chart(compared[ATTENTION], "attn_overview_compared")["data"][0]
    own = chart(alone[ATTENTION], "attn_overview")["data"][0]
    np.testing.assert_array_equal(beside["marker"]["color"], own["marker"]["color"])
    assert "click to open" not in beside["hovertemplate"]  # only the session's own model opens a head


def test_positions_page_shows_both_schemes(compared):
    app = compared[POSITIONS]
    tables = [value for label, value in metrics(app) if label == "position table"]
    assert tables == ["512 × 384", "64 × 32"]  # MiniLM's learned table, the tiny GPT-2's wpe


def test_pooling_matrices_of_both_models_equal_sentence_transformers(second_folder):
    from sentence_transformers import SentenceTransformer

    from core.models.bundled import bundled_model_dir

    sentences = ["A cat sat on the mat.", "A feline rested on the rug.", "Stocks fell sharply today."]
    app = open_page(POOLING, text=TEXT, compare_field=second_folder, pool_sentences="\n".join(sentences))
    figure = chart(app, "pool_matrices_compared")
    for trace, folder in zip(figure["data"], (str(bundled_model_dir()), second_folder)):
        reference = SentenceTransformer(folder, device="cpu").encode(sentences, normalize_embeddings=True)
        np.testing.assert_allclose(np.asarray(trace["z"], dtype=np.float64), reference @ reference.T, atol=2e-3)  # z is rounded to 3 decimals
    assert any("Spearman" in str(c.value) for c in app.caption)


def test_a_second_model_that_fails_keeps_the_first_and_says_why():
    app = open_page(TOKENIZATION, text=TEXT, compare_field="/no/such/model/folder")
    assert app.session_state["compare_model_id"] == ""
    assert any("No model folder" in str(e.value) for e in app.error)
    assert len(metrics(app)) == 6 + 3  # this model and GPT-2, plus the vocabulary row: the page as without a comparison


def test_one_click_compares_with_the_untrained_twin():
    from streamlit.testing.v1 import AppTest

    from .apptest_pages import APP

    app = AppTest.from_file(APP, default_timeout=300)
    app.run()
    app.sidebar.button(key="compare_pick_untrained:all-MiniLM-L6-v2").click().run()
    assert app.session_state["compare_model_id"] == "untrained:all-MiniLM-L6-v2"
    app.switch_page(LOOKUP).run()
    assert not app.exception
    shapes = [value for label, value in metrics(app) if label.startswith("shape")]
    assert shapes == ["30,522 × 384", "30,522 × 384"]  # the same architecture and vocabulary, random weights
    assert any("Same vocabulary" in str(c.value) for c in app.caption)


def test_the_model_box_lists_what_loads_offline_here():
    from streamlit.testing.v1 import AppTest

    from core.models.offline_models import offline_choices

    from .apptest_pages import APP

    app = AppTest.from_file(APP, default_timeout=300)
    app.run()
    caption = next(str(c.value) for c in app.sidebar.caption if str(c.value).startswith("Offline here"))
    from ui.labels import md_escape

    for choice in offline_choices():
        assert (md_escape(choice.model_id) in caption) == choice.installed  # the caption is markdown, escaped once
    app.sidebar.text_input(key="model_field").input("untrained:all-MiniLM-L6-v2").run()
    assert app.session_state["model_id"] == "untrained:all-MiniLM-L6-v2" and not app.sidebar.error
