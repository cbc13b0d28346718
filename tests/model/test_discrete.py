"""Fitting on discretized covariates (the large-data path) against the exact fit."""

import numpy as np
import pandas as pd

from sagegam import GAMClassifier, GAMRegressor


def _data(rng, n, decimals=None):
    X = pd.DataFrame({"a": rng.uniform(-2, 2, n), "b": rng.uniform(-2, 2, n),
                      "c": rng.choice(["p", "q", "r", "s"], n)})
    if decimals is not None:
        X[["a", "b"]] = X[["a", "b"]].round(decimals)
    eta = np.sin(2 * X["a"]) + 0.5 * X["b"] + X["c"].map({"p": 0, "q": 1, "r": -1, "s": 0.5})
    return X, eta + np.sin(X["a"]) * X["b"]


def test_with_few_distinct_values_discretizing_loses_nothing():
    rng = np.random.default_rng(40)
    X, eta = _data(rng, 4000, decimals=1)  # 41 distinct values per numeric feature
    y = eta + rng.normal(0, 0.3, 4000)
    options = {"interactions": [("a", "b"), ("a", "c")], "adaptive": False}
    exact = GAMRegressor(discrete=False, **options).fit(X, y)
    binned = GAMRegressor(discrete=True, **options).fit(X, y)
    np.testing.assert_allclose(binned.predict(X), exact.predict(X), rtol=0, atol=1e-7)


def test_rounding_to_bins_moves_the_fit_far_less_than_its_uncertainty():
    rng = np.random.default_rng(41)
    X, eta = _data(rng, 6000)
    y = (rng.random(6000) < 1 / (1 + np.exp(-eta))).astype(int)
    exact = GAMClassifier(discrete=False, adaptive=False).fit(X, y)
    binned = GAMClassifier(discrete=True, adaptive=False).fit(X, y)
    for term in ("a", "b", "c"):
        ours, reference = binned.partial_dependence(term), exact.partial_dependence(term)
        # Half a bin (1/512 of the range) against a standard error of the curve.
        assert np.all(np.abs(ours.effect - reference.effect) < 0.1 * reference.std_error)
