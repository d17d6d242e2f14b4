"""Embedding throughput: core.embed_texts vs SentenceTransformer.encode on the same sentences.

    python -m bench.embed_throughput [--n 1000] [--rounds 3]

Sentences: the first N unique sentences of the STS-B test split in ../shared/data (real
sentence lengths). Both run batch size 32 on the CPU in the same process, alternating, best
of ``rounds`` each; reported as a throughput ratio core / sentence-transformers. Goal: ≥ 0.95.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

from core import embed_texts, load_model  # noqa: E402

STSB = Path(__file__).resolve().parents[2] / "shared" / "data" / "stsb" / "stsb-en-test.csv"


def sentences(n: int) -> list[str]:
    seen: dict[str, None] = {}
    with open(STSB, encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle):
            seen.setdefault(row[0], None)
            seen.setdefault(row[1], None)
    texts = list(seen)
    while len(texts) < n:  # repeat with a suffix if N exceeds the split
        texts += [f"{t} ({len(texts)})" for t in texts[: n - len(texts)]]
    return texts[:n]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    texts = sentences(args.n)
    explorer = load_model(None, "cpu")
    reference = SentenceTransformer(explorer.source_dir, device="cpu")
    embed_texts(explorer, texts[:64])
    reference.encode(texts[:64])
    ours, theirs = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        mine = embed_texts(explorer, texts, batch_size=32)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        expected = reference.encode(texts, batch_size=32, normalize_embeddings=True)
        theirs.append(time.perf_counter() - start)
    assert np.abs(mine - expected).max() < 1e-4
    o, t = min(ours), min(theirs)
    print(f"{len(texts)} STS-B sentences, batch 32, best of {args.rounds}")
    print(f"  SentenceTransformer.encode: {t:6.2f} s  ({len(texts) / t:6.0f} sentences/s)")
    print(f"  core.embed_texts:           {o:6.2f} s  ({len(texts) / o:6.0f} sentences/s)")
    print(f"  throughput ratio core / ST: {t / o:6.2f}  (goal ≥ 0.95)")


if __name__ == "__main__":
    main()
