"""python -m core, run as a user would run it."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from core import trace_text

ROOT = Path(__file__).resolve().parent.parent


def _run(*args, stdin=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=300)


def test_trace_writes_the_documented_arrays(tmp_path, bundled):
    out = tmp_path / "trace.npz"
    result = _run("trace", "--text", "The cat sat unhappily", "--device", "cpu", "--out", str(out))
    assert result.returncode == 0, result.stderr
    data = np.load(out)
    expected = trace_text(bundled, "The cat sat unhappily")
    assert data["input_ids"].tolist() == [101, 1996, 4937, 2938, 4895, 3270, 9397, 6588, 102]
    assert data["tokens"].tolist()[4:8] == ["un", "##ha", "##pp", "##ily"]
    assert data["hidden_states"].shape == (7, 9, 384) and data["attentions"].shape == (6, 12, 9, 9)
    np.testing.assert_allclose(data["hidden_states"], expected.hidden_states, atol=1e-5)
    np.testing.assert_allclose(data["attentions"], expected.attentions, atol=1e-5)
    for name in ("cls", "mean", "max"):
        np.testing.assert_allclose(data[f"pooled_{name}"], expected.pooled[name], atol=1e-5)
    assert abs(np.linalg.norm(data["pooled_mean"]) - 1.0) > 1e-3  # not normalised, as documented


def test_tokenize_both_tokenizers():
    model = _run("tokenize", "--text", "The cat sat unhappily")
    assert model.returncode == 0
    assert [line.split("\t")[0] for line in model.stdout.splitlines() if not line.startswith("#")] == \
        ["101", "1996", "4937", "2938", "4895", "3270", "9397", "6588", "102"]
    gpt2 = _run("tokenize", "--tokenizer", "gpt2", "--text", "Hello world")
    assert gpt2.stdout.splitlines()[:2] == ["15496\tHello", "995\tĠworld"]


def test_errors_are_one_clear_line():
    empty = _run("trace", "--text", "  ", "--out", "/tmp/never.npz")
    assert empty.returncode == 2 and "empty" in empty.stderr and "Traceback" not in empty.stderr
    unknown = _run("tokenize", "--model", "nobody/nothing-here", "--text", "hi")
    assert unknown.returncode == 2 and "nobody/nothing-here" in unknown.stderr and "Traceback" not in unknown.stderr


def test_trace_npz_bytes_round_trip(bundled):
    import io

    from core.trace.export import trace_npz_bytes

    trace = trace_text(bundled, "Download me")
    data = np.load(io.BytesIO(trace_npz_bytes(trace)))
    np.testing.assert_array_equal(data["attentions"], trace.attentions)
    assert data["tokens"].tolist() == list(trace.tokens.tokens)


def test_warm_fills_numbas_cache_for_the_next_process(tmp_path):
    cache = tmp_path / "numba"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NUMBA_CACHE_DIR": str(cache)}
    result = subprocess.run([sys.executable, "-m", "core", "warm"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert "all-MiniLM-L6-v2 loaded and traced" in result.stdout and "UMAP compiled" in result.stdout
    assert "Warning" not in result.stderr  # the expected precomputed-graph warning stays out of a host's log
    compiled = list(cache.rglob("*.nbi"))  # numba's index files: what a later process loads instead of compiling
    assert any("umap" in str(path) for path in compiled), compiled[:5]
