"""Families, fixed and per-feature penalties, weights and feature names."""

import numpy as np
import pandas as pd
import pytest

from sagegam import GAMClassifier, GAMRegressor


def _additive(rng, n):
    X = rng.uniform(-1, 1, size=(n, 2))
    return X, 0.5 * np.sin(3 * X[:, 0]) + 0.5 * X[:, 1]


@pytest.mark.parametrize("family, draw", [
    ("poisson", lambda rng, mu: rng.poisson(mu)),
    ("gamma", lambda rng, mu: rng.gamma(shape=20.0, scale=mu / 20.0)),
])
def test_log_link_families_recover_the_mean(family, draw):
    rng = np.random.default_rng(21)
    X, eta = _additive(rng, 4000)
    mu = np.exp(1.0 + eta)
    model = GAMRegressor(family=family).fit(X, draw(rng, mu))
    assert np.max(np.abs(np.log(model.predict(X)) - np.log(mu))) < 0.2


def test_classifier_probabilities_are_calibrated_on_the_truth():
    rng = np.random.default_rng(22)
    X, eta = _additive(rng, 6000)
    p = 1 / (1 + np.exp(-2 * eta))
    model = GAMClassifier().fit(X, rng.random(6000) < p)
    assert np.mean(np.abs(model.predict_proba(X)[:, 1] - p)) < 0.04


def test_a_fixed_alpha_is_used_as_given_and_larger_means_smoother():
    rng = np.random.default_rng(23)
    X, eta = _additive(rng, 500)
    y = eta + rng.normal(0, 0.2, 500)
    rough = GAMRegressor(alpha=1e-3).fit(X, y)
    smooth = GAMRegressor(alpha=1e3).fit(X, y)
    np.testing.assert_allclose(rough.alpha_, 1e-3)
    assert np.all(smooth.edf_ < rough.edf_)


def test_alpha_per_feature_by_name_mixes_fixed_and_automatic():
    rng = np.random.default_rng(24)
    X, eta = _additive(rng, 500)
    frame = pd.DataFrame(X, columns=["a", "b"])
    model = GAMRegressor(alpha={"b": 10.0}).fit(frame, eta + rng.normal(0, 0.2, 500))
    assert model.alpha_[1] == pytest.approx(10.0)
    assert model.predictor_.info["alpha_selected"] == [True, False]


def test_sample_weights_equal_repeated_rows():
    rng = np.random.default_rng(25)
    X, eta = _additive(rng, 300)
    y = eta + rng.normal(0, 0.2, 300)
    weights = rng.integers(0, 4, 300)
    repeated = np.repeat(np.arange(300), weights)
    a = GAMRegressor().fit(X, y, sample_weight=weights)
    b = GAMRegressor().fit(X[repeated], y[repeated])
    # Both are the same weighted set of distinct rows, which is all the fit sees.
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=0, atol=1e-9)
    np.testing.assert_allclose(a.alpha_, b.alpha_, rtol=1e-9)


def test_row_order_does_not_change_the_fit():
    rng = np.random.default_rng(28)
    X, eta = _additive(rng, 400)
    y = eta + rng.normal(0, 0.2, 400)
    order = rng.permutation(400)
    a = GAMClassifier().fit(X, y > 0)
    b = GAMClassifier().fit(X[order], (y > 0)[order])
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=0, atol=1e-9)


def test_feature_names_are_kept_from_pandas():
    rng = np.random.default_rng(26)
    X, eta = _additive(rng, 200)
    model = GAMRegressor().fit(pd.DataFrame(X, columns=["age", "dose"]), eta)
    assert model.predictor_.feature_names == ("age", "dose")
    assert list(model.feature_names_in_) == ["age", "dose"]


def test_adaptive_smoothing_is_kept_only_when_the_likelihood_pays_for_it():
    rng = np.random.default_rng(27)
    X, eta = _additive(rng, 400)
    y = eta + rng.normal(0, 0.3, 400)
    assert GAMRegressor().fit(X, y).predictor_.info["adaptive"] is False
    assert GAMRegressor(adaptive=True).fit(X, y).predictor_.info["adaptive"] is True
    from sagegam.datasets import gauss3_split

    X_train, _, y_train, _ = gauss3_split()
    assert GAMRegressor().fit(X_train, y_train).predictor_.info["adaptive"] is True
