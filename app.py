"""Embedding Explorer: the entrypoint is a thin frame around st.navigation.

The shared controls (text, model, device) are drawn here so they survive page switches;
each page in pages/ draws one stage from the core trace.
"""

import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), ".cache", "numba"))

import streamlit as st  # noqa: E402

from ui import classroom, state  # noqa: E402

st.set_page_config(page_title="Embedding Explorer", page_icon="🔬", layout="wide")

# (section, file, title, icon); the file path also names the page in the guided tour.
PAGE_LIST = [
    ("Start", "pages/home.py", "Overview: one text, traced", ":material/home:"),
    ("Stages", "pages/tokenization.py", "1 · Tokenization", ":material/content_cut:"),
    ("Stages", "pages/embedding_lookup.py", "2 · Embedding lookup", ":material/menu_book:"),
    ("Stages", "pages/positional_encoding.py", "3 · Positional encoding", ":material/format_list_numbered:"),
    ("Stages", "pages/attention.py", "4 · Attention", ":material/visibility:"),
    ("Stages", "pages/feed_forward.py", "5 · Feed-forward", ":material/hub:"),
    ("Stages", "pages/pooling.py", "6 · Pooling and similarity", ":material/join:"),
    ("Explore", "pages/pipeline.py", "All together: end to end", ":material/route:"),
    ("Explore", "pages/projections.py", "Projections", ":material/scatter_plot:"),
    ("Explore", "pages/contrastive.py", "Training: contrastive learning", ":material/model_training:"),
]

PAGES: dict[str, list] = {}
for section, path, title, icon in PAGE_LIST:
    PAGES.setdefault(section, []).append(st.Page(path, title=title, icon=icon, default=path == "pages/home.py"))
PATH_BY_TITLE = {title: path for _, path, title, _ in PAGE_LIST}

navigation = st.navigation(PAGES)
state.mark_frame()
classroom.read_link()
classroom.presentation_style()
state.sidebar()
with st.sidebar:
    classroom.presentation_toggle()
classroom.presentation_bar([page for section in PAGES.values() for page in section])
classroom.tour_bar(PATH_BY_TITLE.get(navigation.title, ""))
try:
    navigation.run()
except Exception as error:  # noqa: BLE001 - one page's bug must not take the frame down (reruns/stops are BaseException)
    from ui.common import page_failed

    page_failed(error)
classroom.write_link()
