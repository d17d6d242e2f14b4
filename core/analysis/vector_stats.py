"""Sizes of vectors and how far two vectors that should be equal lie apart (norms, means, spreads, max |difference|)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def l2_norm(vector) -> float:
    """‖v‖₂ of one vector."""
    return float(np.linalg.norm(np.asarray(vector)))


@dataclass(frozen=True)
class VectorStats:
    norms: np.ndarray   # [n] L2 norm of each row
    means: np.ndarray   # [n] mean of each row's values
    stds: np.ndarray    # [n] standard deviation of each row's values (population, ddof = 0)


def vector_stats(vectors) -> VectorStats:
    """Norm, mean and standard deviation of each row of an [n, d] array."""
    vectors = np.asarray(vectors)
    return VectorStats(np.linalg.norm(vectors, axis=1), vectors.mean(axis=1), vectors.std(axis=1))


def max_abs_difference(vector_a, vector_b) -> float:
    """max_i |a_i − b_i|: 0 for the same numbers, float32 rounding (~1e-7) for the same numbers computed in another order."""
    difference = np.abs(np.asarray(vector_a) - np.asarray(vector_b))
    return float(difference.max()) if difference.size else 0.0
