"""Tables on every page: Streamlit's data grid in the normal layout; in presentation mode a table
short enough for a projector is drawn as an HTML table at the page's body size instead.

The data grid paints its cells on a canvas at the theme's small size (0.875 rem), which the
presentation style sheet cannot reach, so on a projector its text stood well below the body text
beside it. An HTML table inherits the presentation style (``ui.classroom.presentation_style``).
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd
import streamlit as st

from .labels import md_escape

# Longer tables keep the scrolling grid in presentation mode too: a 200-row HTML table would push
# the rest of the page off the projector.
PRESENTATION_TABLE_ROWS = 40


def presenting() -> bool:
    return bool(st.session_state.get("present"))


def show_table(frame: pd.DataFrame, *, slot: Any = None, column_config: Mapping[str, Any] | None = None,
               **dataframe_args: Any) -> Any:
    """``slot.dataframe(frame, …)``, or in presentation mode (up to ``PRESENTATION_TABLE_ROWS`` rows)
    ``slot.table`` of the same cells, with the number formats of ``column_config`` applied and the
    index hidden where ``hide_index`` asks."""
    slot = st if slot is None else slot
    if presenting() and len(frame) <= PRESENTATION_TABLE_ROWS:
        return slot.table(_as_shown(frame, column_config or {}), hide_index=dataframe_args.get("hide_index"))
    return slot.dataframe(frame, column_config=column_config, **dataframe_args)


def _as_shown(frame: pd.DataFrame, column_config: Mapping[str, Any]):
    """A Styler of ``frame`` as the grid would show it: each column's printf format from its
    NumberColumn config, and every text cell and header Markdown-escaped once (``st.table`` reads
    cells and headers as Markdown; the grid shows them as they are)."""
    formats = {}
    for column in frame.columns:
        config = column_config.get(column)
        number_format = config.get("type_config", {}).get("format") if isinstance(config, Mapping) else None
        if number_format and number_format.startswith("%"):
            formats[column] = lambda value, fmt=number_format: "" if pd.isna(value) else fmt % value
        elif pd.api.types.is_float_dtype(frame[column]):
            formats[column] = _plain_float
        elif not pd.api.types.is_numeric_dtype(frame[column]):
            formats[column] = lambda value: md_escape(value) if isinstance(value, str) else value
    shown = frame.rename(columns=lambda name: md_escape(str(name)), index=lambda name: md_escape(name) if isinstance(name, str) else name)
    return shown.style.format({md_escape(str(column)): fmt for column, fmt in formats.items()})


def _plain_float(value: float) -> str:
    if pd.isna(value):
        return ""
    return f"{value:.6g}" if abs(value) < 1e-4 and value != 0 else f"{value:,.6f}".rstrip("0").rstrip(".")
