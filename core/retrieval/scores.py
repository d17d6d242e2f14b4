"""Is this score high? A score read against the corpus's own scores.

For this model and this corpus: the scores of random pairs of different passages, the query's
score against every passage, where a score falls among each (its percentile), and the corpus's
mean pairwise cosine (anisotropy: how much all its vectors point one way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..pipeline.similarity import paired_similarity
from .search import CorpusIndex, QueryEncoding, rank


@dataclass(frozen=True)
class ScoreContext:
    query_scores: np.ndarray        # [passages] the query against every passage (best unit)
    random_pair_scores: np.ndarray  # [pairs] random pairs of different passages' first units
    anisotropy: float               # mean cosine over every pair of different units (exact)
    similarity: str

    def percentile_among_pairs(self, score: float) -> float:
        """Share (0–100) of the random pairs that score lower."""
        return float((self.random_pair_scores < score).mean() * 100) if self.random_pair_scores.size else 0.0

    def percentile_among_query(self, score: float) -> float:
        """Share (0–100) of the passages the query scores lower against."""
        return float((self.query_scores < score).mean() * 100)


def mean_pairwise_cosine(vectors: np.ndarray) -> float:
    """Mean cosine over all pairs of different rows, exactly, in O(N·d): for unit vectors u_i,
    Σ_{i≠j} u_i·u_j = |Σ u_i|² − Σ |u_i|²."""
    unit = np.asarray(vectors, dtype=np.float64)
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    n = unit.shape[0]
    if n < 2:
        return 0.0
    total = unit.sum(axis=0)
    return float((total @ total - (unit * unit).sum()) / (n * (n - 1)))


def score_context(index: CorpusIndex, query: QueryEncoding, *, pairs: int = 2000, seed: int = 0) -> ScoreContext:
    native = index.native_pooling
    vectors = index.vectors[native]
    first_units = np.asarray([index.corpus.units_of(p)[0] for p in range(index.n_passages)])
    n = len(first_units)
    rng = np.random.default_rng(seed)  # a private generator: the same sample every time
    count = min(pairs, n * (n - 1) // 2)
    left = rng.integers(0, n, size=count * 2)
    right = rng.integers(0, n, size=count * 2)
    keep = left != right
    left, right = left[keep][:count], right[keep][:count]
    pair_scores = paired_similarity(vectors[first_units[left]], vectors[first_units[right]], index.similarity_fn_name)
    return ScoreContext(rank(index, query).scores, pair_scores, mean_pairwise_cosine(vectors), index.similarity_fn_name)
