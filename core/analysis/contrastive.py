"""Contrastive training made concrete: InfoNCE on a batch, and a few real fine-tuning steps.

``info_nce`` is the loss sentence-transformers calls MultipleNegativesRankingLoss (in-batch
negatives, scale = 1 / temperature). ``fine_tune`` trains a private copy of the model's weights
(``ExplorerModel.training_copy``): the shared model that every session uses is never touched.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ..embed.embedding import embed_texts
from ..errors import InputTextError
from ..models.explorer_model import ExplorerModel
from ..pipeline.pooling import l2_normalize

MAX_PAIRS = 32
MAX_STEPS = 40
TRAIN_MAX_TOKENS = 64


@dataclass(frozen=True)
class InfoNceResult:
    temperature: float
    similarity: np.ndarray     # [B, B] cosine(anchor i, positive j)
    logits: np.ndarray         # similarity / temperature
    probabilities: np.ndarray  # softmax of each row: how sure the model is which positive is anchor i's
    row_losses: np.ndarray     # −log p(i, i)
    loss: float                # mean of row_losses
    accuracy: float            # share of rows whose largest logit is on the diagonal


def info_nce(anchors: np.ndarray, positives: np.ndarray, temperature: float = 0.05) -> InfoNceResult:
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    a = l2_normalize(np.asarray(anchors, dtype=np.float64))
    b = l2_normalize(np.asarray(positives, dtype=np.float64))
    similarity = a @ b.T
    logits = similarity / temperature
    shifted = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    diagonal = np.arange(len(a))
    row_losses = -(shifted[diagonal, diagonal] - np.log(np.exp(shifted).sum(axis=1)))
    return InfoNceResult(float(temperature), similarity.astype(np.float32), logits.astype(np.float32),
                         probabilities.astype(np.float32), row_losses.astype(np.float32), float(row_losses.mean()),
                         float((logits.argmax(axis=1) == diagonal).mean()))


def check_pairs(anchors: Sequence[str], positives: Sequence[str]) -> tuple[list[str], list[str]]:
    pairs = [(a.strip(), p.strip()) for a, p in zip(anchors, positives) if a.strip() and p.strip()]
    if len(anchors) != len(positives):
        raise InputTextError(f"{len(anchors)} anchors but {len(positives)} positives: give them in pairs.")
    if len(pairs) < 2:
        raise InputTextError("Contrastive training needs at least 2 (anchor, positive) pairs: the others are the negatives.")
    if len(pairs) > MAX_PAIRS:
        raise InputTextError(f"At most {MAX_PAIRS} pairs here (one batch); {len(pairs)} given.")
    return [a for a, _ in pairs], [p for _, p in pairs]


@dataclass(frozen=True)
class FineTuneResult:
    losses: tuple[float, ...]          # per step, on the training batch
    before: InfoNceResult
    after: InfoNceResult
    anchor_vectors_before: np.ndarray
    positive_vectors_before: np.ndarray
    anchor_vectors_after: np.ndarray
    positive_vectors_after: np.ndarray
    seconds: float                     # time spent in the training steps
    stopped_early: bool
    held_out_before: InfoNceResult | None = None  # pairs never trained on (their own in-batch negatives)
    held_out_after: InfoNceResult | None = None


def contrastive_step(optimizer, anchors: torch.Tensor, candidates: torch.Tensor, labels: torch.Tensor,
                     temperature: float) -> float:
    """One optimiser step of InfoNCE: row i of ``anchors`` against every row of ``candidates`` (unit
    vectors), the right one at ``labels[i]``; returns the loss."""
    loss = torch.nn.functional.cross_entropy(anchors @ candidates.T / temperature, labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def fine_tune(
    explorer: ExplorerModel,
    anchors: Sequence[str],
    positives: Sequence[str],
    *,
    steps: int = 10,
    temperature: float = 0.05,
    learning_rate: float = 5e-5,
    progress: Callable[[int, int, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    held_out: tuple[Sequence[str], Sequence[str]] | None = None,
) -> FineTuneResult:
    """A few AdamW steps of InfoNCE (mean pooling, in-batch negatives) on a private copy of the model
    (``ExplorerModel.training_copy``: dropout off, so the run is deterministic and draws no random numbers).

    ``held_out`` (anchors, positives) are scored before and after but never trained on: the training loss
    alone cannot tell memorising the batch from learning something that carries over."""
    anchors, positives = check_pairs(anchors, positives)
    held_anchors, held_positives = check_pairs(*held_out) if held_out is not None else ([], [])
    steps = int(min(max(steps, 1), MAX_STEPS))
    student = explorer.training_copy()
    optimizer = torch.optim.AdamW(student.parameters(), lr=learning_rate)
    labels = torch.arange(len(anchors), device=student.device)

    def vectors(first=anchors, second=positives) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            return (student.embed(first, TRAIN_MAX_TOKENS).cpu().numpy(),
                    student.embed(second, TRAIN_MAX_TOKENS).cpu().numpy())

    def held_out_score() -> InfoNceResult | None:
        return info_nce(*vectors(held_anchors, held_positives), temperature) if held_anchors else None

    a0, b0 = vectors()
    held_before = held_out_score()
    losses, stopped, start = [], False, time.perf_counter()
    for step in range(steps):
        if should_stop is not None and should_stop():
            stopped = True
            break
        losses.append(contrastive_step(optimizer, student.embed(anchors, TRAIN_MAX_TOKENS),
                                       student.embed(positives, TRAIN_MAX_TOKENS), labels, temperature))
        if progress is not None:
            progress(step + 1, steps, losses[-1])
    seconds = time.perf_counter() - start  # the training steps only
    a1, b1 = vectors()
    held_after = held_out_score()
    del optimizer
    student.release()
    return FineTuneResult(tuple(losses), info_nce(a0, b0, temperature), info_nce(a1, b1, temperature),
                          a0, b0, a1, b1, seconds, stopped, held_before, held_after)


def untrained_twin(explorer: ExplorerModel, seed: int = 0) -> ExplorerModel:
    """A randomly initialised model of the same architecture and tokenizer: what the network
    computes before any training (offline; no download). Its weights come from a private generator
    seeded with ``seed``: the same twin every time, and torch's shared generator is left alone."""
    from ..models.loading import untrained_copy

    return untrained_copy(explorer, seed=seed, model_id=f"{explorer.info.model_id} (untrained, random weights)")


def untrained_vectors(explorer: ExplorerModel, *texts: Sequence[str], seed: int = 0) -> tuple[np.ndarray, ...]:
    """Mean-pooled, normalised vectors of each list of texts under the untrained twin, which is built for
    them and then dropped (a kept twin would hold a second model in memory for one table)."""
    import gc

    from ..models.memory import return_freed_memory

    twin = untrained_twin(explorer, seed=seed)
    try:
        return tuple(embed_texts(twin, list(group), pooling="mean", normalize=True) for group in texts)
    finally:
        del twin
        gc.collect()
        return_freed_memory()


def score_pairs(explorer: ExplorerModel, anchors: Sequence[str], positives: Sequence[str], temperature: float = 0.05) -> InfoNceResult:
    """InfoNCE of a batch under ``explorer`` with mean pooling (the training objective's view)."""
    anchors, positives = check_pairs(anchors, positives)
    a = embed_texts(explorer, anchors, pooling="mean", normalize=True)
    b = embed_texts(explorer, positives, pooling="mean", normalize=True)
    return info_nce(a, b, temperature)
