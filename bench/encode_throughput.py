"""Embedding throughput of the app's own path vs SentenceTransformer.encode, 10,000 sentences.

    python -m bench.encode_throughput [--n 10000] [--rounds 3] [--ablation] [--budgets 1024,2048,8192] [--chunk 0]

Sentences: the unique sentences of the STS-B dev and test splits (assets/stsb, 5,385), repeated
with a " (k)" suffix up to N. The bundled all-MiniLM-L6-v2 on the CPU, both in this process:
``SentenceTransformer(folder).encode`` (batch 32, its default) and ``core.embed_texts`` (its
defaults), in interleaved rounds; every vector of ours must be within 1e-5 of encode's.
Reported: the median over rounds of each round's throughput ratio (ours ÷ encode; goal ≥ 1.25),
and the share of the CPU's float32 matmul ceiling each reaches. The ceiling is measured in every
round (a 4096×384 @ 384×1536 matmul, best of 5); the model's FLOPs are counted from its config:
per real token 2 × (the Q, K, V, O and feed-forward weights) per layer, plus the attention
products 2 × 2 × n × d_attn per layer for a text of n tokens (padding is not useful work).

``--ablation`` adds the steps one at a time, each measured in the same rounds:
  before        the previous encode: tokenized per batch, sorted by characters, 32 texts a batch
  tokens-once   tokenized once with the fast tokenizer, sorted by token count, still 32 texts a batch
  budget B      batches of at most B padded tokens (no count of texts), for each B in --budgets
Other agents share these machines: the load average is printed with every round, and ``--chunk
C`` makes the variants take turns every C texts (each call embeds C texts, sorted and batched
within them) so that a change of load hits all of them alike.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

STSB = Path(__file__).resolve().parents[1] / "assets" / "stsb"
TOL = 1e-5


def sentences(n: int) -> list[str]:
    seen: dict[str, None] = {}
    for split in ("stsb-en-dev.csv", "stsb-en-test.csv"):
        with open(STSB / split, encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                seen.setdefault(row[0], None)
                seen.setdefault(row[1], None)
    unique = list(seen)
    texts = list(unique)
    while len(texts) < n:
        texts += [f"{t} ({len(texts) // len(unique)})" for t in unique[: n - len(texts)]]
    return texts[:n]


def model_flops(config, lengths: np.ndarray) -> float:
    """Useful FLOPs of one encoder pass over texts of ``lengths`` real tokens (multiply-add = 2)."""
    d = int(config.hidden_size)
    heads = int(config.num_attention_heads)
    d_attn = heads * int(getattr(config, "head_dim", None) or d // heads)
    ff = int(config.intermediate_size)
    layers = int(config.num_hidden_layers)
    per_token = 2 * (3 * d * d_attn + d_attn * d + 2 * d * ff)  # Q, K, V, O; feed-forward in and out
    lengths = lengths.astype(np.float64)
    return layers * (per_token * lengths.sum() + 2 * 2 * d_attn * (lengths ** 2).sum())


def matmul_ceiling(repeats: int = 5) -> float:
    """float32 GFLOP/s of a 4096×384 @ 384×1536 matmul on this machine now (best of ``repeats``)."""
    a, b = torch.randn(4096, 384), torch.randn(384, 1536)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(10):
            a @ b
        best = min(best, (time.perf_counter() - start) / 10)
    return 2 * 4096 * 384 * 1536 / best / 1e9


def encode_before(explorer, texts: list[str], batch_size: int = 32) -> np.ndarray:
    """The previous ExplorerModel.encode (one pooling, no prompt): sorted by characters, a fixed
    number of texts a batch, each batch tokenized on its own."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    out = None
    keys = ("input_ids", "attention_mask", "token_type_ids") if explorer.architecture.token_type_embeddings \
        else ("input_ids", "attention_mask")
    for start in range(0, len(texts), batch_size):
        index = order[start:start + batch_size]
        batch = explorer.tokenizer([texts[i] for i in index], padding=True, truncation=True,
                                   max_length=explorer.info.max_seq_length, return_tensors="pt")
        batch = {key: batch[key] for key in keys if key in batch}
        with explorer._lock, torch.inference_mode():
            hidden = explorer.torch_module(**batch).last_hidden_state
            vectors = explorer.pipeline.embed(hidden, batch["attention_mask"])
        if out is None:
            out = np.zeros((len(texts), vectors.shape[-1]), dtype=np.float32)
        out[index] = vectors.numpy()
    return out


@contextlib.contextmanager
def texts_per_batch(count: int):
    """encode's batches cut at ``count`` texts instead of by padded tokens (the tokens-once step)."""
    from unittest import mock

    from core.models import batching

    original = batching.token_budget_batches
    with mock.patch.object(batching, "token_budget_batches",
                           lambda lengths, max_tokens: original(lengths, 10**12, max_texts=count)):
        yield


