"""Start-up: from `streamlit run` to the first page a visitor sees, and to the model being ready.

    python -m bench.startup [--rounds 3] [--script app.py]

Each round starts a fresh server and opens the start page in headless Chromium at once (retrying
until the server accepts connections). It reports, from the moment the process is started:
  health    Streamlit's /_stcore/health answers (the server process is up): the reference;
  answers   the page shows the app's own content (its sidebar or a start-up status);
  ready     the overview has drawn the traced text (token chips), i.e. the model is loaded.
Medians over the rounds; the machine is noisy, so read the 'answers ÷ health' ratio too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.live_server import free_port  # noqa: E402

FIRST_CONTENT = '[data-testid="stSidebar"], [data-testid="stStatusWidget"] ~ *, .ee-starting'


def one_round(script: str) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
                               "--server.address", "127.0.0.1", "--server.headless", "true"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marks: dict[str, float] = {}
    try:
        url = f"http://127.0.0.1:{port}"
        while "health" not in marks:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=1)
                marks["health"] = time.perf_counter() - started
            except OSError:
                time.sleep(0.05)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector('[data-testid="stSidebar"], .ee-starting', timeout=120_000)
            marks["answers"] = time.perf_counter() - started
            page.wait_for_selector(".ee-chip", timeout=180_000)
            marks["ready"] = time.perf_counter() - started
            browser.close()
        try:
            with urllib.request.urlopen(url + "/ready", timeout=2) as response:
                marks["ready endpoint"] = float(response.status)
        except OSError:
            pass
    finally:
        server.terminate()
        server.wait(timeout=20)
    return marks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--script", default="app.py")
    args = parser.parse_args()
    rounds = [one_round(args.script) for _ in range(args.rounds)]
    for index, marks in enumerate(rounds, 1):
        print(f"round {index}: " + " · ".join(f"{name} {value:.1f} s" for name, value in marks.items() if name != "ready endpoint"))
    medians = {name: statistics.median(r[name] for r in rounds) for name in ("health", "answers", "ready")}
    print(f"median over {args.rounds}: health {medians['health']:.1f} s · first page answers {medians['answers']:.1f} s "
          f"({medians['answers'] / medians['health']:.2f}× health) · model ready {medians['ready']:.1f} s")


if __name__ == "__main__":
    main()
