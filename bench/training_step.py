"""Time per contrastive training step, bundled model, batch 16 pairs, on this CPU.

    python -m bench.training_step [--steps 10]

Reference in the same run: one inference forward pass (no gradients) over the same 32
sentences, so the ratio says what a training step costs relative to just embedding the batch.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from core import embed_texts, load_model  # noqa: E402
from core.analysis.contrastive import fine_tune  # noqa: E402

STSB = Path(__file__).resolve().parent.parent / "assets" / "stsb" / "stsb-en-dev.csv"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    with open(STSB, encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.reader(handle) if float(row[2]) >= 4.0][:16]
    anchors, positives = [r[0] for r in rows], [r[1] for r in rows]
    model = load_model(None, "cpu")
    embed_texts(model, anchors + positives)
    start = time.perf_counter()
    for _ in range(5):
        embed_texts(model, anchors + positives, batch_size=32)
    inference = (time.perf_counter() - start) / 5
    result = fine_tune(model, anchors, positives, steps=args.steps, learning_rate=2e-5)
    per_step = result.seconds / len(result.losses)
    print(f"batch of 16 (anchor, positive) pairs from STS-B dev (score ≥ 4), {len(result.losses)} steps")
    print(f"  one training step (forward + backward + AdamW): {per_step * 1000:7.0f} ms")
    print(f"  embedding the same 32 sentences (inference):   {inference * 1000:7.0f} ms")
    print(f"  ratio step / inference:                        {per_step / inference:7.1f}")
    print(f"  loss {result.losses[0]:.4f} → {result.losses[-1]:.4f}")


if __name__ == "__main__":
    main()
