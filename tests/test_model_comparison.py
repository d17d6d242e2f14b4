"""core.analysis.model_comparison against independent computations: scipy's Procrustes for the
aligned maps, scikit-learn's brute-force neighbours and Python sets for the neighbour overlap, scipy's
Spearman and Kendall for two rankings."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.spatial import procrustes
from scipy.stats import kendalltau, spearmanr
from sklearn.neighbors import NearestNeighbors

from core import ExplorerError
from core.analysis.model_comparison import (
    align_points, compare_rankings, cosine_neighbours, neighbour_overlap, ranks_from_order,
)


def _rotation(dims: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(dims, dims)))
    return q


@pytest.mark.parametrize("dims", [2, 3])
def test_alignment_equals_scipys_procrustes(dims):
    rng = np.random.default_rng(dims)
    a = rng.normal(size=(40, dims))
    b = 0.3 * a @ _rotation(dims, 7).T + np.arange(1, dims + 1) + rng.normal(scale=0.05, size=a.shape)
    found = align_points(a, b)
    a_c, b_c = a - a.mean(axis=0), b - b.mean(axis=0)
    rotation, singular_sum = orthogonal_procrustes(b_c, a_c)   # argmin ‖b_c R − a_c‖, scale = trace Σ
    np.testing.assert_allclose(found.rotation, rotation, atol=1e-10)
    assert found.scale == pytest.approx(singular_sum / (b_c ** 2).sum(), rel=1e-10)
    np.testing.assert_allclose(found.aligned, found.scale * b_c @ rotation + a.mean(axis=0), atol=1e-10)
    np.testing.assert_allclose(found.aligned, b @ found.rotation * found.scale + found.translation, atol=1e-10)
    # scipy.spatial.procrustes standardises both maps; its disparity is the same share of A's spread
    _, _, disparity = procrustes(a, b)
    assert found.disparity == pytest.approx(disparity, rel=1e-8)
    np.testing.assert_allclose(found.distances, np.linalg.norm(a - found.aligned, axis=1), atol=1e-12)
    assert not found.aligned.flags.writeable and not found.rotation.flags.writeable


def test_a_rotated_reflected_scaled_shifted_map_comes_back_exactly():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(25, 2))
    mirror = np.diag([1.0, -1.0]) @ _rotation(2, 3)
    b = 4.0 * a @ mirror + [10.0, -3.0]
    found = align_points(a, b)
    np.testing.assert_allclose(found.aligned, a, atol=1e-10)
    assert found.disparity == pytest.approx(0.0, abs=1e-12)
    assert found.scale == pytest.approx(0.25)
    assert found.reflected == (np.linalg.det(mirror) < 0)
    collapsed = align_points(a, np.ones_like(a))   # every B point in one place: no rotation to find
    np.testing.assert_allclose(collapsed.aligned, np.broadcast_to(a.mean(axis=0), a.shape))
    with pytest.raises(ExplorerError):
        align_points(a, b[:-1])


def _sklearn_neighbours(vectors: np.ndarray, k: int) -> list[set[int]]:
    found = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(vectors)
    return [set(row.tolist()) for row in found.kneighbors(return_distance=False)]  # no X: itself excluded


def test_neighbour_sets_and_jaccard_equal_brute_force_and_sets():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(60, 24)).astype(np.float32)
    b = (a[:, :16] + rng.normal(scale=0.8, size=(60, 16))).astype(np.float32)   # another width, related
    overlap = neighbour_overlap(a, b, k=10)
    sets_a, sets_b = _sklearn_neighbours(a, 10), _sklearn_neighbours(b, 10)
    assert [set(row.tolist()) for row in overlap.neighbours_a] == sets_a
    assert [set(row.tolist()) for row in overlap.neighbours_b] == sets_b
    jaccard = [len(x & y) / len(x | y) for x, y in zip(sets_a, sets_b)]
    np.testing.assert_allclose(overlap.jaccard, jaccard, atol=1e-12)
    assert overlap.mean_jaccard == pytest.approx(sum(jaccard) / len(jaccard))
    assert list(overlap.shared) == [len(x & y) for x, y in zip(sets_a, sets_b)]
    # nearest first, cosines as numpy computes them
    unit = a / np.linalg.norm(a, axis=1, keepdims=True)
    cosines = unit.astype(np.float64) @ unit.T.astype(np.float64)
    for text in (0, 17, 59):
        np.testing.assert_allclose(overlap.cosines_a[text], cosines[text, overlap.neighbours_a[text]], atol=1e-6)
        assert (np.diff(overlap.cosines_a[text]) <= 0).all() and text not in overlap.neighbours_a[text]
    # most changed: lowest Jaccard first, ties to the lower number
    expected = sorted(range(60), key=lambda i: (jaccard[i], i))[:5]
    assert overlap.most_changed(5) == expected
    worst = expected[0]
    assert set(overlap.only_in_a(worst)) == sets_a[worst] - sets_b[worst]
    assert set(overlap.only_in_b(worst)) == sets_b[worst] - sets_a[worst]
    assert not overlap.jaccard.flags.writeable and not overlap.neighbours_b.flags.writeable


def test_ties_go_to_the_lower_number_and_small_sets_use_every_other_text():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [-1.0, 0.1]])  # 1, 2, 3 are duplicates
    near, cosines = cosine_neighbours(vectors, k=2)
    assert near[0].tolist() == [1, 2]          # three equal cosines to 1, 2, 3: the two lowest numbers
    assert near[2].tolist() == [1, 3]          # itself never, its duplicates first
    assert cosines[0].tolist() == pytest.approx([0.0, 0.0])
    overlap = neighbour_overlap(vectors[:3], vectors[:3] * 2.0, k=10)
    assert overlap.k == 2 and (overlap.jaccard == 1.0).all()   # k capped at the 2 other texts


def test_ranking_comparison_equals_scipy_and_sets():
    rng = np.random.default_rng(5)
    scores_a = rng.normal(size=200)
    scores_b = scores_a + rng.normal(scale=0.7, size=200)
    order_a, order_b = np.argsort(-scores_a, kind="stable"), np.argsort(-scores_b, kind="stable")
    found = compare_rankings(order_a, order_b, k=10)
    ranks_a = np.empty(200, int)
    ranks_a[order_a] = np.arange(1, 201)
    assert found.ranks_a.tolist() == ranks_a.tolist() == ranks_from_order(order_a).tolist()
    assert found.spearman == pytest.approx(spearmanr(found.ranks_a, found.ranks_b)[0], abs=1e-12)
    assert found.kendall == pytest.approx(kendalltau(found.ranks_a, found.ranks_b)[0], abs=1e-12)
    top_a, top_b = set(order_a[:10].tolist()), set(order_b[:10].tolist())
    assert found.shared_top == len(top_a & top_b)
    assert set(found.only_in_top_a()) == top_a - top_b and set(found.only_in_top_b()) == top_b - top_a
    lows = [found.ranks_b[p] for p in found.only_in_top_a()]
    assert lows == sorted(lows, reverse=True)
    moved = found.most_moved(5)
    change = np.abs(found.ranks_a - found.ranks_b)
    assert [change[p] for p in moved] == sorted(change.tolist(), reverse=True)[:5]
    same = compare_rankings(order_a, order_a)
    assert same.spearman == same.kendall == 1.0 and same.shared_top == 10
    reverse = compare_rankings(order_a, order_a[::-1])
    assert reverse.spearman == pytest.approx(-1.0) and reverse.kendall == pytest.approx(-1.0)
    assert not found.ranks_b.flags.writeable
