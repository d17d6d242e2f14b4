"""The app's shared controls (model, device, text) and its caches.

The controls live in the entrypoint's sidebar so they survive page switches. Models are
cached once per process (``st.cache_resource``) and shared by every session; traces are
cached by (model, device, text) as shared read-only objects, bounded by count, bytes and age. Nothing here is
per-process mutable state of a session: each session's choices live in its own
``st.session_state``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from core import BUNDLED_MODEL_ID, ExplorerError, available_devices, load_model, trace_text
from core.hosting.model_access import check_model_request, model_key
from core.models.explorer_model import ExplorerModel
from core.trace.tracer import Trace

from . import hosting
from .labels import md_escape
from .progress_cache import ProgressCache

DEFAULT_TEXT = "The cat sat unhappily"
MODEL_KEY = "model_id"           # the model this session successfully loaded
DEVICE_KEY = "device"
TEXT_KEY = "text"
MODEL_FIELD_KEY = "model_field"  # what the user typed in the model box (may be wrong)
MODEL_ERROR_KEY = "model_error"
# The second model ("Compare with…"): the same checks and cache as the first; an empty field means none.
COMPARE_KEY = "compare_model_id"      # the second model this session loaded ("" = no comparison)
COMPARE_FIELD_KEY = "compare_field"   # what the user typed in the "Compare with…" box
COMPARE_ERROR_KEY = "compare_error"

EXAMPLE_MODELS = [
    BUNDLED_MODEL_ID,
    "sentence-transformers/all-mpnet-base-v2",
    "bert-base-uncased",
    "gpt2",
    "answerdotai/ModernBERT-base",
    "Qwen/Qwen3-Embedding-0.6B",
]


# Models count against the memory budget (their float32 weights) but are never dropped by it: at most
# three, each under the host's size cap.
_MODELS = ProgressCache(max_entries=3, name="models", pinned=True,
                        size_of=lambda model: 4 * int(model.info.parameter_count or 0))


def cached_model(model_id: str, device: str) -> ExplorerModel:
    """One loaded model per (id, device) for the whole process, shared by all sessions. Folders are
    kept under their absolute path (``model_key``), so an id that reads as a hub id loads from the hub
    only: a visitor's 'owner/name' can never pick up a folder of that name on the server."""
    return _MODELS.get_or_compute((model_id, device), lambda: load_model(model_id, device,
                                                                         allow_folders=Path(model_id).is_absolute()))


# Traces are shared, not copied: a hit hands every session the same read-only Trace (st.cache_data
# would unpickle a fresh ~50 MB copy on every rerun at 256 tokens). Bounded by count, by bytes
# (Trace.nbytes: a 256-token trace of the bundled model holds ~50 MB) and by age.
TRACE_CACHE_ENTRIES = 8
TRACE_CACHE_BYTES = 256 * 2**20
_TRACES = ProgressCache(max_entries=TRACE_CACHE_ENTRIES, max_bytes=TRACE_CACHE_BYTES, ttl_seconds=3600, name="traces",
                        size_of=lambda trace: trace.nbytes)


def cached_trace(model_id: str, device: str, text: str) -> Trace:
    return _TRACES.get_or_compute((model_id, device, text), lambda: trace_text(cached_model(model_id, device), text))


_FRAME = threading.local()  # Streamlit runs every script run in a fresh thread: this is per run


def mark_frame() -> None:
    """Called by app.py on every run, before the page runs."""
    _FRAME.active = True


def ensure_navigation_frame() -> None:
    """Make sure this run went through app.py's st.navigation, not Streamlit's legacy pages/ mode.

    With a pages/ folder beside app.py, a fresh server starts in Streamlit's v1 multipage mode
    until a run calls st.navigation; if the first request is a deep link (/pooling), the page
    file runs alone, without the sidebar or the session's model. Switch the process to v2 (as
    st.navigation would) and rerun: the same URL then goes through app.py.
    """
    if getattr(_FRAME, "active", False):
        return
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False  # what st.navigation itself does on its first call
    reruns = st.session_state.get("_frame_reruns", 0)
    if reruns < 2:
        st.session_state["_frame_reruns"] = reruns + 1
        st.rerun()
    st.error("Open the app from its start page (the address without a page name).")
    st.stop()


