"""Monotone truths, n = 150: does the fit go the wrong way, and how close is it?

Four increasing truths on [0, 1] (a logistic step, a square root, a line with wiggles
that never reverse, a flat start then a rise), gaussian noise of sd 0.3, 150 rows, over
``--seeds`` data sets. Compared: sagegam unconstrained and with ``monotonic_cst=[1]``
(defaults otherwise), and pyGAM's ``LinearGAM(s(0, constraints="monotonic_inc"))``, with
its default smoothing and with its ``gridsearch`` over the smoothing parameter. Scores:
the share of steps that go down (by more than 1e-9 of the curve's range: flat stretches
are equal up to rounding) on a grid of 1,000 points over the training range widened by
10% on each side (so extrapolation counts), and RMSE against the truth on a grid over the
training range.

    python benchmarks/monotone_benchmark.py [--seeds 50]
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import warnings
from collections.abc import Callable

import numpy as np

from sagegam import GAMRegressor

TRUTHS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "logistic step": lambda x: 1 / (1 + np.exp(-20 * (x - 0.5))),
    "square root": np.sqrt,
    "line with wiggles": lambda x: x + 0.3 * np.sin(2 * np.pi * x) / (2 * np.pi),
    "flat, then rising": lambda x: 4 * np.maximum(x - 0.5, 0) ** 2,
}
N, NOISE = 150, 0.3


def fitters() -> dict[str, Callable[[np.ndarray, np.ndarray], Callable[[np.ndarray],
                                                                         np.ndarray]]]:
    from pygam import LinearGAM, s

    def ours(constraint: int) -> Callable[..., Callable[[np.ndarray], np.ndarray]]:
        def fit(x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
            model = GAMRegressor(monotonic_cst=[constraint]).fit(x[:, None], y)
            return lambda g: model.predict(g[:, None])
        return fit

    def pygam(search: bool) -> Callable[..., Callable[[np.ndarray], np.ndarray]]:
        def fit(x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
            model = LinearGAM(s(0, constraints="monotonic_inc"))
            if search:
                model.gridsearch(x[:, None], y, progress=False)
            else:
                model.fit(x[:, None], y)
            return lambda g: model.predict(g[:, None])
        return fit

    return {"sagegam": ours(0), "sagegam monotonic_cst=[1]": ours(1),
            "pyGAM monotonic_inc": pygam(False), "pyGAM monotonic_inc + gridsearch": pygam(True)}


def evaluate(truth: Callable[[np.ndarray], np.ndarray], seeds: int) -> dict[str, tuple[float,
                                                                                         float]]:
    tools = fitters()
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
            # A step down by more than rounding: 1e-9 of the curve's range.
            floor = -1e-9 * float(np.ptp(curve))
            wrong[name].append(float(np.mean(np.diff(curve) < floor)))
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
    print("\n| truth | tool | wrong-way steps (mean) | RMSE vs truth (median) | RMSE ratio to "
          "pyGAM + gridsearch |\n|---|---|---|---|---|")
    for name, truth in TRUTHS.items():
        results = evaluate(truth, args.seeds)
        anchor = results["pyGAM monotonic_inc + gridsearch"][1]
        for tool, (wrong, rmse) in results.items():
            print(f"| {name} | {tool} | {100 * wrong:.1f}% | {rmse:.4f} | {rmse / anchor:.3f} |")


if __name__ == "__main__":
    main()
