"""Start `streamlit run app.py` on a free localhost port and stop it again (benchmarks, soak)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(log_path: Path, extra_env: dict | None = None, timeout: float = 90,
                 script: str = "app.py") -> tuple[str, subprocess.Popen]:
    """(base URL, the server process) once its health check answers."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(extra_env or {})}
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / script), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(url, process, log_path, timeout)
    return url, process


def wait_until_healthy(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 90) -> None:
    """Return once Streamlit's health check at ``url`` answers; kill the server if it never does."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"streamlit did not answer its health check within {timeout:.0f} s")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def process_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def process_open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def process_threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))
