"""Head search: every layer × head ranked by how much it does one thing, read from the trace.

"Which head links *it* to *animal*?" ranks heads by the attention weight of one query token on one
key token. The patterns rank heads by a habit averaged over the text's queries: looking at the
previous token, at the separator (the last special token), or at the other pieces of the same word.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..text.tokenization import TokenizedText
from ..trace.data import Trace

# pattern key → what the head looks at, in words
PATTERNS: dict[str, str] = {
    "previous": "the token just before",
    "separator": "the separator (the last special token)",
    "same_word": "the other pieces of its own word",
}


@dataclass(frozen=True)
class HeadRanking:
    """One score per head of every layer, and the heads in order, highest first."""
    question: str                 # what was searched, in words
    scores: np.ndarray            # [L, H] read-only; NaN where the question has no answer for this text
    ranked: tuple[tuple[int, int, float], ...]  # (layer, head, score), highest first, NaN left out

    def top(self, count: int) -> tuple[tuple[int, int, float], ...]:
        return self.ranked[:count]

    @property
    def median(self) -> float:
        """The median head's score (NaN when no head has one)."""
        return float(np.median([score for *_, score in self.ranked])) if self.ranked else float("nan")

    @property
    def answered(self) -> bool:
        return bool(self.ranked)


def _ranking(question: str, scores: np.ndarray) -> HeadRanking:
    scores = np.asarray(scores, dtype=np.float64)
    flat = scores.ravel()
    valid = np.flatnonzero(~np.isnan(flat))
    # highest first; a tie keeps layer-then-head order (stable sort on the negated score)
    order = valid[np.argsort(-flat[valid], kind="stable")]
    n_heads = scores.shape[1] if scores.ndim == 2 else 0
    ranked = tuple((int(i // n_heads), int(i % n_heads), float(flat[i])) for i in order)
    scores = scores.copy()
    scores.setflags(write=False)
    return HeadRanking(question, scores, ranked)


def heads_by_link(trace: Trace, query_index: int, key_index: int) -> HeadRanking:
    """Rank every head by the weight query token ``query_index`` puts on key token ``key_index``."""
    n = trace.n_tokens
    if not (0 <= query_index < n and 0 <= key_index < n):
        raise ValueError(f"token positions must be in 0…{n - 1}, got {query_index} and {key_index}")
    scores = np.stack([layer.attention_probs[:, query_index, key_index] for layer in trace.layers])
    tokens = trace.tokens.tokens
    return _ranking(f"weight of {tokens[query_index]} (position {query_index}) on {tokens[key_index]} "
                    f"(position {key_index})", scores)


def _pattern_targets(tokens: TokenizedText, pattern: str) -> np.ndarray:
    """[T, T] bool: for each query (row), the keys the pattern counts; a row with none is left out."""
    n = len(tokens)
    targets = np.zeros((n, n), dtype=bool)
    if pattern == "previous":
        targets[np.arange(1, n), np.arange(0, n - 1)] = True
    elif pattern == "separator":
        special = np.flatnonzero(np.asarray(tokens.special_mask, dtype=bool))
        if special.size:
            targets[:, special[-1]] = True
            targets[special[-1], special[-1]] = False  # the separator looking at itself is not the habit
    elif pattern == "same_word":
        words = np.asarray(tokens.word_ids)
        same = (words[:, None] == words[None, :]) & (words[:, None] >= 0)
        np.fill_diagonal(same, False)
        targets = same
    else:
        raise ValueError(f"unknown pattern {pattern!r}; one of {', '.join(PATTERNS)}")
    return targets


def heads_by_pattern(trace: Trace, pattern: str) -> HeadRanking:
    """Rank every head by the share of attention its queries put on ``pattern``'s keys (see PATTERNS),
    averaged over the queries that have such a key (all NaN when none has: e.g. no word of several
    pieces, or no special token)."""
    targets = _pattern_targets(trace.tokens, pattern)
    rows = targets.any(axis=1)
    if not rows.any():
        scores = np.full((len(trace.layers), trace.model.n_heads), np.nan)
    else:
        scores = np.stack([
            (np.asarray(layer.attention_probs, dtype=np.float64) * targets)[:, rows].sum(-1).mean(-1)
            for layer in trace.layers
        ])
    return _ranking(f"share of attention on {PATTERNS[pattern]}", scores)


def _bare(piece: str) -> str:
    for mark in ("##", "Ġ", "▁"):
        if piece.startswith(mark):
            piece = piece[len(mark):]
    return piece.lower()


def find_token(tokens: TokenizedText, word: str, *, after: int = -1) -> int | None:
    """The position of the first token after ``after`` that starts ``word`` (case-insensitive, the
    word as written in the text), or None."""
    wanted = word.strip().lower()
    if not wanted:
        return None
    for index in range(after + 1, len(tokens)):
        if tokens.special_mask[index]:
            continue
        start = int(tokens.offsets[index][0])
        word_id = int(tokens.word_ids[index])
        if index > 0 and int(tokens.word_ids[index - 1]) == word_id:
            continue  # not the word's first piece
        ends = [int(tokens.offsets[j][1]) for j in range(index, len(tokens)) if int(tokens.word_ids[j]) == word_id]
        written = tokens.text[start:max(ends)].strip().lower()
        if written == wanted or _bare(tokens.tokens[index]) == wanted:
            return index
    return None
