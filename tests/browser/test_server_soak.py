"""A short soak against the real server (a subprocess runs bench/soak_server.py: its own server and
browser). Forty reruns with new texts over three pages and two visitor sessions leave the
server up, with no growth in open files or threads and memory under Community Cloud's limit.
The full 500-rerun curve is `python -m bench.soak_server` (README)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def test_forty_reruns_against_the_real_server(tmp_path):
    out = tmp_path / "curve.json"
    result = subprocess.run([sys.executable, "-m", "bench.soak_server", "--reruns", "40", "--every", "10",
                             "--session-every", "20", "--json", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    curve = json.loads(out.read_text())
    print("\n".join(result.stdout.splitlines()))
    assert [point[0] for point in curve] == [10, 20, 30, 40]
    files = [point[2] for point in curve]
    threads = [point[3] for point in curve]
    assert max(files) - min(files) <= 4, files
    # Threads must not climb. The first sample may still hold the start-up's UMAP compile (numba's and the
    # warm-up's own threads), which end: a count that falls is not a leak.
    assert all(later <= min(threads[:index + 1]) + 6 for index, later in enumerate(threads)), threads
    assert max(point[1] for point in curve) < 2700, curve  # MB: Community Cloud's limit
