"""HTML pieces of the tokenization page: token chips that name their source word, a legend,
and a long document with the part the model never reads greyed out.

Every string from the user or the vocabulary goes through ``labels.html_escape`` before it
is placed in markup, and the result is handed to st.html (which sanitises again), so typed
markup can only ever show as text.
"""

from __future__ import annotations

import unicodedata

from core.text.tokenization import TokenizedText

from .labels import html_escape, visible
from .tokens import CHIP_STYLE, is_continuation

_EXTRA_STYLE = """
<style>
.ee-legend{display:flex;flex-wrap:wrap;gap:10px;align-items:center;font-size:.85em;color:#333;margin:2px 0 8px}
.ee-legend .ee-chip{padding:1px 6px}
.ee-doc{white-space:pre-wrap;word-break:break-word;font-size:.9em;line-height:1.45;border:1px solid #d5dbe3;
  border-radius:6px;padding:8px 10px;max-height:360px;overflow-y:auto;background:#fbfcfe;color:#10243e}
.ee-doc .ee-cut{display:inline-block;background:#c0392b;color:#fff;font-size:.8em;border-radius:4px;padding:0 5px;margin:0 3px}
.ee-doc .ee-tail{color:#9aa3ad;background:#eeeeee;text-decoration:line-through;text-decoration-color:#c9ced4}
.ee-doc .ee-skip{color:#666;font-style:italic}
.ee-more{font-size:.8em;color:#5b6b80;margin-top:4px}
</style>
"""


def legend_html(continuation_mark: str = "##") -> str:
    return CHIP_STYLE + _EXTRA_STYLE + (
        '<div class="ee-legend" aria-label="legend">'
        '<span class="ee-chip">word start</span>'
        f'<span class="ee-chip ee-cont">continuation ({html_escape(continuation_mark)})</span>'
        '<span class="ee-chip ee-special">special token</span>'
        '<span class="ee-chip ee-dropped">dropped (past the window)</span>'
        "<span>· the number under a chip is its id · hover a chip for its characters and word</span>"
        "</div>"
    )


def _word_spans(tokens: TokenizedText) -> dict[int, tuple[int, int]]:
    spans: dict[int, tuple[int, int]] = {}
    for index, word in enumerate(tokens.word_ids):
        word = int(word)
        if word < 0 or tokens.special_mask[index]:
            continue
        start, end = (int(v) for v in tokens.offsets[index])
        if word in spans:
            spans[word] = (min(spans[word][0], start), max(spans[word][1], end))
        else:
            spans[word] = (start, end)
    return spans


def chips_with_words_html(tokens: TokenizedText, *, limit: int | None = None, title: str = "tokens",
                          special_roles: dict[int, str] | None = None) -> str:
    """One chip per token (up to ``limit``): continuation pieces and special tokens marked, the id
    under each chip, and a hover with id, position, character span, the token's characters and
    the whole word it came from."""
    words = _word_spans(tokens)
    special_roles = special_roles or {}
    count = len(tokens) if limit is None else min(limit, len(tokens))
    parts = [CHIP_STYLE, _EXTRA_STYLE, f'<div class="ee-chips" role="list" aria-label="{html_escape(title)}">']
    previous_word = -2
    for index in range(count):
        token = tokens.tokens[index]
        token_id = int(tokens.input_ids[index])
        word = int(tokens.word_ids[index])
        classes = ["ee-chip"]
        if tokens.special_mask[index]:
            classes.append("ee-special")
            role = special_roles.get(token_id, "")
            role = f" ({role})" if role else ""
            hover = f"id {token_id} · position {index} · special token{role}, added by the tokenizer, not in your text"
        else:
            if is_continuation(token, word, previous_word):
                classes.append("ee-cont")
            start, end = (int(v) for v in tokens.offsets[index])
            word_start, word_end = words.get(word, (start, end))
            hover = (f"id {token_id} · position {index} · characters {start}–{end} “{visible(tokens.text[start:end])}”"
                     f" · word “{visible(tokens.text[word_start:word_end])}”")
        parts.append(
            f'<span class="{" ".join(classes)}" role="listitem" title="{html_escape(hover)}">'
            f'<span class="ee-tok">{html_escape(visible(token))}</span><span class="ee-id">{token_id}</span></span>'
        )
        previous_word = word
    parts.append("</div>")
    if count < len(tokens):
        more = len(tokens) - count
        parts.append(f'<div class="ee-more">… and {more:,} more tokens (not drawn, to keep the page light)</div>')
    return "".join(parts)


