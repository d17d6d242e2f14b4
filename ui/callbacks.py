"""Widget callbacks, defined once here rather than in the pages.

Streamlit runs every page file in a fresh module each run, and keeps a widget's callback until the
widget is drawn again: a function or lambda defined in a page would keep that whole run's globals
alive (its trace, its figures) while the visitor is on other pages. Callbacks defined here hold
nothing but their arguments. (tests/test_layering.py checks that pages define none.)
"""

from __future__ import annotations

import streamlit as st


def forget(key: str) -> None:
    """Drop ``key`` from the session (a Stop button: the request it names is withdrawn)."""
    st.session_state.pop(key, None)


def set_values(values: dict) -> None:
    """Set session values (runs before the script, so it may set a widget's value)."""
    for key, value in values.items():
        st.session_state[key] = value


def open_head_from_overview() -> None:
    """The heads overview's selection: open the clicked (layer, head) in the attention page's pickers."""
    from .attention_views import head_from_selection

    picked = head_from_selection(st.session_state.get("attn_overview"))
    if picked is not None:  # out-of-range values are reset by state.clamp_choice before the selectboxes are drawn
        st.session_state["attn_layer"], st.session_state["attn_head"] = picked
