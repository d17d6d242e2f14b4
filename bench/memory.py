"""Resident memory of the app with the default model loaded and every page opened once.

    python -m bench.memory

Starts `streamlit run app.py`, opens each page in headless Chromium in one browser session
(clicking the sidebar links, as a visitor would), and reads the server process's resident
set size (VmRSS) after each page. Reference: the RSS right after start-up, before any visit.
Community Cloud's limit is about 2.7 GB.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from ui.page_list import PAGES  # noqa: E402

LINKS = [page.title for page in PAGES[1:]]  # every page after the overview, in menu order
if os.environ.get("MEMORY_BENCH_PAGES"):  # e.g. "Projections,Training: contrastive learning": one page's own cost
    LINKS = os.environ["MEMORY_BENCH_PAGES"].split(",")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_parts(pid: int) -> str:
    """Anonymous memory (heap, tensors) and file-backed pages (mapped libraries, memory-mapped weights)."""
    return f"(anonymous {rss_mb(pid, 'RssAnon'):5.0f} · file-backed {rss_mb(pid, 'RssFile'):4.0f})"


def main() -> None:
    from playwright.sync_api import sync_playwright

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                               "--server.headless", "true"], cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        print(f"after start-up:                 {rss_mb(server.pid):7.0f} MB")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.goto(f"http://127.0.0.1:{port}")
            page.wait_for_selector(".ee-chip", timeout=180_000)
            print(f"overview (model loaded):        {rss_mb(server.pid):7.0f} MB {rss_parts(server.pid)}")
            for link in LINKS:
                page.get_by_role("link", name=link).click()
                for _ in range(3):  # idle three times in a row: a page that reruns itself shows the widget again
                    page.wait_for_timeout(1500)
                    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=300_000)
                print(f"{link[:30]:<31} {rss_mb(server.pid):7.0f} MB {rss_parts(server.pid)}")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
