"""Shareable links, the guided tour and presentation mode under AppTest."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from ui.classroom import TOUR

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_a_shared_link_restores_text_and_choices():
    app = AppTest.from_file(APP, default_timeout=300)
    app.query_params["text"] = "Shared links restore views"
    app.query_params["layer"] = "3"   # links count from 1, as the pages do: layer 3 is index 2
    app.query_params["head"] = "6"
    app.query_params["present"] = "1"
    app.run()
    assert not app.exception
    assert app.session_state["text"] == "Shared links restore views"
    assert app.session_state["attn_layer"] == 2 and app.session_state["attn_head"] == 5
    assert app.session_state["present"] is True
    app.switch_page("pages/attention.py").run()
    assert not app.exception
    assert app.selectbox(key="attn_layer").value == 2 and app.selectbox(key="attn_head").value == 5


def test_the_link_follows_the_view():
    app = AppTest.from_file(APP, default_timeout=300)
    app.run()
    app.sidebar.text_area[0].set_value("A new text").run()
    assert app.query_params["text"] == ["A new text"] or app.query_params["text"] == "A new text"


def test_bad_link_values_are_ignored():
    app = AppTest.from_file(APP, default_timeout=300)
    app.query_params["layer"] = "99999999"
    app.query_params["head"] = "-3"
    app.query_params["model"] = "no-such/model-anywhere"
    app.run()
    app.switch_page("pages/attention.py").run()
    assert not app.exception
    assert app.selectbox(key="attn_layer").value in range(6)


def test_the_guided_tour_walks_every_stage():
    app = AppTest.from_file(APP, default_timeout=300)
    app.run()
    app.button(key="tour_start").click().run()
    seen = []
    for _ in range(len(TOUR) - 1):
        assert not app.exception, app.exception
        seen.append(next(m.value for m in app.markdown if "Guided tour" in m.value))
        app.button(key="tour_next").click().run()
    assert not app.exception
    last = next(m.value for m in app.markdown if "Guided tour" in m.value)
    assert f"step {len(TOUR)} of {len(TOUR)}" in last
    assert [f"step {i + 1} of" in s for i, s in enumerate(seen)] == [True] * (len(TOUR) - 1)
    app.button(key="tour_back").click().run()
    assert f"step {len(TOUR) - 1} of" in next(m.value for m in app.markdown if "Guided tour" in m.value)
    app.button(key="tour_end").click().run()
    assert not any("Guided tour" in m.value for m in app.markdown)


def test_links_count_layers_and_heads_from_one():
    app = AppTest.from_file(APP, default_timeout=300)
    app.run()
    app.switch_page("pages/attention.py").run()
    app.selectbox(key="attn_layer").set_value(4).run()
    assert app.query_params["layer"] in ("5", ["5"])  # "layer 5 of 6" on the page
    app2 = AppTest.from_file(APP, default_timeout=300)
    app2.query_params["layer"] = "0"  # not a layer anyone sees: ignored
    app2.run()
    assert "attn_layer" not in app2.session_state


def test_the_tour_keeps_the_visitors_text():
    """st.switch_page drops widget values; the sidebar's text must survive every step."""
    app = AppTest.from_file(APP, default_timeout=300)
    app.run()
    app.sidebar.text_area[0].set_value("How do I reset my password?").run()
    app.button(key="tour_start").click().run()
    for _ in range(3):
        app.button(key="tour_next").click().run()
        assert not app.exception
        assert app.session_state["text"] == "How do I reset my password?"
        assert app.sidebar.text_area[0].value == "How do I reset my password?"
    app.button(key="tour_back").click().run()
    assert app.session_state["text"] == "How do I reset my password?"


def test_presentation_mode_keeps_a_way_to_the_pages_and_out():
    import json

    app = AppTest.from_file(APP, default_timeout=300)
    app.query_params["present"] = "1"
    app.run()
    assert not app.exception
    specs = [json.loads(element.proto.spec) for element in app.get("plotly_chart")]
    assert specs and all(spec["layout"]["font"]["size"] >= 17 for spec in specs)  # readable on a projector
    app.button(key="present_exit").click().run()
    assert not app.exception and app.session_state["present"] is False
    assert "present" not in app.query_params
    specs = [json.loads(element.proto.spec) for element in app.get("plotly_chart")]
    assert all(spec["layout"].get("font", {}).get("size", 12) < 17 for spec in specs)