def dropped_chips_html(tokens: TokenizedText, *, before: int = 8, after: int = 12) -> str:
    """The last ``before`` tokens the model reads, then the first ``after`` it drops (greyed)."""
    cut = tokens.truncation
    kept = [(i, tokens.tokens[i], int(tokens.input_ids[i])) for i in range(len(tokens)) if not tokens.special_mask[i]][-before:]
    parts = [CHIP_STYLE, _EXTRA_STYLE, '<div class="ee-chips" role="list" aria-label="tokens around the cut">']
    for position, token, token_id in kept:
        hover = f"id {token_id} · position {position} · read by the model"
        parts.append(f'<span class="ee-chip" role="listitem" title="{html_escape(hover)}">'
                     f'<span class="ee-tok">{html_escape(visible(token))}</span><span class="ee-id">{token_id}</span></span>')
    parts.append('<span class="ee-chip ee-special" role="listitem" title="the window ends here">✂ cut</span>')
    for number, (token, token_id) in enumerate(zip(cut.dropped_tokens[:after], cut.dropped_ids[:after])):
        hover = f"id {token_id} · dropped token {number + 1} of {cut.dropped_count:,}: the model never sees it"
        parts.append(f'<span class="ee-chip ee-dropped" role="listitem" title="{html_escape(hover)}">'
                     f'<span class="ee-tok">{html_escape(visible(token))}</span><span class="ee-id">{token_id}</span></span>')
    parts.append("</div>")
    return "".join(parts)


def readable(text: str, *, keep_newlines: bool = False) -> str:
    """Text with its ordinary spaces kept but control and zero-width characters shown as ⟨U+…⟩
    (``labels.visible`` also marks every space, which suits tokens, not sentences)."""
    out = []
    for char in text:
        if char == " " or (keep_newlines and char in "\n\t"):
            out.append(char)
        elif char in "\n\t":
            out.append("⏎" if char == "\n" else "⇥")
        elif unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp", "Zs"):
            out.append(f"⟨U+{ord(char):04X}⟩")
        else:
            out.append(char)
    return "".join(out)


def _document_text(text: str) -> str:
    """Escape for HTML, keeping spaces and line breaks but showing control and zero-width characters."""
    return html_escape(readable(text, keep_newlines=True))


def truncated_document_html(text: str, cut_at_char: int, *, kept_chars: int = 1500, tail_chars: int = 2500) -> str:
    """The document with the read part in normal type and the dropped tail greyed and struck
    through, a ✂ marker at the exact cut; very long parts are shortened (and say so)."""
    kept, tail = text[:cut_at_char], text[cut_at_char:]
    parts = [CHIP_STYLE, _EXTRA_STYLE,
             '<div class="ee-doc" role="document" aria-label="your document, with the dropped tail greyed">']
    if len(kept) > kept_chars:
        parts.append(f'<span class="ee-skip">[… {len(kept) - kept_chars:,} earlier characters, all read …] </span>')
        kept = kept[-kept_chars:]
    parts.append(_document_text(kept))
    parts.append('<span class="ee-cut" title="max_seq_length ends here">✂ the model stops reading here</span>')
    shown_tail = tail[:tail_chars]
    parts.append(f'<span class="ee-tail">{_document_text(shown_tail)}</span>')
    if len(tail) > tail_chars:
        parts.append(f'<span class="ee-skip"> [… {len(tail) - tail_chars:,} more dropped characters …]</span>')
    parts.append("</div>")
    return "".join(parts)


def special_roles(special_tokens) -> dict[int, str]:
    return {item.id: item.role for item in special_tokens}



# A document long enough to overflow a 256-token window (written for this app), for the
# truncation demo when the user's own text fits.
LONG_EXAMPLE = (
    "Retrieval-augmented generation starts long before the language model sees a prompt. Documents are "
    "split into chunks, every chunk is embedded once, and the vectors are stored in an index. At query "
    "time the question is embedded with the same model and the nearest chunks are handed to the generator "
    "as context. Each of those steps has a failure mode, but the quietest one sits at the very start: the "
    "embedding model reads at most a fixed number of tokens, and everything after that limit is ignored "
    "without an error or a warning.\n\n"
    "Consider an onboarding guide for a payments API. The first paragraphs introduce authentication with "
    "OAuth 2.0 client credentials, idempotency keys for POST requests, and the difference between the "
    "sandbox and production environments. Further down, the guide explains webhook signatures, retry "
    "schedules with exponential backoff, reconciliation reports, and how disputes and chargebacks move "
    "through their lifecycle. A developer who asks how to verify a webhook signature expects the chunk "
    "that contains the answer to be found. If that chunk is a whole page, the answer may sit past the "
    "model's window: the vector then describes authentication and environments only, and the question "
    "about signatures matches something else.\n\n"
    "Sub-word tokenization makes the limit harder to see. Identifiers such as idempotency_key, "
    "x-signature-sha256, or ChargebackReversalNotification break into many pieces, numbers and URLs break "
    "into more, and non-English text often needs two or three tokens per word. A page of four hundred "
    "words can easily need six hundred tokens. Counting words therefore says little about what the model "
    "reads; counting tokens with the model's own tokenizer says exactly where the cut falls.\n\n"
    "The remedy is simple once the cut is visible: measure chunks in tokens, keep each one inside the "
    "model's max_seq_length including the special tokens, let neighbouring chunks overlap a little so a "
    "sentence cut at a boundary still appears whole in one of them, and re-check the counts whenever the "
    "embedding model changes, because a new tokenizer splits the same text differently."
)
