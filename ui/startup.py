"""Start-up: the bundled model warms in a background thread while the first page already answers.

The first visitor of a fresh server (or, under serve.py, the server itself at start) starts one
warm-up per process: import torch and transformers, load the bundled model into the shared model
cache, trace the default text. Until it is done a page shows what it is waiting for instead of a
blank screen; serve.py's /ready answers 503 until then, 200 after. Then, unless the host turned it off
(``warm_projections``), the same thread compiles UMAP for the Projections page, and finally freezes
what is alive (``gc.freeze``) so that Streamlit's collection after every run stays cheap.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

_LOG = logging.getLogger("embedding_explorer.startup")
_LOCK = threading.Lock()
_STATE = {"stage": "not started", "error": None, "started": None, "finished": None, "projections": "not started"}
_THREAD: threading.Thread | None = None


def begin() -> None:
    """Start the warm-up, once per process (later calls do nothing)."""
    global _THREAD
    with _LOCK:
        if _THREAD is not None:
            return
        _STATE["started"] = time.monotonic()
        _STATE["stage"] = "starting"
        _THREAD = threading.Thread(target=_warm, name="explorer-warm-up", daemon=True)
        _THREAD.start()


def _warm() -> None:
    try:
        _STATE["stage"] = "importing torch and transformers"
        from core.models.loading import quiet_transformers_logging

        quiet_transformers_logging()
        from core import BUNDLED_MODEL_ID

        from . import state

        _STATE["stage"] = "loading the bundled model (all-MiniLM-L6-v2)"
        state.cached_model(BUNDLED_MODEL_ID, "auto")
        _STATE["stage"] = "tracing the default text"
        state.cached_trace(BUNDLED_MODEL_ID, "auto", state.DEFAULT_TEXT)
        _STATE["stage"] = "ready"
    except Exception as error:  # noqa: BLE001 - pages then load the model themselves and say what is wrong
        _LOG.exception("warm-up failed")
        _STATE["error"] = f"{type(error).__name__}: {str(error)[:200]}"
        _STATE["stage"] = "failed"
    finally:
        _STATE["finished"] = time.monotonic()
    if _warm_projections():
        # After "ready": pages answer meanwhile, and the first Projections visit finds UMAP compiled.
        _STATE["projections"] = "compiling UMAP"
        try:
            from core.embed.projection import warm_up

            warm_up()
            _STATE["projections"] = "ready"
        except Exception:  # noqa: BLE001 - the page compiles it on its first visit instead
            _LOG.exception("UMAP warm-up failed")
            _STATE["projections"] = "failed"
    # What is alive now (modules, the model, UMAP's compiled code) lives as long as the process:
    # freezing it keeps Streamlit's full collection after every script run from walking ~600,000
    # objects while holding the GIL (0.6-1.4 s a run before, a few ms after).
    gc.collect()
    gc.freeze()


def _warm_projections() -> bool:
    from core.hosting.settings import SettingsError, current_settings

    try:
        return current_settings().warm_projections
    except SettingsError:
        return True  # the defaults apply (the sidebar says what is wrong with the settings)


def projections_stage() -> str:
    """'not started', 'compiling UMAP' or 'ready': what the Projections page can tell a visitor."""
    return str(_STATE["projections"])


def stage() -> str:
    return str(_STATE["stage"])


def finished() -> bool:
    """The warm-up is over (ready, or failed: then the pages report the model's error themselves)."""
    return _STATE["stage"] in ("ready", "failed")


def model_ready() -> bool:
    return _STATE["stage"] == "ready"


def elapsed() -> float:
    started = _STATE["started"]
    end = _STATE["finished"] or time.monotonic()
    return 0.0 if started is None else end - started


def wait(until_finished: float = 300.0, on_stage=None, poll: float = 0.2) -> bool:
    """Block until the warm-up is over (or ``until_finished`` seconds), calling ``on_stage(stage, seconds)``
    whenever the stage changes and every second; True when it finished."""
    begin()
    deadline = time.monotonic() + until_finished
    shown = (None, -1)
    while not finished() and time.monotonic() < deadline:
        now = (stage(), int(elapsed()))
        if on_stage is not None and now != shown:
            on_stage(*now)
            shown = now
        time.sleep(poll)
    return finished()
