"""Shape constraints (``monotonic_cst``): monotone everywhere the model predicts, beyond the
training range included; a constraint that does not bind changes nothing; refusals."""

import numpy as np
import pandas as pd
import pytest

from sagegam import GAMClassifier, GAMRegressor, load, save

N_ROWS = 150


def _steps(model, column, lower=-0.5, upper=1.5, others=None):
    """The fitted curve's steps along ``column`` on a grid reaching beyond [0, 1]."""
    grid = np.linspace(lower, upper, 2001)
    X = pd.DataFrame({"x": grid}) if others is None else others(grid)
    curve = model.predict(X) if isinstance(model, GAMRegressor) else \
        model.predict_proba(X)[:, 1]
    return np.diff(curve), float(np.ptp(curve))


def _logistic_step(seed, n=N_ROWS):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n)
    return x, 1 / (1 + np.exp(-20 * (x - 0.5))) + rng.normal(0, 0.3, n)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("direction", [1, -1])
def test_the_fit_never_goes_the_wrong_way_inside_or_beyond_the_data(seed, direction):
    x, y = _logistic_step(seed)
    model = GAMRegressor(monotonic_cst=[direction]).fit(pd.DataFrame({"x": x}), direction * y)
    steps, span = _steps(model, "x")
    # Monotone B-spline coefficients give a monotone curve, and linear extrapolation
    # continues with the boundary's slope: only rounding can go the other way.
    assert np.all(direction * steps >= -1e-12 * max(span, 1.0))


def test_with_missing_values_categorical_features_and_discretization():
    rng = np.random.default_rng(7)
    n = 600
    x = rng.uniform(0, 1, n)
    group = rng.choice(["a", "b", "c"], n)
    y = np.sqrt(x) + pd.Series(group).map({"a": 0.0, "b": 0.5, "c": -0.3}).to_numpy() + \
        rng.normal(0, 0.3, n)
    x[:40] = np.nan
    X = pd.DataFrame({"x": x, "g": pd.Categorical(group)})
    for discrete in (False, True):
        model = GAMRegressor(monotonic_cst={"x": 1}, discrete=discrete).fit(X, y)
        for level in "abc":
            steps, span = _steps(model, "x", others=lambda grid, level=level: pd.DataFrame(
                {"x": grid, "g": pd.Categorical([level] * len(grid), categories=list("abc"))}))
            assert np.all(steps >= -1e-12 * max(span, 1.0))


def test_a_constraint_that_does_not_bind_changes_nothing():
    # A steep line: the unconstrained fit rises everywhere, so the bounds hold nowhere
    # and the constrained problem (the same model space and penalty, in increments) has
    # the same solution and the same REML optimum.
    rng = np.random.default_rng(8)
    x = rng.uniform(0, 1, (300, 2))
    y = 5 * x[:, 0] + np.sin(6 * x[:, 1]) + rng.normal(0, 0.2, 300)
    free = GAMRegressor(df=10, tol=1e-12).fit(x, y)
    assert np.all(np.diff(free.predict(np.column_stack([np.linspace(0, 1, 500),
                                                        np.full(500, 0.5)]))) > 0)
    constrained = GAMRegressor(df=10, tol=1e-12, monotonic_cst=[1, 0]).fit(x, y)
    # The two solve the same problem in different coordinates; both stop within the
    # REML search's tolerance of its optimum.
    np.testing.assert_allclose(constrained.predict(x), free.predict(x), rtol=1e-5, atol=1e-5)


def test_the_constraint_survives_the_artifact(tmp_path):
    x, y = _logistic_step(3)
    X = pd.DataFrame({"x": x})
    model = GAMRegressor(monotonic_cst=[1]).fit(X, y)
    save(model, tmp_path)
    loaded = load(tmp_path)
    grid = pd.DataFrame({"x": np.linspace(-0.5, 1.5, 501)})
    np.testing.assert_allclose(loaded.predict(grid), model.predict(grid), rtol=1e-12)


def test_a_monotone_risk_score():
    rng = np.random.default_rng(9)
    x = rng.uniform(0, 1, 800)
    event = rng.random(800) < 1 / (1 + np.exp(-(3 * x - 1.5 + 0.4 * np.sin(12 * x))))
    model = GAMClassifier(monotonic_cst=[1]).fit(pd.DataFrame({"x": x}), event)
    steps, span = _steps(model, "x")
    assert np.all(steps >= -1e-12 * max(span, 1.0))


def test_refusals_name_the_feature():
    rng = np.random.default_rng(10)
    X = pd.DataFrame({"x": rng.uniform(0, 1, 100), "z": rng.uniform(0, 1, 100),
                      "g": pd.Categorical(rng.choice(["a", "b"], 100))})
    y = rng.normal(size=100)
    with pytest.raises(ValueError, match="monotonic_cst constrains 'g', which is categorical"):
        GAMRegressor(monotonic_cst={"g": 1}).fit(X, y)
    with pytest.raises(ValueError, match="monotonic_cst for 'z' is 2; it must be 1"):
        GAMRegressor(monotonic_cst=[1, 2, 0]).fit(X, y)
    with pytest.raises(ValueError, match="monotonic_cst has 2 values but X has 3 features"):
        GAMRegressor(monotonic_cst=[1, 0]).fit(X, y)
    with pytest.raises(ValueError, match="monotonic_cst names unknown features"):
        GAMRegressor(monotonic_cst={"w": 1}).fit(X, y)
    with pytest.raises(ValueError, match="monotonic_cst constrains 'x', and an interaction"):
        GAMRegressor(monotonic_cst={"x": 1}, interactions=[("x", "z")]).fit(X, y)
    # Screening never proposes a pair with a constrained feature.
    model = GAMRegressor(monotonic_cst={"x": 1}, interactions=3).fit(X, y)
    assert all("x" not in name.split(":") for name in model.term_names_ if ":" in name)


@pytest.mark.parametrize("alpha", ["auto", 1.0])
def test_a_constraint_against_the_data_flattens_the_term(alpha):
    # A falling truth fitted as increasing: the least-squares answer is a flat term, every
    # bound active. Its test has nothing to test (p-value 1), and a given penalty weight
    # leaves no smoothness to choose on the coefficients that remain.
    rng = np.random.default_rng(11)
    x = rng.uniform(0, 1, N_ROWS)
    y = -3 * x + rng.normal(0, 0.3, N_ROWS)
    model = GAMRegressor(monotonic_cst=[1], alpha=alpha).fit(pd.DataFrame({"x": x}), y)
    curve = model.predict(pd.DataFrame({"x": np.linspace(-0.5, 1.5, 501)}))
    assert np.ptp(curve) <= 1e-12 * max(float(np.max(np.abs(curve))), 1.0)
    np.testing.assert_allclose(curve, y.mean(), rtol=1e-9)
    assert model.p_values_[0] == 1.0
