"""Every box a visitor can type in, in a real browser, fed markup, script, Markdown, LaTeX and odd
Unicode: nothing executes, nothing renders as markup, no error text, and the box keeps the text."""

import pytest

from .conftest import assert_no_error_text, wait_for_app

pytestmark = pytest.mark.browser

HOSTILE = ("<img src=x onerror=alert(1)> <script>alert(2)</script> **bold** $x^2$ [link](http://example.com) "
           ":red[red] 👨\u200d👩\u200d👧 مرحبا zero\u200bwidth")

# (URL path, steps to show the box, the box's aria-label, "area" (Ctrl+Enter applies) or "input" (Enter))
BOXES = [
    ("", [], "Your text", "area"),
    ("", ["Model and device"], "Model (Hugging Face id or local folder)", "input"),
    ("tokenization", [], "token → id", "input"),
    ("positional_encoding", [], "Text A", "input"),
    ("pooling", ["tab:Similarity, explained"], "Sentences, one per line", "area"),
    ("pipeline", [], "Compare your text with", "input"),
    ("projections", ["radio:Typed, one per line"], "Sentences, one per line", "area"),
    ("projections", ["wait:Token-level view"], "A few sentences, one per line (at most 8)", "area"),
]


@pytest.mark.parametrize("path, steps, label, kind", BOXES, ids=[f"{p or 'home'}-{label[:20]}" for p, _, label, _ in BOXES])
def test_markup_typed_in_a_box_stays_text(page, path, steps, label, kind):
    page.goto(page.base_url)
    wait_for_app(page, ".ee-chip")
    if path:
        page.goto(f"{page.base_url}/{path}")
        wait_for_app(page, "h1")
    for step in steps:
        if step.startswith("wait:"):
            page.wait_for_selector(f"text={step[5:]}", timeout=180_000)
        elif step.startswith("tab:"):
            page.get_by_role("tab", name=step[4:]).click()
        elif step.startswith("radio:"):
            page.get_by_text(step[6:], exact=True).click()
            wait_for_app(page)
        else:
            page.get_by_text(step, exact=True).click()
    box = page.locator(f'{"textarea" if kind == "area" else "input"}[aria-label="{label}"]').first
    box.scroll_into_view_if_needed()
    box.fill(HOSTILE)
    box.press("Control+Enter" if kind == "area" else "Enter")
    page.wait_for_timeout(800)
    wait_for_app(page)
    assert not page.dialogs, f"a script ran: {page.dialogs}"
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator("[data-testid='stMain'] script, [data-testid='stSidebar'] script").count() == 0
    assert page.locator("strong", has_text="bold").count() == 0, "Markdown typed as text was rendered"
    assert page.locator("a[href='http://example.com']").count() == 0, "a typed Markdown link became a link"
    assert page.locator(".katex").filter(has_text="x2").count() == 0, "typed LaTeX was rendered"
    assert box.input_value() == HOSTILE[: len(box.input_value())] and len(box.input_value()) >= 100, "the box lost the text"
    assert_no_error_text(page)
