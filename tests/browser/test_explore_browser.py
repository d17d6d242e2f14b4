"""The end-to-end and training pages in a real browser."""

import pytest

from .conftest import assert_no_error_text, screenshot, set_text, wait_for_app

pytestmark = pytest.mark.browser


def test_pipeline_page(page):
    page.goto(page.base_url + "/pipeline")
    wait_for_app(page, "text=The reconstruction check", timeout=180_000)
    set_text(page, "The cat sat on the mat")
    page.wait_for_selector("text=largest |difference| vs SentenceTransformer.encode", timeout=180_000)
    wait_for_app(page)
    assert_no_error_text(page)
    screenshot(page, "pipeline")


def test_training_page_trains(page):
    page.goto(page.base_url + "/contrastive")
    wait_for_app(page, "text=InfoNCE loss", timeout=180_000)
    page.get_by_role("button", name="Train").click()
    page.wait_for_selector("text=steps in", timeout=180_000)
    wait_for_app(page)
    assert_no_error_text(page)
    screenshot(page, "training")
