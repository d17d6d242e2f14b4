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


CLIPPED_TEXT = """() => {
  // Text the page cut off: a metric, a heading, a button, a tab or a table header whose text is wider than its box.
  const selectors = ['[data-testid="stMetricValue"]', '[data-testid="stMetricLabel"]', 'button', 'h1', 'h2', 'h3',
                     '[data-testid="stTab"]', '[data-testid="stPageLink"]', '[data-testid="stMarkdownContainer"] strong'];
  const clipped = [];
  for (const selector of selectors) {
    for (const element of document.querySelectorAll('[data-testid="stMain"] ' + selector)) {
      if (!element.offsetParent || element.closest('.js-plotly-plot')) continue;
      for (const node of [element, ...element.querySelectorAll('*')]) {
        const style = getComputedStyle(node);
        const hides = style.overflowX !== 'visible' || style.textOverflow === 'ellipsis';
        if (hides && node.scrollWidth > node.clientWidth + 1 && node.innerText.trim()) {
          clipped.push(selector + ': ' + node.innerText.trim().slice(0, 80));
          break;
        }
      }
    }
  }
  return clipped;
}"""


def test_guided_tour_start_to_end_on_a_projector(browser, server):
    """The whole tour in presentation mode at 1280 × 720: every step draws, nothing is cut off."""
    from ui.classroom import TOUR

    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{server}/?present=1")
    page.wait_for_selector(".ee-chip", timeout=180_000)
    page.get_by_role("button", name="Start the guided tour").click()
    clipped = {}
    for step in range(1, len(TOUR) + 1):
        page.wait_for_selector(f"text=step {step} of {len(TOUR)}", timeout=180_000)
        page.wait_for_timeout(400)
        # A page's long work (the retrieval page embeds its corpus) reruns the page until done.
        page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
                               " && !document.querySelector('[data-testid=\"stProgress\"]')", timeout=300_000)
        assert_no_error_text(page)
        found = page.evaluate(CLIPPED_TEXT)
        if found:
            clipped[TOUR[step - 1][1]] = found
        if step < len(TOUR):
            page.get_by_role("button", name="Next →").click()
    assert not clipped, clipped
    page.get_by_role("button", name="End tour").click()
    page.wait_for_selector(".st-key-tour_bar", state="detached", timeout=120_000)
    assert page.locator("text=Guided tour · step").count() == 0
    screenshot(page, "tour-end-presentation")
    context.close()
