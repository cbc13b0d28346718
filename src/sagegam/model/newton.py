"""Bounded Newton minimization with an exact Hessian, for smoothing parameters.

The restricted likelihood is a smooth function of a handful of log smoothing parameters
whose exact gradient and Hessian cost little more than its value (one Cholesky factor).
Newton's method then converges quadratically, so the optimum is found to rounding
precision in a few steps, on any CPU. A quasi-Newton method stopped by a relative change
in the criterion (as L-BFGS-B is) stops at about the square root of that precision, and
where it stops depends on the floating-point details of each machine.

Directions in which the criterion is flat (a term that tends to a straight line as its
smoothing parameter grows) get a bounded step towards the bound; parameters held at a
bound by their gradient leave the Newton system.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

MAX_STEP = 5.0  # in log smoothing parameter: a factor of ~150 per step at most
STEP_TOL = 1e-10  # a step this small changes no fit measurably
GRADIENT_TOL = 1e-6  # relative to 1 + |value|: where rounding stalls a line search
ROUNDING = 1e-11  # relative change of the criterion that is rounding, not progress
MAX_ITER = 100


class Evaluation(Protocol):
    """The objective at one point; derivatives are computed only when asked for."""

    @property
    def value(self) -> float: ...

    def derivatives(self) -> tuple[Array, Array]:
        """Gradient and Hessian."""
        ...


Objective = Callable[[Array], Evaluation]


@dataclass(frozen=True)
class NewtonResult:
    x: Array
    value: float
    gradient: Array
    n_iter: int
    converged: bool


@dataclass
class _Point:
    x: Array
    value: float
    gradient: Array
    hessian: Array

    @classmethod
    def at(cls, x: Array, evaluation: Evaluation) -> _Point:
        return cls(x, evaluation.value, *evaluation.derivatives())


def minimize(objective: Objective, x0: Array, lower: float, upper: float) -> NewtonResult:
    """Minimize ``objective`` over the box ``[lower, upper]^d`` from ``x0``."""
    x = np.clip(np.asarray(x0, dtype=np.float64), lower, upper)
    point = _Point.at(x, objective(x))
    for iteration in range(1, MAX_ITER + 1):
        free = _free(point, lower, upper)
        step = np.zeros_like(point.x)
        step[free] = _newton_step(point.hessian[np.ix_(free, free)], point.gradient[free])
        if float(np.max(np.abs(step), initial=0.0)) <= STEP_TOL:
            return _result(point, iteration - 1, True)
        trial, full_step = _line_search(objective, point, step, lower, upper)
        if trial is None:
            # No descent along the Newton direction: the optimum to rounding precision if
            # the gradient is as small as the criterion's rounding allows.
            return _result(point, iteration, _stationary(point, free))
        gain = point.value - trial.value
        point = trial
        if not full_step and gain <= ROUNDING * (1.0 + abs(point.value)):
            # A step cut back to no gain: the directions left are flat to rounding.
            return _result(point, iteration, _stationary(point, free))
    return _result(point, MAX_ITER, False)


def _result(point: _Point, n_iter: int, converged: bool) -> NewtonResult:
    return NewtonResult(point.x, point.value, point.gradient, n_iter, converged)


def _free(point: _Point, lower: float, upper: float) -> NDArray[np.bool_]:
    """Parameters not held at a bound by their gradient."""
    at_lower = (point.x <= lower) & (point.gradient > 0)
    at_upper = (point.x >= upper) & (point.gradient < 0)
    return ~(at_lower | at_upper)


def _stationary(point: _Point, free: NDArray[np.bool_]) -> bool:
    limit = GRADIENT_TOL * (1.0 + abs(point.value))
    return bool(np.all(np.abs(point.gradient[free]) <= limit))


def _newton_step(hessian: Array, gradient: Array) -> Array:
    """The Newton step on a Hessian made positive definite by its eigenvalues' size.

    Negative curvature is taken by its magnitude and near-zero curvature is floored, so
    the step always descends; its length is capped at MAX_STEP.
    """
    if gradient.size == 0:
        return gradient
    eigenvalues, vectors = np.linalg.eigh(hessian)
    floor = max(1e-8 * float(np.max(np.abs(eigenvalues), initial=0.0)), 1e-12)
    curvature = np.maximum(np.abs(eigenvalues), floor)
    step = -vectors @ ((vectors.T @ gradient) / curvature)
    longest = float(np.max(np.abs(step)))
    return step * (MAX_STEP / longest) if longest > MAX_STEP else step


def _line_search(objective: Objective, point: _Point, step: Array, lower: float,
                 upper: float) -> tuple[_Point | None, bool]:
    """Halve the step until the (box-projected) point lowers the objective.

    Returns the new point (None when no step helps) and whether it was the full step.
    """
    scale = 1.0
    for _ in range(40):
        x = np.clip(point.x + scale * step, lower, upper)
        if np.array_equal(x, point.x):
            return None, False
        trial = objective(x)
        if _sufficient_decrease(point, x, trial.value):
            return _Point.at(x, trial), scale == 1.0
        if scale == 1.0 and _rounding_only(point, trial.value):
            # Near the optimum a full Newton step gains less than the criterion's last
            # digits: take it if it lowers the gradient.
            candidate = _Point.at(x, trial)
            moving = x != point.x
            if np.max(np.abs(candidate.gradient[moving])) < np.max(
                    np.abs(point.gradient[moving])):
                return candidate, True
        scale *= 0.5
    return None, False


def _sufficient_decrease(point: _Point, x: Array, value: float) -> bool:
    """Armijo's condition, with ties allowed only along a descent direction."""
    if not np.isfinite(value):
        return False
    slope = float(point.gradient @ (x - point.x))
    return value <= point.value + 1e-4 * min(slope, 0.0) and (value < point.value or slope < 0)


def _rounding_only(point: _Point, value: float) -> bool:
    return bool(np.isfinite(value)) and abs(value - point.value) <= ROUNDING * (
        1.0 + abs(point.value))
