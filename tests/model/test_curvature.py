"""Convex and concave terms (``curvature_cst``): the curve never bends the wrong way,
inside or beyond the training range, alone or with ``monotonic_cst``; the constrained
least-squares solution on the same basis; REML smoothness; refusals."""

import numpy as np
import pandas as pd
import pytest
from scipy.interpolate import BSpline
from scipy.linalg import solve_triangular
from scipy.optimize import nnls

from sagegam import GAMClassifier, GAMRegressor, load, save

N_ROWS = 150
# name: (truth on [0, 1], curvature, direction for the combined constraint)
TRUTHS = {
    "exponential": (lambda x: np.exp(2.5 * x), 1, 1),
    "kink": (lambda x: 2 * np.abs(x - 0.6), 1, 0),
    "decay": (lambda x: np.exp(-4 * x), 1, -1),
    "diminishing returns": (lambda x: np.log1p(8 * x), -1, 1),
    "cap": (lambda x: -3 * (x - 0.4) ** 2, -1, 0),
    "accelerating fall": (lambda x: 1 - x ** 3, -1, -1),
}


def _data(truth, seed, n=N_ROWS, noise=0.3):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n)
    return x, truth(x) + rng.normal(0, noise, n)


def _wide_grid(x):
    """1,000 points over the training range widened by 10% on each side."""
    low, high = float(x.min()), float(x.max())
    return np.linspace(low - 0.1 * (high - low), high + 0.1 * (high - low), 1000)


def _wrong_way(curve, curvature, direction=0):
    """Second differences that bend against ``curvature`` and steps against
    ``direction``, beyond rounding of the curve's values (a few ulps of its size)."""
    rounding = 1e-12 * max(float(np.max(np.abs(curve))), 1.0)
    bends = curvature * np.diff(curve, n=2) < -rounding
    steps = direction * np.diff(curve) < -rounding if direction else np.zeros(1, dtype=bool)
    return int(bends.sum()), int(steps.sum())


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", TRUTHS)
def test_the_fit_never_bends_the_wrong_way_inside_or_beyond_the_data(name, seed):
    truth, curvature, direction = TRUTHS[name]
    x, y = _data(truth, seed)
    grid = pd.DataFrame({"x": _wide_grid(x)})
    alone = GAMRegressor(curvature_cst=[curvature]).fit(pd.DataFrame({"x": x}), y)
    assert _wrong_way(alone.predict(grid), curvature) == (0, 0)
    # With the direction too, on the same feature: both hold at once.
    both = GAMRegressor(curvature_cst={"x": curvature}, monotonic_cst={"x": direction}).fit(
        pd.DataFrame({"x": x}), y)
    assert _wrong_way(both.predict(grid), curvature, direction) == (0, 0)


@pytest.mark.parametrize("knots", ["quantile", "balanced"])
def test_uneven_knots_missing_values_other_features_and_discretization(knots):
    rng = np.random.default_rng(11)
    n = 600
    x = rng.exponential(0.3, n)  # skewed: the knots crowd where the data are
    group = rng.choice(["a", "b", "c"], n)
    z = rng.uniform(0, 1, n)
    y = np.log1p(5 * x) + np.sin(6 * z) + pd.Series(group).map(
        {"a": 0.0, "b": 0.5, "c": -0.3}).to_numpy() + rng.normal(0, 0.3, n)
    x[:40] = np.nan
    X = pd.DataFrame({"x": x, "z": z, "g": pd.Categorical(group)})
    grid = _wide_grid(x[~np.isnan(x)])
    for discrete in (False, True):
        model = GAMRegressor(curvature_cst={"x": -1}, knots=knots, discrete=discrete).fit(X, y)
        for level, height in (("a", 0.1), ("c", 0.9)):
            rows = pd.DataFrame({"x": grid, "z": np.full(len(grid), height),
                                 "g": pd.Categorical([level] * len(grid), categories=list("abc"))})
            assert _wrong_way(model.predict(rows), -1) == (0, 0)


