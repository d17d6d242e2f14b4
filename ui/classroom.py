"""Classroom mode: shareable links, a guided tour through the stages, and a presentation layout.

A link carries the page (its URL path), the text, the model (and the one compared with it), and the page's main choices
(layer, head, pooling, projection method) as query parameters. The first run of a session
reads them into its own session state; every run writes the current ones back, so the
address bar is always a link to exactly this view.
"""

from __future__ import annotations

import streamlit as st

from . import state
from .page_list import tour_pages

MAX_TEXT_IN_URL = 2_000
# query parameter → session key; ints are validated against the model by the pages that use them
SHARED_KEYS = {
    "text": state.TEXT_KEY,
    "layer": "attn_layer",
    "head": "attn_head",
    "from": "attn_search_from",     # the attention page's head search: query token,
    "to": "attn_search_to",         # and the key token it looks at (positions, counted from 1)
    "ffn_layer": "ffn_layer",
    "pooling": "pool_pair_pooling",
    "method": "proj_method",
    "query": "rt_query",            # the retrieval debugger's query,
    "corpus": "rt_corpus",          # its corpus choice ("stsb", "docstrings", "pasted", "upload"),
    "passages": "rt_pasted",        # the pasted passages (only with corpus=pasted, and only when they fit),
    "expected": "rt_expected",      # and the passage the visitor expected
}
INT_KEYS = {"layer", "head", "ffn_layer", "expected", "from", "to"}  # counted from 1 in links, as the pages show them ("layer 3 of 6")
MAX_INT_IN_URL = 20_000  # the largest number a link may carry (a passage of the largest corpus the retrieval page takes)
ONLY_WITH = {"passages": ("corpus", "pasted")}  # a parameter written only while another one has this value
TOUR = [(page.path, page.tour_title, page.tour_note) for page in tour_pages()]  # (path, title, note) per step


def read_link() -> None:
    """On a session's first run, adopt the view a shared link describes."""
    if st.session_state.get("_link_read"):
        return
    st.session_state["_link_read"] = True
    params = st.query_params
    for name, key in SHARED_KEYS.items():
        value = params.get(name)
        if value is None:
            continue
        if name in INT_KEYS:
            if value.isdigit() and 1 <= int(value) <= MAX_INT_IN_URL:
                st.session_state[key] = int(value) - 1
        elif len(value) <= 200_000:
            st.session_state[key] = value
    model = params.get("model")
    if model:
        st.session_state[state.MODEL_FIELD_KEY] = model  # loads through the sidebar's checks
    compare = params.get("compare")
    if compare:
        st.session_state[state.COMPARE_FIELD_KEY] = compare  # the same checks, for the second model
    if params.get("present") == "1":
        st.session_state["present"] = True
    if params.get("tour", "").isdigit():
        st.session_state["tour_on"] = True


def write_link() -> None:
    """Keep the address bar a link to this view."""
    wanted: dict[str, str] = {}
    text = st.session_state.get(state.TEXT_KEY, "")
    if text and len(text) <= MAX_TEXT_IN_URL:
        wanted["text"] = text
    elif len(text) > MAX_TEXT_IN_URL:
        st.sidebar.caption(f"This text is longer than {MAX_TEXT_IN_URL:,} characters, too long for the address bar: "
                           "a copied link opens with the default text.")
    if st.session_state.get(state.MODEL_KEY) and st.session_state[state.MODEL_KEY] != state.BUNDLED_MODEL_ID:
        wanted["model"] = st.session_state[state.MODEL_KEY]
    if st.session_state.get(state.COMPARE_KEY):
        wanted["compare"] = st.session_state[state.COMPARE_KEY]
    for name, key in SHARED_KEYS.items():
        if name != "text" and key in st.session_state and st.session_state[key] is not None:
            value = st.session_state[key]
            if isinstance(value, str) and len(value) > MAX_TEXT_IN_URL:
                continue  # too long for the address bar: a copied link opens with the page's default
            wanted[name] = str(value + 1) if name in INT_KEYS and isinstance(value, int) else str(value)
    for name, (other, value) in ONLY_WITH.items():
        if wanted.get(other) != value:
            wanted.pop(name, None)
    if st.session_state.get("present"):
        wanted["present"] = "1"
    if st.session_state.get("tour_on"):
        wanted["tour"] = "1"
    current = {k: st.query_params.get(k) for k in st.query_params}
    if current != wanted:
        st.query_params.from_dict(wanted)


