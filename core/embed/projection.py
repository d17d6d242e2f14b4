"""Vectors → 2-D or 3-D points (UMAP, PCA, t-SNE), clusters, neighbours, and a quality score.

Pure numpy / scikit-learn / umap-learn; nothing here knows about models or pages.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ExplorerError

# umap-learn compiles with numba on first use (~8 s); a writable cache makes that once per machine.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "embedding-explorer" / "numba"))

METHODS = ("umap", "pca", "tsne")
# Above these sizes a method takes minutes on a 2-core CPU; the page says so and offers PCA.
POINT_CAPS = {"umap": 20_000, "tsne": 5_000, "pca": 200_000}


class ProjectionError(ExplorerError):
    """The projection cannot run on these inputs (too few points, too many for the method…)."""


@dataclass(frozen=True)
class ProjectionParams:
    method: str = "umap"
    dims: int = 2
    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "cosine"
    perplexity: float = 30.0
    seed: int = 42


def project(vectors: np.ndarray, params: ProjectionParams = ProjectionParams(),
            progress: Callable[[str], None] | None = None) -> np.ndarray:
    """[N, d] → [N, dims] float32."""
    data = np.asarray(vectors, dtype=np.float32)
    if data.ndim != 2 or data.shape[0] < 3:
        raise ProjectionError("A projection needs at least 3 vectors.")
    if not np.isfinite(data).all():
        raise ProjectionError("Some vectors contain NaN or infinite values.")
    n = data.shape[0]
    if params.method not in METHODS:
        raise ProjectionError(f"Unknown projection method '{params.method}' (choose {', '.join(METHODS)}).")
    if n > POINT_CAPS[params.method]:
        raise ProjectionError(
            f"{params.method.upper()} is capped at {POINT_CAPS[params.method]:,} points here ({n:,} given): it would take "
            "minutes on this CPU. Use PCA for the whole set, or project a sample."
        )
    dims = int(params.dims)
    if params.method == "pca":
        return pca(data, dims)
    if params.method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(params.perplexity, max(2.0, (n - 1) / 3)))
        if progress:
            progress(f"t-SNE on {n:,} points (perplexity {perplexity:g})…")
        tsne = TSNE(n_components=dims, perplexity=perplexity, metric=params.metric, init="pca", random_state=params.seed)
        return tsne.fit_transform(data).astype(np.float32)
    return fit_umap(data, params, progress)[0]


def fit_umap(data: np.ndarray, params: ProjectionParams, progress: Callable[[str], None] | None = None):
    """UMAP of [N, d] float32 (N ≥ 3, finite): (points [N, dims] float32, the fitted reducer, which
    ``core.embed.projection_at_scale`` uses to place more points)."""
    if progress:
        progress("Loading UMAP (compiled once per machine, then cached)…")
    import umap

    n, dims = data.shape[0], int(params.dims)
    neighbours = int(min(params.n_neighbors, n - 1))
    if progress:
        progress(f"UMAP on {n:,} points ({neighbours} neighbours, min_dist {params.min_dist:g}, {params.metric})…")
    # The neighbour graph comes exact from numpy: umap's own search compiles numba code in every new
    # process (~8 s, ~40 MB) and above 4,096 points is approximate (NN-descent).
    knn = exact_neighbours(data, neighbours, params.metric)
    reducer = umap.UMAP(
        n_components=dims, n_neighbors=neighbours, min_dist=float(params.min_dist), metric=params.metric,
        random_state=params.seed, n_jobs=1, precomputed_knn=knn,
        # 200 epochs (umap's own choice above 10k points) keep 10k points within seconds.
        n_epochs=200 if n > 2_000 else None, init="spectral" if n > neighbours + 1 else "random",
    )
    with warnings.catch_warnings():
        # Expected: the precomputed graph carries no NNDescent index, so umap's own transform() is off.
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
        points = reducer.fit_transform(data).astype(np.float32)
    global _UMAP_COMPILED
    _UMAP_COMPILED = True
    return points, reducer


_UMAP_COMPILED = False  # set once a UMAP fit has run in this process (numba's code is then compiled and loaded)


def umap_compiled() -> bool:
    """Whether this process has already run a UMAP fit, so the next one does not wait for numba."""
    return _UMAP_COMPILED


def warm_up(points: int = 64, seed: int = 0) -> float:
    """Compile umap-learn's numba code in this process (and fill NUMBA_CACHE_DIR for later ones) with one
    small fit, the way the Projections page fits; returns the seconds it took. A server does this before
    class so that the first visitor of the Projections page does not wait for the compiler."""
    import time

    started = time.perf_counter()
    data = np.random.default_rng(seed).standard_normal((points, 16)).astype(np.float32)
    project(data, ProjectionParams(method="umap", dims=2, n_neighbors=10))
    return time.perf_counter() - started


def exact_neighbours(vectors: np.ndarray, k: int, metric: str = "cosine", block_rows: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest rows, itself first, as umap's ``nearest_neighbors`` returns them:
    (indices [N, k] int64, distances [N, k] float32), with umap's distances (cosine: 1 − cos;
    euclidean). Computed in blocks of rows, so 20,000 points never hold an N × N matrix."""
    if metric not in ("cosine", "euclidean"):
        raise ProjectionError(f"Unknown metric '{metric}' (choose cosine or euclidean).")
    # float64 for euclidean: ‖a‖² − 2a·b + ‖b‖² in float32 loses near-zero distances to cancellation.
    data = np.asarray(vectors, dtype=np.float32 if metric == "cosine" else np.float64)
    n = data.shape[0]
    k = int(max(1, min(k, n)))
    if metric == "cosine":
        data = data / np.maximum(np.linalg.norm(data, axis=1, keepdims=True), 1e-12)
    squared_norms = np.einsum("ij,ij->i", data, data)
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block_rows):
        block = data[start:start + block_rows]
        rows = np.arange(start, start + len(block))
        if metric == "cosine":
            dist = 1.0 - block @ data.T
        else:
            dist = np.sqrt(np.maximum(squared_norms[rows, None] - 2.0 * (block @ data.T) + squared_norms[None, :], 0.0))
        dist[np.arange(len(block)), rows] = -np.inf  # each row's first neighbour is itself, even among duplicates
        top = np.argpartition(dist, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (len(block), 1))
        top_dist = np.take_along_axis(dist, top, axis=1)
        order = np.lexsort((top, top_dist), axis=1)   # nearest first; ties by index, so the graph is deterministic
        indices[start:start + len(block)] = np.take_along_axis(top, order, axis=1)
        distances[start:start + len(block)] = np.maximum(np.take_along_axis(top_dist, order, axis=1), 0.0)
    return indices, distances


