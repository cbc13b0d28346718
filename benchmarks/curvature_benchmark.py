"""Convex and concave truths, n = 150: does the fit bend the wrong way, and how close is it?

Five truths on [0, 1] (an exponential rise, a kink, a quadratic cap, diminishing returns
and a decay that flattens), gaussian noise of sd 0.3, 150 rows, over ``--seeds`` data
sets. Compared: sagegam unconstrained, with ``curvature_cst=[c]`` and with the direction
as well (``monotonic_cst=[m]``), and pyGAM's ``LinearGAM(s(0, constraints=...))`` with
"convex" or "concave" (and "monotonic_inc"/"monotonic_dec" for the combined row), with
its default smoothing and with its ``gridsearch`` over the smoothing parameter. Scores:
the share of second differences that bend the wrong way (by more than 1e-12 of the
curve's size: straight stretches are equal up to rounding) on a grid of 1,000 points
over the training range widened by 10% on each side (so extrapolation counts), and RMSE
against the truth on a grid over the training range.

    python benchmarks/curvature_benchmark.py [--seeds 50]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import os
import statistics
import warnings
from collections.abc import Callable

import numpy as np

from sagegam import GAMRegressor

Curve = Callable[[np.ndarray], np.ndarray]
Fitter = Callable[[np.ndarray, np.ndarray], Curve]
# name: (truth, curvature, direction)
TRUTHS: dict[str, tuple[Curve, int, int]] = {
    "exponential rise": (lambda x: np.exp(2.5 * x), 1, 1),
    "kink": (lambda x: 2 * np.abs(x - 0.6), 1, 0),
    "quadratic cap": (lambda x: -3 * (x - 0.4) ** 2, -1, 0),
    "diminishing returns": (lambda x: np.log1p(8 * x), -1, 1),
    "flattening decay": (lambda x: np.exp(-4 * x), 1, -1),
}
N, NOISE = 150, 0.3
SHAPES = {1: "convex", -1: "concave"}
DIRECTIONS = {1: "monotonic_inc", -1: "monotonic_dec"}


def fitters(curvature: int, direction: int) -> dict[str, Fitter]:
    from pygam import LinearGAM, s

    def ours(**constraints: list[int]) -> Fitter:
        def fit(x: np.ndarray, y: np.ndarray) -> Curve:
            model = GAMRegressor(**constraints).fit(x[:, None], y)  # type: ignore[arg-type]
            return lambda g: model.predict(g[:, None])
        return fit

    def pygam(constraints: list[str], search: bool) -> Fitter:
        def fit(x: np.ndarray, y: np.ndarray) -> Curve:
            model = LinearGAM(s(0, constraints=constraints))
            with contextlib.redirect_stdout(io.StringIO()):  # its "did not converge" notes
                if search:
                    model.gridsearch(x[:, None], y, progress=False)
                else:
                    model.fit(x[:, None], y)
            return lambda g: model.predict(g[:, None])
        return fit

    shape = SHAPES[curvature]
    tools = {"sagegam": ours(),
             f"sagegam curvature_cst=[{curvature}]": ours(curvature_cst=[curvature]),
             f"pyGAM {shape}": pygam([shape], False),
             f"pyGAM {shape} + gridsearch": pygam([shape], True)}
    if direction:
        both = [DIRECTIONS[direction], shape]
        tools |= {f"sagegam curvature_cst=[{curvature}], monotonic_cst=[{direction}]":
                  ours(curvature_cst=[curvature], monotonic_cst=[direction]),
                  f"pyGAM {' + '.join(both)}": pygam(both, False),
                  f"pyGAM {' + '.join(both)} + gridsearch": pygam(both, True)}
    return tools


def evaluate(truth: Curve, curvature: int, direction: int,
             seeds: int) -> dict[str, tuple[float, float]]:
    tools = fitters(curvature, direction)
    wrong: dict[str, list[float]] = {name: [] for name in tools}
    error: dict[str, list[float]] = {name: [] for name in tools}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        x = rng.uniform(0, 1, N)
        y = truth(x) + rng.normal(0, NOISE, N)
        low, high = x.min(), x.max()
        wide = np.linspace(low - 0.1 * (high - low), high + 0.1 * (high - low), 1000)
        inside = np.linspace(low, high, 1000)
        for name, fit in tools.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                predict = fit(x, y)
            curve = predict(wide)
            # A bend the wrong way by more than rounding: 1e-12 of the curve's size.
            floor = -1e-12 * max(float(np.max(np.abs(curve))), 1.0)
            wrong[name].append(float(np.mean(curvature * np.diff(curve, n=2) < floor)))
            error[name].append(float(np.sqrt(np.mean((predict(inside) - truth(inside)) ** 2))))
    return {name: (statistics.mean(wrong[name]), statistics.median(error[name]))
            for name in tools}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=50)
    args = parser.parse_args()
    import pygam

    print(f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, load "
          f"average {os.getloadavg()[0]:.1f}; pyGAM {pygam.__version__}; n = {N}, noise sd "
          f"{NOISE}, {args.seeds} data sets (scores do not depend on the load)")
    print("\n| truth | tool | wrong-way bends (mean) | RMSE vs truth (median) | RMSE ratio to "
          "pyGAM + gridsearch |\n|---|---|---|---|---|")
    for name, (truth, curvature, direction) in TRUTHS.items():
        results = evaluate(truth, curvature, direction, args.seeds)
        anchor = results[f"pyGAM {SHAPES[curvature]} + gridsearch"][1]
        for tool, (wrong, rmse) in results.items():
            print(f"| {name} | {tool} | {100 * wrong:.1f}% | {rmse:.4f} | {rmse / anchor:.3f} |")


if __name__ == "__main__":
    main()