# Streamlit drops a widget's value from session state when a run switches pages from inside the frame
# (st.switch_page in the guided tour); plain keys survive. Each run keeps a plain copy of the sidebar's
# widgets and restores it when the widget's own key has gone.
_KEPT = {TEXT_KEY: "_kept_text", MODEL_FIELD_KEY: "_kept_model_field", DEVICE_KEY: "_kept_device",
         COMPARE_FIELD_KEY: "_kept_compare_field", "present": "_kept_present"}  # present: the presentation toggle


def _restore_kept_widgets() -> None:
    for key, copy_key in _KEPT.items():
        if key not in st.session_state and copy_key in st.session_state:
            st.session_state[key] = st.session_state[copy_key]


def _keep_widgets() -> None:
    for key, copy_key in _KEPT.items():
        if key in st.session_state:
            st.session_state[copy_key] = st.session_state[key]


def _init_state() -> None:
    _restore_kept_widgets()
    st.session_state.setdefault(MODEL_KEY, BUNDLED_MODEL_ID)
    st.session_state.setdefault(MODEL_FIELD_KEY, st.session_state[MODEL_KEY])
    st.session_state.setdefault(DEVICE_KEY, "auto")
    st.session_state.setdefault(TEXT_KEY, DEFAULT_TEXT)
    st.session_state.setdefault(COMPARE_KEY, "")
    st.session_state.setdefault(COMPARE_FIELD_KEY, st.session_state[COMPARE_KEY])


@dataclass(frozen=True)
class _ModelSlot:
    """Where one of the session's two models keeps its choice, its field and its last failure."""
    model_key: str
    field_key: str
    error_key: str
    failed_key: str
    optional: bool  # an empty field means "none" (the second model) rather than the bundled model


_MAIN = _ModelSlot(MODEL_KEY, MODEL_FIELD_KEY, MODEL_ERROR_KEY, "_model_failed", optional=False)
_COMPARE = _ModelSlot(COMPARE_KEY, COMPARE_FIELD_KEY, COMPARE_ERROR_KEY, "_compare_failed", optional=True)


def _switch_model_if_asked(slot: _ModelSlot = _MAIN) -> None:
    """Load what the model box (or a link) asks for, if this session may; switch only if it loads, else
    keep the old model and say why."""
    requested = (st.session_state.get(slot.field_key) or "").strip() or ("" if slot.optional else BUNDLED_MODEL_ID)
    if slot.optional and not requested:
        st.session_state[slot.model_key] = ""
    if requested == st.session_state[slot.model_key]:  # back to the model in use: an old error no longer applies
        st.session_state.pop(slot.error_key, None)
        st.session_state.pop(slot.failed_key, None)
        return
    if requested == st.session_state.get(slot.failed_key):
        return
    access = hosting.model_access()
    try:
        model_id = check_model_request(requested, access)
        if access.folders or model_id in access.listed:
            model_id = model_key(model_id)  # a folder by its absolute path
        if model_id == st.session_state[slot.model_key]:
            st.session_state.pop(slot.error_key, None)
            st.session_state.pop(slot.failed_key, None)
            return
        with st.spinner(f"Loading {requested}…"):
            cached_model(model_id, st.session_state[DEVICE_KEY])
    except Exception as error:  # noqa: BLE001 - no stack trace reaches a user
        message = str(error) if isinstance(error, ExplorerError) else f"Could not load '{requested}': {type(error).__name__}: {str(error)[:300]}"
        st.session_state[slot.error_key] = message
        st.session_state[slot.failed_key] = requested  # don't retry a failing id on every rerun
        return
    st.session_state[slot.model_key] = model_id
    st.session_state.pop(slot.error_key, None)
    st.session_state.pop(slot.failed_key, None)


