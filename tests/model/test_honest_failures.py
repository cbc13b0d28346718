"""Fits that cannot be trusted say so, and name the feature at fault; degenerate data are
refused with one sentence; nothing depends on the units of the target."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sagegam import GAMClassifier, GAMRegressor
from sagegam.model.diagnostics import FitWarning


@pytest.fixture()
def quiet():
    """Any warning is an error: a fit that is fine must not cry wolf."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_separation_is_warned_naming_the_feature_and_the_rows():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(300, 2))
    with pytest.warns(FitWarning, match=r"Feature 'x0' separates the classes: on \d+ of 300 "
                      r"training rows \(x0 in \["):
        model = GAMClassifier().fit(X, X[:, 0] > 0)
    (finding,) = model.predictor_.info["warnings"]
    assert finding["kind"] == "separation"
    assert "separates the classes" in model.summary()


def test_overlapping_classes_give_no_warning(quiet):
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(500, 2))
    GAMClassifier().fit(X, rng.random(500) < 1 / (1 + np.exp(-3 * X[:, 0])))


def test_a_region_of_zero_counts_is_warned_with_its_range():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, size=(400, 1))
    y = rng.poisson(np.where(x[:, 0] < 0.3, 0.0, np.exp(1 + x[:, 0])))
    with pytest.warns(FitWarning, match=r"Feature 'x0' has a region of zeros: .*x0 in "
                      r"\[0\.0\d*, 0\.[0-2]\d*\]"):
        GAMRegressor(family="poisson").fit(x, y)


def test_counts_without_such_a_region_give_no_warning(quiet):
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, size=(400, 1))
    GAMRegressor(family="poisson").fit(x, rng.poisson(np.exp(x[:, 0])))


def test_non_convergence_names_the_term_still_moving():
    rng = np.random.default_rng(4)
    X = rng.uniform(0, 1, size=(400, 2))
    y = rng.poisson(np.exp(3 * np.sin(6 * X[:, 1])))
    with pytest.warns(ConvergenceWarning, match=r"max_iter=2 .* coefficients of 'x1' moved "
                      "most"):
        GAMRegressor(family="poisson", max_iter=2).fit(X, y)


def test_every_feature_constant_is_refused():
    with pytest.raises(ValueError, match=r"Every feature is constant .* \(x0 = 1, x1 = 2\)"):
        GAMRegressor().fit(np.tile([1.0, 2.0], (50, 1)), np.arange(50.0))


def test_constant_over_the_weighted_rows_counts_as_constant():
    X = np.column_stack([np.r_[np.ones(40), np.arange(10.0)], np.ones(50)])
    weights = np.r_[np.ones(40), np.zeros(10)]
    with pytest.raises(ValueError, match="Every feature is constant"):
        GAMRegressor().fit(X, np.arange(50.0), sample_weight=weights)


def test_a_single_weighted_row_is_refused():
    weights = np.zeros(50)
    weights[7] = 2.0
    X = np.random.default_rng(5).uniform(size=(50, 2))
    with pytest.raises(ValueError, match=r"sample_weight gives 1 row\(s\) a positive weight"):
        GAMRegressor().fit(X, np.arange(50.0), sample_weight=weights)


def test_a_range_that_overflows_is_refused_naming_the_feature():
    X = np.random.default_rng(6).normal(size=(200, 2))
    X[0, 1], X[1, 1] = -1.7e308, 1.7e308
    with pytest.raises(ValueError, match=r"Feature 'x1' spans \[-1.7e\+308, 1.7e\+308\]"):
        GAMRegressor().fit(X, X[:, 0])


def test_predicting_too_far_outside_the_range_is_refused_not_nan():
    X = np.random.default_rng(7).uniform(size=(200, 1))
    model = GAMRegressor().fit(X, np.sin(4 * X[:, 0]))
    with pytest.raises(ValueError, match=r"row 1 is 1e\+308, .*too far from it"):
        model.predict(np.array([[0.5], [1e308]]))


def test_a_single_outlier_does_not_flatten_the_term():
    rng = np.random.default_rng(8)
    X = rng.uniform(0, 1, size=(300, 1))
    y = np.sin(6 * X[:, 0]) + rng.normal(0, 0.1, 300)
    grid = np.linspace(0.05, 0.95, 50)[:, None]
    clean = GAMRegressor().fit(X, y).predict(grid)
    X[0, 0] = 1000.0
    spoiled = GAMRegressor(knots="uniform").fit(X, y).predict(grid)
    robust = GAMRegressor().fit(X, y).predict(grid)
    # Equally spaced knots leave the data in one interval: the term is a cubic there.
    assert np.sqrt(np.mean((spoiled - clean) ** 2)) > 0.2
    # The default places knots among the data: the outlier moves the fit by a fraction
    # of the noise.
    assert np.sqrt(np.mean((robust - clean) ** 2)) < 0.03


@pytest.mark.parametrize("family", ["gamma", "gaussian"])
def test_the_fit_does_not_depend_on_the_units_of_the_target(family):
    rng = np.random.default_rng(9)
    X = rng.uniform(0, 1, size=(500, 2))
    mu = np.exp(np.sin(3 * X[:, 0]) + X[:, 1])
    y = rng.gamma(5.0, mu / 5.0)
    factor = 1e-8
    base = GAMRegressor(family=family, tol=1e-12).fit(X, y)
    scaled = GAMRegressor(family=family, tol=1e-12).fit(X, y * factor)
    # The same fit, scaled: each stops within tol of its optimum's penalized deviance,
    # which pins the parameters to about sqrt(tol) = 1e-6.
    np.testing.assert_allclose(scaled.predict(X) / factor, base.predict(X), rtol=1e-5)
    np.testing.assert_allclose(scaled.edf_, base.edf_, rtol=1e-5)
    band, scaled_band = base.partial_dependence(0), scaled.partial_dependence(0)
    # On the log scale a band has no units; on the identity scale it scales with y.
    unit = 1.0 if family == "gamma" else factor
    np.testing.assert_allclose(scaled_band.std_error / unit, band.std_error, rtol=1e-5)
