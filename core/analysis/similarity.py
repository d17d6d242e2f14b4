"""Cosine similarity, and why two sentences are similar: the score split over token pairs.

For mean-type pooling the sentence vector is a weighted sum of token vectors, so
cos(a, b) = Σ_i Σ_j w_i w'_j (h_i · h'_j) / (W W' |a| |b|) splits exactly into token pairs.
For max pooling each dimension k comes from one token i*(k) of a and one j*(k) of b, so
dimension k's product a_k b_k / (|a| |b|) belongs to the pair (i*(k), j*(k)). For [CLS] and
last-token pooling the whole score sits on one pair. Every split sums to the cosine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def cosine_matrix(vectors_a: np.ndarray, vectors_b: np.ndarray | None = None) -> np.ndarray:
    a = np.asarray(vectors_a, dtype=np.float64)
    b = a if vectors_b is None else np.asarray(vectors_b, dtype=np.float64)
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    return (a @ b.T).astype(np.float32)


def cosine(vector_a: np.ndarray, vector_b: np.ndarray) -> float:
    """cos(a, b) of two vectors (0 when either is zero)."""
    a = np.asarray(vector_a, dtype=np.float64).ravel()
    b = np.asarray(vector_b, dtype=np.float64).ravel()
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def diagonal_mean(matrix: np.ndarray) -> float:
    """Mean of the diagonal cells of a square similarity matrix (anchor i with its own positive)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    return float(np.diag(matrix).mean()) if matrix.size else 0.0


def off_diagonal_mean(matrix: np.ndarray) -> float:
    """Mean over the cells off the diagonal of a square similarity matrix (pairs of different items); 0 for 1 × 1."""
    matrix = np.asarray(matrix, dtype=np.float64)
    mask = ~np.eye(matrix.shape[0], dtype=bool)
    return float(matrix[mask].mean()) if mask.any() else 0.0


@dataclass(frozen=True)
class PairContributions:
    pooling: str
    cosine: float                 # cos(pooled a, pooled b)
    contributions: np.ndarray     # [Ta, Tb]; sums to ``cosine``
    tokens_a: tuple[str, ...]
    tokens_b: tuple[str, ...]

    @property
    def total(self) -> float:
        """The contributions added up: the cosine again, up to float rounding."""
        return float(self.contributions.sum())

    @property
    def largest_share(self) -> float:
        """max |contribution| (1.0 when every share is 0), the symmetric colour limit of the pair heatmap."""
        return float(np.abs(self.contributions).max(initial=0.0)) or 1.0

    def top_pairs(self, k: int = 10) -> list[tuple[int, int, float]]:
        flat = np.argsort(-np.abs(self.contributions), axis=None)[:k]
        rows, cols = np.unravel_index(flat, self.contributions.shape)
        return [(int(i), int(j), float(self.contributions[i, j])) for i, j in zip(rows, cols)]


def _weights(pooling: str, n: int, token_weights: np.ndarray | None) -> np.ndarray:
    if pooling in ("mean", "mean_sqrt_len_tokens"):  # a rescaled mean: the same cosine
        return np.ones(n)
    if pooling == "weightedmean":
        return np.arange(1, n + 1, dtype=np.float64)
    if pooling == "idf":
        if token_weights is None:
            raise ValueError("IDF pooling needs token weights")
        return np.asarray(token_weights, dtype=np.float64)
    raise ValueError(pooling)


