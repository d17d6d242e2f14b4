"""Fix it by training: a few contrastive steps on (query, expected passage) on a private copy.

The training page's machinery (``ExplorerModel.training_copy``, InfoNCE at a temperature): the query
is the anchor, the expected passage its positive, and the passages that outrank it now are the
in-batch negatives. The shared model is never touched. Afterwards the whole corpus is embedded
again with the trained copy; other queries with known answers, never trained on, say whether the
change carries over or breaks something.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ..analysis.contrastive import contrastive_step
from ..errors import InputTextError
from ..models.explorer_model import ExplorerModel
from .search import CorpusIndex, rank_units

MAX_TEACH_STEPS = 30


@dataclass(frozen=True)
class HeldOutChange:
    query: str
    answer: int
    rank_before: int
    rank_after: int


@dataclass(frozen=True)
class TeachResult:
    rank_before: int               # the expected passage's rank under the copy before training (mean pooling, normalised)
    rank_after: int
    score_before: float
    score_after: float
    losses: tuple[float, ...]
    negatives: tuple[int, ...]     # the passages used as negatives
    held_out: tuple[HeldOutChange, ...]
    seconds: float
    stopped_early: bool

    @property
    def improved(self) -> int:
        return sum(change.rank_after < change.rank_before for change in self.held_out)

    @property
    def worsened(self) -> int:
        return sum(change.rank_after > change.rank_before for change in self.held_out)

    @property
    def unchanged(self) -> int:
        return sum(change.rank_after == change.rank_before for change in self.held_out)


def _embed(student, texts: Sequence[str], max_length: int, batch_size: int = 64) -> np.ndarray:
    with torch.inference_mode():
        return np.concatenate([student.embed(list(texts[i:i + batch_size]), max_length).cpu().numpy()
                               for i in range(0, len(texts), batch_size)])


def teach_pair(explorer: ExplorerModel, index: CorpusIndex, query: str, expected: int, *, steps: int = 8,
               negatives: int = 7, temperature: float = 0.05, learning_rate: float = 2e-5,
               held_out: tuple[Sequence[str], Sequence[int]] | None = None,
               progress: Callable[[int, int, float], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> TeachResult:
    """Train a private copy so that ``query`` retrieves passage ``expected``; report its new rank and
    the rank changes of ``held_out`` (queries, their answer passages), which are never trained on."""
    corpus = index.corpus
    if not 0 <= expected < len(corpus.passages):
        raise InputTextError("Mark the passage you expected first.")
    steps = int(min(max(steps, 1), MAX_TEACH_STEPS))
    max_length = explorer.info.max_seq_length
    student = explorer.training_copy()
    unit_texts = [unit.text for unit in corpus.units]
    held_queries, held_answers = (list(held_out[0]), list(held_out[1])) if held_out else ([], [])

    def ranks(query_texts: Sequence[str], answers: Sequence[int]) -> tuple[list[int], list[float], object]:
        units = _embed(student, unit_texts, max_length)
        queries = _embed(student, list(query_texts), max_length)
        out_ranks, out_scores, first = [], [], None
        for vector, answer in zip(queries, answers):
            ranking = rank_units(units @ vector, corpus, "cosine")
            first = ranking if first is None else first
            out_ranks.append(ranking.rank_of(answer))
            out_scores.append(float(ranking.scores[answer]))
        return out_ranks, out_scores, first

    before_ranks, before_scores, before = ranks([query, *held_queries], [expected, *held_answers])
    chosen = [int(p) for p in before.order if int(p) != expected][:negatives]  # what outranks it now, hardest first
    candidates = [corpus.passages[expected], *(corpus.passages[p] for p in chosen)]
    optimizer = torch.optim.AdamW(student.parameters(), lr=learning_rate)
    target = torch.zeros(1, dtype=torch.long, device=student.device)
    losses, stopped, start = [], False, time.perf_counter()
    for step in range(steps):
        if should_stop is not None and should_stop():
            stopped = True
            break
        losses.append(contrastive_step(optimizer, student.embed([query], max_length), student.embed(candidates, max_length),
                                       target, temperature))
        if progress is not None:
            progress(step + 1, steps, losses[-1])
    seconds = time.perf_counter() - start
    after_ranks, after_scores, _ = ranks([query, *held_queries], [expected, *held_answers])
    del optimizer
    student.release()
    changes = tuple(HeldOutChange(q, a, b, c) for q, a, b, c in zip(held_queries, held_answers, before_ranks[1:], after_ranks[1:]))
    return TeachResult(before_ranks[0], after_ranks[0], before_scores[0], after_scores[0], tuple(losses), tuple(chosen),
                       changes, seconds, stopped)
