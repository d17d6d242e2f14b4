"""The home page in a real browser: type a sentence, see its tokens."""

import pytest

from .conftest import assert_no_error_text, export_download, read_csv_download, screenshot, set_text, wait_for_app

pytestmark = pytest.mark.browser


def chip_texts(page):
    return page.locator(".ee-chip .ee-tok").all_inner_texts()


def test_typing_a_sentence_shows_its_tokens(page):
    page.goto(page.base_url)
    wait_for_app(page, ".ee-chip")
    assert chip_texts(page) == ["[CLS]", "the", "cat", "sat", "un", "##ha", "##pp", "##ily", "[SEP]"]
    set_text(page, "Transformers tokenize surprisingly")
    page.wait_for_function("() => document.querySelectorAll('.ee-chip').length > 0 && "
                           "[...document.querySelectorAll('.ee-tok')].some(e => e.textContent === 'transformers')")
    tokens = chip_texts(page)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and "transformers" in tokens
    assert_no_error_text(page)
    screenshot(page, "home")


def test_markup_typed_as_text_stays_text(page):
    page.goto(page.base_url)
    wait_for_app(page, ".ee-chip")
    set_text(page, "<img src=x onerror=alert(1)> <script>alert(2)</script>")
    page.wait_for_function("() => [...document.querySelectorAll('.ee-tok')].some(e => e.textContent === 'alert')")
    assert page.locator(".ee-chips img").count() == 0
    assert page.locator(".ee-chips script").count() == 0
    assert_no_error_text(page)  # includes: no alert() dialog opened


def test_the_trace_downloads_as_npz(page, tmp_path):
    import numpy as np

    page.goto(page.base_url)
    wait_for_app(page, ".ee-chip")
    page.get_by_text("Model and device").click()
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Download the trace (.npz)").click()
    path = tmp_path / "trace.npz"
    download.value.save_as(path)
    data = np.load(path)
    assert data["input_ids"].tolist() == [101, 1996, 4937, 2938, 4895, 3270, 9397, 6588, 102]
    assert data["attentions"].shape == (6, 12, 9, 9)


def test_the_final_embedding_exports_as_png_svg_and_csv(page, tmp_path):
    page.goto(page.base_url)
    wait_for_app(page, ".ee-chip")
    png = export_download(page, "home_embedding", "png", tmp_path)
    assert png.name == "final-embedding.png" and png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    svg = export_download(page, "home_embedding", "svg", tmp_path)
    assert svg.name == "final-embedding.svg" and svg.read_bytes().lstrip().startswith(b"<svg")
    rows = read_csv_download(export_download(page, "home_embedding", "csv", tmp_path))
    assert rows[0] == ["trace", "type", "x", "y"] and len(rows) == 1 + 384
    values = [float(row[3]) for row in rows[1:]]
    shown = page.locator('[data-testid="stMetric"]', has_text="L2 norm").locator('[data-testid="stMetricValue"]').inner_text()
    assert abs(sum(v * v for v in values) ** 0.5 - float(shown)) < 2e-3  # the bars' numbers give the norm shown
    assert_no_error_text(page)
    page.locator(".st-key-home_embedding__export button").first.click()
    page.wait_for_timeout(400)
    screenshot(page, "export-popover")
