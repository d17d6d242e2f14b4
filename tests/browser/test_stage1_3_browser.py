"""Pages 1–3 in a real browser: opened, typed into, screenshot taken, no error text."""

import pytest

from ui.tokenization_views import LONG_EXAMPLE

from ..hostile import HOSTILE_TEXTS

from .conftest import assert_no_error_text, export_download, read_csv_download, screenshot, set_text, wait_for_app

pytestmark = pytest.mark.browser


def wait_for_text(page, text: str, timeout=60_000) -> None:
    page.wait_for_function("t => document.body.innerText.includes(t)", arg=text, timeout=timeout)


def full_screenshot(page, name: str) -> None:
    """Streamlit scrolls inside its own container, so a tall window is what shows the whole page."""
    page.set_viewport_size({"width": 1400, "height": 3600})
    page.wait_for_timeout(1500)
    wait_for_app(page)
    screenshot(page, name)
    page.set_viewport_size({"width": 1400, "height": 1000})


def chip_texts(page, nth: int = 0):
    return page.locator(".ee-chips").nth(nth).locator(".ee-tok").all_inner_texts()


def open_page(page, url_path: str, selector: str) -> None:
    page.goto(page.base_url)
    wait_for_app(page, ".ee-chip")  # the overview first, as a visitor arrives
    page.goto(f"{page.base_url}/{url_path}")
    wait_for_app(page, selector)


def test_tokenization_page(page):
    open_page(page, "tokenization", ".ee-chip")
    assert chip_texts(page) == ["[CLS]", "the", "cat", "sat", "un", "##ha", "##pp", "##ily", "[SEP]"]
    assert chip_texts(page, 2) == ["The", "Ġcat", "Ġsat", "Ġunh", "app", "ily"]  # GPT-2's BPE beside it
    hover = page.locator(".ee-chips").first.locator(".ee-chip").nth(5).get_attribute("title")
    assert hover == "id 3270 · position 5 · characters 14–16 “ha” · word “unhappily”"
    set_text(page, LONG_EXAMPLE)
    page.wait_for_selector(".ee-cut", timeout=60_000)
    wait_for_text(page, "the model reads 256 and drops the last 186")
    assert "OAuth" not in page.locator(".ee-tail").inner_text()  # the early part is read …
    assert "re-check the counts" in page.locator(".ee-tail").inner_text()  # … the end is greyed: dropped
    assert_no_error_text(page)
    full_screenshot(page, "stage1_tokenization")
    page.locator(".ee-doc").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    screenshot(page, "stage1_truncation")


def test_tokenization_shows_markup_as_text(page):
    open_page(page, "tokenization", ".ee-chip")
    set_text(page, "<img src=x onerror=alert(1)> <script>alert(2)</script>")
    page.wait_for_function("() => [...document.querySelectorAll('.ee-tok')].some(e => e.textContent === 'alert')")
    assert page.locator(".ee-chips img, .ee-chips script, .ee-legend img").count() == 0
    assert "<" in chip_texts(page)
    assert_no_error_text(page)  # includes: no alert() dialog opened


def test_embedding_lookup_page(page, tmp_path):
    open_page(page, "embedding_lookup", '[data-testid="stPlotlyChart"]')
    wait_for_text(page, "9 ids → 9 rows of the 30,522 × 384 table → 9 × 384")
    wait_for_text(page, "11,720,448")
    set_text(page, "The cat sat on the mat")
    wait_for_text(page, "8 ids → 8 rows of the 30,522 × 384 table → 8 × 384")
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 2
    rows = read_csv_download(export_download(page, "emb_strip", "csv", tmp_path))  # the 8 × 384 rows shown
    assert len(rows) == 1 + 8 and rows[0][1:4] == ["0", "1", "2"] and len(rows[0]) == 1 + 384
    assert [row[0] for row in rows[1:3]] == ["0: [CLS] · id 101", "1: the · id 1996"]
    assert all(-10 < float(value) < 10 for value in rows[2][1:])
    assert_no_error_text(page)
    full_screenshot(page, "stage2_embedding_lookup")
    for name in ("emoji_zwj", "arabic_hebrew", "zero_width_control"):
        set_text(page, HOSTILE_TEXTS[name])
        wait_for_text(page, "The trained dictionary")
        assert_no_error_text(page)


def test_positional_encoding_page(page, tmp_path):
    open_page(page, "positional_encoding", '[data-testid="stPlotlyChart"]')
    wait_for_text(page, "cosine similarity, position information removed")
    wait_for_text(page, "1.000000")
    set_text(page, "Position matters here")
    wait_for_text(page, "5 positions → 5 × 384 position rows")
    rows = read_csv_download(export_download(page, "pos_learned_heat", "csv", tmp_path))
    assert rows[0][0] == "position" and [row[0] for row in rows[1:]] == ["0", "1", "2", "3", "4"]
    assert len(rows[0]) == 1 + 384
    box = page.get_by_label("Text B")
    box.fill("A dog was bitten by a cat")
    box.press("Enter")
    wait_for_text(page, "different tokens")
    assert_no_error_text(page)
    box.fill("<img src=x onerror=alert(1)>")
    box.press("Enter")
    page.wait_for_timeout(1500)
    wait_for_app(page)
    assert page.locator('[data-testid="stMain"] img[src="x"]').count() == 0
    assert_no_error_text(page)  # no alert() dialog either
    full_screenshot(page, "stage3_positional_encoding")
