"""Tweedie and negative binomial families, against statsmodels and mgcv.

statsmodels' GLMGam solves the same penalized likelihood given the basis, the penalty
weights and the family's parameter; its discrete NegativeBinomial model estimates theta
by maximum likelihood. tests/oracles/fit_mgcv.R recorded mgcv 1.8-41 fitting both
families with their parameter estimated (``tw()``, ``nb()``), and mgcv's Tweedie log
density on a grid. The solver takes an offset (compared with statsmodels below; the
estimators' offset and exposure are tested in test_offset.py).
"""

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.gam.api import BSplines, GLMGam

from sagegam import GAMRegressor, load, save
from sagegam.model.design import DenseDesign
from sagegam.model.dispersion import estimate_theta, tweedie_log_density
from sagegam.model.families import FAMILIES
from sagegam.model.solver import Penalty, penalized_irls
from tests.oracles.mgcv_oracle import family_model, features, tweedie_density

N_ROWS = 600
ALPHAS = [2.0, 5.0]


def _counts(rng, overdispersion):
    x = rng.uniform(0, 1, size=(N_ROWS, 2))
    exposure = rng.uniform(0.3, 2.0, N_ROWS)
    mu = exposure * np.exp(0.3 + np.sin(3 * x[:, 0]) + x[:, 1])
    return x, exposure, rng.negative_binomial(overdispersion, overdispersion /
                                              (overdispersion + mu)).astype(float)


def _tweedie(rng, mu, phi, power):
    counts = rng.poisson(mu ** (2 - power) / (phi * (2 - power)))
    scale = phi * (power - 1) * mu ** (power - 1)
    return np.array([rng.gamma(k * (2 - power) / (power - 1), s) if k else 0.0
                     for k, s in zip(counts, scale, strict=True)])


@pytest.mark.parametrize("name", ["tweedie", "negative_binomial"])
def test_solver_matches_statsmodels_glmgam_with_an_offset(name):
    rng = np.random.default_rng(31)
    x, exposure, y = _counts(rng, 3.0)
    if name == "tweedie":
        y = _tweedie(rng, exposure * np.exp(0.3 + np.sin(3 * x[:, 0]) + x[:, 1]), 1.5, 1.4)
        family, reference = FAMILIES["tweedie"].with_parameters({"power": 1.4}), \
            sm.families.Tweedie(var_power=1.4)
    else:
        family, reference = FAMILIES["negative_binomial"].with_parameters({"theta": 3.0}), \
            sm.families.NegativeBinomial(alpha=1 / 3.0)
    smoother = BSplines(x, df=[8, 8], degree=[3, 3])
    theirs = GLMGam(y, exog=np.ones((N_ROWS, 1)), smoother=smoother, alpha=ALPHAS,
                    family=reference, offset=np.log(exposure)).fit(tol=1e-13)
    design = np.column_stack([np.ones(N_ROWS), smoother.basis])
    first = smoother.smoothers[0].dim_basis
    penalties = [Penalty(slice(1, 1 + first), smoother.penalty_matrices[0], ALPHAS[0]),
                 Penalty(slice(1 + first, design.shape[1]), smoother.penalty_matrices[1],
                         ALPHAS[1])]
    ours = penalized_irls(DenseDesign(design), y, np.ones(N_ROWS), family, penalties,
                          tol=1e-13, offset=np.log(exposure))
    # Both stop within about 1e-11 of the penalized deviance's minimum; a coefficient in
    # a nearly flat direction (near zero here) can then differ by 1e-8.
    np.testing.assert_allclose(ours.coef, theirs.params, rtol=1e-6, atol=1e-7)


def test_theta_is_statsmodels_maximum_likelihood_on_the_same_basis():
    rng = np.random.default_rng(32)
    x, _, _ = _counts(rng, 2.0)
    y = rng.negative_binomial(2.0, 2.0 / (2.0 + np.exp(0.3 + np.sin(3 * x[:, 0]) + x[:, 1])))
    model = GAMRegressor(family="negative_binomial", df=5, alpha=0.0).fit(x, y)
    # An unpenalized spline basis that spans the constant: the same model as ours.
    basis = np.hstack([model.predictor_.term_basis(t, model.predictor_.encode(x))
                       for t in range(2)])[:, 1:]
    theirs = sm.NegativeBinomial(y, basis, loglike_method="nb2").fit(method="newton", maxiter=200,
                                                            tol=1e-12, disp=0)
    assert model.theta_ == pytest.approx(1.0 / theirs.params[-1], rel=1e-4)
    np.testing.assert_allclose(model.predict(x), theirs.predict(basis), rtol=1e-5)


