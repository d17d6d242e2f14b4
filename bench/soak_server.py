"""Soak against the real server: `streamlit run app.py`, driven by a headless Chromium.

    python -m bench.soak_server [--reruns 500] [--every 25] [--session-every 50]

One browser tab types a new text on the overview, attention and pooling pages in turn (a
rerun each, every fourth text fills the model's 256-token window); every ``--session-every``
reruns the tab is closed and a new visitor's session starts, so session clean-up is exercised
too. The server's resident memory, open files and threads are read from /proc every
``--every`` reruns. This is the number that matters for hosting (bench/soak.py measures the
same loop under AppTest, which keeps more per run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.live_server import process_memory_mb, process_open_files, process_threads, start_server, stop_server  # noqa: E402
from bench.soak import text_for  # noqa: E402

CHROMIUM = os.environ.get("EXPLORER_CHROMIUM", "/usr/bin/chromium")
# (sidebar link, something the page draws once its script has run)
PAGES = [("Overview: one text, traced", ".ee-chip"), ("4 · Attention", ".st-key-attn_layer"),
         ("6 · Pooling and similarity", "text=Max pooling, laid open")]


def _settle(page) -> None:
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=180_000)


def soak_server(reruns: int, every: int, session_every: int, report=print, probe: bool = False) -> list[tuple[int, float, int, int]]:
    from playwright.sync_api import sync_playwright

    log = ROOT / "test-artifacts"
    log.mkdir(exist_ok=True)
    url, server = start_server(log / "soak-server.log", script="bench/memory_probe.py" if probe else "app.py")
    curve = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
            context = page = None
            start = time.perf_counter()
            report(f"rerun    0: server RSS {process_memory_mb(server.pid):7.0f} MB (before any visitor)")
            for index in range(1, reruns + 1):
                if page is None or index % session_every == 1:
                    if context is not None:
                        context.close()
                    context = browser.new_context(viewport={"width": 1300, "height": 900})
                    page = context.new_page()
                    page.goto(url)
                    page.wait_for_selector(".ee-chip", timeout=180_000)
                    _settle(page)
                link, marker = PAGES[index % len(PAGES)]
                page.get_by_role("link", name=link).click()
                page.wait_for_selector(marker, timeout=180_000)
                box = page.locator('[data-testid="stSidebar"] textarea[aria-label="Your text"]')
                box.fill(text_for(index))
                box.press("Control+Enter")
                _settle(page)
                if index % every == 0 or index == reruns:
                    point = (index, process_memory_mb(server.pid), process_open_files(server.pid), process_threads(server.pid))
                    curve.append(point)
                    report(f"rerun {index:4d}: server RSS {point[1]:7.0f} MB · open files {point[2]:4d} · threads {point[3]:3d} "
                           f"· {time.perf_counter() - start:6.0f} s")
                    if probe:
                        import urllib.request

                        report(urllib.request.urlopen(url + "/memory", timeout=60).read().decode())
            context.close()
            browser.close()
    finally:
        stop_server(server)
    return curve


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reruns", type=int, default=500)
    parser.add_argument("--every", type=int, default=25)
    parser.add_argument("--session-every", type=int, default=50)
    parser.add_argument("--json", type=Path, help="also write the curve here (rerun, RSS MB, open files, threads)")
    parser.add_argument("--probe", action="store_true", help="serve bench/memory_probe.py and print its /memory report at each sample")
    args = parser.parse_args()
    curve = soak_server(args.reruns, args.every, args.session_every, probe=args.probe)
    if args.json:
        args.json.write_text(json.dumps(curve))


if __name__ == "__main__":
    main()
