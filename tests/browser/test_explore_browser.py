"""The end-to-end and training pages in a real browser."""

import pytest

from .conftest import assert_no_error_text, export_download, read_csv_download, screenshot, set_text, wait_for_app

pytestmark = pytest.mark.browser


def test_pipeline_page(page, tmp_path):
    page.goto(page.base_url + "/pipeline")
    wait_for_app(page, "text=The reconstruction check", timeout=180_000)
    set_text(page, "The cat sat on the mat")
    page.get_by_role("button", name="Check against SentenceTransformer.encode").click()
    page.wait_for_selector("text=largest |difference| vs SentenceTransformer.encode", timeout=180_000)
    wait_for_app(page)
    assert_no_error_text(page)
    screenshot(page, "pipeline")
    rows = read_csv_download(export_download(page, "pipe_diagram", "csv", tmp_path))  # a static chart: words only
    assert rows[0] == ["annotation", "x", "y"]
    assert "1 · tokens" in [row[0] for row in rows] and "8 tokens" in [row[0] for row in rows]


def test_training_page_trains(page, tmp_path):
    page.goto(page.base_url + "/contrastive")
    wait_for_app(page, "text=InfoNCE loss", timeout=180_000)
    page.get_by_role("button", name="Train").click()
    page.wait_for_selector("text=steps in", timeout=180_000)
    wait_for_app(page)
    assert_no_error_text(page)
    screenshot(page, "training")
    steps = int(page.locator("text=steps in").first.inner_text().split(" steps")[0])
    rows = read_csv_download(export_download(page, "con_curve", "csv", tmp_path))
    assert [row[2] for row in rows[1:]] == [str(step) for step in range(1, steps + 1)]