def sidebar() -> None:
    """Draw the shared controls; called by the entrypoint before the page runs."""
    ensure_navigation_frame()
    _init_state()
    with st.sidebar:
        st.text_area(
            "Your text",
            key=TEXT_KEY,
            height=110,
            max_chars=200_000,
            help="Every page traces this text through the model. Press Ctrl+Enter (or click away) to apply.",
        )
        problem = hosting.settings_problem()
        if problem:
            st.warning(md_escape(problem), icon=":material/settings_alert:")
        access = hosting.model_access()
        with st.expander("Model and device", expanded=False):
            if access.folders:
                label, help_text = "Model (Hugging Face id or local folder)", (
                    "The bundled all-MiniLM-L6-v2 works offline. Other ids load through transformers' "
                    "from_pretrained when this machine can reach the hub or has them cached. Examples: "
                    + ", ".join(EXAMPLE_MODELS[1:]))
            else:
                label = "Model (Hugging Face id)" if access.hub_ids else "Model"
                help_text = ("The host of this server decides which models load: " + ", ".join(access.offered)
                             + (", or any Hugging Face id." if access.hub_ids else "."))
            st.text_input(label, key=MODEL_FIELD_KEY, help=help_text)
            if access.visitor and len(access.offered) > 1:
                st.caption("Offered here: " + ", ".join(md_escape(name) for name in access.offered))
            elif not access.visitor:
                st.caption("Offline here: " + ", ".join(md_escape(name) for name in offline_model_ids()))
            _switch_model_if_asked()
            if st.session_state.get(MODEL_ERROR_KEY) and st.session_state.get("_model_failed"):
                st.error(md_escape(st.session_state[MODEL_ERROR_KEY]) + f"\n\nStill using {md_escape(st.session_state[MODEL_KEY])}.")
            st.text_input("Compare with… (a second model)", key=COMPARE_FIELD_KEY, placeholder="none",
                          help="A second model shown beside the first on every page where it means something. "
                               + compare_help(access))
            _offline_quick_picks(access)
            _switch_model_if_asked(_COMPARE)
            if st.session_state.get(COMPARE_ERROR_KEY) and st.session_state.get("_compare_failed"):
                kept = st.session_state[COMPARE_KEY]
                st.error(md_escape(st.session_state[COMPARE_ERROR_KEY])
                         + (f"\n\nStill comparing with {md_escape(kept)}." if kept else ""))
            devices = ["auto", *available_devices()]
            st.selectbox("Device", devices, key=DEVICE_KEY, help="auto picks CUDA, then Apple MPS, then the CPU.")
        _keep_widgets()
        _trace_download()


def current_model() -> ExplorerModel | None:
    """The session's model, or None after showing why it could not load."""
    ensure_navigation_frame()
    _init_state()
    try:
        with st.spinner("Loading the model (first time only)…"):
            return cached_model(st.session_state[MODEL_KEY], st.session_state[DEVICE_KEY])
    except ExplorerError as error:
        st.error(md_escape(str(error)))
    except Exception as error:  # noqa: BLE001
        st.error(f"The model could not be loaded: {type(error).__name__}: {md_escape(str(error)[:300])}")
    return None


def _offline_quick_picks(access) -> None:
    """One click to compare with a model that loads here without the hub (the untrained twin, mpnet when
    its packages are installed); for the person at the server, how to install the others."""
    from core.models.offline_models import offline_choices

    from .callbacks import set_values

    for choice in offline_choices():
        if choice.installed and (not access.visitor or choice.model_id in access.offered):
            st.button(f"Compare with {choice.label}", key=f"compare_pick_{choice.model_id}", type="tertiary",
                      help=choice.description, on_click=set_values, args=({COMPARE_FIELD_KEY: choice.model_id},),
                      disabled=st.session_state.get(COMPARE_KEY) == choice.model_id)
        elif not choice.installed and not access.visitor:
            st.caption(f"{md_escape(choice.label)}: not installed here ({md_escape(choice.install_hint)}).")