def load() -> float:
    return float(open("/proc/loadavg").read().split()[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ablation", action="store_true", help="measure each step on its own as well")
    parser.add_argument("--chunk", type=int, default=0,
                        help="take turns every CHUNK texts instead of every whole run (for a machine others load)")
    parser.add_argument("--budgets", default="1024,2048,8192", help="token budgets for --ablation")
    args = parser.parse_args()

    from sentence_transformers import SentenceTransformer

    from core import embed_texts, load_model
    from core.models.batching import default_token_budget

    texts = sentences(args.n)
    explorer = load_model(None, "cpu")
    reference = SentenceTransformer(explorer.source_dir, device="cpu")
    lengths = np.array([len(ids) for ids in explorer.tokenizer(texts, truncation=True,
                                                               max_length=explorer.info.max_seq_length)["input_ids"]])
    flops = model_flops(explorer.torch_module.config, lengths)

    def tokens_once(some):
        with texts_per_batch(32):
            return explorer.encode(some)

    reference_name = "SentenceTransformer.encode (batch 32)"
    ours = f"core.embed_texts (its default: budget {default_token_budget(explorer.info, 32)})"
    variants: dict[str, object] = {reference_name: lambda some: reference.encode(some, batch_size=32),
                                   ours: lambda some: embed_texts(explorer, some)}
    if args.ablation:
        variants["before: per-batch tokenizer, 32 texts"] = lambda some: encode_before(explorer, some)
        variants["tokenized once, by tokens, 32 texts"] = tokens_once
        for budget in (int(b) for b in args.budgets.split(",") if b):
            variants[f"token budget {budget}"] = functools.partial(explorer.encode, max_tokens=budget)

    reference.encode(texts[:256])  # warm-up: first-call allocations, thread pools
    embed_texts(explorer, texts[:256])
    print(f"{len(texts):,} STS-B sentences, {lengths.sum():,} tokens (mean {lengths.mean():.1f}, max {lengths.max()}), "
          f"{flops / lengths.sum() / 1e6:.2f} MFLOP per token from the config; torch threads {torch.get_num_threads()}, "
          f"load average {' '.join(open('/proc/loadavg').read().split()[:3])}", flush=True)
    times: dict[str, list[float]] = {name: [] for name in variants}
    ceilings, loads = [], []
    max_diff = 0.0
    for round_number in range(args.rounds):
        ceilings.append(matmul_ceiling())
        start_load = load()
        results = {}
        # encode and embed_texts back to back, taking turns to go first; then the ablation steps
        names = list(variants)
        names[:2] = names[:2] if round_number % 2 == 0 else names[1::-1]
        spans = [slice(0, len(texts))] if not args.chunk else \
            [slice(i, i + args.chunk) for i in range(0, len(texts), args.chunk)]
        elapsed = dict.fromkeys(names, 0.0)
        parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
        for span in spans:  # with --chunk, every variant takes its turn on each chunk before the next
            for name in names:
                start = time.perf_counter()
                parts[name].append(np.asarray(variants[name](texts[span])))
                elapsed[name] += time.perf_counter() - start
        for name in names:
            times[name].append(elapsed[name])
            results[name] = np.concatenate(parts[name])
        for name, vectors in results.items():
            diff = float(np.abs(vectors - results[reference_name]).max())
            assert diff <= TOL, f"{name}: max |diff| {diff:.2e} > {TOL}"
            max_diff = max(max_diff, diff)
        loads.append((start_load, load()))
        print(f"round {round_number + 1}: ceiling {ceilings[-1]:.0f} GFLOP/s, load {start_load:.2f} → {loads[-1][1]:.2f}; "
              + ", ".join(f"{t[-1]:.1f} s" for t in times.values()), flush=True)

    ceiling = statistics.median(ceilings)
    base = reference_name
    turns = f"turns every {args.chunk:,} texts" if args.chunk else "each variant on all texts in turn"
    print(f"\nmedian of {args.rounds} interleaved rounds ({turns}); ceiling {ceiling:.0f} GFLOP/s (4096×384 @ 384×1536, median of rounds); "
          f"max |diff| from encode's vectors {max_diff:.1e} (≤ {TOL:g})")
    print(f"{'':44} {'time':>8} {'sent/s':>8} {'÷ encode':>9} {'GFLOP/s':>8} {'of ceiling':>10}")
    for name, values in times.items():
        ratio = statistics.median(b / t for b, t in zip(times[base], values))
        t = statistics.median(values)
        rate = flops / t / 1e9
        print(f"{name:44} {t:7.1f}s {len(texts) / t:8.0f} {ratio:9.2f} {rate:8.0f} {rate / ceiling:9.0%}")
    final = statistics.median(b / t for b, t in zip(times[base], times[ours]))
    print(f"\nthroughput ratio embed_texts ÷ SentenceTransformer.encode: {final:.2f} (goal ≥ 1.25); "
          f"load averages per round: {', '.join(f'{a:.2f}→{b:.2f}' for a, b in loads)}")


if __name__ == "__main__":
    main()
