"""Every upload field, fed what breaks naive parsers: NUL bytes inside text, invalid UTF-8, an
empty file, a file cut off half way (an interrupted upload). Each gets a message in the page,
never a stack trace, and the user's own text stays where it was."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from tests.apptest_pages import open_page, page_text

MY_TEXT = "my own sentence stays put"


def _parquet() -> bytes:
    buffer = io.BytesIO()
    pd.DataFrame({"text": [f"sentence {i}" for i in range(50)], "label": ["a", "b"] * 25}).to_parquet(buffer)
    return buffer.getvalue()


def _npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ones((4, 8), dtype=np.float32))
    return buffer.getvalue()


BAD_FILES = {
    "nul_inside_text": ("nul.csv", b"text,label\nthe cat\x00sat,a\nthe dog ran,b\n"),
    "invalid_utf8": ("latin1.txt", "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e\nna\u00efve\n".encode("latin-1")),
    "empty_file": ("empty.csv", b""),
    "cut_off_parquet": ("half.parquet", _parquet()[: len(_parquet()) // 2]),
}

# (page, session values that show the uploader, uploader key, a button to press after the upload)
FIELDS = {
    "projections_table": ("pages/projections.py", {"proj_source": "Upload a table", "proj_method": "pca"}, "proj_table", None),
    "pooling_idf": ("pages/pooling.py", {"pool_idf_source": "An uploaded file"}, "pool_idf_upload", None),
    "pooling_sts": ("pages/pooling.py", {"pool_sts_source": "Upload a CSV"}, "pool_sts_upload", "pool_sts_run"),
}


def _messages(app) -> str:
    return "\n".join(str(e.value) for kind in ("error", "warning", "info") for e in getattr(app, kind))


@pytest.mark.parametrize("field", list(FIELDS))
@pytest.mark.parametrize("bad", list(BAD_FILES))
def test_a_bad_file_in_every_upload_field(field, bad):
    page, session, key, button = FIELDS[field]
    name, content = BAD_FILES[bad]
    if field == "pooling_sts" and not name.endswith((".csv", ".txt")):
        name += ".csv"  # the STS field takes CSV/TSV/TXT only (the browser enforces it)
    app = open_page(page, text=MY_TEXT, **session)
    before = _messages(app)
    app.file_uploader(key=key).set_value((name, content, "application/octet-stream")).run()
    if button and app.button(key=button) is not None:
        app.button(key=button).click().run()
    assert not app.exception, app.exception
    assert "Traceback" not in page_text(app)
    print(field, bad, "→", _messages(app).replace(before, "")[:200].replace("\n", " | "))
    assert _messages(app) != before, f"no message for {bad} in {field}"
    assert app.session_state["text"] == MY_TEXT


@pytest.mark.parametrize("bad", ["cut_off", "nul_bytes", "text_file", "pickled_objects"])
def test_a_bad_vectors_file(bad):
    texts = b"text\none\ntwo\nthree\nfour\n"
    content = {"cut_off": _npy()[:60], "nul_bytes": b"\x00" * 200, "text_file": b"not a numpy file at all\n",
               "pickled_objects": _pickled_npy()}[bad]
    app = open_page("pages/projections.py", text=MY_TEXT, proj_source="Upload vectors", proj_method="pca")
    app.file_uploader(key="proj_table").set_value(("t.csv", texts, "text/csv")).run()
    app.file_uploader(key="proj_vectors").set_value((f"{bad}.npy", content, "application/octet-stream")).run()
    assert not app.exception, app.exception
    assert app.error, "no message for a broken vectors file"
    assert app.session_state["text"] == MY_TEXT


def _pickled_npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)  # must never be unpickled
    return buffer.getvalue()


def test_utf16_text_from_a_spreadsheet_is_read():
    """Spreadsheet programs save "Unicode text" as UTF-16 with a byte-order mark: read it, don't refuse it."""
    app = open_page("pages/pooling.py", text=MY_TEXT, pool_idf_source="An uploaded file")
    app.file_uploader(key="pool_idf_upload").set_value(
        ("unicode.txt", "the cat\nthe dog\nthe bird\n".encode("utf-16"), "text/plain")).run()
    assert not app.exception and not app.error and not app.warning
    assert any("the 3 texts of unicode.txt" in c.value for c in app.caption)
