"""On an identical basis, sagegam's fits are mgcv's (REML, method = "REML").

Each case refits one model that tests/oracles/fit_mgcv.R recorded with mgcv 1.8-41 in
tests/oracles/mgcv.json (tests/oracles/README.md says which call made which record):
P-spline smooths on the same knots, ridge-penalized factors, and tensor-product
interactions with each margin centred. sagegam's ``alpha`` is half mgcv's ``lambda``
(statsmodels' convention, ``-loglik + alpha b'Sb``, against mgcv's deviance scale).

Given mgcv's smoothing parameters, penalized IRLS has one solution, which both find to
rounding. Choosing them: for gaussian models both maximize the same restricted
likelihood, to convergence. For binomial and poisson models mgcv maximizes the Laplace
approximation of the model's own restricted likelihood, while sagegam maximizes that of
the working linear model at each IRLS step (performance iteration; docs/model.md), so
those are compared at mgcv's smoothing parameters only.
"""

import numpy as np
import pytest

from sagegam import GAMClassifier, GAMRegressor
from tests.oracles.mgcv_oracle import load

CASES = {
    # record: (estimator settings, interactions)
    "gaussian_additive": ({"df": {"x1": 10, "x2": 12, "x3": 8}}, None),
    "gaussian_factor": ({"df": 10}, None),
    "gaussian_ti": ({"df": 8, "interaction_df": 8}, [("x1", "x2")]),
    "gaussian_factor_pair": ({"df": 10, "interaction_df": 10}, [("x", "g")]),
    "binomial_factor": ({"df": 10}, None),
    "poisson_factor": ({"df": 8}, None),
}


GAUSSIAN = sorted(name for name in CASES if name.startswith("gaussian"))
MAIN_EFFECTS_ONLY = sorted(name for name, (_, pairs) in CASES.items() if pairs is None)


def _fit(name, alpha="auto"):
    record, data = load(name)
    settings, pairs = CASES[name]
    X, y = data.drop(columns="y"), data["y"].to_numpy()
    options = dict(settings, adaptive=False, interactions=pairs, tol=1e-12, alpha=alpha,
                   knots="uniform")  # mgcv's knots, by the README's rule
    if record["family"] == "binomial":
        return record, GAMClassifier(**options).fit(X, y), X
    family = record["family"]
    return record, GAMRegressor(family=family, **options).fit(X, y), X


def _fitted(record, model, X):
    return model.predict_proba(X)[:, 1] if record["family"] == "binomial" else model.predict(X)


def _mgcv_alphas(record):
    return {":".join(m["variable"] for m in term["margins"]): term["lambda"][0] / 2
            for term in record["terms"]}


@pytest.mark.parametrize("name", MAIN_EFFECTS_ONLY)
def test_at_mgcv_smoothing_parameters_the_fit_is_mgcv_fit(name):
    record, _ = load(name)
    _, model, X = _fit(name, alpha=_mgcv_alphas(record))
    # One convex problem, solved on both sides to rounding amplified by its condition
    # number (a near-straight term's weight makes it ~1e8).
    scale = np.std(record["fitted"])
    np.testing.assert_allclose(_fitted(record, model, X), record["fitted"], rtol=0,
                               atol=1e-6 * scale)


@pytest.mark.parametrize("name", GAUSSIAN)
def test_fitted_values_match_mgcv_on_the_same_basis(name):
    record, model, X = _fit(name)
    scale = np.std(record["fitted"])
    # REML is flat near its optimum, so the optimizers' tolerances show here, far inside
    # the fitted values' own standard errors (about 0.05 of their spread on these data).
    np.testing.assert_allclose(_fitted(record, model, X), record["fitted"], rtol=0,
                               atol=2e-5 * scale)


@pytest.mark.parametrize("name", GAUSSIAN)
def test_effective_degrees_of_freedom_match_mgcv(name):
    record, model, _ = _fit(name)
    ours = dict(zip(model.term_names_, model.edf_, strict=True))
    for term in record["terms"]:
        label = ":".join(m["variable"] for m in term["margins"])
        assert ours[label] == pytest.approx(term["edf"], abs=2e-3), label


@pytest.mark.parametrize("name", GAUSSIAN)
def test_smoothing_parameters_match_mgcv(name):
    record, model, _ = _fit(name)
    ours = dict(zip(model.term_names_, model.alpha_, strict=True))
    for term in record["terms"]:
        label = ":".join(m["variable"] for m in term["margins"])
        lam = np.asarray(term["lambda"])
        if lam.size > 1 or lam[0] > 1e6:
            continue  # a tensor's two weights are compared through its edf; an
            # (effectively) infinite weight is a straight line, whatever its value
        # REML is flat near its optimum: the weights agree to the optimizers' tolerance.
        assert 2 * ours[label] == pytest.approx(lam[0], rel=2e-3), label