def test_theta_estimate_is_the_likelihood_maximum():
    rng = np.random.default_rng(33)
    mu = rng.uniform(1, 20, 5000)
    y = rng.negative_binomial(4.0, 4.0 / (4.0 + mu)).astype(float)
    theta = estimate_theta(y, mu, np.ones(5000))
    assert theta == pytest.approx(4.0, rel=0.1)  # sampling error of 5,000 draws
    # ... and the score is zero there: a maximum, not a stopping point.
    from scipy import special

    score = np.sum(special.digamma(y + theta) - special.digamma(theta) + np.log(theta) + 1
                   - np.log(theta + mu) - (y + theta) / (theta + mu))
    assert abs(score) < 1e-4


def test_tweedie_density_is_mgcv_ldtweedie():
    grid = tweedie_density()
    ours = [tweedie_log_density(np.array([y]), np.array([mu]), phi, p)[0]
            for y, mu, phi, p in zip(grid["y"], grid["mu"], grid["phi"], grid["power"],
                                     strict=True)]
    # Both sum the same series to double precision.
    np.testing.assert_allclose(ours, grid["log_density"], rtol=1e-8, atol=1e-10)


def _mgcv_family_fit(name, **given):
    record, data = family_model(name)
    X = features(record, data)
    alphas = {t["margins"][0]["variable"]: t["lambda"][0] / 2 for t in record["terms"]}
    options = dict(df=10, knots="uniform", adaptive=False, tol=1e-12, family=record["family"])
    if given.get("at_mgcv"):
        options |= dict(alpha=alphas, **record["family_parameters"])
    model = GAMRegressor(**options).fit(X, data["y"].to_numpy())
    return record, model, model.predict(X)


@pytest.mark.parametrize("name", ["tweedie", "negative_binomial"])
def test_at_mgcv_parameters_the_fit_is_mgcv_fit(name):
    record, _, fitted = _mgcv_family_fit(name, at_mgcv=True)
    # Given the smoothing parameters and the family's parameter, one convex problem.
    np.testing.assert_allclose(fitted, record["fitted"], rtol=1e-6)


@pytest.mark.parametrize("name", ["tweedie", "negative_binomial"])
def test_estimated_parameters_are_close_to_mgcv(name):
    record, model, fitted = _mgcv_family_fit(name)
    (parameter, theirs), = record["family_parameters"].items()
    ours = model.power_ if parameter == "power" else model.theta_
    # mgcv maximizes the Laplace-approximate restricted likelihood of the whole model
    # over theta; we maximize the likelihood given the fitted means (performance
    # iteration). Both estimate the same quantity; they differ by far less than its
    # sampling error (about 0.02 for the power, 10% for theta, on these data).
    tolerance = {"power": 0.005, "theta": 0.05}[parameter]
    assert ours == pytest.approx(theirs, rel=tolerance)
    np.testing.assert_allclose(fitted, record["fitted"], rtol=0.02)


def test_a_fitted_parameter_survives_the_artifact(tmp_path):
    rng = np.random.default_rng(35)
    x, _, _ = _counts(rng, 5.0)
    y = rng.negative_binomial(5.0, 5.0 / (5.0 + np.exp(0.3 + np.sin(3 * x[:, 0]) + x[:, 1])))
    model = GAMRegressor(family="negative_binomial").fit(x, y)
    save(model, tmp_path)
    loaded = load(tmp_path)
    assert loaded.family.theta == model.theta_
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-12)


def test_a_given_power_is_used_and_a_misplaced_one_refused():
    rng = np.random.default_rng(36)
    x = rng.uniform(0, 1, size=(300, 1))
    y = _tweedie(rng, np.exp(1 + x[:, 0]), 1.0, 1.5)
    assert GAMRegressor(family="tweedie", power=1.3).fit(x, y).power_ == 1.3
    with pytest.raises(ValueError, match=r"power=1.3 applies to family='tweedie' only"):
        GAMRegressor(family="poisson", power=1.3).fit(x, np.round(y))
    with pytest.raises(ValueError, match="The 'power' parameter of GAMRegressor must be"):
        GAMRegressor(family="tweedie", power=2.5).fit(x, y)


@pytest.mark.parametrize("interactions", [[("x", "g")], "auto"])
def test_with_categorical_features_and_interactions(interactions):
    import pandas as pd

    rng = np.random.default_rng(37)
    n = 3000
    x, z = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    g = rng.choice(["a", "b", "c"], n)
    slope = pd.Series(g).map({"a": -1.0, "b": 0.0, "c": 1.0}).to_numpy()
    mu = np.exp(0.5 + slope * np.sin(3 * x) + 0.5 * z)
    y = rng.negative_binomial(3.0, 3.0 / (3.0 + mu)).astype(float)
    X = pd.DataFrame({"x": x, "z": z, "g": pd.Categorical(g)})
    model = GAMRegressor(family="negative_binomial", interactions=interactions).fit(X, y)
    assert "x:g" in model.term_names_
    # 3,000 draws estimate theta = 3 to within about 10% (one standard error ~ 5%).
    assert model.theta_ == pytest.approx(3.0, rel=0.2)
    additive = GAMRegressor(family="negative_binomial").fit(X, y)
    assert model.score(X, y) > additive.score(X, y)
