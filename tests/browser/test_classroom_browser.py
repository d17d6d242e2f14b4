"""A shared link opened in a fresh browser context, and the guided tour from start to end."""

from urllib.parse import urlencode

import pytest

from .conftest import assert_no_error_text, screenshot, wait_for_app

pytestmark = pytest.mark.browser


def test_shared_link_opens_the_same_view_in_a_fresh_context(browser, server):
    query = urlencode({"text": "Links carry the view", "layer": "4", "head": "5"})  # as the page counts them
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # no cookies, no session
    page = context.new_page()
    page.goto(f"{server}/attention?{query}")
    wait_for_app(page, "text=4 · Attention", timeout=180_000)
    box = page.locator('[data-testid="stSidebar"] textarea[aria-label="Your text"]')
    assert box.input_value() == "Links carry the view"
    page.wait_for_selector(".st-key-attn_layer")
    assert page.locator(".st-key-attn_layer input").input_value() == "layer 4 of 6"
    assert page.locator(".st-key-attn_head input").input_value() == "head 5 of 12"
    assert_no_error_text_ctx(page)
    screenshot(page, "shared-link-attention")
    context.close()


def assert_no_error_text_ctx(page):
    page.dialogs = []
    assert_no_error_text(page)


def test_guided_tour_start_to_end(page):
    page.goto(page.base_url)
    wait_for_app(page, ".ee-chip")
    page.get_by_role("button", name="Start the guided tour").click()
    for step in range(1, 9):
        page.wait_for_selector(f"text=step {step} of 8", timeout=180_000)
        wait_for_app(page)
        assert_no_error_text(page)
        if step < 8:
            page.get_by_role("button", name="Next →").click()
    screenshot(page, "tour-end")
    page.get_by_role("button", name="End tour").click()
    page.wait_for_timeout(1500)
    assert page.locator("text=Guided tour").count() == 0