def pca(vectors: np.ndarray, dims: int = 2) -> np.ndarray:
    data = np.asarray(vectors, dtype=np.float64)
    centred = data - data.mean(axis=0, keepdims=True)
    # SVD of the centred data: the right singular vectors are the principal axes.
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    return (centred @ axes[:dims].T).astype(np.float32)


KMEANS_FULL = 50_000   # above this many vectors, mini-batch k-means (full k-means of a million takes minutes)


def kmeans_labels(vectors: np.ndarray, k: int, seed: int = 42) -> np.ndarray:
    from sklearn.cluster import KMeans, MiniBatchKMeans

    data = np.asarray(vectors, dtype=np.float32)
    k = int(max(1, min(k, len(data))))
    if len(data) > KMEANS_FULL:
        return MiniBatchKMeans(n_clusters=k, n_init=3, random_state=seed, batch_size=4_096).fit_predict(data)
    return KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(data)


def nearest_neighbours(vectors: np.ndarray, index: int, k: int = 10) -> list[tuple[int, float]]:
    """The k nearest rows to row ``index`` by cosine similarity (itself excluded)."""
    data = np.asarray(vectors, dtype=np.float32)
    unit = data / np.maximum(np.linalg.norm(data, axis=1, keepdims=True), 1e-12)
    scores = unit @ unit[index]
    scores[index] = -np.inf
    order = np.argsort(-scores)[: max(0, min(k, len(data) - 1))]
    return [(int(i), float(scores[i])) for i in order]


def knn_accuracy(points: np.ndarray, labels, k: int = 5) -> float:
    """Leave-one-out k-NN accuracy of ``labels`` in the projected space: how well topics separate."""
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.model_selection import cross_val_score

    labels = np.asarray(labels)
    folds = min(5, int(np.bincount(np.unique(labels, return_inverse=True)[1]).min()))
    classifier = KNeighborsClassifier(n_neighbors=min(k, len(points) - 1))
    return float(cross_val_score(classifier, points, labels, cv=max(2, folds)).mean())
