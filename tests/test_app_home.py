"""The home page under Streamlit's AppTest."""

from streamlit.testing.v1 import AppTest

from pathlib import Path

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _run(text=None, timeout=120):
    app = AppTest.from_file(APP, default_timeout=timeout)
    if text is not None:
        app.session_state["text"] = text
    app.run()
    return app


def _all_text(app) -> str:
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "text", "metric", "title", "subheader"):
        for element in getattr(app, kind):
            parts.append(str(getattr(element, "value", "")) + str(getattr(element, "label", "")))
    return "\n".join(parts)


def test_home_shows_tokens_of_the_default_text():
    app = _run()
    assert not app.exception, app.exception
    table = app.dataframe[0].value
    assert list(table["token"]) == ["[CLS]", "the", "cat", "sat", "un", "##ha", "##pp", "##ily", "[SEP]"]
    assert list(table["id"]) == [101, 1996, 4937, 2938, 4895, 3270, 9397, 6588, 102]
    assert "384" in _all_text(app)


def test_home_follows_a_new_text():
    app = _run()
    app.sidebar.text_area[0].set_value("Hello world").run()
    assert not app.exception
    assert list(app.dataframe[0].value["token"]) == ["[CLS]", "hello", "world", "[SEP]"]


def test_empty_text_gets_a_message_not_a_trace():
    app = _run("   ")
    assert not app.exception
    assert any("empty" in w.value for w in app.warning)
    assert app.sidebar.text_area[0].value == "   "  # what the user typed stays


def test_unknown_model_keeps_the_current_one():
    app = _run()
    app.sidebar.text_input[0].set_value("no-such-owner/no-such-model-xyz").run()
    assert not app.exception
    errors = " ".join(e.value for e in app.sidebar.error).replace("\\", "")  # Markdown-escaped
    assert "no-such-owner/no-such-model-xyz" in errors and "Still using" in errors
    assert list(app.dataframe[0].value["id"])[:2] == [101, 1996]  # still traced by the bundled model


def test_markup_typed_as_text_is_shown_as_text():
    app = _run("<img src=x onerror=alert(1)>")
    assert not app.exception
    tokens = list(app.dataframe[0].value["token"])
    assert "<" in tokens and ">" in tokens and "alert" in tokens
