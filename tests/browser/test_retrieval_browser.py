"""The retrieval debugger in a real browser: type a query, upload a small CSV corpus, mark the passage you
expected, and see its rank (equal to core's) and why it ranked there."""

import pytest

from .conftest import assert_no_error_text, screenshot, wait_for_app

pytestmark = pytest.mark.browser

PASSAGES = [
    "Stock markets fell sharply on Tuesday after the announcement.",
    "The cat sat on the mat and purred.",
    "Photosynthesis converts light into chemical energy in plants.",
    "A kitten curled up and slept in a basket by the warm stove.",
    "The bank raised its interest rates again this quarter.",
    "<b>Dogs</b> are loyal companions and love long walks.",
]
QUERY = "Where did the little cat take a nap?"


def test_retrieval_debugger(page, tmp_path):
    from core import load_model
    from core.retrieval.search import build_index, encode_query, rank

    model = load_model()
    ranking = rank(build_index(model, PASSAGES), encode_query(model, QUERY))
    expected = int(ranking.order[2])  # the third: a passage the visitor expected higher up
    csv = tmp_path / "corpus.csv"
    csv.write_text("id,text\n" + "".join(f'{i + 1},"{p}"\n' for i, p in enumerate(PASSAGES)), encoding="utf-8")

    page.goto(page.base_url + "/retrieval")
    wait_for_app(page, "text=Fix it by training", timeout=180_000)
    box = page.locator('input[aria-label="Query"]')
    box.fill(QUERY)
    box.press("Enter")
    page.wait_for_timeout(500)
    wait_for_app(page)
    page.get_by_text("An uploaded file").click()
    page.wait_for_selector("text=Upload a file of passages")
    page.locator(".st-key-rt_upload input[type=file]").set_input_files(str(csv))
    page.wait_for_selector("text=Passage column", timeout=60_000)
    wait_for_app(page, "text=Why this rank", timeout=120_000)

    picker = page.get_by_role("combobox", name="The passage I expected")
    picker.click()
    picker.press_sequentially(PASSAGES[expected][8:30])  # a selectbox filters its options as you type
    page.wait_for_timeout(300)
    picker.press("Enter")
    page.wait_for_timeout(500)
    wait_for_app(page, ".st-key-rt_pairs_expected .js-plotly-plot", timeout=120_000)

    page.wait_for_function(f"() => document.querySelector('.st-key-rt_pairs_expected') && "
                           f"document.body.innerText.includes('Expected: passage {expected + 1}')", timeout=60_000)
    metric = page.locator('[data-testid="stMetric"]').first
    assert f"passage {expected + 1}" in metric.inner_text()
    assert f"{ranking.rank_of(expected)} of {len(PASSAGES)}" in metric.inner_text()
    assert f"{ranking.scores[expected]:.5f}" in page.locator('[data-testid="stMetric"]').nth(1).inner_text()
    assert page.get_by_text(f"Expected: passage {expected + 1}", exact=False).count() >= 1
    assert page.locator('[aria-label^="query tokens, by their share"]').count() == 2  # the chips, both passages
    page.wait_for_selector(".st-key-rt_whatif .js-plotly-plot", timeout=60_000)  # the what-ifs draw after the why-view
    assert page.locator("b", has_text="Dogs").count() == 0  # markup in a passage stays text
    # a widget the page stopped drawing (no file yet) comes back showing the visitor's value, not its default
    page.wait_for_selector(".st-key-rt_steps", timeout=60_000)
    wait_for_app(page)
    assert "8" in page.locator(".st-key-rt_steps").inner_text().split()
    assert_no_error_text(page)
    screenshot(page, "retrieval-debugger")
