"""Shape constraints as bounds: a penalized least-squares step with some coefficients >= 0.

A monotone smooth is parametrized by the increments of its B-spline coefficients (see
:mod:`~sagegam.model.terms.spline`): a B-spline with non-decreasing coefficients is
non-decreasing everywhere, between the data, beyond them (its tangent has a non-negative
slope) and whatever the knots, so "increasing" becomes "increments >= 0". Each penalized
IRLS step is then the convex quadratic program

    minimize  theta' A theta / 2 - b' theta   subject to  theta_j >= 0 for bounded j

(``A = X'WX + S``, ``b = X'Wz``), solved exactly by a primal active-set method (Lawson and
Hanson's for non-negative least squares, on the normal equations): free coordinates are
solved for, a step that would leave the feasible set stops at the first bound it meets,
and a coordinate held at its bound is released when its multiplier says the objective
would decrease. Each iteration is a Cholesky factor of the free part; warm-started from
the previous step's active set, a few suffice.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import linalg

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]
MAX_ITERATIONS = 500


def nonnegative_solve(A: Array, b: Array, bounded: Mask,
                      active: Mask | None = None) -> tuple[Array, Mask]:
    """The minimizer and the set of bounded coordinates held at 0 there.

    ``active`` (a guess of that set, for example the previous step's) is a warm start.
    """
    n = len(b)
    start = bounded.copy() if active is None else active & bounded
    x = _solve_free(A, b, ~start)
    if np.any(x[bounded & ~start] < 0):
        start = bounded.copy()  # the guess is infeasible: start from every bound held
        x = _solve_free(A, b, ~start)
    active = start
    tolerance = 1e-12 * max(float(np.max(np.abs(b), initial=0.0)),
                            float(np.max(np.abs(np.diag(A)), initial=0.0)), 1e-300)
    for _ in range(MAX_ITERATIONS):
        gradient = A @ x - b
        releasable = active & (gradient < -tolerance)
        if not releasable.any():
            return x, active
        active = active.copy()
        active[np.argmin(np.where(releasable, gradient, np.inf))] = False
        x, active = _feasible_descent(A, b, bounded, x, active)
    raise RuntimeError(f"The shape-constrained step did not settle in {MAX_ITERATIONS} "
                       f"active-set changes ({n} coefficients).")


def _feasible_descent(A: Array, b: Array, bounded: Mask, x: Array,
                      active: Mask) -> tuple[Array, Mask]:
    """From feasible ``x``, move towards the minimizer over the free coordinates, adding
    each bound met on the way, until that minimizer is feasible."""
    while True:
        z = _solve_free(A, b, ~active)
        violating = bounded & ~active & (z < 0)
        if not violating.any():
            return z, active
        ratios = np.where(violating, x / np.where(violating, x - z, 1.0), np.inf)
        blocking = int(np.argmin(ratios))
        step = float(np.clip(ratios[blocking], 0.0, 1.0))
        x = x + step * (z - x)
        x[bounded & (x < 0)] = 0.0
        active = active.copy()
        active[blocking] = True
        x[blocking] = 0.0


def _solve_free(A: Array, b: Array, free: Mask) -> Array:
    x = np.zeros(len(b))
    if free.any():
        index = np.flatnonzero(free)
        factor = linalg.cho_factor(A[np.ix_(index, index)], lower=False, check_finite=False)
        x[index] = linalg.cho_solve(factor, b[index])
    return x
