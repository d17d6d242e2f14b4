"""Two models on the same texts: maps aligned, neighbourhoods compared, rankings compared.

Plain numpy; every result is a frozen dataclass over read-only arrays, so a cache can hand the same
object to every session.

* ``align_points``: model B's 2-D/3-D map rotated (or reflected), scaled and shifted onto model A's by
  orthogonal Procrustes on centred coordinates, so the two maps can be read together. UMAP, t-SNE and
  PCA fix no orientation or sign, so without this the same structure can look mirrored or turned.
* ``neighbour_overlap``: each text's k nearest neighbours by cosine in each model's full vector space
  (itself excluded), and the Jaccard index of the two sets. The projection plays no part in it.
* ``compare_rankings``: two rankings of the same passages (one per model): ranks, top-k overlap,
  Spearman and Kendall of the ranks, the passages they disagree on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ExplorerError

NEIGHBOURS = 10   # neighbours per text in the overlap (fewer when the set has fewer other texts)


def _readonly(array: np.ndarray, dtype=None) -> np.ndarray:
    array = np.array(array, dtype=dtype, copy=True)
    array.setflags(write=False)
    return array


# ---------------------------------------------------------------------------------------------
# Aligned maps
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Alignment:
    """B's points moved onto A's: ``aligned = scale · (B − mean B) @ rotation + mean A``."""
    aligned: np.ndarray      # [N, dims] B's points in A's frame
    rotation: np.ndarray     # [dims, dims] orthogonal (a reflection when its determinant is −1)
    scale: float
    translation: np.ndarray  # [dims] mean A − scale · mean B @ rotation
    disparity: float         # ‖A_c − aligned_c‖² / ‖A_c‖²: 0 = the same map up to rotation, reflection, scale, shift
    distances: np.ndarray    # [N] each text's distance between its two positions, in A's units

    @property
    def reflected(self) -> bool:
        return bool(np.linalg.det(self.rotation) < 0)


def align_points(reference: np.ndarray, moving: np.ndarray) -> Alignment:
    """Orthogonal Procrustes with scaling: the rotation R (reflections allowed) and scale s minimising
    ‖A_c − s·B_c R‖ over centred coordinates, from the SVD of B_cᵀ A_c = U Σ Vᵀ: R = U Vᵀ,
    s = trace Σ / ‖B_c‖² (as scipy.linalg.orthogonal_procrustes, whose scale is trace Σ)."""
    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(moving, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise ExplorerError(f"Two maps of different shapes ({a.shape} and {b.shape}) cannot be aligned.")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ExplorerError("A map to align holds NaN or infinite coordinates.")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    a_c, b_c = a - mean_a, b - mean_b
    u, sigma, vt = np.linalg.svd(b_c.T @ a_c)
    rotation = u @ vt
    spread_b, spread_a = float((b_c ** 2).sum()), float((a_c ** 2).sum())
    scale = float(sigma.sum() / spread_b) if spread_b > 0 else 0.0   # every B point in one place: shrink to A's mean
    aligned = scale * (b_c @ rotation) + mean_a
    residual = float(((a - aligned) ** 2).sum())
    disparity = residual / spread_a if spread_a > 0 else 0.0
    return Alignment(_readonly(aligned), _readonly(rotation), scale, _readonly(mean_a - scale * (mean_b @ rotation)),
                     disparity, _readonly(np.linalg.norm(a - aligned, axis=1)))


# ---------------------------------------------------------------------------------------------
# Neighbourhoods in the full vector spaces
# ---------------------------------------------------------------------------------------------

def cosine_neighbours(vectors: np.ndarray, k: int = NEIGHBOURS, block_rows: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest other rows by cosine (itself excluded), nearest first: (indices [N, k]
    int64, cosines [N, k] float64). Cosines in float64; equal cosines (duplicate texts) go to the
    lower row number first, so a tie always resolves the same way. Blocks of rows keep 20,000 texts
    from ever holding an N × N matrix."""
    data = np.asarray(vectors, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] < 2:
        raise ExplorerError("Neighbours need at least two vectors.")
    if not np.isfinite(data).all():
        raise ExplorerError("Some vectors contain NaN or infinite values.")
    n = data.shape[0]
    k = int(max(1, min(k, n - 1)))
    unit = data / np.maximum(np.linalg.norm(data, axis=1, keepdims=True), 1e-12)
    indices = np.empty((n, k), dtype=np.int64)
    cosines = np.empty((n, k), dtype=np.float64)
    for start in range(0, n, block_rows):
        block = unit[start:start + block_rows] @ unit.T
        rows = np.arange(start, start + len(block))
        block[np.arange(len(block)), rows] = -np.inf   # never its own neighbour, even beside a duplicate
        for row, scores in enumerate(block):
            order = _top_k(scores, k)
            indices[start + row] = order
            cosines[start + row] = scores[order]
    return indices, cosines


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` highest scores' positions, highest first, equal scores by lower position. Every score
    equal to the k-th is a candidate, so a tie at the boundary is settled by the rule, not by
    argpartition's arbitrary pick."""
    if k >= len(scores):
        candidates = np.arange(len(scores))
    else:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        candidates = np.flatnonzero(scores >= kth)
    return candidates[np.lexsort((candidates, -scores[candidates]))][:k]


@dataclass(frozen=True)
class NeighbourOverlap:
    """The k nearest neighbours of every text under two models, and how much they share."""
    k: int
    neighbours_a: np.ndarray   # [N, k] nearest first (cosine, itself excluded, ties to the lower number)
    neighbours_b: np.ndarray   # [N, k]
    cosines_a: np.ndarray      # [N, k] the cosine of each of those neighbours
    cosines_b: np.ndarray
    shared: np.ndarray         # [N] neighbours in both sets
    jaccard: np.ndarray        # [N] shared / (2k − shared)

    @property
    def mean_jaccard(self) -> float:
        return float(self.jaccard.mean())

    @property
    def unchanged(self) -> int:
        """Texts with exactly the same k neighbours under both models."""
        return int((self.shared == self.k).sum())

    def most_changed(self, count: int) -> list[int]:
        """The ``count`` texts with the lowest Jaccard index (the lower number first on a tie)."""
        return [int(i) for i in np.lexsort((np.arange(len(self.jaccard)), self.jaccard))[:count]]

    def only_in_a(self, text: int) -> list[int]:
        """Neighbours of ``text`` under A that B does not count among its k, nearest first."""
        other = set(self.neighbours_b[text].tolist())
        return [int(i) for i in self.neighbours_a[text] if int(i) not in other]

    def only_in_b(self, text: int) -> list[int]:
        other = set(self.neighbours_a[text].tolist())
        return [int(i) for i in self.neighbours_b[text] if int(i) not in other]


def neighbour_overlap(vectors_a: np.ndarray, vectors_b: np.ndarray, k: int = NEIGHBOURS) -> NeighbourOverlap:
    """Jaccard index of each text's ``k`` nearest neighbours (cosine, full space) under A and under B.
    The two models may have different widths; the rows must be the same texts."""
    if len(vectors_a) != len(vectors_b):
        raise ExplorerError(f"{len(vectors_a):,} vectors from one model and {len(vectors_b):,} from the other: "
                            "the rows must be the same texts.")
    near_a, cos_a = cosine_neighbours(vectors_a, k)
    near_b, cos_b = cosine_neighbours(vectors_b, k)
    k = near_a.shape[1]
    # both rows hold k distinct numbers: shared = |A ∩ B| and |A ∪ B| = 2k − shared
    shared = (np.sort(near_a, axis=1)[:, :, None] == near_b[:, None, :]).any(axis=2).sum(axis=1)
    jaccard = shared / (2 * k - shared)
    return NeighbourOverlap(k, _readonly(near_a), _readonly(near_b), _readonly(cos_a), _readonly(cos_b),
                            _readonly(shared, np.int64), _readonly(jaccard, np.float64))


# ---------------------------------------------------------------------------------------------
# Two rankings of one corpus
# ---------------------------------------------------------------------------------------------

def ranks_from_order(order: np.ndarray) -> np.ndarray:
    """[N] 1-based rank of each passage from a best-first order of passage indices."""
    order = np.asarray(order, dtype=np.int64)
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(1, len(order) + 1)
    return ranks


def _discordant_pairs(sequence: np.ndarray) -> int:
    """Pairs i < j with sequence[i] > sequence[j] (a permutation of 1..N), by a Fenwick tree: O(N log N)."""
    n = len(sequence)
    tree = [0] * (n + 1)
    seen = discordant = 0
    for value in sequence.tolist():
        below, position = 0, value       # how many seen values are ≤ value
        while position > 0:
            below += tree[position]
            position -= position & -position
        discordant += seen - below
        position = value
        while position <= n:
            tree[position] += 1
            position += position & -position
        seen += 1
    return discordant


@dataclass(frozen=True)
class RankingComparison:
    """The same passages ranked for the same query by two models (ranks as each page shows them: 1 =
    top, equal scores in passage order)."""
    ranks_a: np.ndarray   # [N] 1-based
    ranks_b: np.ndarray
    k: int                # the top-k compared
    shared_top: int       # passages in both top-k
    spearman: float       # of the two rank vectors (no ties: each is a permutation)
    kendall: float        # tau of the two rank vectors

    @property
    def n(self) -> int:
        return len(self.ranks_a)

    @property
    def top_a(self) -> list[int]:
        return [int(p) for p in np.argsort(self.ranks_a)[: self.k]]

    @property
    def top_b(self) -> list[int]:
        return [int(p) for p in np.argsort(self.ranks_b)[: self.k]]

    def only_in_top_a(self) -> list[int]:
        """A's top-k that B ranks below its own top-k, the one B ranks lowest first."""
        missing = [p for p in self.top_a if self.ranks_b[p] > self.k]
        return sorted(missing, key=lambda p: (-int(self.ranks_b[p]), p))

    def only_in_top_b(self) -> list[int]:
        missing = [p for p in self.top_b if self.ranks_a[p] > self.k]
        return sorted(missing, key=lambda p: (-int(self.ranks_a[p]), p))

    def most_moved(self, count: int) -> list[int]:
        """The ``count`` passages whose two ranks differ most (a tie: the one ranked higher by either
        model first, then the lower number)."""
        change = np.abs(self.ranks_a - self.ranks_b)
        best = np.minimum(self.ranks_a, self.ranks_b)
        return [int(p) for p in np.lexsort((np.arange(self.n), best, -change))[:count]]


def compare_rankings(order_a: np.ndarray, order_b: np.ndarray, k: int = 10) -> RankingComparison:
    """Compare two best-first orders of the same N passages (``Ranking.order`` of each model)."""
    ranks_a, ranks_b = ranks_from_order(order_a), ranks_from_order(order_b)
    n = len(ranks_a)
    if n != len(ranks_b) or n < 2:
        raise ExplorerError("Two rankings compare only over the same corpus of at least two passages.")
    k = int(max(1, min(k, n)))
    shared = len(set(np.asarray(order_a[:k]).tolist()) & set(np.asarray(order_b[:k]).tolist()))
    difference = (ranks_a - ranks_b).astype(np.float64)
    spearman = 1.0 - 6.0 * float((difference ** 2).sum()) / (n * (n * n - 1.0))   # exact for untied ranks
    by_a = ranks_b[np.argsort(ranks_a)]   # B's ranks in A's order: every inversion is a discordant pair
    pairs = n * (n - 1) // 2
    kendall = 1.0 - 2.0 * _discordant_pairs(by_a) / pairs
    return RankingComparison(_readonly(ranks_a), _readonly(ranks_b), k, shared, spearman, kendall)