def test_a_classifier_is_convex_on_the_log_odds():
    rng = np.random.default_rng(12)
    x = rng.uniform(0, 1, 800)
    event = rng.random(800) < 1 / (1 + np.exp(-(6 * (x - 0.5) ** 2 - 1 + 0.5 * np.sin(15 * x))))
    model = GAMClassifier(curvature_cst=[1]).fit(pd.DataFrame({"x": x}), event)
    grid = pd.DataFrame({"x": _wide_grid(x)})
    assert _wrong_way(model.decision_function(grid), 1) == (0, 0)


def _constrained_least_squares(x, y, df, curvature, direction):
    """The oracle: least squares over the same cubic B-spline basis (equally spaced knots
    over the data's range, built by scipy) under the same shape constraints on the
    coefficients, ``A beta >= 0``. With ``X = QR`` and ``u = R beta`` it is the
    projection of ``c = Q'y`` on the cone ``A R^-1 u >= 0``, which by Moreau's
    decomposition is ``c + M' lambda`` with ``lambda`` the non-negative least-squares
    solution of ``M' lambda = -c`` (``M = A R^-1``): Lawson and Hanson's exact method,
    as scipy implements it."""
    low, high, degree = float(x.min()), float(x.max()), 3
    inner = np.linspace(low, high, df - degree + 1)
    width = inner[1] - inner[0]
    knots = np.concatenate([low - width * np.arange(degree, 0, -1), inner,
                            high + width * np.arange(1, degree + 1)])
    Q, R = np.linalg.qr(BSpline.design_matrix(x, knots, degree).toarray())
    rows = [curvature * np.diff(np.eye(df), n=2, axis=0)]
    if direction:
        rows.append(direction * np.diff(np.eye(df), axis=0))
    M = solve_triangular(R, np.vstack(rows).T, trans="T").T  # A R^-1
    c = Q.T @ y
    multipliers, _ = nnls(M.T, -c, maxiter=100 * len(M))
    return BSpline(knots, solve_triangular(R, c + M.T @ multipliers), degree)


@pytest.mark.parametrize("curvature, direction", [(1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1)])
def test_unpenalized_it_is_the_constrained_least_squares_solution(curvature, direction):
    # An increasing truth, convex then concave: every combination binds somewhere (the
    # decreasing ones everywhere), and the solution of a strictly convex quadratic
    # program is unique.
    x, y = _data(lambda t: 3 / (1 + np.exp(-8 * (t - 0.5))) + 0.3 * np.sin(9 * t), seed=13,
                 n=300)
    model = GAMRegressor(df=10, knots="uniform", alpha=0, adaptive=False,
                         curvature_cst=[curvature], monotonic_cst=[direction]).fit(x[:, None], y)
    oracle = _constrained_least_squares(x, y, 10, curvature, direction)
    inside = np.linspace(x.min(), x.max(), 500)
    # Both are exact active-set solutions; they differ by the ridge the fit adds (1e-9 of
    # the Gram's mean diagonal, solver.RIDGE) over the Gram's smallest eigenvalue, about
    # 1e-3 of that mean here (the end basis functions see few rows): about 1e-6 of the
    # curve's size, where a wrong active set would move it by percents.
    np.testing.assert_allclose(model.predict(inside[:, None]), oracle(inside),
                               rtol=0, atol=1e-5 * float(np.ptp(y)))


def test_a_constraint_that_does_not_bind_leaves_the_reml_fit_unchanged():
    # A strongly convex truth: the unconstrained REML fit is convex everywhere, so no
    # bound is active and the constrained problem (same model space and penalty, other
    # coordinates) has the same solution at the same REML optimum.
    rng = np.random.default_rng(14)
    x = rng.uniform(0, 1, (300, 2))
    y = 4 * np.exp(2 * x[:, 0]) + np.sin(6 * x[:, 1]) + rng.normal(0, 0.2, 300)
    free = GAMRegressor(df=10, tol=1e-12).fit(x, y)
    inside = np.column_stack([np.linspace(x[:, 0].min(), x[:, 0].max(), 1000),
                              np.full(1000, 0.5)])
    assert np.all(np.diff(free.predict(inside), n=2) > 0)  # strictly convex on the range
    constrained = GAMRegressor(df=10, tol=1e-12, curvature_cst=[1, 0]).fit(x, y)
    np.testing.assert_allclose(constrained.predict(x), free.predict(x), rtol=1e-5, atol=1e-5)
    assert constrained.summary().count("REML") == free.summary().count("REML")


