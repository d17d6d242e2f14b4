"""STS-B test evaluation (every pooling) vs encoding the same unique sentences once with
SentenceTransformer.encode.

    python -m bench.sts_eval [--rounds 2]

Both on the CPU, batch 32, same process, alternating, best of ``rounds``. The evaluation
does one forward pass per batch for all poolings, computes IDF weights, the cosines and
the Spearman correlations. Goal: at most 1.2 times the plain encode.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sentence_transformers import SentenceTransformer  # noqa: E402

from core import load_model  # noqa: E402
from core.embed.sts import evaluate_sts, read_sts  # noqa: E402

TEST = Path(__file__).resolve().parent.parent / "assets" / "stsb" / "stsb-en-test.csv"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    pairs = read_sts(TEST)
    unique = pairs.unique_sentences()
    explorer = load_model(None, "cpu")
    reference = SentenceTransformer(explorer.source_dir, device="cpu")
    reference.encode(unique[:64])
    ours, theirs, result = [], [], None
    for _ in range(args.rounds):
        start = time.perf_counter()
        result = evaluate_sts(explorer, pairs)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        reference.encode(unique, batch_size=32, normalize_embeddings=True)
        theirs.append(time.perf_counter() - start)
    o, t = min(ours), min(theirs)
    print(f"STS-B test: {len(pairs)} pairs, {len(unique)} unique sentences, best of {args.rounds}")
    print("  " + ", ".join(f"{k} {v:.2f}" for k, v in result.spearman.items()))
    print(f"  SentenceTransformer.encode of the unique sentences: {t:6.2f} s")
    print(f"  core.embed.sts.evaluate_sts, every pooling:               {o:6.2f} s")
    print(f"  ratio evaluation / encode:                          {o / t:6.2f}  (goal ≤ 1.2)")


if __name__ == "__main__":
    main()
