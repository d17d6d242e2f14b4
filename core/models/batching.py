"""Token-budget batches for ``ExplorerModel.encode``: texts tokenized once, sorted by token count,
and grouped so that each batch holds about the same number of padded tokens.

sentence-transformers sorts texts by character length and cuts a fixed number of them per batch
(32), so a batch of short sentences is a few hundred tokens: small matrix products, and the
per-call costs of a forward pass (Python, thread start-up of every elementwise operation) paid
for little work. Here a batch grows until it holds ``max_tokens`` padded tokens, so the matrix
products are large and, sorted by token count rather than characters, padding is almost nil.
The vectors are the same (padding is masked; only the floating-point summation order of the
products differs, far below 1e-5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

# Padded tokens per batch: large enough that the matrix products run near the CPU's ceiling and
# the per-forward costs are spread thin (bench/encode_throughput.py measures the choice) ...
TOKEN_BUDGET = 4096
# ... and on the CPU at most this many FLOPs a batch (about half a second on a 2-core CPU), so a
# bigger model gets fewer tokens a batch and no batch holds the model's lock for long: other
# sessions' traces run between batches. MiniLM-L6 (21 MFLOP a token) gets the full TOKEN_BUDGET,
# a BERT-base-sized model (170 MFLOP) about 590 tokens, what sentence-transformers' 32 short
# sentences are.
CPU_BATCH_FLOPS = 100e9
MIN_TOKEN_BUDGET = 256
# Texts tokenized per call of the fast tokenizer before the next ``should_stop`` check.
TOKENIZE_CHUNK = 2048


def flops_per_token(info) -> float:
    """Multiply-adds × 2 of one token through the transformer's weights (``ModelInfo``): the Q, K, V
    and output projections and the feed-forward layer (three matrices where gated) of every layer."""
    d_q, d_kv = info.n_heads * info.d_head, info.n_kv_heads * info.d_head
    attention = info.d_model * (2 * d_q + 2 * d_kv)
    feed_forward = (3 if info.ffn_gated else 2) * info.d_model * info.d_ff
    return 2.0 * info.n_layers * (attention + feed_forward)


def default_token_budget(info, batch_size: int) -> int:
    """Padded tokens a batch may hold: ``batch_size`` texts of the model's longest length (the most a
    sentence-transformers batch of ``batch_size`` holds), at most ``TOKEN_BUDGET``, and on the CPU at
    most ``CPU_BATCH_FLOPS`` worth (but never under ``MIN_TOKEN_BUDGET``)."""
    budget = min(TOKEN_BUDGET, max(1, batch_size) * max(1, info.max_seq_length))
    if str(info.device).startswith("cpu"):
        by_flops = int(CPU_BATCH_FLOPS // max(1.0, flops_per_token(info)))
        budget = min(budget, max(MIN_TOKEN_BUDGET, by_flops))
    return max(1, budget)


@dataclass(frozen=True)
class Tokenized:
    """Every text's token ids (and token type ids where the model has them), unpadded."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(ids) for ids in self.input_ids), dtype=np.int64, count=len(self.input_ids))


def tokenize_all(tokenizer, texts: Sequence[str], max_length: int, *, token_types: bool,
                 should_stop: Callable[[], bool] | None = None, on_stop: Callable[[], None] | None = None) -> Tokenized:
    """Tokenize ``texts`` with the fast tokenizer's batch call (truncated to ``max_length``, no
    padding), ``TOKENIZE_CHUNK`` at a time so ``should_stop`` is checked in between (``on_stop``
    raises)."""
    input_ids: list[list[int]] = []
    type_ids: list[list[int]] | None = [] if token_types else None
    for start in range(0, len(texts), TOKENIZE_CHUNK):
        if start and should_stop is not None and should_stop() and on_stop is not None:
            on_stop()
        encoded = tokenizer(list(texts[start:start + TOKENIZE_CHUNK]), truncation=True, max_length=max_length,
                            padding=False, return_attention_mask=False, return_token_type_ids=token_types)
        input_ids.extend(encoded["input_ids"])
        if type_ids is not None:
            chunk_types = encoded.get("token_type_ids")
            type_ids.extend(chunk_types if chunk_types is not None else ([0] * len(ids) for ids in encoded["input_ids"]))
    return Tokenized(input_ids, type_ids)


def token_budget_batches(lengths: Sequence[int] | np.ndarray, max_tokens: int,
                         max_texts: int | None = None) -> list[np.ndarray]:
    """Indices of the texts, longest first (ties in input order), cut into batches of at most
    ``max_tokens`` padded tokens (texts × the batch's longest text) and at most ``max_texts`` texts.
    A text longer than the budget is a batch of its own."""
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    batches: list[np.ndarray] = []
    start, n = 0, len(order)
    max_tokens = max(1, int(max_tokens))
    while start < n:
        longest = max(1, int(lengths[order[start]]))  # sorted longest first: the first text sets the padding
        count = max(1, max_tokens // longest)
        if max_texts is not None:
            count = min(count, max(1, int(max_texts)))
        batches.append(order[start:start + count])
        start += count
    return batches


def padded_batch(tokenized: Tokenized, index: np.ndarray, pad_id: int, padding_side: str = "right",
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """input_ids, attention_mask (and token_type_ids) [B, T] of the texts ``index``, padded to the
    longest of them with ``pad_id`` on ``padding_side`` as the tokenizer pads."""
    rows = [tokenized.input_ids[i] for i in index]
    width = max(len(row) for row in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    types = None if tokenized.token_type_ids is None else np.zeros((len(rows), width), dtype=np.int64)
    left = padding_side == "left"
    for row_number, (i, row) in enumerate(zip(index, rows)):
        span = slice(width - len(row), width) if left else slice(0, len(row))
        ids[row_number, span] = row
        mask[row_number, span] = 1
        if types is not None:
            types[row_number, span] = tokenized.token_type_ids[i]
    return ids, mask, types