def test_a_binding_constraint_still_smooths_by_reml():
    # A convex truth seen through heavy noise: the free fit bends back, the constrained
    # one cannot, and REML chooses how smooth it is: the model refitted with its penalty
    # weight fixed at that choice is the same model (the same quadratic program).
    x, y = _data(lambda t: np.exp(2 * t), seed=15, noise=0.8)
    X, grid = pd.DataFrame({"x": x}), pd.DataFrame({"x": _wide_grid(x)})
    free = GAMRegressor(adaptive=False).fit(X, y)
    assert _wrong_way(free.predict(grid), 1) != (0, 0)
    model = GAMRegressor(curvature_cst=[1], adaptive=False).fit(X, y)
    assert "REML" in next(row for row in model.summary().splitlines() if row.startswith("x "))
    fixed = GAMRegressor(curvature_cst=[1], adaptive=False, alpha=float(model.alpha_[0])).fit(
        X, y)
    np.testing.assert_allclose(fixed.predict(grid), model.predict(grid), rtol=0,
                               atol=1e-6 * float(np.ptp(model.predict(grid))))


def test_the_constraint_survives_the_artifact(tmp_path):
    x, y = _data(np.sqrt, seed=16)
    model = GAMRegressor(curvature_cst=[-1], monotonic_cst=[1], knots="quantile").fit(
        pd.DataFrame({"x": x}), y)
    save(model, tmp_path)
    loaded = load(tmp_path)
    grid = pd.DataFrame({"x": _wide_grid(x)})
    np.testing.assert_allclose(loaded.predict(grid), model.predict(grid), rtol=1e-12)
    assert _wrong_way(loaded.predict(grid), -1, 1) == (0, 0)


def test_refusals_name_the_feature(tmp_path):
    from sagegam import FileSource

    rng = np.random.default_rng(17)
    X = pd.DataFrame({"x": rng.uniform(0, 1, 100), "z": rng.uniform(0, 1, 100),
                      "g": pd.Categorical(rng.choice(["a", "b"], 100))})
    y = rng.normal(size=100)
    with pytest.raises(ValueError, match="curvature_cst constrains 'g', which is categorical"):
        GAMRegressor(curvature_cst={"g": 1}).fit(X, y)
    with pytest.raises(ValueError, match=r"curvature_cst for 'z' is 2; it must be 1 \(convex\)"):
        GAMRegressor(curvature_cst=[1, 2, 0]).fit(X, y)
    with pytest.raises(ValueError, match="curvature_cst has 2 values but X has 3 features"):
        GAMRegressor(curvature_cst=[1, 0]).fit(X, y)
    with pytest.raises(ValueError, match="curvature_cst names unknown features"):
        GAMRegressor(curvature_cst={"w": 1}).fit(X, y)
    with pytest.raises(ValueError, match="curvature_cst constrains 'x', and an interaction"):
        GAMRegressor(curvature_cst={"x": -1}, interactions=[("z", "x")]).fit(X, y)
    with pytest.raises(ValueError, match="curvature_cst constrains 'x', but "
                                         "extrapolation='constant'"):
        GAMRegressor(curvature_cst={"x": 1}, extrapolation="constant").fit(X, y)
    # Screening never proposes a pair with a constrained feature.
    model = GAMRegressor(curvature_cst={"x": 1}, interactions=3).fit(X, y)
    assert all("x" not in name.split(":") for name in model.term_names_ if ":" in name)
    # A fit in passes refuses before reading a row: the third line is bad, and the
    # refusal, not the file's error, is what the caller sees.
    X.assign(y=y).iloc[:3].to_csv(tmp_path / "rows.csv", index=False)
    with (tmp_path / "rows.csv").open("a") as handle:
        handle.write("oops,1,a,2\n")
    with pytest.raises(ValueError, match=r"curvature_cst=\{'x': 1\} bounds .* cannot"):
        GAMRegressor(curvature_cst={"x": 1}).fit(FileSource.of(tmp_path / "rows.csv",
                                                               target="y"))