def test_going_back_to_the_current_model_clears_an_old_error():
    app = AppTest.from_file(APP, default_timeout=300)
    app.run()
    app.session_state["model_field"] = "gpt2 ; rm -rf /"
    app.run()
    assert app.sidebar.error
    app.session_state["model_field"] = "sentence-transformers/all-MiniLM-L6-v2"
    app.run()
    assert not app.exception and not app.sidebar.error


def test_a_text_too_long_for_a_link_says_so():
    app = AppTest.from_file(APP, default_timeout=300)
    app.run()
    app.sidebar.text_area[0].set_value("word " * 500).run()
    assert "text" not in app.query_params
    assert any("too long for the address bar" in caption.value for caption in app.sidebar.caption)


def _sizes(value, found=None):
    """Every font size set anywhere in a figure spec (layout, axes, annotations, traces)."""
    found = [] if found is None else found
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("font", "tickfont", "textfont") and isinstance(item, dict) and isinstance(item.get("size"), (int, float)):
                found.append(item["size"])
            _sizes(item, found)
    elif isinstance(value, list):
        for item in value:
            _sizes(item, found)
    return found


def test_presentation_charts_label_every_token_at_16px():
    import json

    text = "The animal did not cross the street because it was too tired , said the keeper at noon"
    app = AppTest.from_file(APP, default_timeout=300)
    app.query_params.update({"present": "1", "text": text})
    app.run()
    app.switch_page("pages/attention.py").run()
    assert not app.exception
    specs = {element.proto.id.rsplit("-", 1)[-1]: json.loads(element.proto.spec) for element in app.get("plotly_chart")}
    for key, spec in specs.items():
        assert min(_sizes(spec)) >= 16, key
    grid = specs["attn_grid"]
    n = len(grid["data"][0]["y"])
    assert 16 < n <= 32  # more tokens than the normal layout labels
    labelled = [axis for name, axis in grid["layout"].items() if name.startswith("yaxis") and axis.get("showticklabels")]
    assert labelled and all(list(axis["tickvals"]) == list(grid["data"][0]["y"]) for axis in labelled)


def test_presentation_bar_holds_the_text_and_closes_its_menus():
    app = AppTest.from_file(APP, default_timeout=300)
    app.query_params["present"] = "1"
    app.run()
    app.text_area(key="present_text").input("Typed on the projector").run()
    assert not app.exception and app.session_state["text"] == "Typed on the projector"
    app.session_state["present_pages"] = True  # the Pages menu open, then a page picked from it
    app.switch_page("pages/tokenization.py").run()
    assert app.session_state["present_pages"] is False
    assert "the *Your text* box at the top" in " ".join(str(e.value) for e in [*app.success, *app.info, *app.markdown])


def test_the_tour_covers_every_page_with_a_script():
    from ui.page_list import PAGES

    assert [path for path, _, _ in TOUR] == [page.path for page in PAGES]
    assert all(page.teacher_script for page in PAGES)


def _presented_table_script():
    import pandas as pd
    import streamlit as st

    from ui.tables import show_table

    st.session_state.setdefault("present", True)
    show_table(pd.DataFrame({"#": [1, 2], "passage": ["**bold** [x](http://e.x)", "<b>hi</b> $x$ :red[no]"], "score": [0.5, 0.25]}),
               hide_index=True, column_config={"score": st.column_config.NumberColumn(format="%.5f")})


def test_presentation_tables_show_the_grids_cells_as_text():
    """In presentation mode a short table is an HTML table (body-size text; the browser tour checks the size):
    st.table reads cells as Markdown, so each text cell and header is escaped once, numbers keep their format."""
    import pyarrow as pa

    from ui.labels import md_escape

    app = AppTest.from_function(_presented_table_script)
    app.run()
    assert not app.exception and len(app.dataframe) == 0
    shown = pa.ipc.open_stream(app.table[0].proto.arrow_data.styler.display_values).read_pandas()
    assert list(shown.columns) == [md_escape("#"), "passage", "score"]
    assert list(shown["passage"]) == [md_escape("**bold** [x](http://e.x)"), md_escape("<b>hi</b> $x$ :red[no]")]
    assert list(shown["score"]) == ["0.50000", "0.25000"] and list(shown[md_escape("#")]) == ["1", "2"]
    app.session_state["present"] = False
    app.run()
    assert len(app.table) == 0 and len(app.dataframe) == 1
