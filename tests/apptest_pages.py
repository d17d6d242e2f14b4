"""Open one page of the app under Streamlit's AppTest, with session values set first."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def open_page(page: str, timeout: float = 300, **session_values) -> AppTest:
    """Run the entrypoint once, set ``session_values`` (widget keys → values), switch to ``page``
    (e.g. "pages/pooling.py") and run it; fails the test if the run raised."""
    app = AppTest.from_file(APP, default_timeout=timeout)
    app.run()
    for key, value in session_values.items():
        app.session_state[key] = value
    app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def page_text(app: AppTest) -> str:
    """Every message, markdown, caption and title the run drew, as one string."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts.extend(str(element.value) for element in getattr(app, kind))
    return "\n".join(parts)
