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
