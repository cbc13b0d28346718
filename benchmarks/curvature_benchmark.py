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
import io
from collections.abc import Callable

import numpy as np

from sagegam import GAMRegressor
from shape_scores import Curve, Fitter, evaluate, print_header

# name: (truth, curvature, direction)
TRUTHS: dict[str, tuple[Curve, int, int]] = {
    "exponential rise": (lambda x: np.exp(2.5 * x), 1, 1),
    "kink": (lambda x: 2 * np.abs(x - 0.6), 1, 0),
    "quadratic cap": (lambda x: -3 * (x - 0.4) ** 2, -1, 0),
    "diminishing returns": (lambda x: np.log1p(8 * x), -1, 1),
    "flattening decay": (lambda x: np.exp(-4 * x), 1, -1),
}
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


def bends(curvature: int) -> Callable[[np.ndarray], float]:
    """The share of second differences of the wrong sign by more than rounding: 1e-12 of
    the curve's size."""
    def share(curve: np.ndarray) -> float:
        floor = -1e-12 * max(float(np.max(np.abs(curve))), 1.0)
        return float(np.mean(curvature * np.diff(curve, n=2) < floor))
    return share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=50)
    args = parser.parse_args()
    print_header(args.seeds, "bends")
    for name, (truth, curvature, direction) in TRUTHS.items():
        results = evaluate(fitters(curvature, direction), truth, bends(curvature), args.seeds)
        anchor = results[f"pyGAM {SHAPES[curvature]} + gridsearch"][1]
        for tool, (wrong, rmse) in results.items():
            print(f"| {name} | {tool} | {100 * wrong:.1f}% | {rmse:.4f} | {rmse / anchor:.3f} |")


if __name__ == "__main__":
    main()
