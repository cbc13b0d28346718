"""Predictions as cubic pieces: the fitted splines computed per knot interval equal the
basis times the coefficients, inside the range, beyond it and at missing values."""

import numpy as np
import pytest

from sagegam import GAMRegressor

# Both sides compute the same cubic, in different operations: a few roundings of the
# largest coefficient each (the basis functions sum to one).
ROUNDING = 64 * np.finfo(np.float64).eps


def _data(seed: int = 0, n: int = 2000):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, 4))
    X[:, 2] = 0.5  # constant in training: no basis, no effect
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 - X[:, 3] + rng.normal(0, 0.3, n)
    return X, y


def _rows(seed: int = 1, n: int = 5000):
    # Half inside the training range, half up to 50% beyond it on either side.
    return np.random.default_rng(seed).uniform(-3, 3, (n, 4))


@pytest.mark.parametrize("settings", [{}, {"extrapolation": "constant"}, {"df": 6},
                                      {"df": 40}])
def test_contributions_are_the_basis_times_the_coefficients(settings):
    X, y = _data()
    predictor = GAMRegressor(**settings).fit(X, y).predictor_
    rows = _rows()
    contributions = predictor.contributions(rows)
    codes = predictor.encode(rows)
    for t, term in enumerate(predictor.terms):
        start = predictor.offsets[t]
        block = predictor.coef[start:start + term.n_coef]
        expected = predictor.term_basis(t, codes) @ block if term.n_coef else 0.0
        scale = 1.0 + np.abs(block).max(initial=0.0)
        np.testing.assert_allclose(contributions[:, t], expected, rtol=0,
                                   atol=ROUNDING * scale * (1 + np.abs(rows).max()))


def test_a_missing_value_contributes_nothing_and_the_others_are_unchanged():
    X, y = _data()
    X[::17, 1] = np.nan  # trained with missing values: they get their own coefficient
    predictor = GAMRegressor(handle_unknown="ignore").fit(X, y).predictor_
    rows = _rows()[:200]
    holes = rows.copy()
    holes[:, 3] = np.nan  # never missing in training: zero effect under "ignore"
    whole, holed = predictor.contributions(rows), predictor.contributions(holes)
    assert np.all(holed[:, 3] == 0.0)
    np.testing.assert_array_equal(holed[:, :3], whole[:, :3])


def test_one_row_in_plain_python_is_the_batch_to_the_last_bit():
    # Separate IEEE multiplies and adds in the same order: equal bits on any CPU.
    X, y = _data()
    predictor = GAMRegressor().fit(X, y).predictor_
    rows = np.random.default_rng(2).uniform(X.min(axis=0), X.max(axis=0), (500, 4))
    batch = predictor.contributions(rows)
    for i, row in enumerate(predictor.encode(rows)):
        one = predictor.contributions_of_row(row.tolist())
        assert one is not None
        assert np.array_equal(one[0], batch[i])