def pair_contributions(
    hidden_a: np.ndarray,
    hidden_b: np.ndarray,
    pooling: str,
    *,
    tokens_a=(),
    tokens_b=(),
    weights_a: np.ndarray | None = None,
    weights_b: np.ndarray | None = None,
) -> PairContributions:
    """Split cos(pool(hidden_a), pool(hidden_b)) over token pairs. ``hidden_*`` are [T, d] last-layer states."""
    a = np.asarray(hidden_a, dtype=np.float64)
    b = np.asarray(hidden_b, dtype=np.float64)
    contributions = np.zeros((a.shape[0], b.shape[0]))
    if pooling in ("mean", "mean_sqrt_len_tokens", "weightedmean", "idf"):
        wa, wb = _weights(pooling, a.shape[0], weights_a), _weights(pooling, b.shape[0], weights_b)
        pooled_a, pooled_b = (wa @ a) / max(wa.sum(), 1e-9), (wb @ b) / max(wb.sum(), 1e-9)
        denominator = np.linalg.norm(pooled_a) * np.linalg.norm(pooled_b) * max(wa.sum(), 1e-9) * max(wb.sum(), 1e-9)
        contributions = np.outer(wa, wb) * (a @ b.T) / max(denominator, 1e-12)
    elif pooling == "max":
        winners_a, winners_b = a.argmax(axis=0), b.argmax(axis=0)
        pooled_a, pooled_b = a.max(axis=0), b.max(axis=0)
        products = pooled_a * pooled_b / max(np.linalg.norm(pooled_a) * np.linalg.norm(pooled_b), 1e-12)
        np.add.at(contributions, (winners_a, winners_b), products)
    elif pooling in ("cls", "lasttoken"):
        i, j = (0, 0) if pooling == "cls" else (a.shape[0] - 1, b.shape[0] - 1)
        pooled_a, pooled_b = a[i], b[j]
        contributions[i, j] = pooled_a @ pooled_b / max(np.linalg.norm(pooled_a) * np.linalg.norm(pooled_b), 1e-12)
    else:
        raise ValueError(f"No token-pair split for pooling '{pooling}'.")
    cosine = float(pooled_a @ pooled_b / max(np.linalg.norm(pooled_a) * np.linalg.norm(pooled_b), 1e-12))
    return PairContributions(pooling, cosine, contributions.astype(np.float64), tuple(tokens_a), tuple(tokens_b))


# --- one token string in several sentences ---------------------------------------------------------


def repeated_tokens(tokens_per_sentence, skip_per_sentence=None) -> dict[str, list[tuple[int, int]]]:
    """Token strings that occur in at least two different sentences → their (sentence, position) occurrences.
    ``skip_per_sentence`` (e.g. special-token masks) leaves positions out."""
    where: dict[str, list[tuple[int, int]]] = {}
    for sentence, tokens in enumerate(tokens_per_sentence):
        skip = skip_per_sentence[sentence] if skip_per_sentence is not None else None
        for position, token in enumerate(tokens):
            if skip is None or not skip[position]:
                where.setdefault(token, []).append((sentence, position))
    return {token: places for token, places in where.items() if len({s for s, _ in places}) >= 2}


@dataclass(frozen=True)
class OccurrencePair:
    token: str
    first: tuple[int, int]    # (sentence, position)
    second: tuple[int, int]
    cosines: np.ndarray       # [layers + 1]: cosine of the two occurrences' hidden states at each layer


def occurrence_cosines(hidden_per_sentence, places: list[tuple[int, int]], token: str = "",
                       max_pairs: int = 60) -> list[OccurrencePair]:
    """For every pair of occurrences in *different* sentences (at most ``max_pairs``), the cosine of their
    hidden states at every layer; ``hidden_per_sentence[s]`` is sentence s's [layers + 1, T, d]."""
    pairs = []
    for index, (s1, p1) in enumerate(places):
        for s2, p2 in places[index + 1:]:
            if s1 == s2:
                continue
            a = np.asarray(hidden_per_sentence[s1][:, p1], dtype=np.float64)
            b = np.asarray(hidden_per_sentence[s2][:, p2], dtype=np.float64)
            norms = np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
            pairs.append(OccurrencePair(token, (s1, p1), (s2, p2), (a * b).sum(axis=-1) / norms))
            if len(pairs) >= max_pairs:
                return pairs
    return pairs


@dataclass(frozen=True)
class OccurrenceSummary:
    """The occurrence pairs' cosines at layer 0 and at one chosen layer, in a few numbers."""
    layer: int
    count: int                # number of pairs
    start_low: float          # min / max cosine at layer 0 (the embedding rows, plus positions)
    start_high: float
    low: float                # min / max cosine at ``layer``
    high: float
    closest: int              # index (into the pairs) of the most similar pair at ``layer``
    farthest: int             # index of the least similar pair at ``layer``
    mean_change: float        # mean over the pairs of cos at ``layer`` − cos at layer 0


