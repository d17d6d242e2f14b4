"""`python -m core embed --engine ray` vs `--engine local` on the same 20,000 STS-B sentences.

    python -m bench.ray_vs_local [--n 20000] [--rounds 1] [--small 200] [--ray-args "--num-workers 2"]

Both run as a user runs them, end to end in a fresh process each (start-up, reading the CSV, the
model load(s), embedding, writing the output directory), one after the other in the same session;
reported as the ratio ray ÷ local of the wall times, with the load average before and after (other
jobs on the machine skew both). The sentences are the unique sentences of STS-B dev + test,
repeated with a numbered suffix up to N. Ray here is a local Ray started by the command on this
machine's CPUs (one actor per CPU, one torch thread each) against one process with torch's own
threads: the same hardware, so the ratio is the price of Ray's start-up and scheduling, not a
speed-up. The two outputs are also compared (max |difference|, the row order). Each engine also
embeds the first ``--small`` sentences once: that run is nearly all fixed cost (process, Ray and
model start-up), which tells the fixed part of the difference from the per-sentence part.
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "stsb"
STSB = SHARED if SHARED.is_dir() else ROOT / "assets" / "stsb"


def sentences(n: int) -> list[str]:
    seen: dict[str, None] = {}
    for name in ("stsb-en-dev.csv", "stsb-en-test.csv"):
        with open(STSB / name, encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                seen.setdefault(row[0].strip(), None)
                seen.setdefault(row[1].strip(), None)
    unique = [text for text in seen if text]
    texts = list(unique)
    while len(texts) < n:
        texts += [f"{text} ({len(texts) + i})" for i, text in enumerate(unique[: n - len(texts)])]
    return texts[:n]


def run(command: list[str]) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "core", *command], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stderr[-3000:]}")
    print(f"    {seconds:.1f} s, load average {os.getloadavg()[0]:.2f}: {result.stdout.strip().splitlines()[-1]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--small", type=int, default=200, help="a run this size too, for the fixed cost (0: none)")
    parser.add_argument("--ray-args", default="", help="extra options for the ray run, e.g. '--num-workers 1 --num-cpus 2'")
    args = parser.parse_args()

    import numpy as np

    from core.embed.embed_output import read_embedding_output

    texts = sentences(args.n)
    load_before = os.getloadavg()
    local_times, ray_times = [], []
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "sentences.csv"
        small = Path(folder) / "small.csv"
        for path, rows in ((source, texts), (small, texts[: args.small])):
            with open(path, "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["text"])
                writer.writerows([text] for text in rows)
        common = ["embed", "--input", str(source), "--device", "cpu", "--batch-size", "32"]
        fixed = {}
        if args.small:
            small_common = ["embed", "--input", str(small), "--device", "cpu", "--batch-size", "32"]
            print(f"{args.small} sentences: local")
            fixed["local"] = run([*small_common, "--out", f"{folder}/small-local"])
            print(f"{args.small} sentences: ray")
            fixed["ray"] = run([*small_common, "--engine", "ray", "--out", f"{folder}/small-ray", *shlex.split(args.ray_args)])
        for round_ in range(args.rounds):
            print(f"round {round_ + 1}: local")
            local_times.append(run([*common, "--out", f"{folder}/local{round_}"]))
            print(f"round {round_ + 1}: ray")
            ray_times.append(run([*common, "--engine", "ray", "--out", f"{folder}/ray{round_}", *shlex.split(args.ray_args)]))
        local, ray_ = read_embedding_output(f"{folder}/local0"), read_embedding_output(f"{folder}/ray0")
        assert local.texts == ray_.texts == tuple(texts), "row order differs"
        difference = float(np.abs(local.vectors - ray_.vectors).max())
        workers = ray_.manifest["ray"]["workers"]
    load_after = os.getloadavg()
    best_local, best_ray = min(local_times), min(ray_times)
    print(f"{len(texts):,} STS-B sentences, batch 32, {os.cpu_count()} CPUs, best of {args.rounds}; "
          f"ray: {workers} workers {args.ray_args}".rstrip())
    print(f"local  {best_local:7.1f} s  {len(texts) / best_local:6.0f} sentences/s")
    print(f"ray    {best_ray:7.1f} s  {len(texts) / best_ray:6.0f} sentences/s")
    print(f"ray ÷ local wall time: {best_ray / best_local:.2f}   max |difference| {difference:.2e}, same row order")
    if fixed:
        print(f"{args.small} sentences (mostly start-up): local {fixed['local']:.1f} s, ray {fixed['ray']:.1f} s; "
              f"the rest, {len(texts) - args.small:,} sentences: local {best_local - fixed['local']:.1f} s, "
              f"ray {best_ray - fixed['ray']:.1f} s, ratio {(best_ray - fixed['ray']) / (best_local - fixed['local']):.2f}")
    print("load average before: " + " ".join(f"{v:.2f}" for v in load_before)
          + "; after: " + " ".join(f"{v:.2f}" for v in load_after))


if __name__ == "__main__":
    main()
