"""app.py served with a diagnostic route, for finding where a server's memory goes (not for hosts).

    streamlit run bench/memory_probe.py      # then GET /memory

/memory answers JSON: resident and anonymous memory, the memory budget's bytes per cache, the live
Streamlit sessions, and the Python objects most numerous on the heap. With PYTHONTRACEMALLOC=1 it
also lists the Python allocation sites holding the most memory.
"""

import gc
import json
import tracemalloc
from collections import Counter
from pathlib import Path

import streamlit as st
from starlette.responses import PlainTextResponse
from starlette.routing import Route

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def memory(request):
    from streamlit.runtime import get_instance

    from ui import memory_budget

    report = {
        "rss_mb": _status("VmRSS"), "anon_mb": _status("RssAnon"), "file_mb": _status("RssFile"),
        "caches_mb": {name: round(size / 2**20, 1) for name, size in memory_budget.SERVER.usage().items() if size},
        "sessions": len(get_instance()._session_mgr.list_sessions()),
        "objects": Counter(type(o).__name__ for o in gc.get_objects()).most_common(15),
    }
    from core.trace.data import Trace

    live = [o for o in gc.get_objects() if isinstance(o, Trace)]
    report["traces_alive"] = len(live)
    report["traces_alive_mb"] = round(sum(t.nbytes for t in live) / 2**20, 1)
    from ui import state

    cached = {id(v) for v in state._TRACES._values.values()}
    loose = [t for t in live if id(t) not in cached]

    def describe(obj, depth=0):
        if depth > 3:
            return []
        out = []
        for ref in gc.get_referrers(obj):
            if ref is live or ref is loose or isinstance(ref, list) and len(ref) > 50:
                continue
            name = type(ref).__name__
            if name == "frame":
                name += f" {ref.f_code.co_filename.rsplit('/', 2)[-1]}:{ref.f_lineno} {ref.f_code.co_name}"
            elif name == "dict":
                keys = [k for k in list(ref)[:6] if isinstance(k, str)]
                name += f" {keys}"
            out.append(("  " * depth) + name)
            if type(ref).__name__ in ("dict", "cell", "tuple", "list") and depth < 3:
                out.extend(describe(ref, depth + 1)[:6])
        return out[:20]

    report["loose_referrers"] = describe(loose[0]) if loose else []
    wanted = {"Figure", "LayerTrace", "ExplorerModel", "SessionState", "AppSession", "DataFrame"}
    report["counted"] = {name: n for name, n in Counter(type(o).__name__ for o in gc.get_objects()).items() if name in wanted}
    if tracemalloc.is_tracing():
        snapshot = tracemalloc.take_snapshot()
        report["python_mb"] = round(sum(s.size for s in snapshot.statistics("filename")) / 2**20, 1)
        report["top"] = [(str(s.traceback), round(s.size / 2**20, 1)) for s in snapshot.statistics("lineno")[:12]]
    return PlainTextResponse(json.dumps(report, indent=1))


app = st.App(APP, routes=[Route("/memory", memory)])
