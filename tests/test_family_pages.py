"""Every page draws for the two newest families, as the main model and as the one compared with it
(a page that fails shows page_failed's words, which no page may show here)."""

from __future__ import annotations

import pytest

from .apptest_pages import page_text
from .test_pages_stage4_5 import open_page

PAGES = ["pages/home.py", "pages/tokenization.py", "pages/embedding_lookup.py", "pages/positional_encoding.py",
         "pages/attention.py", "pages/feed_forward.py", "pages/pooling.py", "pages/pipeline.py"]


@pytest.fixture(scope="module", params=["gemma3", "t5"])
def family_folder(request, tmp_path_factory):
    from .st_tiny import build_st_folder

    return request.param, str(build_st_folder(tmp_path_factory.mktemp(request.param), family=request.param,
                                              pooling="mean", dense=[(24, "identity", False)], normalize=True))


def _drawn_without_failure(app, page):
    assert not app.exception, (page, app.exception)
    text = page_text(app)
    assert "hit an unexpected problem" not in text, (page, text[:400])
    assert not [e.value for e in app.error], (page, [e.value for e in app.error])


@pytest.mark.parametrize("page", PAGES)
def test_each_page_draws_the_family_alone_and_compared(family_folder, page):
    family, folder = family_folder
    alone = open_page(page, text="The cat sat on the riverbank, unhappily", model_field=folder)
    _drawn_without_failure(alone, page)
    assert alone.session_state["model_id"] == folder
    compared = open_page(page, text="The cat sat on the riverbank, unhappily", compare_field=folder)
    _drawn_without_failure(compared, page)
    assert compared.session_state["compare_model_id"] == folder
    if page == "pages/positional_encoding.py":
        words = page_text(alone)
        assert ("relative-offset" in words or "bucket" in words) if family == "t5" else "RoPE" in words
