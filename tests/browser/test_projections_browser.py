"""The projections page in a real browser."""

import pytest

from .conftest import assert_no_error_text, screenshot, wait_for_app

pytestmark = pytest.mark.browser


def test_projections_page(page):
    page.goto(page.base_url + "/projections")
    wait_for_app(page, ".js-plotly-plot", timeout=180_000)
    page.wait_for_selector("text=Nearest neighbours")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=60_000)
    screenshot(page, "projections")
    page.get_by_text("Typed, one per line").click()
    box = page.locator('textarea[aria-label="Sentences, one per line"]')
    box.wait_for()
    box.fill("A cat sleeps\nA kitten naps\n<script>alert(1)</script> stocks fell\nBond yields rose")
    box.press("Control+Enter")
    page.wait_for_timeout(500)
    page.wait_for_selector("text=A kitten naps", timeout=180_000)
    wait_for_app(page, ".js-plotly-plot")
    assert_no_error_text(page)
    screenshot(page, "projections-typed")
