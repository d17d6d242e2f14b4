"""Text from users, made safe and visible for display.

Streamlit widgets and st.text/st.code render text as text. Anything we build as HTML (token chips,
st.html) goes through ``html_escape``; anything handed to Plotly as a label goes through
``plotly_escape`` (``token_label``, ``text_label``, ``unique_labels``); Markdown through ``md_escape``.
Each escapes exactly once, for the reader of that text. Invisible characters are shown as ⟨U+200B⟩
so a zero-width joiner or a control character in a token can be seen rather than silently vanish.

What Plotly.js (3.x and 4.x, svg_text_utils.convertToTspans) does with a label string, on every path
we use: axis tick text and ticktext, hovertemplate values (%{x}, %{y}, %{customdata}, %{fullData.name}),
hovertext, scatter/bar text, legend (trace) names, annotations and titles. It splits the string at
``<…>``; its own tags (b i em s u sub sup span a, and br) format the text, any other tag is drawn
literally; the text in between gets exactly eight named entities decoded (&amp; &lt; &gt; &nbsp;
&mu; &times; &plusmn; &deg;) plus numeric ones (&#34; &#x27;) and is then set as a text node (never
as HTML). So ``&``, ``<`` and ``>`` must be escaped once and quotes must NOT be: ``&quot;`` would be
drawn as the six characters. ``plotly_shown`` replays these rules in Python (the export files use it).

One more rule: a hovertemplate is parsed for %{…} before its values are put in, but a value put in
is not parsed again. User text therefore goes in as data (x, y, customdata, name → %{fullData.name}),
never into the template string itself.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata

_VISIBLE_SPACE = {" ": "␣", "\n": "⏎", "\t": "⇥"}


def visible(text: str, show_spaces: bool = True) -> str:
    """Replace control, format and other invisible characters with visible marks (and, for
    tokens, spaces too; sentences keep their ordinary spaces with ``show_spaces=False``)."""
    out = []
    for char in text:
        if char == " " and not show_spaces:
            out.append(char)
        elif char in _VISIBLE_SPACE:
            out.append(_VISIBLE_SPACE[char])
        elif unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp", "Zs"):
            out.append(f"⟨U+{ord(char):04X}⟩")
        else:
            out.append(char)
    return "".join(out)


def html_escape(text: str) -> str:
    """For HTML we build ourselves (st.html): text and quoted attribute values, so quotes too."""
    return html.escape(text, quote=True)


def plotly_escape(text: str) -> str:
    """For a Plotly label: ``&``, ``<``, ``>`` as &amp; &lt; &gt; (which Plotly decodes), quotes as they are
    (Plotly does not decode &quot;, and draws its text as text nodes, so a quote needs no escaping)."""
    return html.escape(text, quote=False)


_PLOTLY_ENTITIES = {"mu": "μ", "amp": "&", "lt": "<", "gt": ">", "nbsp": "\xa0", "times": "×", "plusmn": "±", "deg": "°"}
_PLOTLY_ENTITY = re.compile(r"&(#[0-9]+|#x[0-9a-fA-F]+|[a-z]+);")
_PLOTLY_SPLIT = re.compile(r"(<[^<>]*>)")
_PLOTLY_TAG = re.compile(r"<(/?)([^ >]*)(\s+(.*))?>", re.IGNORECASE)
_PLOTLY_STYLE_TAGS = {"sup", "sub", "s", "u", "b", "i", "a", "span", "em"}
_NEWLINES = re.compile(r"\r\n?|\n")


def _plotly_entity(match: re.Match) -> str:
    name = match.group(1)
    if name.startswith("#"):
        code = int(name[2:], 16) if name[1] == "x" else int(name[1:])
        # Plotly keeps the raw text above U+10FFFF; so do we for lone surrogates (no file could hold them)
        return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else match.group(0)
    return _PLOTLY_ENTITIES.get(name, match.group(0))


def plotly_shown(label: str, *, keep_newlines: bool = False) -> str:
    """The text Plotly.js draws for the label string ``label`` (its convertToTspans, replayed): newlines and
    <br> become spaces (Plotly starts a new line at <br>), its formatting tags are dropped, any other tag
    stays as text, and its few entities are decoded, once. ``keep_newlines`` keeps raw newlines (data files)."""
    if not keep_newlines:
        label = _NEWLINES.sub(" ", label)
    out = []
    for part in _PLOTLY_SPLIT.split(label):
        tag = _PLOTLY_TAG.fullmatch(part) if part.startswith("<") else None
        name = tag.group(2).lower() if tag else None
        if name == "br":
            out.append(" ")
        elif name in _PLOTLY_STYLE_TAGS:
            continue
        else:
            out.append(_PLOTLY_ENTITY.sub(_plotly_entity, part))
    return "".join(out)


def token_label(token: str) -> str:
    """A token as a figure label: visible and escaped once for Plotly (``plotly_shown`` gives back the token)."""
    return plotly_escape(visible(token))


def text_label(text: str, limit: int = 60) -> str:
    """A sentence as a figure label: ordinary spaces kept, invisible characters shown, escaped, shortened."""
    shown = visible(text, show_spaces=False)
    return plotly_escape(shown if len(shown) <= limit else shown[: limit - 1] + "…")


def unique_labels(tokens) -> list[str]:
    """Plotly merges equal category labels; number repeated tokens so each keeps its own row."""
    labels = [token_label(t) for t in tokens]
    seen: dict[str, int] = {}
    out = []
    for index, label in enumerate(labels):
        count = seen.get(label, 0)
        seen[label] = count + 1
        out.append(f"{label} ({index})" if labels.count(label) > 1 else label)
    return out


# "&" too: Streamlit's Markdown decodes entities (a typed "&lt;" would show as "<"); "\&" is a CommonMark escape.
_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|<>~$:&")


# Streamlit's Markdown turns bare URLs, www. names and e-mail addresses into links even when every
# character is escaped; an invisible word joiner (U+2060) inside the pattern keeps them plain text.
_AUTOLINKS = (
    (re.compile(r"(\\:)(?=//)"), "\\1\u2060"),                  # scheme://
    (re.compile(r"(?i)(www)(?=\\\.)"), "\\1\u2060"),             # www.
    (re.compile(r"@"), "\u2060@"),                                 # name@host
)


def md_escape(text: str) -> str:
    """Escape Markdown (and Streamlit's :color[] / $LaTeX$, and its autolinks) so user text in
    st.markdown, st.error and friends stays literal."""
    escaped = "".join("\\" + char if char in _MARKDOWN_SPECIAL else char for char in visible(text.replace("\n", " "), show_spaces=False))
    for pattern, replacement in _AUTOLINKS:
        escaped = pattern.sub(replacement, escaped)
    return escaped


def signed_number(value: float, decimals: int = 4, *, plus: bool = False) -> str:
    """``value`` to ``decimals`` places for a metric or a title, never as "-0.0000": a value that rounds to zero
    (a cosine of −3.7e-05) prints as "0.0000", with no sign. Fixed decimals rather than scientific notation, so
    the number reads like its neighbours and says what it is to the precision shown. ``plus`` marks positive
    values with + (a change); NaN and infinities print as Python prints them."""
    text = f"{value:+.{decimals}f}" if plus and math.isfinite(value) else f"{value:.{decimals}f}"
    return f"{0.0:.{decimals}f}" if text.lstrip("+-") == f"{0.0:.{decimals}f}" else text


def zero_unsigned(value):
    """A rounded number or array for a table, with −0.0 turned into 0.0 (a table would print "-0" for a
    cosine of −3.7e-05 rounded to 4 places). Adding 0.0 does it: −0.0 + 0.0 is +0.0 in IEEE arithmetic."""
    return value + 0.0


def e_notation_meaning(value: float) -> str:
    """What a tiny number in e-notation means, for a class: 4.4e-09 → '4.4e-09 means 0.0000000044'."""
    value = float(value)
    if value == 0:
        return "0 means exactly equal"
    shown = f"{value:.1e}"
    mantissa, exponent = shown.split("e")
    if int(exponent) >= -1:
        return f"{shown} means {value:g}"
    decimals = -int(exponent) + len(mantissa.replace("-", "").replace(".", "")) - 1
    return f"{shown} means {value:.{decimals}f}"


def gap_number(value: float, digits: int = 1) -> str:
    """A tiny difference for a metric, in e-notation as its neighbours (3.7e-08), but an exact zero as "0",
    not "0.0e+00" (which a student reads as a code, not as "no difference at all")."""
    value = float(value)
    return "0" if value == 0 else f"{value:.{digits}e}"
