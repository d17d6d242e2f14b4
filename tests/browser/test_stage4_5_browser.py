"""The attention and feed-forward pages in a real browser: draw, click a head open, survive hostile texts."""

import pytest

from ..hostile import HOSTILE_TEXTS
from .conftest import assert_no_error_text, export_download, read_csv_download, screenshot, set_text, wait_for_app

pytestmark = pytest.mark.browser


def _selected(page, key):
    """The option a selectbox shows (Streamlit draws it as a combobox input)."""
    return page.locator(f".st-key-{key} input").input_value()


def test_attention_page_draws_and_a_click_on_the_overview_opens_that_head(page, tmp_path):
    page.goto(page.base_url + "/attention")
    wait_for_app(page, "text=Every head at a glance")
    set_text(page, "The bank of the river flooded the bank")
    page.wait_for_selector("text=Layer 1, head 1, enlarged")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 9")
    assert page.locator(".st-key-attn_grid .js-plotly-plot .heatmaplayer image, "
                        ".st-key-attn_grid .js-plotly-plot .hm").count() >= 1
    # token labels on the axes; during a rerun Streamlit keeps the old element beside the new one (data-stale)
    page.wait_for_function("() => document.querySelectorAll('.st-key-attn_map[data-stale=\"true\"]').length === 0")
    assert "river" in page.locator('.st-key-attn_map[data-stale="false"]').first.inner_text()
    assert_no_error_text(page)
    screenshot(page, "attention")
    # The enlarged map's numbers: a row per query, a column per key, every row a softmax (sums to 1).
    path = export_download(page, "attn_map", "csv", tmp_path)
    assert path.name == "attention-layer1-head1.csv"
    rows = read_csv_download(path)
    assert "river" in rows[0] and [row[0] for row in rows[1:]] == rows[0][1:]
    assert all(abs(sum(float(v) for v in row[1:]) - 1) < 0.01 for row in rows[1:])

    # Click the square of layer 4, head 7 in the layers × heads overview.
    squares = page.locator(".st-key-attn_overview .scatterlayer .trace").first.locator("path.point")
    assert squares.count() == 6 * 12
    square = squares.nth(3 * 12 + 6)
    square.scroll_into_view_if_needed()
    box = square.bounding_box()
    # Plotly picks the clicked point from its hover state: move there first, as a person's mouse does.
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(300)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_for_app(page, "text=Layer 4, head 7, enlarged")
    assert _selected(page, "attn_layer") == "layer 4 of 6" and _selected(page, "attn_head") == "head 7 of 12"
    assert_no_error_text(page)
    screenshot(page, "attention-opened-from-overview")


def test_feed_forward_page_draws(page, tmp_path):
    page.goto(page.base_url + "/feed_forward")
    wait_for_app(page, "text=The residual stream")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 8")
    body = page.inner_text("body")
    assert "384 → 1,536 → 384" in body and "GELU" in body
    assert page.locator(".st-key-ffn_heatmap .js-plotly-plot").count() == 1
    rows = read_csv_download(export_download(page, "ffn_heatmap", "csv", tmp_path))
    assert [row[0] for row in rows[1:]] == ["[CLS]", "the", "cat", "sat", "un", "##ha", "##pp", "##ily", "[SEP]"]
    assert len(rows[0]) == 1 + 40  # the 40 most active neurons drawn
    assert_no_error_text(page)
    screenshot(page, "feed-forward")


def _check_page(page, name, text, ready_text):
    if text.strip():
        wait_for_app(page, f"text={ready_text}")
    else:
        wait_for_app(page, "text=The text is empty")
    box = page.locator('[data-testid="stSidebar"] textarea[aria-label="Your text"]')
    assert box.input_value() == text, name  # the user's text stays as typed
    assert page.locator('img[src="x"]').count() == 0, name  # typed markup never becomes an element
    assert page.locator("main script").count() == 0, name
    assert_no_error_text(page)  # no traceback, no error box, no alert() dialog


def test_both_pages_with_hostile_texts(page):
    """Every hostile text on both pages, switching between them through the sidebar as a user does."""
    page.goto(page.base_url + "/attention")
    wait_for_app(page, "text=Every head at a glance")
    for name, text in HOSTILE_TEXTS.items():
        page.get_by_role("link", name="4 · Attention").click()
        wait_for_app(page, "text=4 · Attention")
        set_text(page, text)
        _check_page(page, name, text, "The formula, worked for one token")
        if name in ("markup", "long_5000_tokens", "zero_width_control"):
            screenshot(page, f"attention-{name}")
        page.get_by_role("link", name="5 · Feed-forward").click()
        wait_for_app(page, "text=5 · Feed-forward network")
        _check_page(page, name, text, "The residual stream")
        if name in ("markup", "long_5000_tokens", "arabic_hebrew"):
            screenshot(page, f"feed-forward-{name}")
