"""User text in figure labels, Markdown and metrics: escaped exactly once, for the reader of that text.

``plotly_shown`` replays Plotly.js's own label rules (svg_text_utils.convertToTspans); the cases marked
"measured" are what Plotly.js 4 drew in Chromium for that string (tests/browser/test_labels_browser.py
checks the pages' charts there)."""

from __future__ import annotations

import numpy as np
import pytest

from ui.figure_data import figure_csv, shown_text
from ui.labels import (
    html_escape, md_escape, plotly_escape, plotly_shown, signed_number, text_label, token_label, unique_labels, visible,
)

NASTY = ['"a&b<c>', "<b>bold</b>", "it's", "&lt;x&gt;", "&amp;", "&quot;", "&#60;", "<br>", "a<br/>b", "🙂",
         "👨‍👩‍👧", "%{y}", "<a href='x'>l</a>", "&", "<", ">", "\"'", "x &nbsp; y", "<script>alert(1)</script>"]


@pytest.mark.parametrize(("label", "drawn"), [
    ('&quot;a&amp;b&lt;c&gt;', '&quot;a&b<c>'),      # measured: html.escape(quote=True) shows &quot; literally
    ('"a&amp;b&lt;c&gt;', '"a&b<c>'),               # measured: quote=False shows the token
    ("it&#x27;s", "it's"),                          # measured: numeric entities are decoded
    ("<b>bold</b>", "bold"),                        # measured: <b> makes bold text
    ("&lt;b&gt;bold&lt;/b&gt;", "<b>bold</b>"),     # measured
    ("&amp;lt;x&amp;gt;", "&lt;x&gt;"),             # measured: decoded once, not twice
    ("<script>x</script>", "<script>x</script>"),   # not one of Plotly's tags: drawn as text
    ("&AMP; &copy; &#X41;", "&AMP; &copy; &#X41;"),  # entities Plotly does not know stay as written
    ("a<br>b\nc", "a b c"),
    ("&#128578;", "🙂"),
])
def test_plotly_shown_follows_plotlys_rules(label, drawn):
    assert plotly_shown(label) == drawn


@pytest.mark.parametrize("token", NASTY)
def test_a_token_label_is_drawn_as_the_token_is(token):
    label = token_label(token)
    assert plotly_shown(label) == visible(token)  # what the chart draws is what was typed, once escaped
    assert "<" not in label and "&quot;" not in label and "&#x27;" not in label
    assert plotly_shown(text_label(token)) == visible(token, show_spaces=False)


def test_the_quote_is_not_escaped_for_plotly_but_is_for_html():
    assert token_label('"a&b<c>') == '"a&amp;b&lt;c&gt;'
    assert plotly_escape("it's") == "it's"
    assert html_escape('"a&b<c>') == "&quot;a&amp;b&lt;c&gt;"  # HTML we build keeps quoting attributes
    assert plotly_shown(html_escape('say "hi"')) != 'say "hi"'  # the double escape the pages had


def test_unique_labels_number_repeats_of_the_escaped_token():
    labels = unique_labels(['"', "&", '"', "<b>"])
    assert labels == ['" (0)', "&amp;", '" (2)', "&lt;b&gt;"]
    assert [plotly_shown(label) for label in labels] == ['" (0)', "&", '" (2)', "<b>"]


def test_text_label_shortens_before_escaping():
    label = text_label("&" * 100, limit=10)
    assert plotly_shown(label) == "&" * 9 + "…"


def test_the_export_holds_what_the_chart_shows():
    assert shown_text('"a&amp;b&lt;c&gt;') == '"a&b<c>'
    assert shown_text("&quot;") == "&quot;"  # Plotly draws it as written, so the file says so too
    assert shown_text("line\nbreak") == "line\nbreak"  # a data file keeps a raw newline

    from ui.figures import token_heatmap

    tokens = ['"hi"', "&", "<b>", "🙂", "it's"]
    figure = token_heatmap(np.zeros((len(tokens), 2), dtype=np.float32), tokens)
    assert list(figure.data[0].y) == ['"hi"', "&amp;", "&lt;b&gt;", "🙂", "it's"]
    assert [row.split(",")[0] for row in figure_csv(figure).splitlines()[1:]] == ['"""hi"""', "&", "<b>", "🙂", "it's"]


