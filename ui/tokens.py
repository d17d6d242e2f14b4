"""Token chips: the text as the model splits it, one chip per token with its id under it.

Built as HTML from escaped strings only (``labels.html_escape``), then handed to st.html,
which sanitises again, so markup typed as text can only ever show as text.
"""

from __future__ import annotations

import streamlit as st

from core.text.tokenization import TokenizedText

from .labels import html_escape, visible

CHIP_STYLE = """
<style>
.ee-chips{display:flex;flex-wrap:wrap;gap:6px;line-height:1.2;font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
.ee-chip{border:1px solid #9db4d3;background:#eef4fb;border-radius:6px;padding:3px 7px 2px;text-align:center;color:#10243e}
.ee-chip.ee-cont{border-left:3px solid #e08a00;background:#fff5e6}
.ee-chip.ee-special{background:#e8e8e8;border-color:#999;color:#444;font-style:italic}
.ee-chip.ee-dropped{opacity:.35;border-style:dashed}
.ee-chip .ee-id{display:block;font-size:.72em;color:#5b6b80;margin-top:2px}
</style>
"""


def is_continuation(token: str, word_index: int, previous_word: int) -> bool:
    """True for a token that continues the previous token's word (##ing, or a BPE piece without Ġ)."""
    if token.startswith("##"):
        return True
    return word_index >= 0 and word_index == previous_word


def chips_html(tokens: TokenizedText, *, show_ids: bool = True, title: str = "") -> str:
    parts = [CHIP_STYLE, f'<div class="ee-chips" role="list" aria-label="{html_escape(title or "tokens")}">']
    previous_word = -2
    for index, token in enumerate(tokens.tokens):
        word = int(tokens.word_ids[index])
        classes = ["ee-chip"]
        if tokens.special_mask[index]:
            classes.append("ee-special")
        elif is_continuation(token, word, previous_word):
            classes.append("ee-cont")
        start, end = (int(v) for v in tokens.offsets[index])
        hover = f"id {int(tokens.input_ids[index])} · position {index}"
        if not tokens.special_mask[index]:
            hover += f" · characters {start}–{end} · from “{visible(tokens.text[start:end])}”"
        ident = f'<span class="ee-id">{int(tokens.input_ids[index])}</span>' if show_ids else ""
        parts.append(
            f'<span class="{" ".join(classes)}" role="listitem" title="{html_escape(hover)}">'
            f'<span class="ee-tok">{html_escape(visible(token))}</span>{ident}</span>'
        )
        previous_word = word
    parts.append("</div>")
    return "".join(parts)


def show_chips(tokens: TokenizedText, *, show_ids: bool = True, title: str = "") -> None:
    st.html(chips_html(tokens, show_ids=show_ids, title=title))
