"""Small page elements used everywhere: the stage header, shape lines, truncation notices."""

from __future__ import annotations

import logging

import streamlit as st

from core.trace.tracer import Trace

from .labels import md_escape


def stage_header(title: str, explanation: str, shapes: str | None = None) -> None:
    st.title(title)
    st.markdown(explanation)
    if shapes:
        st.info(shapes)


def truncation_notice(trace: Trace, whose: str = "Your text") -> None:
    cut = trace.tokens.truncation
    if cut.truncated:
        st.warning(
            f"{whose} needs {cut.total_tokens:,} tokens but {md_escape(trace.model.model_id)} reads at most "
            f"{cut.max_length:,}: the last {cut.dropped_count:,} tokens were dropped and are not in any "
            "number below. (Most pipelines cut this silently.)"
        )


def _last_tokens(count: int) -> str:
    return "last token" if count == 1 else f"last {count:,} tokens"


def window_warning(budget, model_id: str, noun: str = "sentence", shown: int = 6) -> None:
    """Warn when texts of ``budget`` (a core.text.budget.CorpusBudget, one per text of the page's
    list, in order) are longer than the model's window: how many, which (their numbers in the
    list) and how many tokens each loses."""
    cut = budget.truncated_indices
    if not cut:
        return
    total = len(budget.texts)
    losses = [f"the {_last_tokens(budget.texts[i].dropped_tokens)} of {noun} {i + 1}" for i in cut[:shown]]
    if len(cut) > shown:
        rest = [budget.texts[i].dropped_tokens for i in cut[shown:]]
        losses.append(f"the ends of {len(rest):,} more {noun}s (up to {max(rest):,} tokens each)")
    listed = losses[0] if len(losses) == 1 else ", ".join(losses[:-1]) + " and " + losses[-1]
    numbers = [f"{i + 1}" for i in cut[:shown]] + ([f"{len(cut) - shown:,} more"] if len(cut) > shown else [])
    which = (f"{noun.capitalize()} {cut[0] + 1} of the {total:,} is" if len(cut) == 1 else
             f"{noun.capitalize()}s {', '.join(numbers[:-1])} and {numbers[-1]} ({len(cut):,} of the {total:,}) are")
    st.warning(
        f"{which} longer than {md_escape(model_id)}'s {budget.max_length:,}-token window: the model never sees "
        f"{listed}. Every number computed from {'it' if len(cut) == 1 else 'them'} comes from the first "
        f"{budget.max_length:,} tokens only. "
        "(Most pipelines cut this silently.)"
    )


def window_caption(item, text: str, name: str) -> None:
    """One caption for one shown text that the window cuts (``item``: its core.text.budget.TextBudget)."""
    if not item.truncated:
        return
    tail = text[item.cut_at_char:].strip()
    start = tail[:40] + ("…" if len(tail) > 40 else "")
    st.caption(
        f"{md_escape(name)} needs {item.n_tokens:,} tokens, over the model's {item.max_length:,}-token window: "
        f"the model never sees its {_last_tokens(item.dropped_tokens)}, from “{md_escape(start)}” on."
    )


def model_caption(trace: Trace) -> None:
    info = trace.model
    st.caption(
        f"Model: {md_escape(info.model_id)} ({info.family}, {info.n_layers} layers, {info.n_heads} heads, d={info.d_model}) · "
        f"device: {info.device}"
    )


def page_failed(error: Exception) -> None:
    """A bug inside one page: say so in plain words, log the details for whoever runs the server,
    and leave the sidebar, the other pages and everything the user typed as they were."""
    logging.getLogger("explorer.pages").exception("a page failed")
    st.error(
        f"This page hit an unexpected problem ({type(error).__name__}) and stopped drawing. Your text and "
        "settings are kept and the other pages still work; try another page, or change the input and come back. "
        "Whoever runs this server can find the details in its log."
    )
