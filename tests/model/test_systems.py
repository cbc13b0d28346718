"""Eliminating a factor's diagonal block changes how REML's pieces are computed, not them."""

import numpy as np

from sagegam.model.systems import BlockSystem, DenseSystem, PenaltyTerm


def _system(rng, levels=250):
    """Normal equations of 10 + 20 dense columns around a factor's indicator columns."""
    X = rng.normal(size=(400, 30))
    indicator = np.zeros((400, levels))
    indicator[np.arange(400), rng.integers(0, levels, 400)] = 1.0
    design = np.hstack([X[:, :10], indicator, X[:, 10:]])
    ridge = np.r_[np.ones(10), 2 * np.ones(levels), np.ones(20)]
    smooth = np.eye(10) + 0.3 * (np.eye(10, k=1) + np.eye(10, k=-1))
    penalties = [PenaltyTerm(slice(0, 10), smooth, None, 0.7),
                 PenaltyTerm(slice(10, 10 + levels), np.eye(levels), np.ones(levels), 1.3),
                 PenaltyTerm(slice(10 + levels, 30 + levels), np.eye(20), np.ones(20), 0.4)]
    return design.T @ design + np.diag(ridge), penalties, slice(10, 10 + levels)


def test_block_elimination_gives_the_dense_results_to_rounding():
    rng = np.random.default_rng(0)
    matrix, penalties, block = _system(rng)
    dense, eliminated = DenseSystem(matrix), BlockSystem(matrix, block)
    assert abs(eliminated.log_det() - dense.log_det()) < 1e-10 * abs(dense.log_det())
    rhs = rng.normal(size=(matrix.shape[0], 3))
    np.testing.assert_allclose(eliminated.solve(rhs), dense.solve(rhs), rtol=1e-10, atol=1e-12)
    for ours, theirs in zip(eliminated.traces(penalties), dense.traces(penalties), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-13)
