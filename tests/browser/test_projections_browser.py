"""The projections page in a real browser."""

import pytest

from .conftest import assert_no_error_text, export_download, read_csv_download, screenshot, wait_for_app

pytestmark = pytest.mark.browser


def test_projections_page(page, tmp_path):
    page.goto(page.base_url + "/projections")
    wait_for_app(page, ".js-plotly-plot", timeout=180_000)
    page.wait_for_selector("text=Nearest neighbours")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=60_000)
    screenshot(page, "projections")
    title = page.locator(".st-key-proj_plot .gtitle").first.text_content()  # "40 points · UMAP 2-D" (SVG text)
    path = export_download(page, "proj_plot", "csv", tmp_path)
    assert path.name.startswith("projection-umap-2d")
    rows = read_csv_download(path)
    assert rows[0][:4] == ["trace", "type", "x", "y"] and "text" in rows[0] and "customdata" in rows[0]
    assert len(rows) - 1 == int(title.split(" points")[0].replace(",", ""))
    assert sorted(int(row[rows[0].index("customdata")]) for row in rows[1:]) == list(range(len(rows) - 1))
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
