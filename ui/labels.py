"""Text from users, made safe and visible for display.

Streamlit widgets and st.text/st.code render text as text. Anything we build as HTML
(token chips) or hand to Plotly (which understands a few tags in labels) goes through
``html_escape``; invisible characters are shown as ⟨U+200B⟩ so a zero-width joiner or a
control character in a token can be seen rather than silently vanish.
"""

from __future__ import annotations

import html
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
    return html.escape(text, quote=True)


def token_label(token: str) -> str:
    """A token as a figure label: visible and escaped (Plotly reads <b>, <br>, <a> in labels)."""
    return html_escape(visible(token))


def text_label(text: str, limit: int = 60) -> str:
    """A sentence as a figure label: ordinary spaces kept, invisible characters shown, escaped, shortened."""
    shown = visible(text, show_spaces=False)
    return html_escape(shown if len(shown) <= limit else shown[: limit - 1] + "…")


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


_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|<>~$:")


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
