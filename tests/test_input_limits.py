"""100,000 characters in every box a user can type in: each page answers with a message or a
truncation notice, never a stack trace, and the box keeps what was typed."""

from __future__ import annotations

import time

import pytest

from tests.apptest_pages import open_page, page_text

ONE_LINE = ("antidisestablishmentarianism and the river bank " * 2100)[:100_000]   # one huge line
MANY_LINES = "\n".join(f"line {i} about rivers, banks and money" for i in range(3000))[:100_000]  # thousands of lines
assert len(ONE_LINE) == len(MANY_LINES) == 100_000

# (page, widget key, text)
BOXES = [
    ("pages/home.py", "text", ONE_LINE),
    ("pages/home.py", "text", MANY_LINES),
    ("pages/tokenization.py", "text", ONE_LINE),
    ("pages/tokenization.py", "tok_lookup_token", ONE_LINE),
    ("pages/embedding_lookup.py", "text", MANY_LINES),
    ("pages/positional_encoding.py", "pos_order_a", ONE_LINE),
    ("pages/attention.py", "text", ONE_LINE),
    ("pages/feed_forward.py", "text", ONE_LINE),
    ("pages/pooling.py", "pool_sentences", ONE_LINE),
    ("pages/pooling.py", "pool_sentences", MANY_LINES),
    ("pages/pipeline.py", "pipe_other", ONE_LINE),
    ("pages/projections.py", "proj_typed", MANY_LINES),
    ("pages/projections.py", "proj_tokens_text", MANY_LINES),
    ("pages/home.py", "model_field", ONE_LINE),
]


@pytest.mark.parametrize("page, key, text", BOXES, ids=[f"{p.split('/')[-1][:-3]}-{k}-{'lines' if t is MANY_LINES else 'line'}"
                                                      for p, k, t in BOXES])
def test_a_hundred_thousand_characters(page, key, text):
    extra = {"proj_source": "Typed, one per line"} if key == "proj_typed" else {}
    start = time.perf_counter()
    app = open_page(page, **{key: text}, **extra)
    took = time.perf_counter() - start
    assert app.session_state[key] == text, "the box lost what was typed"
    shown = page_text(app)
    assert "Traceback" not in shown
    assert any(word in shown for word in ("tokens", "characters", "lines", "model id", "dropped", "first")), shown[:500]
    print(f"{page} {key}: {took:.1f} s")
