"""Two models' similarity matrices compared by rank (scipy as the reference), and word splits compared
across tokenizers."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata, spearmanr

from core.analysis.similarity import model_similarity_comparison
from core.text.vocabulary import split_pieces_equal


def _symmetric(rng, n):
    values = rng.uniform(-1, 1, size=(n, n))
    values = (values + values.T) / 2
    np.fill_diagonal(values, 1.0)
    return values


def test_spearman_and_ranks_equal_scipy_with_ties():
    rng = np.random.default_rng(3)
    a, b = _symmetric(rng, 9), _symmetric(rng, 9)
    b[0, 1] = b[1, 0] = b[2, 3] = b[3, 2] = 0.25  # a tie on B's side
    result = model_similarity_comparison(a, b)
    rows, cols = np.triu_indices(9, k=1)
    assert result.n_pairs == 36
    np.testing.assert_allclose(result.spearman, spearmanr(a[rows, cols], b[rows, cols]).statistic, atol=1e-12)
    np.testing.assert_array_equal(result.rank_a, rankdata(-a[rows, cols], method="ordinal"))
    moved = result.most_moved(3)
    largest = np.sort(np.abs(result.rank_a - result.rank_b))[::-1][:3]
    assert [abs(ra - rb) for *_, ra, rb in moved] == list(largest)
    i, j, cos_a, cos_b, _, _ = moved[0]
    assert i < j and cos_a == a[i, j] and cos_b == b[i, j]
    assert not result.similarity_a.flags.writeable


def test_one_pair_or_a_constant_side_has_no_spearman():
    assert np.isnan(model_similarity_comparison(np.eye(2), np.eye(2)).spearman)
    assert np.isnan(model_similarity_comparison(np.ones((4, 4)), _symmetric(np.random.default_rng(0), 4)).spearman)


def test_split_pieces_equal_ignores_marks_and_case_only():
    assert split_pieces_equal(["un", "##happ", "##ily"], ["Ġun", "happ", "ily"])
    assert split_pieces_equal(["▁The"], ["the"])
    assert not split_pieces_equal(["un", "##ha", "##pp", "##ily"], ["Ġun", "happ", "ily"])
