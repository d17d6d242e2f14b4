"""Soak: many reruns with distinct texts and sentence sets in one process, memory and hooks watched.

    python -m bench.soak [--reruns 500] [--every 50]

Runs the app under Streamlit's AppTest (the same script runs the server does), alternating the
overview, attention and pooling pages, each rerun with a new text (and a new similarity set on
the pooling page). Prints resident memory, open file descriptors and hooks left on the shared
model every ``--every`` reruns. The caches are bounded (8 traces, 32 sentence sets…). Under AppTest
resident memory keeps creeping up even so (see README: Python-level memory stays flat, and the
same loop against the real server levels off; bench/soak_server.py measures that).
tests/test_soak.py runs a short version.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import bench.page_rerun  # noqa: E402,F401  (patches AppTest for st.navigation + pages/)
from streamlit.testing.v1 import AppTest  # noqa: E402


PAGES = ["pages/home.py", "pages/attention.py", "pages/pooling.py"]
WORDS = ("river bank money loan cat dog rain snow train plane music piano code bug star moon tea cake "
         "storm field glass stone paper light").split()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def text_for(index: int) -> str:
    """Distinct texts; every fourth one fills the model's whole 256-token window (the largest traces)."""
    length = 400 if index % 4 == 0 else 6 + index % 20
    words = [WORDS[(index * 7 + k * 3) % len(WORDS)] for k in range(length)]
    return f"Run {index}: " + " ".join(words)


def soak(reruns: int, every: int, report=print) -> list[tuple[int, float, int, int]]:
    from core.models.hooks import live_hooks

    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    app.run()
    curve = []
    start = time.perf_counter()
    for index in range(1, reruns + 1):
        app.switch_page(PAGES[index % len(PAGES)])
        app.session_state["text"] = text_for(index)
        app.session_state["pool_sentences"] = "\n".join(text_for(index * 31 + k) for k in range(3))
        app.run()
        if app.exception:
            raise RuntimeError(f"rerun {index}: {app.exception}")
        if index % every == 0 or index == reruns:
            hooks = live_hooks()
            curve.append((index, rss_mb(), open_fds(), hooks))
            report(f"rerun {index:4d}: RSS {curve[-1][1]:7.0f} MB · open files {curve[-1][2]:4d} · hooks left {hooks} "
                   f"· {time.perf_counter() - start:6.0f} s")
    return curve


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reruns", type=int, default=500)
    parser.add_argument("--every", type=int, default=50)
    args = parser.parse_args()
    soak(args.reruns, args.every)


if __name__ == "__main__":
    main()
