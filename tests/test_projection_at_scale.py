"""Projections beyond a method's cap: a plain fit of a sample, the rest placed (core.embed.projection_at_scale)."""

import numpy as np
import pytest

from core.embed.projection import ProjectionParams, pca, project
from core.embed.projection_at_scale import (ProjectionStopped, neighbour_recall, neighbours_in, pca_blocks,
                                            project_at_scale)


def clustered(n: int, dims: int = 8, clusters: int = 12, seed: int = 3):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dims)) * 6
    labels = rng.integers(0, clusters, n)
    return (centres[labels] + rng.standard_normal((n, dims))).astype(np.float32), labels


def label_accuracy(points, labels, train, test) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    return float(KNeighborsClassifier(5).fit(points[train], labels[train]).score(points[test], labels[test]))


def test_umap_on_200000_points_fits_a_sample_and_places_the_rest():
    vectors, labels = clustered(200_000)
    params = ProjectionParams(method="umap", seed=7)
    steps = []
    result = project_at_scale(vectors, params, sample_size=2_000, batch_rows=16_384,
                              progress=lambda step, done, total: steps.append((done, total)), recall_points=500)
    assert result.points.shape == (200_000, 2) and len(result.sample) == 2_000
    assert not result.points.flags.writeable
    # the sample's positions are exactly a plain UMAP fit of the sample with the same seed
    np.testing.assert_allclose(result.points[result.sample], project(vectors[result.sample], params), atol=1e-6)
    # every other point lands among its own cluster: labels read off the sample's map predict the placed points
    placed = np.setdiff1d(np.arange(200_000), result.sample)
    assert label_accuracy(result.points, labels, result.sample, placed[:20_000]) >= 0.95
    assert steps[-1] == (200_000, 200_000) and [d for d, _ in steps] == sorted(d for d, _ in steps)
    assert set(result.recall) == {"sample", "placed"} and all(0.0 <= r <= 1.0 for r in result.recall.values())


def test_initial_positions_equal_umaps_own():
    import scipy.sparse
    from umap.umap_ import init_graph_transform

    from core.embed.projection_at_scale import initial_positions

    rng = np.random.default_rng(0)
    graph = scipy.sparse.random(300, 50, density=0.1, random_state=1, format="csr", dtype=np.float32)
    graph.data[::17] = 1.0  # points identical to a sample point
    graph = scipy.sparse.vstack([graph, scipy.sparse.csr_matrix((1, 50), dtype=np.float32)]).tocsr()  # and one with no neighbour
    embedding = rng.standard_normal((50, 2)).astype(np.float32)
    np.testing.assert_allclose(initial_positions(graph, embedding), init_graph_transform(graph, embedding), atol=1e-5)


def test_neighbour_recall_equals_scikit_learn():
    from sklearn.neighbors import NearestNeighbors

    vectors, _ = clustered(600, dims=16)
    points = pca(vectors, 2)
    rows = np.arange(0, 600, 7)
    high = NearestNeighbors(n_neighbors=11, metric="cosine", algorithm="brute").fit(vectors).kneighbors(vectors[rows])[1][:, 1:]
    low = NearestNeighbors(n_neighbors=11, algorithm="brute").fit(points).kneighbors(points[rows])[1][:, 1:]
    expected = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(high, low)])
    assert neighbour_recall(vectors, points, rows, 10, "cosine") == pytest.approx(expected, abs=0.02)  # ties may differ
    found, _ = neighbours_in(vectors[rows], vectors, 10, "cosine", exclude=rows)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, high)]) >= 0.98


def test_pca_in_blocks_equals_the_svd_up_to_sign():
    vectors, _ = clustered(5_000, dims=24)
    ours, reference = pca_blocks(vectors, 3, block_rows=777), pca(vectors, 3)
    for axis in range(3):
        sign = np.sign(ours[:, axis] @ reference[:, axis])
        np.testing.assert_allclose(ours[:, axis], sign * reference[:, axis], atol=2e-3)
    result = project_at_scale(vectors, ProjectionParams(method="pca"), recall_points=100)
    assert result.placed_by == "fitted on every point" and len(result.sample) == 5_000


def test_tsne_places_the_points_outside_its_sample_among_their_neighbours():
    vectors, labels = clustered(2_000)
    result = project_at_scale(vectors, ProjectionParams(method="tsne", seed=1), sample_size=400, recall_points=200)
    placed = np.setdiff1d(np.arange(2_000), result.sample)
    assert "not optimised" in result.placed_by
    assert label_accuracy(result.points, labels, result.sample, placed) >= 0.95


def test_a_stop_between_batches_ends_the_projection():
    vectors, _ = clustered(6_000)
    calls = []
    with pytest.raises(ProjectionStopped, match="stopped after"):
        project_at_scale(vectors, ProjectionParams(method="umap"), sample_size=500, batch_rows=1_000,
                         should_stop=lambda: calls.append(1) or len(calls) > 2)
