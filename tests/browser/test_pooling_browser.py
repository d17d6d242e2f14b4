"""The pooling page in a real browser: type, compare, explain a pair, run the STS benchmark."""

import pytest

from .conftest import assert_no_error_text, export_download, read_csv_download, screenshot, set_text, wait_for_app

pytestmark = pytest.mark.browser


def test_pooling_page(page, tmp_path):
    page.goto(page.base_url + "/pooling")
    wait_for_app(page, "text=6 · Pooling")
    set_text(page, "Rivers flow into the sea")
    page.wait_for_selector("text=Max pooling, laid open")
    assert page.locator(".js-plotly-plot").count() >= 3
    screenshot(page, "pooling-compared")
    rows = read_csv_download(export_download(page, "pool_max_wins", "csv", tmp_path))
    assert rows[0] == ["trace", "type", "x", "y"] and "rivers" in [row[2] for row in rows[1:]]
    assert sum(int(row[3]) for row in rows[1:]) == 384  # every dimension is won by one token

    page.get_by_role("tab", name="Similarity, explained").click()
    page.wait_for_selector("text=Why are these two similar, or not?")
    box = page.locator('textarea[aria-label="Sentences, one per line"]')
    box.fill("A dog runs in the park\nA puppy is playing outside\n<b>Tax law</b> is complicated")
    box.press("Control+Enter")
    page.wait_for_timeout(500)
    wait_for_app(page, "text=token-pair shares")
    assert page.locator("b", has_text="Tax law").count() == 0  # markup typed as text stays text
    # the pair pickers show the new set's sentences, not the previous set's (a keyed-selectbox quirk)
    page.wait_for_function("() => document.querySelectorAll('input[aria-label=\"Sentence A\"]').length === 1", timeout=30_000)
    # "token-pair shares" was already there for the old set: wait for the new set's run to reach the pickers
    page.wait_for_function("() => (document.querySelector('input[aria-label=\"Sentence A\"]') || {}).value"
                           "?.startsWith('1. A dog runs in the park')", timeout=120_000)
    assert page.get_by_role("combobox", name="Sentence A").input_value().startswith("1. A dog runs in the park")
    assert page.get_by_role("combobox", name="Sentence B").input_value().startswith("2. A puppy is playing outside")
    assert_no_error_text(page)
    screenshot(page, "pooling-similarity")

    page.get_by_role("tab", name="STS benchmark").click()
    number = page.locator('input[aria-label="Use the first N pairs (0 = all)"]')
    number.fill("60")
    number.press("Enter")
    page.wait_for_timeout(500)
    wait_for_app(page)
    page.get_by_role("button", name="Evaluate every pooling").click()
    page.wait_for_selector("text=60 pairs", timeout=120_000)
    wait_for_app(page)
    assert_no_error_text(page)
    screenshot(page, "pooling-sts")
