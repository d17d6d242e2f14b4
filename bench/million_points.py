"""A million points: from upload to first draw in a real browser, and UMAP fit + transform against PCA.

    python -m bench.million_points [--points 1000000] [--skip-browser] [--skip-projection] [--dims 384]

browser     a fresh `streamlit run app.py`, Debian's Chromium through Playwright; a Parquet of N precomputed
            2-D points (x, y, text, label) is uploaded on the projections page ("Upload a map"). Timed: the
            file set → the map drawn (its caption shown), the bytes the browser received meanwhile (against
            Streamlit's 200 MB message limit), the page's JS heap after drawing (Chrome's Performance
            metrics), then one point hovered (its text checked) and a box selection (its passages listed).
            The reference is the same page's first draw of the 60-sentence example set in the same browser.
projection  N random unit vectors of `--dims` dimensions around 50 centres: PCA of all of them (in blocks)
            is the reference; UMAP fitted on a sample of 20,000 and the rest placed by its transform.
            Reports the seconds of each and the ratio, and the neighbour recall of fitted and placed points.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.live_server import start_server, stop_server  # noqa: E402
from tests.browser.test_large_map_browser import OUTLIERS, PIXEL_OF, ReceivedBytes, map_with_outliers  # noqa: E402


def browser_case(points: int) -> dict:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        frame = map_with_outliers(points)
        path = folder / "map.parquet"
        frame.to_parquet(path)
        url, process = start_server(folder / "streamlit.log")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                received = ReceivedBytes(page)
                started = time.perf_counter()
                page.goto(url + "/projections")
                page.wait_for_selector(".st-key-proj_plot .js-plotly-plot", timeout=600_000)
                reference_s = time.perf_counter() - started
                page.get_by_text("Upload a map (x, y)").click()
                page.wait_for_selector(".st-key-proj_map_file input[type=file]", timeout=60_000, state="attached")
                before = received.total
                started = time.perf_counter()
                page.locator(".st-key-proj_map_file input[type=file]").set_input_files(str(path))
                page.wait_for_selector(f"text={len(frame):,} points, drawn by WebGL", timeout=900_000)
                page.wait_for_selector(".st-key-proj_map .js-plotly-plot canvas", timeout=300_000, state="attached")
                page.wait_for_function("() => !!document.querySelector('.st-key-proj_map .js-plotly-plot')._fullLayout",
                                       timeout=300_000)
                draw_s = time.perf_counter() - started
                sent = received.total - before
                session = page.context.new_cdp_session(page)
                session.send("Performance.enable")
                metrics = {m["name"]: m["value"] for m in session.send("Performance.getMetrics")["metrics"]}
                x, y = page.evaluate(PIXEL_OF, list(OUTLIERS["The lonely outlier far from every topic"]))
                page.mouse.move(x, y)
                hover = page.locator(".st-key-proj_map .hovertext").first
                hover.wait_for(timeout=60_000)
                hovered = "The lonely outlier" in hover.text_content()
                page.locator('.st-key-proj_map .modebar-btn[data-title="Box Select"]').click()
                x2, _ = page.evaluate(PIXEL_OF, list(OUTLIERS["Its neighbour, also far away"]))
                page.mouse.move(x - 12, y - 12)
                page.mouse.down()
                page.mouse.move(x2 + 12, y + 12, steps=8)
                page.mouse.up()
                page.wait_for_selector("text=2 passages selected", timeout=300_000)
                browser.close()
        finally:
            stop_server(process)
    return {"points": len(frame), "file_mb": path_size_mb(frame), "draw_s": draw_s, "reference_s": reference_s,
            "received_mb": sent / 1e6, "limit_share": sent / (200 * 2**20),
            "js_heap_mb": metrics.get("JSHeapUsedSize", float("nan")) / 1e6, "hover_ok": hovered}


def path_size_mb(frame) -> float:
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return len(buffer.getvalue()) / 1e6


def projection_case(points: int, dims: int) -> dict:
    from core.embed.projection import ProjectionParams
    from core.embed.projection_at_scale import project_at_scale

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((50, dims)).astype(np.float32)
    vectors = centres[rng.integers(0, 50, points)] + 0.6 * rng.standard_normal((points, dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    started = time.perf_counter()
    pca = project_at_scale(vectors, ProjectionParams(method="pca"), recall_points=1_000)
    pca_s = time.perf_counter() - started
    started = time.perf_counter()
    umap = project_at_scale(vectors, ProjectionParams(method="umap"), recall_points=1_000,
                            progress=lambda step, done, total: print(f"\r  umap {done:,}/{total:,}", end="", file=sys.stderr))
    umap_s = time.perf_counter() - started
    print(file=sys.stderr)
    return {"points": points, "dims": dims, "pca_s": pca_s, "umap_s": umap_s, "ratio": umap_s / pca_s,
            "pca_recall": pca.recall, "umap_recall": umap.recall, "sample": len(umap.sample)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--skip-projection", action="store_true")
    args = parser.parse_args()
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    print(f"# load average at start: {' '.join(load)}")
    if not args.skip_browser:
        result = browser_case(args.points)
        print(f"browser: {result['points']:,} points ({result['file_mb']:.1f} MB Parquet): upload → drawn "
              f"{result['draw_s']:.1f} s ({result['draw_s'] / result['reference_s']:.1f} × the example set's first draw, "
              f"{result['reference_s']:.1f} s); received {result['received_mb']:.1f} MB = {result['limit_share']:.0%} of the "
              f"200 MB message limit; JS heap {result['js_heap_mb']:.0f} MB; hover shows its text: {result['hover_ok']}; "
              "box selection listed its 2 passages")
    if not args.skip_projection:
        result = projection_case(args.points, args.dims)
        print(f"projection: {result['points']:,} × {result['dims']}: PCA (all, in blocks) {result['pca_s']:.1f} s; UMAP fit "
              f"{result['sample']:,} + transform the rest {result['umap_s']:.1f} s = {result['ratio']:.1f} × PCA; "
              f"neighbour recall@10 PCA {result['pca_recall']}, UMAP {result['umap_recall']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
