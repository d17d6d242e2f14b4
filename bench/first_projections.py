"""The first Projections visit of a fresh server, with and without warming UMAP first.

    python -m bench.first_projections [--rounds 1]

Every case starts a fresh `streamlit run app.py` with an empty numba cache folder of its own,
opens the start page, waits until the model has traced the default text, then opens Projections
(the default example set, UMAP) and times the click → the scatter drawn. The reference is a second
Projections visit in the same browser once everything is compiled (the page's own work). Cases:

  cold        nothing warmed: the visit compiles umap-learn's numba code (warm_projections off)
  cli-warm    `python -m core warm` ran before the server into the same cache (warm_projections off)
  background  the server's own start-up compiles UMAP once the model is ready (warm_projections on, the
              default); served by serve.py, whose /ready says when that is done, and the visit comes then
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.live_server import start_server, stop_server  # noqa: E402

CHROMIUM = os.environ.get("EXPLORER_CHROMIUM", "/usr/bin/chromium")
DRAWN = '.stPlotlyChart .scatterlayer .point, .stPlotlyChart .gl-container canvas'
IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"


def _visit_projections(page, timeout: float = 600_000) -> float:
    """Seconds from the Projections link's click to the scatter drawn and the run finished."""
    started = time.perf_counter()
    page.locator('[data-testid="stSidebarNav"] a', has_text="Projections").click()
    page.wait_for_selector("text=Projections", timeout=timeout)
    page.wait_for_selector(DRAWN, timeout=timeout)
    page.wait_for_timeout(300)
    page.wait_for_function(IDLE, timeout=timeout)
    return time.perf_counter() - started


def _ready_body(url: str) -> str:
    import urllib.request

    try:
        with urllib.request.urlopen(url + "/ready", timeout=5) as response:
            return response.read().decode()
    except OSError:
        return ""


def one_case(case: str, log_dir: Path) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    cache = Path(tempfile.mkdtemp(prefix=f"numba-{case}-"))
    env = {"NUMBA_CACHE_DIR": str(cache), "EXPLORER_WARM_PROJECTIONS": "true" if case == "background" else "false"}
    result: dict[str, float] = {}
    if case == "cli-warm":
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "core", "warm"], cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
                       check=True, capture_output=True)
        result["warm CLI s"] = time.perf_counter() - started
    url, server = start_server(log_dir / f"first-projections-{case}.log", extra_env=env,
                               script="serve.py" if case == "background" else "app.py")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.wait_for_selector(".ee-chip", timeout=300_000)  # the model traced the default text
            page.wait_for_function(IDLE, timeout=300_000)
            if case == "background":
                waited = time.perf_counter()
                while "projections: ready" not in _ready_body(url) and time.perf_counter() - waited < 600:
                    time.sleep(1)
                result["waited for the start-up s"] = time.perf_counter() - waited
            result["first visit s"] = _visit_projections(page)
            page.locator('[data-testid="stSidebarNav"] a', has_text="Overview").click()
            page.wait_for_selector(".ee-chip", timeout=300_000)
            page.wait_for_function(IDLE, timeout=300_000)
            result["second visit s"] = _visit_projections(page)
            browser.close()
    finally:
        stop_server(server)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--cases", nargs="+", default=["cold", "cli-warm", "background"])
    args = parser.parse_args()
    log_dir = ROOT / "test-artifacts"
    log_dir.mkdir(exist_ok=True)
    rows = {case: [one_case(case, log_dir) for _ in range(args.rounds)] for case in args.cases}
    print(f"{'case':<12} {'first visit s':>14} {'second visit s':>15} {'first ÷ second':>15}  other")
    for case, results in rows.items():
        first = statistics.median(r["first visit s"] for r in results)
        second = statistics.median(r["second visit s"] for r in results)
        other = ", ".join(f"{k} {statistics.median(r[k] for r in results):.1f}" for k in results[0]
                          if k not in ("first visit s", "second visit s"))
        print(f"{case:<12} {first:>14.1f} {second:>15.1f} {first / second:>15.1f}  {other}")


if __name__ == "__main__":
    main()
