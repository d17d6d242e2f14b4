"""`python -m core embed --engine ray` (Ray Data actors) against `--engine local`, and the output
directory both write (Parquet shards + manifest.json, core/embed/embed_output.py).

The Ray tests start a local Ray (2 CPUs, no dashboard) once for the module. Without Ray installed
they skip (`bash scripts/setup.sh --with-ray` installs it); under CI, which installs it (.ci/run),
they fail instead.
"""

import csv
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.embed.embed_output import EmbedOutputError, ShardWriter, read_embedding_output, write_embedding_output

ROOT = Path(__file__).resolve().parent.parent
STSB = ROOT / "assets" / "stsb" / "stsb-en-test.csv"


def _ray_importable() -> bool:
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        return False
    return True


needs_ray = pytest.mark.skipif(not _ray_importable() and not os.environ.get("CI"), reason=(
    "Ray Data is not installed: bash scripts/setup.sh --with-ray (CI installs it)"))


def _sentences(n: int) -> list[str]:
    seen: dict[str, None] = {}
    with open(STSB, encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle):
            seen.setdefault(row[0], None)
            seen.setdefault(row[1], None)
    return list(seen)[:n]


def _write_csv(path: Path, texts: list[str]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows([text, f"group {i % 5}"] for i, text in enumerate(texts))
    return path


@pytest.fixture(scope="module")
def sts_input(tmp_path_factory):
    """~2,000 STS-B test sentences as a CSV with a label column, and their --engine local output."""
    folder = tmp_path_factory.mktemp("embed_ray")
    texts = _sentences(2000)
    source = _write_csv(folder / "sentences.csv", texts)
    out = folder / "local"
    assert main(["embed", "--input", str(source), "--label-column", "label", "--out", str(out), "--device", "cpu",
                 "--shard-rows", "700"]) == 0
    return source, texts, read_embedding_output(out)


@pytest.fixture(scope="module")
def local_ray():
    import ray

    from core.embed.ray_engine import job_runtime_env

    ray.init(num_cpus=2, include_dashboard=False, runtime_env=job_runtime_env(), logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


def test_local_engine_needs_no_ray(tmp_path):
    """With `import ray` failing, --engine local writes both output forms; --engine ray says how to install Ray."""
    source = _write_csv(tmp_path / "few.csv", _sentences(40))
    script = textwrap.dedent(f"""
        import sys

        class NoRay:
            def find_spec(self, name, path=None, target=None):
                if name == "ray" or name.startswith("ray."):
                    raise ImportError("No module named 'ray' (blocked by the test)", name=name)
                return None

        sys.meta_path.insert(0, NoRay())
        from core.cli import main
        assert main(["embed", "--input", {str(source)!r}, "--out", {str(tmp_path / 'dir')!r}, "--device", "cpu"]) == 0
        assert main(["embed", "--input", {str(source)!r}, "--out", {str(tmp_path / 'one.parquet')!r}, "--device", "cpu"]) == 0
        assert not [m for m in sys.modules if m == "ray" or m.startswith("ray.")]
        print("RAY-EXIT", main(["embed", "--engine", "ray", "--input", {str(source)!r}, "--out", {str(tmp_path / 'r')!r}]))
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "RAY-EXIT 2" in result.stdout
    assert "scripts/setup.sh --with-ray" in result.stderr and "Traceback" not in result.stderr
    directory, single = read_embedding_output(tmp_path / "dir"), read_embedding_output(tmp_path / "one.parquet")
    assert directory.manifest["engine"] == "local" and directory.manifest["rows"] == 40
    assert directory.texts == single.texts
    np.testing.assert_array_equal(directory.vectors, single.vectors)


def test_output_directory_refuses_duplicates_gaps_and_tampering(tmp_path):
    texts = [f"text {i}" for i in range(10)]
    vectors = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    writer = ShardWriter(tmp_path / "dup", texts, shard_rows=4)
    writer.add(np.array([3, 1, 2]), vectors[[3, 1, 2]])
    with pytest.raises(EmbedOutputError, match="twice"):
        writer.add(np.array([4, 2]), vectors[[4, 2]])
    gap = ShardWriter(tmp_path / "gap", texts, shard_rows=4)
    gap.add(np.arange(9), vectors[:9])
    with pytest.raises(EmbedOutputError, match="never came back"):
        gap.finish(model={}, engine="test", options={})
    assert not (tmp_path / "gap" / "manifest.json").exists()

    out = tmp_path / "ok"
    writer = ShardWriter(out, texts, [str(i % 2) for i in range(10)], shard_rows=4)
    for block in ([7, 9, 8], [0, 4, 5, 6, 1], [3, 2]):  # out of order, as a cluster finishes them
        writer.add(np.array(block), vectors[block])
    manifest = writer.finish(model={"model_id": "m"}, engine="test", options={})
    assert [(s["first_row"], s["rows"]) for s in manifest["shards"]] == [(0, 4), (4, 4), (8, 2)]
    back = read_embedding_output(out / "manifest.json")
    assert back.texts == tuple(texts) and back.labels == tuple(str(i % 2) for i in range(10))
    np.testing.assert_array_equal(back.vectors, vectors)
    with pytest.raises(EmbedOutputError, match="not empty"):
        write_embedding_output(out, texts, vectors, model={}, engine="local", options={})

    shard = out / manifest["shards"][1]["file"]
    shard.write_bytes(shard.read_bytes() + b"\0")
    with pytest.raises(EmbedOutputError, match="sha256"):
        read_embedding_output(out)
    edited = tmp_path / "edited"
    write_embedding_output(edited, texts, vectors, model={}, engine="local", options={}, shard_rows=4)
    data = json.loads((edited / "manifest.json").read_text())
    data["rows"] = 11
    (edited / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(EmbedOutputError, match="manifest says 11"):
        read_embedding_output(edited)


@needs_ray
def test_ray_errors_are_one_clear_line(tmp_path, capsys):
    source = _write_csv(tmp_path / "few.csv", _sentences(5))
    cases = [
        (["--text-column", "sentence"], "There is no column 'sentence'"),
        (["--address", "127.0.0.1:1"], "no Ray cluster answers at 127.0.0.1:1"),
        (["--address", "head-node"], "is not auto or HOST:PORT"),
        (["--address", "ray://head-node:10001"], "cannot run through Ray Client"),
    ]
    for number, (extra, message) in enumerate(cases):
        code = main(["embed", "--engine", "ray", "--input", str(source), "--out", str(tmp_path / f"out{number}"), *extra])
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err, err
    assert main(["embed", "--engine", "ray", "--input", str(source), "--out", str(tmp_path / "x.parquet")]) == 2
    assert "writes a directory" in capsys.readouterr().err
    assert main(["embed", "--input", str(source), "--out", str(tmp_path / "y"), "--num-gpus", "1"]) == 2
    assert "only apply to --engine ray" in capsys.readouterr().err


@needs_ray
def test_ray_engine_matches_local(sts_input, local_ray, tmp_path):
    source, texts, local = sts_input
    out = tmp_path / "ray"
    assert main(["embed", "--engine", "ray", "--input", str(source), "--label-column", "label", "--out", str(out),
                 "--device", "cpu", "--num-workers", "2", "--rows-per-task", "250", "--shard-rows", "700"]) == 0
    ray_out = read_embedding_output(out)
    assert ray_out.texts == local.texts == tuple(texts)
    assert ray_out.labels == local.labels
    assert np.abs(ray_out.vectors - local.vectors).max() < 1e-6
    manifest = ray_out.manifest
    assert manifest["engine"] == "ray" and manifest["ray"]["workers"] == 2 and manifest["rows"] == len(texts)
    assert [s["rows"] for s in manifest["shards"]] == [700, 700, len(texts) - 1400]
    for key in ("model_id", "pooling", "dimension"):
        assert manifest[key] == local.manifest[key]


@needs_ray
def test_worker_killed_mid_run_is_retried(sts_input, local_ray, tmp_path, monkeypatch):
    """The first actor to get a block kills its own process; Ray restarts it and retries its tasks,
    and what comes back is still every row once, with the local numbers."""
    from core.embed.ray_engine import CRASH_ONCE_ENV

    _, texts, local = sts_input
    marker = tmp_path / "crashed"
    monkeypatch.setenv(CRASH_ONCE_ENV, str(marker))
    source = _write_csv(tmp_path / "some.csv", texts[:400])
    out = tmp_path / "ray"
    assert main(["embed", "--engine", "ray", "--input", str(source), "--label-column", "label", "--out", str(out),
                 "--device", "cpu", "--num-workers", "2", "--rows-per-task", "100", "--shard-rows", "150"]) == 0
    assert marker.exists() and int(marker.read_text()) != os.getpid()  # a worker did die
    back = read_embedding_output(out)
    assert back.texts == tuple(texts[:400]) and back.manifest["rows"] == 400
    assert np.abs(back.vectors - local.vectors[:400]).max() < 1e-6
