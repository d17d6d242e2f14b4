"""Shareable links, the guided tour and presentation mode under AppTest."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from ui.classroom import TOUR

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_a_shared_link_restores_text_and_choices():
    app = AppTest.from_file(APP, default_timeout=300)
    app.query_params["text"] = "Shared links restore views"
    app.query_params["layer"] = "2"
    app.query_params["head"] = "5"
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