def offline_model_ids() -> list[str]:
    """The models that load on this machine without the hub: the bundled one, then the installed offline ones."""
    from core.models.offline_models import offline_choices

    return [BUNDLED_MODEL_ID, *(choice.model_id for choice in offline_choices() if choice.installed)]


def compare_help(access) -> str:
    """What the "Compare with…" box takes here, in words."""
    from core.models.offline_models import offline_choices

    offline = [choice.model_id for choice in offline_choices() if choice.installed]
    if access.folders:
        accepted = "a Hugging Face id or a local folder"
    elif access.hub_ids:
        accepted = "a Hugging Face id or " + ", ".join(access.offered)
    else:
        accepted = ", ".join(access.offered)
    return f"Type {accepted}" + (f"; offline here: {', '.join(offline)}" if offline else "") + ". Empty: no comparison."


def compare_model() -> ExplorerModel | None:
    """The session's second model, or None when it compares with nothing (or the model failed: then
    the sidebar has said why)."""
    model_id = st.session_state.get(COMPARE_KEY) or ""
    if not model_id:
        return None
    try:
        with st.spinner(f"Loading {model_id} (first time only)…"):
            return cached_model(model_id, st.session_state[DEVICE_KEY])
    except Exception as error:  # noqa: BLE001 - no stack trace reaches a user
        st.warning(f"The model to compare with could not be loaded: {md_escape(str(error)[:300])}")
    return None


def compare_trace(text: str | None = None) -> Trace | None:
    """The same text (the session's, unless ``text``) traced through the second model, or None."""
    model = compare_model()
    if model is None:
        return None
    text = st.session_state.get(TEXT_KEY, "") if text is None else text
    try:
        with st.spinner(f"Tracing the text through {st.session_state[COMPARE_KEY]}…"):
            return cached_trace(st.session_state[COMPARE_KEY], st.session_state[DEVICE_KEY], text)
    except ExplorerError as error:
        st.warning(f"{md_escape(st.session_state[COMPARE_KEY])}: {md_escape(str(error))}")
    except Exception as error:  # noqa: BLE001
        st.error(f"Tracing through the second model failed: {type(error).__name__}: {md_escape(str(error)[:300])}")
    return None


def current_trace() -> Trace | None:
    """The trace of the session's text through its model, or None after showing why not."""
    model = current_model()
    if model is None:
        return None
    text = st.session_state.get(TEXT_KEY, "")
    try:
        with st.spinner("Tracing the text through the model…"):
            trace = cached_trace(st.session_state[MODEL_KEY], st.session_state[DEVICE_KEY], text)
        if trace.device_note:
            st.warning(trace.device_note, icon=":material/memory:")
        return trace
    except ExplorerError as error:
        st.warning(md_escape(str(error)))
    except Exception as error:  # noqa: BLE001
        st.error(f"Tracing failed: {type(error).__name__}: {md_escape(str(error)[:300])}")
    return None


def clamp_choice(key: str, size: int, default: int = 0) -> None:
    """Keep a stored index choice (layer, head, token) valid when the text or the model changes;
    call before its widget is drawn."""
    value = st.session_state.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < size:
        st.session_state[key] = max(0, min(default, size - 1))


def _trace_download() -> None:
    """Every stage of the current text as one .npz, built only when the visitor clicks."""
    from core.trace.export import trace_npz_bytes
    from core.text.tokenization import validate_text

    model_id, device, text = st.session_state[MODEL_KEY], st.session_state[DEVICE_KEY], st.session_state.get(TEXT_KEY, "")
    try:
        validate_text(text)
    except ExplorerError:
        return
    st.download_button(
        "Download the trace (.npz)",
        data=lambda: trace_npz_bytes(cached_trace(model_id, device, text)),
        file_name="trace.npz",
        mime="application/octet-stream",
        key="trace_download",
        help="input_ids, tokens, hidden_states [L+1,T,d], attentions [L,H,T,T], scores, FFN activations, pooled vectors… "
        "(numpy.load reads it).",
    )
