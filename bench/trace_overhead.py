"""Trace cost vs the model's plain forward pass, on one 16-token sentence.

    python -m bench.trace_overhead [--repeats 200]

Reference (same process, same weights, same thread settings): transformers' AutoModel
forward of the same input ids with its default (SDPA) attention, no hooks, no outputs
requested. Measured: core.trace_text of the same text (tokenize, hooks on every stage,
eager attention with probabilities, numpy copies, pooling). Reported as a ratio of medians,
interleaved so machine noise hits both alike. Goal: at most 1.3.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from transformers import AutoModel  # noqa: E402

from core import load_model, trace_text  # noqa: E402

TEXT = "The quick brown fox jumps over the lazy dog near the quiet river."


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    explorer = load_model(None, "cpu")
    reference = AutoModel.from_pretrained(explorer.source_dir).eval()
    ids = torch.as_tensor(explorer.tokenizer(TEXT)["input_ids"]).unsqueeze(0)
    assert ids.shape[1] == 16, ids.shape
    mask = torch.ones_like(ids)
    for _ in range(20):  # warm-up
        trace_text(explorer, TEXT)
        with torch.inference_mode():
            reference(input_ids=ids, attention_mask=mask)
    plain, traced = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        with torch.inference_mode():
            reference(input_ids=ids, attention_mask=mask)
        plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        trace_text(explorer, TEXT)
        traced.append(time.perf_counter() - start)
    p, t = statistics.median(plain), statistics.median(traced)
    print(f"16-token sentence, {args.repeats} interleaved runs, torch threads={torch.get_num_threads()}")
    print(f"  plain forward (SDPA, no hooks): {p * 1000:7.2f} ms median")
    print(f"  core.trace_text (every stage):  {t * 1000:7.2f} ms median")
    print(f"  ratio trace / forward:          {t / p:7.2f}  (goal ≤ 1.3)")


if __name__ == "__main__":
    main()
