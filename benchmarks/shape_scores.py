"""How the shape benchmarks (monotone_benchmark.py, curvature_benchmark.py) score a fit.

Each data set: ``N`` rows with x uniform on [0, 1] and gaussian noise of sd ``NOISE`` on
the truth. Each tool fits it; its curve on a grid of 1,000 points over the training range
widened by 10% on each side (so extrapolation counts) gives the share of wrong-way moves
(the caller's ``wrong_way``), and its RMSE against the truth on a grid over the training
range. Means of the first, medians of the second, over ``seeds`` data sets.
"""

from __future__ import annotations

import datetime
import os
import statistics
import warnings
from collections.abc import Callable

import numpy as np

N, NOISE = 150, 0.3
Curve = Callable[[np.ndarray], np.ndarray]
Fitter = Callable[[np.ndarray, np.ndarray], Curve]


def evaluate(tools: dict[str, Fitter], truth: Curve, wrong_way: Callable[[np.ndarray], float],
             seeds: int) -> dict[str, tuple[float, float]]:
    """Per tool: the mean share of wrong-way moves and the median RMSE against the truth."""
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
            wrong[name].append(wrong_way(predict(wide)))
            error[name].append(float(np.sqrt(np.mean((predict(inside) - truth(inside)) ** 2))))
    return {name: (statistics.mean(wrong[name]), statistics.median(error[name]))
            for name in tools}


def print_header(seeds: int, moves: str) -> None:
    """The run's date, load and settings, and the table's head."""
    import pygam

    print(f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, load "
          f"average {os.getloadavg()[0]:.1f}; pyGAM {pygam.__version__}; n = {N}, noise sd "
          f"{NOISE}, {seeds} data sets (scores do not depend on the load)")
    print(f"\n| truth | tool | wrong-way {moves} (mean) | RMSE vs truth (median) | RMSE ratio "
          "to pyGAM + gridsearch |\n|---|---|---|---|---|")
