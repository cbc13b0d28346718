"""summary()'s p-values and predict()'s standard errors are mgcv's, on the same model.

Each case refits a model tests/oracles/fit_mgcv.R recorded, at mgcv's smoothing
parameters (then both solve the same convex problem), and compares with what mgcv 1.8-41's
``summary.gam`` and ``predict(se.fit = TRUE)`` reported for it (the ``inference`` section of
tests/oracles/mgcv.json). Models with one smoothing parameter per term only: those are the
ones whose smoothing parameters the estimator can be given.
"""

import numpy as np
import pytest

from sagegam import GAMClassifier, GAMRegressor, load, save
from tests.oracles.mgcv_oracle import features, inference, response
from tests.oracles.mgcv_oracle import load as load_oracle

MODELS = ["gaussian_weak", "poisson_weak", "binomial_weak", "gaussian_additive",
          "gaussian_factor", "binomial_factor", "poisson_factor"]
# mgcv computes the tail of a chi-square mixture with Davies' algorithm at its default
# absolute accuracy, psum.chisq(tol = 2e-5); ours is exact to about 1e-11 (Imhof).
DAVIES_TOL = 2e-5


def _at_mgcv_smoothing(name):
    record, data = load_oracle(name)
    alphas = {t["margins"][0]["variable"]: t["lambda"][0] / 2 for t in record["terms"]}
    df = {m["variable"]: m["k"] for t in record["terms"] for m in t["margins"]
          if m["type"] == "spline"}
    options = dict(df=df, knots="uniform", adaptive=False, alpha=alphas, tol=1e-12)
    X, y = features(record, data), response(record, data)
    estimator = GAMClassifier(**options) if record["family"] == "binomial" else \
        GAMRegressor(family=record["family"], **options)
    return estimator.fit(X, y), X, inference(name)


@pytest.mark.parametrize("name", MODELS)
def test_term_tests_are_mgcv_summary_tests(name):
    model, _, expected = _at_mgcv_smoothing(name)
    for ours, theirs in zip(model.predictor_.info["tests"], expected["terms"], strict=True):
        assert ours["test"] == theirs["test"], theirs["label"]
        # The reference df is the term's alternative edf tr(2F - F^2), or the rank of a
        # random effect: a property of the fit, equal to the fit's own precision.
        assert ours["reference_df"] == pytest.approx(theirs["reference_df"], rel=1e-5)
        assert ours["p_value"] == pytest.approx(theirs["p_value"], rel=1e-3, abs=DAVIES_TOL)
        integer = abs(theirs["reference_df"] - round(theirs["reference_df"])) < 1e-9
        if integer or theirs["test"] == "random_effect":
            # A fractional rank has two statistics, one per sign of its blended direction
            # (their p-values are averaged); which one mgcv prints depends on its QR.
            assert ours["statistic"] == pytest.approx(theirs["statistic"], rel=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_prediction_standard_errors_are_mgcv_se_fit(name):
    model, X, expected = _at_mgcv_smoothing(name)
    interval = model.predict_interval(X)
    # The same posterior covariance, intercept included: equal to the fit's precision.
    np.testing.assert_allclose(interval.link_std, expected["se_link"], rtol=1e-5)


def test_weak_and_null_terms_are_told_apart():
    model, _, _ = _at_mgcv_smoothing("gaussian_weak")
    p = dict(zip(model.term_names_, model.p_values_, strict=True))
    assert p["x1"] < 1e-3 and p["f"] < 0.05  # a moderate smooth, a weak factor
    assert p["x3"] > 0.3 and p["x4"] > 0.3  # no effect
    assert "p-value" in model.summary() and "ref.df" in model.summary()


def test_intervals_are_the_link_interval_through_the_inverse_link():
    rng = np.random.default_rng(11)
    X = rng.uniform(0, 1, size=(400, 2))
    y = rng.poisson(np.exp(0.5 + np.sin(4 * X[:, 0])))
    model = GAMRegressor(family="poisson").fit(X, y)
    interval = model.predict_interval(X, level=0.9)
    np.testing.assert_allclose(interval.mean, model.predict(X), rtol=1e-12)
    np.testing.assert_allclose(interval.lower, np.exp(interval.link_lower), rtol=1e-12)
    np.testing.assert_allclose(interval.link_upper - interval.link,
                               1.6448536269514722 * interval.link_std, rtol=1e-12)
    assert np.all(interval.lower > 0) and np.all(interval.lower < interval.mean)
    mean, std = model.predict(X, return_std=True)
    np.testing.assert_allclose(mean, interval.mean, rtol=1e-12)
    np.testing.assert_allclose(std, interval.mean * interval.link_std, rtol=1e-12)  # delta
    wider = model.predict_interval(X, level=0.99)
    assert np.all(wider.upper - wider.lower > interval.upper - interval.lower)


def test_classifier_intervals_are_probabilities():
    rng = np.random.default_rng(12)
    X = rng.uniform(-2, 2, size=(500, 2))
    model = GAMClassifier().fit(X, rng.random(500) < 1 / (1 + np.exp(-2 * X[:, 0])))
    interval = model.predict_interval(X)
    np.testing.assert_allclose(interval.mean, model.predict_proba(X)[:, 1], rtol=1e-12)
    assert np.all((interval.lower >= 0) & (interval.upper <= 1))
    assert np.all((interval.lower <= interval.mean) & (interval.mean <= interval.upper))


def test_a_loaded_predictor_gives_the_same_intervals(tmp_path):
    rng = np.random.default_rng(13)
    X = rng.uniform(0, 1, size=(300, 2))
    model = GAMRegressor().fit(X, np.sin(5 * X[:, 0]) + rng.normal(0, 0.2, 300))
    save(model, tmp_path)
    ours, theirs = model.predict_interval(X), load(tmp_path).predict_interval(X)
    np.testing.assert_allclose(theirs.link_std, ours.link_std, rtol=1e-12)
    np.testing.assert_allclose(theirs.upper, ours.upper, rtol=1e-12)
    assert load(tmp_path).info["tests"] == model.predictor_.info["tests"]


def test_level_outside_zero_one_is_refused():
    X = np.random.default_rng(14).uniform(size=(100, 1))
    model = GAMRegressor().fit(X, X[:, 0])
    with pytest.raises(ValueError, match=r"level must be in \(0, 1\); got 95"):
        model.predict_interval(X, level=95)
