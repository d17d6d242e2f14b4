"""Embedding Explorer: the entrypoint is a thin frame around st.navigation.

The shared controls (text, model, device) are drawn here so they survive page switches;
each page in pages/ draws one stage from the core trace.
"""

import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), ".cache", "numba"))

import streamlit as st  # noqa: E402

from ui import state  # noqa: E402

st.set_page_config(page_title="Embedding Explorer", page_icon="🔬", layout="wide")

PAGES = {
    "Start": [
        st.Page("pages/home.py", title="Overview: one text, traced", icon="🔬", default=True),
    ],
    "Stages": [],
}

navigation = st.navigation({section: pages for section, pages in PAGES.items() if pages})
state.sidebar()
navigation.run()