def test_no_user_text_inside_a_hovertemplate():
    """A hovertemplate is parsed for %{…} (measured: "%{y}" written into one shows the y value); a value put into
    it is not parsed again. So a token like %{y} must travel as data (x, y, name), never as template text."""
    from core.analysis.ffn_stats import ResidualStream
    from ui import attention_views, ffn_views
    from ui.figures import token_by_token, token_heatmap

    tokens = ["zz%{y}", "qq%{x}", "b"]
    n = len(tokens)
    ones = np.ones((1, n), dtype=np.float32)
    stream = ResidualStream(stages=("embeddings", "L1 attention", "L1 FFN"), norms=np.ones((3, n), dtype=np.float32),
                            attention_change=ones, ffn_change=ones, attention_update=ones, ffn_update=ones, pre_norm=False)
    labels = unique_labels(tokens)
    figures = [ffn_views.residual_norms(stream, tokens, shown=np.arange(n)),
               ffn_views.neuron_over_tokens(np.ones(n), tokens, highlight=np.array([0])),
               ffn_views.activation_heatmap(np.ones((n, 2)), tokens, np.arange(2)),
               ffn_views.change_heatmap(np.ones((1, n)), tokens, title="t", zmax=1.0),
               attention_views.attention_map(np.ones((n, n)) / n, labels, labels),
               token_heatmap(np.ones((n, 2)), tokens), token_by_token(np.ones((n, n)), tokens)]
    for figure in figures:
        for trace in figure.data:
            template = trace.hovertemplate or ""
            assert "zz" not in template and "qq" not in template, template
    lines = figures[0].data[:n]
    assert [trace.name for trace in lines] == tokens  # the token is the line's name …
    assert all(trace.hovertemplate.startswith("%{fullData.name}") for trace in lines)  # … and the hover reads it there


def test_markdown_escape_keeps_entities_as_typed():
    """Streamlit's Markdown decodes &lt; (measured): a typed entity needs its & escaped to stay as typed."""
    assert md_escape("&lt;b&gt; & co") == "\\&lt;b\\&gt; \\& co"


@pytest.mark.parametrize(("value", "decimals", "plus", "text"), [
    (-3.7e-05, 4, False, "0.0000"),
    (3.7e-05, 4, False, "0.0000"),
    (-0.0, 4, False, "0.0000"),
    (-3.7e-05, 4, True, "0.0000"),
    (-3.7e-05, 5, False, "-0.00004"),
    (-0.00051, 3, False, "-0.001"),
    (0.25, 2, True, "+0.25"),
    (-0.25, 2, True, "-0.25"),
    (0.98765, 4, False, "0.9877"),
    (float("nan"), 4, True, "nan"),
])
def test_signed_number_never_prints_minus_zero(value, decimals, plus, text):
    assert signed_number(value, decimals, plus=plus) == text


def test_tables_never_show_minus_zero():
    import numpy as np

    from ui.labels import zero_unsigned

    assert str(zero_unsigned(round(-3.7e-05, 4))) == "0.0"
    assert str(zero_unsigned(np.round(np.array([-3.7e-05, -0.5]), 4)).tolist()) == "[0.0, -0.5]"


def test_e_notation_is_spelled_out_for_a_class():
    from ui.labels import e_notation_meaning

    assert e_notation_meaning(4.4e-09) == "4.4e-09 means 0.0000000044"
    assert float(e_notation_meaning(1.25e-07).split(" means ")[1]) == pytest.approx(1.2e-07, rel=0.05)
    assert e_notation_meaning(0.0) == "0 means exactly equal"


def test_an_exact_zero_gap_reads_as_0_not_as_e_notation():
    from ui.labels import gap_number

    assert gap_number(0.0) == "0" and gap_number(-0.0) == "0"
    assert gap_number(3.7e-08) == "3.7e-08" and gap_number(7.97e-08, 2) == "7.97e-08"
    assert float(gap_number(0.0)) == 0.0 and float(gap_number(4.2e-08)) == pytest.approx(4.2e-08)  # still a number
