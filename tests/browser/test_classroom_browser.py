"""A shared link opened in a fresh browser context, and the guided tour from start to end."""

import time
from urllib.parse import urlencode

import pytest

from .conftest import ARTIFACTS, assert_no_error_text, screenshot, wait_for_app

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


class ScriptRuns:
    """The script runs a page's server finished, read off its websocket (Streamlit's own ForwardMsg).

    The 'Running…' status widget cannot tell: it did not appear in this app's runs (Streamlit 1.67), so
    waiting for it to go waited for nothing, and a step's long first run (the retrieval page embeds its
    corpus) was still going when the next click came."""

    def __init__(self, page):
        self.page = page
        self.finished: list[str] = []
        page.on("websocket", lambda socket: socket.on("framereceived", self._received))

    def _received(self, payload) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if isinstance(payload, str):
            return
        message = ForwardMsg()
        message.ParseFromString(payload)
        if message.WhichOneof("type") == "script_finished":
            self.finished.append(ForwardMsg.ScriptFinishedStatus.Name(message.script_finished))

    def mark(self) -> int:
        return len(self.finished)

    def wait(self, since: int, timeout_s: float = 300) -> None:
        """Until a run that began after ``since`` ran to its end (a run cut short by st.switch_page or
        st.rerun is followed by the one it asked for)."""
        deadline = time.monotonic() + timeout_s
        while not any(status != "FINISHED_EARLY_FOR_RERUN" for status in self.finished[since:]):
            assert time.monotonic() < deadline, f"no script run finished within {timeout_s:.0f} s: {self.finished[since:]}"
            self.page.wait_for_timeout(100)
        self.page.wait_for_timeout(300)  # the frontend drops the run's stale elements


TABLE_TEXT_BELOW_BODY = """() => {
  const paragraph = document.querySelector('[data-testid="stMain"] [data-testid="stMarkdownContainer"] p');
  const body = parseFloat(getComputedStyle(paragraph).fontSize);
  return [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stTable"] td, [data-testid="stMain"] [data-testid="stTable"] th')]
    .filter(cell => parseFloat(getComputedStyle(cell).fontSize) < body - 0.5)
    .slice(0, 3).map(cell => `table cell '${cell.innerText.slice(0, 30)}' at ${getComputedStyle(cell).fontSize} below the body's ${body} px`);
}"""
PROJECTOR_SHOTS = {"pages/tokenization.py": "tokenization", "pages/attention.py": "attention", "pages/retrieval.py": "retrieval"}


def test_guided_tour_start_to_end_on_a_projector(browser, server):
    """The whole tour in presentation mode at 1280 × 720: every step draws, nothing is cut off, the last
    step's Back and Next do what they say, and End tour ends the tour even while the page still runs."""
    from ui.classroom import TOUR

    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    runs = ScriptRuns(page)
    page.goto(f"{server}/?present=1")
    page.wait_for_selector(".ee-chip", timeout=180_000)
    bar = page.locator(".st-key-tour_bar")
    since = runs.mark()
    page.get_by_role("button", name="Start the guided tour").click()
    clipped = {}
    for step in range(1, len(TOUR) + 1):
        page.wait_for_selector(f"text=step {step} of {len(TOUR)}", timeout=180_000)
        runs.wait(since)  # the whole page, not the part drawn so far
        assert_no_error_text(page)
        found = page.evaluate(CLIPPED_TEXT)
        # nothing wider than the window
        overflow = page.evaluate("() => { const main = document.querySelector('[data-testid=\"stMain\"]');"
                                 " return main.scrollWidth - main.clientWidth; }")
        if overflow > 1:
            found = [*found, f"the page is {overflow} px wider than the window"]
        # tables at the body size: each cell as large as the page's paragraphs
        small = page.evaluate(TABLE_TEXT_BELOW_BODY)
        if small:
            found = [*found, *small]
        path = TOUR[step - 1][0]
        if path in PROJECTOR_SHOTS:  # what the class sees: one screen, around the page's first table
            ARTIFACTS.mkdir(exist_ok=True)
            page.evaluate("() => document.querySelector('[data-testid=\"stMain\"] [data-testid=\"stTable\"]')"
                          ".scrollIntoView({block: 'center'})")
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / f"presentation-{PROJECTOR_SHOTS[path]}.png"))
        if found:
            clipped[TOUR[step - 1][1]] = found
        assert bar.get_by_role("button", name="← Back").is_enabled() == (step > 1)
        assert bar.get_by_role("button", name="Next →").is_enabled() == (step < len(TOUR))
        if step < len(TOUR):
            since = runs.mark()
            bar.get_by_role("button", name="Next →").click()
    assert not clipped, clipped
    assert bar.locator("button").all_inner_texts() == ["← Back", "Next →", "End tour"]  # nothing left of a former run

    since = runs.mark()
    bar.get_by_role("button", name="← Back").click()
    page.wait_for_selector(f"text=step {len(TOUR) - 1} of {len(TOUR)}", timeout=120_000)
    runs.wait(since)
    bar.get_by_role("button", name="Next →").click()
    page.wait_for_selector(f"text=step {len(TOUR)} of {len(TOUR)}", timeout=120_000)
    # At once, while the retrieval page is still at work: a teacher does not wait for the page to finish.
    bar.get_by_role("button", name="End tour").click()
    bar.wait_for(state="detached", timeout=120_000)
    # The run End tour started writes the link at its end: presentation mode still on, the tour off.
    page.wait_for_function("() => location.search.includes('present=1') && !location.search.includes('tour=')",
                           timeout=300_000)
    assert page.locator("text=Guided tour · step").count() == 0
    screenshot(page, "tour-end-presentation")
    context.close()
