"""Projections of more points than a method can fit: fit on a sample, place the rest.

- **PCA** of any size: the covariance is summed block by block, so a million 384-d vectors never
  need more than one block beside them.
- **UMAP**: a plain fit of a sample (``core.embed.projection.project``, the same settings and seed),
  then every other point placed by UMAP's own transform: its exact nearest sample points give its
  fuzzy memberships, it starts at their weighted mean and is optimised against the fixed sample
  layout, in batches (progress after each, ``should_stop`` checked before each).
- **t-SNE** has no transform: a plain fit of a sample, then each other point at the
  similarity-weighted mean of its nearest sample points (openTSNE's initialisation for new points,
  without its optimisation), which the result says.

``neighbour_recall`` says what each projection costs: the share of a point's nearest neighbours in
the full space that are still its nearest on the map, for sample points and placed points apart.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .projection import POINT_CAPS, ProjectionError, ProjectionParams, fit_umap, project

SAMPLE_SIZES = {"umap": POINT_CAPS["umap"], "tsne": POINT_CAPS["tsne"]}
TRANSFORM_BATCH = 2_048
RECALL_K = 10


class ProjectionStopped(ProjectionError):
    """Stopped by the user between two batches; nothing is kept."""

    def __init__(self, done: int, total: int):
        super().__init__(f"Projection stopped after {done:,} of {total:,} points.")
        self.done, self.total = done, total


@dataclass(frozen=True)
class ScaledProjection:
    """[N, dims] points; ``sample`` the row numbers that were fitted (sorted), the rest placed."""
    points: np.ndarray
    sample: np.ndarray
    method: str
    placed_by: str                       # how the points outside the sample got their place
    recall: dict = field(default_factory=dict)   # "sample" / "placed" → kNN recall (see neighbour_recall)

    def __post_init__(self):
        for array in (self.points, self.sample):
            array.setflags(write=False)


def pca_blocks(vectors: np.ndarray, dims: int = 2, block_rows: int = 65_536) -> np.ndarray:
    """PCA of [N, d] in blocks: the principal axes are the top eigenvectors of the covariance (the
    right singular vectors of the centred data, up to sign); each axis's sign is chosen so its
    largest component is positive."""
    data = np.asarray(vectors)
    n, d = data.shape
    mean = np.zeros(d, dtype=np.float64)
    for start in range(0, n, block_rows):
        mean += data[start:start + block_rows].sum(axis=0, dtype=np.float64)
    mean /= n
    covariance = np.zeros((d, d), dtype=np.float64)
    for start in range(0, n, block_rows):
        block = data[start:start + block_rows].astype(np.float64) - mean
        covariance += block.T @ block
    values, axes = np.linalg.eigh(covariance)
    axes = axes[:, np.argsort(values)[::-1][:dims]]
    axes *= np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(dims)])
    points = np.empty((n, dims), dtype=np.float32)
    for start in range(0, n, block_rows):
        points[start:start + block_rows] = (data[start:start + block_rows].astype(np.float64) - mean) @ axes
    return points


def neighbours_in(queries: np.ndarray, reference: np.ndarray, k: int, metric: str = "cosine",
                  block_rows: int = 1_024, exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each query row's ``k`` nearest reference rows, nearest first: (indices [Q, k], distances [Q, k]
    float32) with umap's distances (cosine 1 − cos, euclidean). ``exclude[i]`` is a reference row that
    query ``i`` may not pick (itself, when the queries are reference rows)."""
    if metric not in ("cosine", "euclidean"):
        raise ProjectionError(f"Unknown metric '{metric}' (choose cosine or euclidean).")
    dtype = np.float32 if metric == "cosine" else np.float64
    ref = np.asarray(reference, dtype=dtype)
    if metric == "cosine":
        ref = ref / np.maximum(np.linalg.norm(ref, axis=1, keepdims=True), 1e-12)
    ref_norms = np.einsum("ij,ij->i", ref, ref)
    k = int(min(k, len(ref) - (0 if exclude is None else 1)))
    # a block's distance matrix stays near 64 M entries (256 MB in float32), however many reference rows
    block_rows = int(max(1, min(block_rows, 2**26 // max(len(ref), 1))))
    indices = np.empty((len(queries), k), dtype=np.int64)
    distances = np.empty((len(queries), k), dtype=np.float32)
    for start in range(0, len(queries), block_rows):
        block = np.asarray(queries[start:start + block_rows], dtype=dtype)
        if metric == "cosine":
            block = block / np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)
            dist = 1.0 - block @ ref.T
        else:
            dist = np.sqrt(np.maximum(np.einsum("ij,ij->i", block, block)[:, None] - 2.0 * (block @ ref.T) + ref_norms[None, :], 0.0))
        if exclude is not None:
            dist[np.arange(len(block)), exclude[start:start + len(block)]] = np.inf
        top = np.argpartition(dist, k - 1, axis=1)[:, :k] if k < dist.shape[1] else np.tile(np.arange(dist.shape[1]), (len(block), 1))
        top_dist = np.take_along_axis(dist, top, axis=1)
        order = np.lexsort((top, top_dist), axis=1)
        indices[start:start + len(block)] = np.take_along_axis(top, order, axis=1)
        distances[start:start + len(block)] = np.maximum(np.take_along_axis(top_dist, order, axis=1), 0.0)
    return indices, distances


def choose_sample(n: int, size: int, seed: int) -> np.ndarray:
    """``size`` distinct row numbers of ``n``, sorted, drawn with ``seed`` (all rows when n ≤ size)."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def project_at_scale(vectors: np.ndarray, params: ProjectionParams = ProjectionParams(), *,
                     sample_size: int | None = None, batch_rows: int = TRANSFORM_BATCH,
                     progress: Callable[[str, int, int], None] | None = None,
                     should_stop: Callable[[], bool] | None = None, recall_points: int = 1_000) -> ScaledProjection:
    """[N, d] → ScaledProjection: PCA of everything, or UMAP / t-SNE fitted on a sample of
    ``sample_size`` (the method's cap by default) and every other point placed (see the module).
    ``progress(step, done, total)`` reports each batch."""
    data = np.asarray(vectors, dtype=np.float32)
    if data.ndim != 2 or len(data) < 3:
        raise ProjectionError("A projection needs at least 3 vectors.")
    if not np.isfinite(data).all():
        raise ProjectionError("Some vectors contain NaN or infinite values.")
    n, method = len(data), params.method
    if method == "pca":
        points = pca_blocks(data, int(params.dims))
        everything = np.arange(n)
        result = ScaledProjection(points, everything, "pca", "fitted on every point")
        return _with_recall(result, data, params.metric, recall_points)
    if method not in SAMPLE_SIZES:
        raise ProjectionError(f"Unknown projection method '{method}'.")
    size = int(min(sample_size or SAMPLE_SIZES[method], SAMPLE_SIZES[method]))
    sample = choose_sample(n, size, params.seed)
    if progress:
        progress(f"fitting {method.upper()} on a sample of {len(sample):,} points", 0, n)
    fitted, reducer = _fit(data[sample], params)
    points = np.empty((n, fitted.shape[1]), dtype=np.float32)
    points[sample] = fitted
    rest = np.setdiff1d(np.arange(n), sample, assume_unique=True)
    placed_by = ("UMAP's transform against the fitted sample" if method == "umap" else
                 f"the similarity-weighted mean of its {RECALL_K} nearest sample points (not optimised)")
    for start in range(0, len(rest), batch_rows):
        if should_stop is not None and should_stop():
            raise ProjectionStopped(len(sample) + start, n)
        rows = rest[start:start + batch_rows]
        if method == "umap":
            points[rows] = umap_transform(reducer, data[sample], data[rows], params)
        else:
            points[rows] = _weighted_place(data[sample], fitted, data[rows], params.metric)
        if progress:
            progress(f"placing the other points ({placed_by})", len(sample) + start + len(rows), n)
    result = ScaledProjection(points, sample, method, placed_by if len(rest) else "fitted on every point")
    return _with_recall(result, data, params.metric, recall_points)


def _fit(sample: np.ndarray, params: ProjectionParams):
    """The plain fit of the sample (what ``project`` returns for it), and for UMAP the fitted reducer."""
    if params.method != "umap":
        return project(sample, params), None
    return fit_umap(sample, params)


def umap_transform(reducer, sample: np.ndarray, new: np.ndarray, params: ProjectionParams) -> np.ndarray:
    """umap-learn 0.5's ``UMAP.transform`` from the neighbour search on, with the exact nearest sample
    points (the fit's own graph is exact too, so its reducer has no search index to transform with)."""
    from umap.umap_ import compute_membership_strengths, make_epochs_per_sample, optimize_layout_euclidean, smooth_knn_dist
    import scipy.sparse
    from sklearn.utils import check_random_state

    k = int(reducer._n_neighbors)
    indices, dists = neighbours_in(new, sample, k, params.metric)
    indices = indices.astype(np.int32)
    dists = dists.astype(np.float32, order="C")
    indices[dists >= reducer._disconnection_distance] = -1
    sigmas, rhos = smooth_knn_dist(dists, float(k), local_connectivity=float(max(0.0, reducer.local_connectivity - 1.0)))
    rows, cols, vals, _ = compute_membership_strengths(indices, dists, sigmas, rhos, bipartite=True)
    graph = scipy.sparse.coo_matrix((vals, (rows, cols)), shape=(len(new), len(sample)))
    csr = graph.tocsr()
    csr.eliminate_zeros()
    embedding = initial_positions(csr, reducer.embedding_)
    # umap's own rule: a third of the fit's epochs (or 100 / 30 when the fit chose its own)
    n_epochs = int(reducer.n_epochs // 3.0) if reducer.n_epochs is not None else (100 if len(new) <= 10_000 else 30)
    graph.data[graph.data < (graph.data.max() / float(n_epochs))] = 0.0
    graph.eliminate_zeros()
    rng_state = check_random_state(reducer.transform_seed).randint(np.iinfo(np.int32).min, np.iinfo(np.int32).max, 3).astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        placed = optimize_layout_euclidean(
            embedding, reducer.embedding_.astype(np.float32, copy=True), graph.row, graph.col, n_epochs, graph.shape[1],
            make_epochs_per_sample(graph.data, n_epochs), reducer._a, reducer._b, rng_state, reducer.repulsion_strength,
            reducer._initial_alpha / 4.0, reducer.negative_sample_rate, False, verbose=False)
    return np.asarray(placed, dtype=np.float32)


def initial_positions(graph, embedding: np.ndarray) -> np.ndarray:
    """umap's ``init_graph_transform`` without its Python loop over rows (a minute for 200,000 points):
    each new point at the membership-weighted mean of its sample points, at a sample point it is
    identical to (strength 1), or NaN with no neighbour at all."""
    counts = np.diff(graph.indptr)
    sums = np.asarray(graph.sum(axis=1)).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        result = (np.asarray(graph @ embedding.astype(np.float64)) / sums[:, None]).astype(np.float32)
    result[counts == 0] = np.nan
    row_of = np.repeat(np.arange(graph.shape[0]), counts)
    identical = np.flatnonzero(graph.data == 1)
    rows, first = np.unique(row_of[identical], return_index=True)
    result[rows] = embedding[graph.indices[identical[first]]]
    return result


def _weighted_place(sample: np.ndarray, fitted: np.ndarray, new: np.ndarray, metric: str) -> np.ndarray:
    indices, dists = neighbours_in(new, sample, RECALL_K, metric)
    weights = np.exp(-(dists - dists[:, :1]) / np.maximum(dists.std(axis=1, keepdims=True), 1e-6))
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("qk,qkd->qd", weights, fitted[indices]).astype(np.float32)


def neighbour_recall(vectors: np.ndarray, points: np.ndarray, rows: np.ndarray, k: int = RECALL_K,
                     metric: str = "cosine") -> float:
    """Mean over ``rows`` of |k nearest in the full space ∩ k nearest on the map| ÷ k, each point
    itself left out, neighbours sought among all N points."""
    rows = np.asarray(rows)
    if len(rows) == 0:
        return float("nan")
    high, _ = neighbours_in(np.asarray(vectors)[rows], vectors, k, metric, exclude=rows)
    low, _ = neighbours_in(np.asarray(points)[rows], points, k, "euclidean", exclude=rows)
    return float(np.mean([len(set(a.tolist()) & set(b.tolist())) / k for a, b in zip(high, low)]))


def _with_recall(result: ScaledProjection, data: np.ndarray, metric: str, recall_points: int) -> ScaledProjection:
    if recall_points <= 0 or len(data) <= RECALL_K + 1:
        return result
    rng = np.random.default_rng(0)
    placed = np.setdiff1d(np.arange(len(data)), result.sample, assume_unique=True)
    recall = {}
    for name, pool in (("sample", result.sample), ("placed", placed)):
        if len(pool):
            rows = pool if len(pool) <= recall_points else np.sort(rng.choice(pool, recall_points, replace=False))
            recall[name] = neighbour_recall(data, result.points, rows, RECALL_K, metric)
    return ScaledProjection(result.points, result.sample, result.method, result.placed_by, recall)
