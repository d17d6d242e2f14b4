"""Hosting files: the Dockerfile passes hadolint, the entrypoint serves the app, the config is sane."""

import os
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_dockerfile_passes_hadolint():
    beside_python = Path(sys.executable).parent / "hadolint"  # the venv's bin/ is not on PATH under `.venv/bin/python -m pytest`
    hadolint = str(beside_python) if beside_python.exists() else "hadolint"
    result = subprocess.run([hadolint, "Dockerfile"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_essentials():
    text = (ROOT / "Dockerfile").read_text()
    assert "torch==2.13.0" in text and "/whl/cpu" in text          # CPU torch
    assert "USER 1000" in text and "useradd" in text                # not root
    assert "EXPOSE 8501" in text and "HEALTHCHECK" in text
    assert "verify_bundled_model" in text                           # the model is inside and checked


def test_streamlit_config():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"
    assert config["server"]["maxUploadSize"] == 50
    assert config["client"]["showErrorDetails"] == "none"
    assert {"light", "dark"} <= set(config["theme"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_entrypoint_refuses_a_bad_port():
    result = subprocess.run(["sh", str(ROOT / "docker" / "entrypoint.sh")], env={**os.environ, "PORT": "80; rm -rf /"},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "PORT must be a number" in result.stderr


def test_entrypoint_stops_on_a_settings_typo():
    env = {**os.environ, "EXPLORER_MAX_SENTANCES": "100", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(["sh", str(ROOT / "docker" / "entrypoint.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "EXPLORER_MAX_SENTANCES is not a setting (did you mean 'max_sentences'?)" in result.stderr


def test_the_image_treats_everyone_as_a_visitor():
    assert "EXPLORER_HOSTED=1" in (ROOT / "Dockerfile").read_text()


def test_entrypoint_serves_the_app(tmp_path):
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "ADDRESS": "127.0.0.1", "HF_HUB_OFFLINE": "1",
           "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    process = subprocess.Popen(["sh", str(ROOT / "docker" / "entrypoint.sh")], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the entrypoint's server did not become healthy within 60 s")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert b"<title>Streamlit</title>" in response.read()
        answers = []  # /ready: 503 and what it is doing while the model warms, then 200, with no visitor at all
        while time.time() < deadline + 120:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
                    answers.append((response.status, response.read().decode()))
                    break
            except urllib.error.HTTPError as error:
                answers.append((error.code, error.read().decode()))
                time.sleep(0.3)
        assert answers[-1][0] == 200 and answers[-1][1].startswith("ready\nprojections: "), answers[-3:]
        assert all(code == 503 and text.startswith("starting: ") for code, text in answers[:-1]), answers[:3]
        # then the start-up compiles UMAP for the Projections page, still with no visitor
        body = answers[-1][1]
        while "projections: ready" not in body and time.time() < deadline + 400:
            time.sleep(1)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as response:
                body = response.read().decode()
        assert body == "ready\nprojections: ready\n", body
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_setup_is_idempotent():
    """Once the machine is set up (scripts/test.sh, which .ci/run calls, did it), the setup does nothing more."""
    for _ in range(2):  # the first run finishes a setup done some other way; the second must find nothing to do
        result = subprocess.run(["bash", str(ROOT / "scripts" / "setup.sh")], env={**os.environ, "REQUIREMENTS": "requirements-dev.txt"},
                                capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "installing" not in result.stdout, result.stdout
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "bash scripts/app.sh" in readme and "bash scripts/test.sh" in readme
