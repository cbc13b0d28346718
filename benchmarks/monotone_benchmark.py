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

import numpy as np

from sagegam import GAMRegressor
from shape_scores import Curve, Fitter, evaluate, print_header

TRUTHS: dict[str, Curve] = {
    "logistic step": lambda x: 1 / (1 + np.exp(-20 * (x - 0.5))),
    "square root": np.sqrt,
    "line with wiggles": lambda x: x + 0.3 * np.sin(2 * np.pi * x) / (2 * np.pi),
    "flat, then rising": lambda x: 4 * np.maximum(x - 0.5, 0) ** 2,
}


def fitters() -> dict[str, Fitter]:
    from pygam import LinearGAM, s

    def ours(constraint: int) -> Fitter:
        def fit(x: np.ndarray, y: np.ndarray) -> Curve:
            model = GAMRegressor(monotonic_cst=[constraint]).fit(x[:, None], y)
            return lambda g: model.predict(g[:, None])
        return fit

    def pygam(search: bool) -> Fitter:
        def fit(x: np.ndarray, y: np.ndarray) -> Curve:
            model = LinearGAM(s(0, constraints="monotonic_inc"))
            if search:
                model.gridsearch(x[:, None], y, progress=False)
            else:
                model.fit(x[:, None], y)
            return lambda g: model.predict(g[:, None])
        return fit

    return {"sagegam": ours(0), "sagegam monotonic_cst=[1]": ours(1),
            "pyGAM monotonic_inc": pygam(False), "pyGAM monotonic_inc + gridsearch": pygam(True)}


def steps_down(curve: np.ndarray) -> float:
    """The share of steps that go down by more than rounding: 1e-9 of the curve's range."""
    return float(np.mean(np.diff(curve) < -1e-9 * float(np.ptp(curve))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=50)
    args = parser.parse_args()
    print_header(args.seeds, "steps")
    for name, truth in TRUTHS.items():
        results = evaluate(fitters(), truth, steps_down, args.seeds)
        anchor = results["pyGAM monotonic_inc + gridsearch"][1]
        for tool, (wrong, rmse) in results.items():
            print(f"| {name} | {tool} | {100 * wrong:.1f}% | {rmse:.4f} | {rmse / anchor:.3f} |")


if __name__ == "__main__":
    main()