def presentation_style() -> None:
    if st.session_state.get("present"):
        # Large type, no sidebar; metrics, page links and labels wrap instead of being cut off at 1280 px.
        st.html("<style>html{font-size:21px} .stMainBlockContainer{max-width:1200px}"
                " [data-testid='stSidebar']{display:none} h1{font-size:2.6rem!important}"
                " [data-testid='stMetricValue']{font-size:1.7rem}"
                " [data-testid='stMetricValue'], [data-testid='stMetricValue'] *, [data-testid='stMetricLabel'],"
                " [data-testid='stMetricLabel'] *, [data-testid='stPageLink'], [data-testid='stPageLink'] *, button *,"
                " [data-testid='stWidgetLabel'] *{white-space:normal!important;overflow:visible!important;"
                "text-overflow:clip!important;overflow-wrap:anywhere} button{height:auto!important}"
                # ui.tables draws short tables as HTML tables in this mode: cells at the body size
                " [data-testid='stTable'] th, [data-testid='stTable'] td{font-size:1rem!important}</style>")


def presentation_toggle() -> None:
    st.toggle("Presentation mode", key="present",
              help="Large type, no sidebar: for a projector. The bar at the top of the page leads to the other pages and out again.")


def _leave_presentation() -> None:
    st.session_state["present"] = False


def _copy_presented_text() -> None:
    st.session_state[state.TEXT_KEY] = st.session_state.get("present_text", "")


def text_box_place() -> str:
    """Where the visitor types the text, in words: the sidebar, or the bar on top in presentation mode."""
    return "the *Your text* box at the top" if st.session_state.get("present") else "the sidebar"


def presentation_bar(pages: list, current_path: str = "") -> None:
    """In presentation mode the sidebar is hidden: a small bar on top keeps the pages, the text and the way out."""
    if not st.session_state.get("present"):
        return
    # A page link navigates in the browser; the menu it sits in would stay open over the new page.
    if st.session_state.get("_present_bar_page") != current_path:
        st.session_state["_present_bar_page"] = current_path
        st.session_state["present_pages"] = False
        st.session_state["present_text_open"] = False
    if st.session_state.get("present_text") != st.session_state.get(state.TEXT_KEY):
        st.session_state["present_text"] = st.session_state.get(state.TEXT_KEY, "")
    with st.container(horizontal=True, key="present_bar"):
        with st.popover("Pages", icon=":material/menu:", key="present_pages", on_change="rerun"):
            for page in pages:
                st.page_link(page)
        with st.popover("Your text", icon=":material/edit:", key="present_text_open", on_change="rerun"):
            st.text_area("Your text", key="present_text", height=140, max_chars=200_000, on_change=_copy_presented_text,
                         help="Every page traces this text. Press Ctrl+Enter (or click away) to apply.")
        st.button("Exit presentation mode", icon=":material/close_fullscreen:", key="present_exit",
                  on_click=_leave_presentation, help="Back to the normal layout, with the sidebar.")


def _end_tour() -> None:
    st.session_state["tour_on"] = False


def tour_bar(current_path: str) -> None:
    """Back / next through the tour's pages, shown on the tour's pages while the tour is on."""
    if not st.session_state.get("tour_on"):
        return
    paths = [path for path, _, _ in TOUR]
    if current_path not in paths:
        return  # a page outside the tour: no step to show
    index = paths.index(current_path)
    _, title, note = TOUR[index]
    last = index + 1 == len(TOUR)
    with st.container(border=True, key="tour_bar"):
        st.markdown(f"**Guided tour · step {index + 1} of {len(TOUR)}: {title}{' · the end' if last else ''}**  \n{note}")
        # The same three buttons in the same places on every step: Back off on the first, Next off on the last.
        # The button just clicked keeps the keyboard focus across the page switch, and while a run is under way
        # the browser keeps showing a focused element that this run replaced, until the run ends. Had the last
        # step put something else where Next was, the old Next would stay on screen through the retrieval
        # page's long first run and vanish on the next mouse press, pulling End tour out from under the pointer:
        # the click was lost.
        with st.container(horizontal=True):
            if st.button("← Back", key="tour_back", disabled=index == 0):
                st.switch_page(paths[index - 1])
            if st.button("Next →", key="tour_next", type="primary", disabled=last):
                st.switch_page(paths[index + 1])
            # A callback: the tour is off before the run starts, so this very run draws no bar.
            st.button("End tour", key="tour_end", on_click=_end_tour)


def start_tour_button() -> None:
    if st.button("Start the guided tour", key="tour_start", type="primary", help="Walks your text through every stage, page by page."):
        st.session_state["tour_on"] = True
        st.switch_page(TOUR[0][0])
