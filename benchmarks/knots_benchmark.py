"""Knot placement, measured: equally spaced, at quantiles, or balanced (half each).

``knots="uniform"`` spaces knots equally over a feature's range, ``"quantile"`` puts them
at quantiles of its distinct values, ``"balanced"`` at quantiles of an even mixture of
both distributions, and ``"auto"`` (the default) chooses uniform or balanced per feature
by how crowded equally spaced intervals would be. Two parts, both printing medians and
each placement's ratio to uniform (below 1: better than equally spaced knots):

- synthetic: one feature drawn from a distribution (uniform, normal, lognormal,
  exponential, uniform with 1% outliers at 100 times the range), a truth whose wiggles
  are spread evenly either over the 1%-99% range of x ("even in x") or over its quantiles
  ("even in F(x)"), gaussian noise of sd 0.3; RMSE against the truth on 5,000 new draws
  from the same distribution (where predictions are made), over ``--seeds`` data sets;
- public data: out-of-fold RMSE (5 seeded folds) on ISLR Wage (age, year, education),
  scikit-learn's diabetes, statsmodels' Engel (food expenditure on income) and Fair
  (affairs), and NIST Gauss3.

Accuracy does not depend on the machine's load; the run takes about 10 minutes.

    python benchmarks/knots_benchmark.py [--seeds 20]
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
from collections.abc import Callable

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sagegam import GAMRegressor
from sagegam.datasets import load_gauss3

KNOTS = ("uniform", "quantile", "balanced", "auto")
Draw = Callable[[np.random.Generator, int], np.ndarray]


def _outliers(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.uniform(0, 1, n)
    far = rng.random(n) < 0.01
    x[far] = rng.uniform(50, 100, int(far.sum()))
    return x


DISTRIBUTIONS: dict[str, Draw] = {
    "uniform": lambda rng, n: rng.uniform(0, 1, n),
    "normal": lambda rng, n: rng.normal(0, 1, n),
    "lognormal": lambda rng, n: rng.lognormal(0, 1, n),
    "exponential": lambda rng, n: rng.exponential(1, n),
    "student t, 3 df": lambda rng, n: rng.standard_t(3, n),
    "uniform + 1% outliers": _outliers,
}


def _truths(draw: Draw) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    reference = np.sort(draw(np.random.default_rng(12345), 200_000))
    low, high = np.quantile(reference, [0.01, 0.99])
    cdf = lambda x: np.searchsorted(reference, x) / len(reference)  # noqa: E731
    return {"even in x": lambda x: np.sin(3 * np.pi * np.clip((x - low) / (high - low), 0, 1)),
            "even in F(x)": lambda x: np.sin(3 * np.pi * cdf(x))}


def synthetic(seeds: int) -> list[tuple[str, str, int, dict[str, float]]]:
    rows = []
    for name, draw in DISTRIBUTIONS.items():
        for truth_name, truth in _truths(draw).items():
            for n in (300, 2000):
                errors: dict[str, list[float]] = {k: [] for k in KNOTS}
                for seed in range(seeds):
                    rng = np.random.default_rng(seed)
                    x = draw(rng, n)
                    y = truth(x) + rng.normal(0, 0.3, n)
                    x_new = draw(rng, 5000)
                    for knots in KNOTS:
                        model = GAMRegressor(knots=knots).fit(x[:, None], y)
                        errors[knots].append(float(np.sqrt(np.mean(
                            (model.predict(x_new[:, None]) - truth(x_new)) ** 2))))
                rows.append((name, truth_name, n, _medians(errors)))
    return rows


def _medians(errors: dict[str, list[float]]) -> dict[str, float]:
    out = {k: statistics.median(v) for k, v in errors.items()}
    for knots in KNOTS[1:]:
        out[f"{knots} ratio"] = statistics.median(
            e / u for e, u in zip(errors[knots], errors["uniform"], strict=True))
    return out


def public() -> list[tuple[str, dict[str, float]]]:
    import statsmodels.api as sm
    from sklearn.datasets import load_diabetes

    import mixed_data

    wage = mixed_data.load_wage()[["age", "year", "education", "wage"]]
    engel = sm.datasets.engel.load_pandas().data
    fair = sm.datasets.fair.load_pandas().data
    diabetes = load_diabetes(as_frame=True).frame
    gauss_x, gauss_y = load_gauss3(return_X_y=True)
    sets = {
        "Wage (3,000)": (wage.drop(columns="wage"), wage["wage"]),
        "diabetes (442)": (diabetes.drop(columns="target"), diabetes["target"]),
        "Engel (235)": (engel[["income"]], engel["foodexp"]),
        "Fair (6,366)": (fair.drop(columns="affairs"), fair["affairs"]),
        "Gauss3 (250)": (pd.DataFrame(gauss_x, columns=["x"]), pd.Series(gauss_y)),
    }
    return [(name, _cross_validated(X, y)) for name, (X, y) in sets.items()]


def _cross_validated(X: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    folds = np.random.default_rng(0).permutation(len(y)) % 5
    out = {}
    for knots in KNOTS:
        squared = []
        for k in range(5):
            train, test = folds != k, folds == k
            model = GAMRegressor(knots=knots).fit(X[train], y[train])
            squared.append((model.predict(X[test]) - y[test].to_numpy()) ** 2)
        out[knots] = float(np.sqrt(np.mean(np.concatenate(squared))))
    for knots in KNOTS[1:]:
        out[f"{knots} ratio"] = out[knots] / out["uniform"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    print(f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, load "
          f"average {os.getloadavg()[0]:.1f} (accuracy does not depend on it)")
    print("\n| distribution | truth | n | RMSE uniform | quantile | balanced | auto | "
          "quantile / uniform | balanced / uniform | auto / uniform |\n"
          "|---|---|---|---|---|---|---|---|---|---|")
    for name, truth, n, result in synthetic(args.seeds):
        print(f"| {name} | {truth} | {n} | {result['uniform']:.4f} | {result['quantile']:.4f} "
              f"| {result['balanced']:.4f} | {result['auto']:.4f} | "
              f"{result['quantile ratio']:.3f} | {result['balanced ratio']:.3f} | "
              f"{result['auto ratio']:.3f} |")
    print(f"\n(ratios: median over the {args.seeds} data sets of each one's ratio)")
    print("\n| data | out-of-fold RMSE uniform | quantile | balanced | auto | quantile / "
          "uniform | balanced / uniform | auto / uniform |\n|---|---|---|---|---|---|---|---|")
    for name, result in public():
        print(f"| {name} | {result['uniform']:.4g} | {result['quantile']:.4g} | "
              f"{result['balanced']:.4g} | {result['auto']:.4g} | "
              f"{result['quantile ratio']:.4f} | {result['balanced ratio']:.4f} | "
              f"{result['auto ratio']:.4f} |")


if __name__ == "__main__":
    main()