def summarise_occurrences(pairs: list[OccurrencePair], layer: int) -> OccurrenceSummary:
    """Summarise ``occurrence_cosines`` at layer 0 and at ``layer`` (needs at least one pair)."""
    start = np.array([p.cosines[0] for p in pairs], dtype=np.float64)
    now = np.array([p.cosines[layer] for p in pairs], dtype=np.float64)
    return OccurrenceSummary(layer, len(pairs), float(start.min()), float(start.max()), float(now.min()), float(now.max()),
                             int(now.argmax()), int(now.argmin()), float((now - start).mean()))


@dataclass(frozen=True)
class SimilarityComparison:
    """The same sentences' similarity matrices under two models, and how alike the two rank the pairs.

    Raw cosines of two models are not on one scale (each has its own baseline), so the comparison is
    by rank: Spearman's correlation over the pairs i < j, ties at their average rank."""
    similarity_a: np.ndarray     # [N, N]
    similarity_b: np.ndarray     # [N, N]
    baseline_a: float            # average cosine of two different sentences, model A
    baseline_b: float
    spearman: float              # NaN with fewer than two pairs or a constant side
    pairs: np.ndarray            # [P, 2] the pairs (i, j), i < j
    rank_a: np.ndarray           # [P] rank of each pair under A, 1 = most similar (ties by pair order)
    rank_b: np.ndarray

    @property
    def n_pairs(self) -> int:
        return int(len(self.pairs))

    def most_moved(self, count: int) -> list[tuple[int, int, float, float, int, int]]:
        """(i, j, cosine A, cosine B, rank A, rank B) of the ``count`` pairs whose rank differs most."""
        moved = np.abs(self.rank_a - self.rank_b)
        order = np.argsort(-moved, kind="stable")[:count]
        return [(int(self.pairs[k, 0]), int(self.pairs[k, 1]), float(self.similarity_a[tuple(self.pairs[k])]),
                 float(self.similarity_b[tuple(self.pairs[k])]), int(self.rank_a[k]), int(self.rank_b[k])) for k in order]


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1…n of ``values`` (ascending), tied values sharing their average rank."""
    order = np.argsort(values, kind="stable")
    ordinal = np.empty(len(values), dtype=np.float64)
    ordinal[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ordinal)
    return sums[inverse] / counts[inverse]


def model_similarity_comparison(similarity_a: np.ndarray, similarity_b: np.ndarray) -> SimilarityComparison:
    """Compare two [N, N] similarity matrices of the same N sentences (one per model)."""
    a = np.asarray(similarity_a, dtype=np.float64)
    b = np.asarray(similarity_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"need two square matrices of one shape, got {a.shape} and {b.shape}")
    rows, cols = np.triu_indices(a.shape[0], k=1)
    values_a, values_b = a[rows, cols], b[rows, cols]
    spearman = float("nan")
    if len(values_a) > 1 and np.ptp(values_a) > 0 and np.ptp(values_b) > 0:
        spearman = float(np.corrcoef(_average_ranks(values_a), _average_ranks(values_b))[0, 1])

    def descending_rank(values: np.ndarray) -> np.ndarray:
        ranks = np.empty(len(values), dtype=np.int64)
        ranks[np.argsort(-values, kind="stable")] = np.arange(1, len(values) + 1)
        return ranks

    pairs = np.stack([rows, cols], axis=1) if len(rows) else np.zeros((0, 2), dtype=np.int64)
    arrays = [np.asarray(similarity_a).copy(), np.asarray(similarity_b).copy(), pairs,
              descending_rank(values_a), descending_rank(values_b)]
    for array in arrays:
        array.setflags(write=False)
    return SimilarityComparison(arrays[0], arrays[1], off_diagonal_mean(a), off_diagonal_mean(b), spearman,
                                arrays[2], arrays[3], arrays[4])
