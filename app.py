"""Embedding Explorer: the entrypoint is a thin frame around st.navigation.

The shared controls (text, model, device) are drawn here so they survive page switches;
each page in pages/ draws one stage from the core trace.
"""

import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import streamlit as st  # noqa: E402

from ui import page_list, startup  # noqa: E402  (light: no torch until the warm-up has imported it)

st.set_page_config(page_title="Embedding Explorer", page_icon="🔬", layout="wide")

PAGES: dict[str, list] = {}  # section → st.Page, built from the one page list (ui/page_list.py)
for entry in page_list.PAGES:
    PAGES.setdefault(entry.section, []).append(st.Page(entry.path, title=entry.title, icon=entry.icon,
                                                       default=entry.path == page_list.HOME))
PATH_BY_TITLE = page_list.path_by_title()

navigation = st.navigation(PAGES)
if not startup.finished():  # a fresh server: answer at once, say what it is waiting for, go on when warm
    waiting = st.empty()
    startup.wait(on_stage=lambda stage, seconds: waiting.markdown(
        f"<div class='ee-starting'>Starting the explorer: {stage}… ({seconds} s)</div>", unsafe_allow_html=True))
    waiting.empty()

from core.models.loading import quiet_transformers_logging  # noqa: E402
from core.models.memory import return_freed_memory  # noqa: E402
from ui import classroom, state  # noqa: E402
from ui.hosting import memory_notice  # noqa: E402

quiet_transformers_logging()  # the host's choice, made here: loading a model never changes logger levels
state.mark_frame()
classroom.read_link()
state.sidebar()  # first: it restores the widgets a page switch dropped (the presentation toggle among them)
classroom.presentation_style()
with st.sidebar:
    classroom.presentation_toggle()
classroom.presentation_bar([page for section in PAGES.values() for page in section], PATH_BY_TITLE.get(navigation.title, ""))
classroom.tour_bar(PATH_BY_TITLE.get(navigation.title, ""))
try:
    navigation.run()
except Exception as error:  # noqa: BLE001 - one page's bug must not take the frame down (reruns/stops are BaseException)
    from ui.common import page_failed

    page_failed(error)
classroom.write_link()
memory_notice()
return_freed_memory()  # this run's transient buffers (a long trace, a training copy) back to the OS
