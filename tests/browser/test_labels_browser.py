"""User text in the charts, as Plotly.js really draws it: quotes, ampersands, angle brackets and emoji look exactly
as typed (escaped once for Plotly, never twice: no &quot; or &amp; on screen), and typed <b> stays text."""

import re

import pytest

from .conftest import assert_no_error_text, set_text, wait_for_app

pytestmark = pytest.mark.browser

TEXT = "He said \"hi\" & <b>bold</b> 🙂 'ok'"
# WordPiece: [CLS] he said " hi " & < b > bold < / b > [UNK] ' ok ' [SEP]; repeats are numbered by position
TOKENS = ['" (3)', '" (5)', "&", "< (7)", "> (9)", "' (16)", "' (18)"]
SENTENCE = "1. " + TEXT  # the pooling page's sentence label
SENT = "1. He said \"hi\" &amp; &lt;b&gt;bold&lt;/b&gt; 🙂 'ok'"  # that label as the page sends it to Plotly
ENTITY = re.compile(r"&(#\d+|#x[0-9a-f]+|[a-z]+);", re.IGNORECASE)

_CHART = "k => [...document.querySelectorAll(`.st-key-${k}:not([data-stale=\"true\"]) .js-plotly-plot`)].pop()"
# every text the chart's SVG holds (tick labels, legend names, annotations, point labels), and its bold spans
_TEXTS = f"""k => {{ const gd = ({_CHART})(k); if (!gd) return null;
  return {{texts: [...gd.querySelectorAll('svg text')].map(e => e.textContent),
          bold: [...gd.querySelectorAll('tspan')].filter(e => /bold/.test(e.getAttribute('style') || ''))
                  .map(e => e.textContent)}}; }}"""
# the viewport point of the cell (x category, y category: the labels as sent) of the chart's first heatmap
_CELL = f"""([k, x, y]) => {{ const gd = ({_CHART})(k), L = gd._fullLayout, xa = L.xaxis, ya = L.yaxis;
  const r = gd.getBoundingClientRect(), i = xa._categories.indexOf(x), j = ya._categories.indexOf(y);
  return i < 0 || j < 0 ? null : [r.left + xa._offset + xa.l2p(i), r.top + ya._offset + ya.l2p(j)]; }}"""


def chart_texts(page, key: str, expected: list[str]) -> list[str]:
    """The chart's drawn texts once it shows every ``expected`` text; none escaped twice, no typed markup as bold."""
    page.wait_for_function(f"([k, want]) => {{ const t = ({_TEXTS})(k); return t && want.every(w => t.texts.includes(w)); }}",
                           arg=[key, expected], timeout=60_000)
    drawn = page.evaluate(_TEXTS, key)
    leftovers = [text for text in drawn["texts"] if ENTITY.search(text)]
    assert not leftovers, f"{key}: entities drawn as text: {leftovers}"
    assert not [span for span in drawn["bold"] if "bold" in span], f"{key}: typed <b> became bold"
    return drawn["texts"]


def hover_cell(page, key: str, x: str, y: str) -> str:
    """Move the mouse onto a heatmap cell, as a person would, and read the hover label Plotly draws."""
    page.locator(f'.st-key-{key}:not([data-stale="true"]) .js-plotly-plot').scroll_into_view_if_needed()
    point = page.evaluate(_CELL, [key, x, y])
    assert point, f"{key}: no cell for {x!r} × {y!r}"
    page.mouse.move(1, 1)
    page.mouse.move(*point, steps=4)
    page.wait_for_function(f"k => ({_CHART})(k).querySelector('.hoverlayer .hovertext')", arg=key, timeout=10_000)
    hover = page.evaluate(f"k => [...({_CHART})(k).querySelectorAll('.hoverlayer .hovertext text')].map(e => e.textContent)", key)
    assert not [span for span in hover if ENTITY.search(span)], hover
    bold = page.evaluate(f"k => [...({_CHART})(k).querySelectorAll('.hoverlayer tspan')]"
                         ".filter(e => /bold/.test(e.getAttribute('style') || '')).length", key)
    assert bold == 0, f"{key}: typed <b> became bold in the hover: {hover}"
    return " | ".join(hover)


def open_stage(page, link: str, ready: str) -> None:
    page.get_by_role("link", name=link).click()
    wait_for_app(page, f"text={ready}")


def test_typed_quotes_ampersands_markup_and_emoji_look_as_typed_in_every_chart(page):
    page.goto(page.base_url + "/embedding_lookup")
    wait_for_app(page, "text=2 · Embedding lookup")
    set_text(page, TEXT)

    # lookup: row labels "position: token · id" on the y axis
    rows = chart_texts(page, "emb_strip", [])
    for position, token in ((3, '"'), (6, "&"), (7, "<"), (16, "'")):
        assert any(re.fullmatch(rf"{position}: {re.escape(token)} · id \d+", text) for text in rows), (token, rows)

    # attention: both axes of the enlarged map, the head view's words, the query/key scatter's point labels; one hover
    open_stage(page, "4 · Attention", "The formula, worked for one token")
    chart_texts(page, "attn_map", TOKENS)
    chart_texts(page, "attn_head_view", TOKENS)
    chart_texts(page, "attn_qk", TOKENS)
    hover = hover_cell(page, "attn_map", "&amp;", '" (3)')  # the category as sent: escaped once
    assert re.search(r'query " \(3\) → key &: \d\.\d{3}', hover), hover

    # feed-forward: the activation heatmap's rows, one neuron's bars over the tokens, the residual stream's legend
    open_stage(page, "5 · Feed-forward", "The residual stream")
    chart_texts(page, "ffn_heatmap", TOKENS)
    chart_texts(page, "ffn_neuron_tokens", [])
    chart_texts(page, "ffn_norms", [])

    # pooling: the hidden-state rows, the max-pooling bars; then a sentence (emoji kept) in a similarity hover
    open_stage(page, "6 · Pooling and similarity", "Max pooling, laid open")
    chart_texts(page, "pool_hidden", TOKENS)
    chart_texts(page, "pool_max_wins", [])
    page.get_by_role("tab", name="Similarity, explained").click()
    box = page.locator('textarea[aria-label="Sentences, one per line"]')
    box.fill(TEXT + "\nA quiet second sentence")
    box.press("Control+Enter")
    page.wait_for_timeout(500)
    wait_for_app(page, "text=token-pair shares")
    chart_texts(page, "pool_pairs", ["&", "< (7)"])
    hover = hover_cell(page, "pool_matrices", SENT, "2. A quiet second sentence")
    assert f"2. A quiet second sentence ↔ {SENTENCE}: " in hover, hover

    assert page.locator(".js-plotly-plot tspan[style*='bold']", has_text="bold").count() == 0
    assert page.locator("main b", has_text="bold").count() == 0  # nor anywhere on the page
    assert_no_error_text(page)
