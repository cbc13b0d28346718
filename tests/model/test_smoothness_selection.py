"""Smoothness selection: the REML criterion's derivatives and the Newton optimizer.

Precision here is what makes fits reproducible on any CPU: an optimizer that stops by a
relative change in the criterion stops at about the square root of rounding precision,
at a point that depends on the machine; Newton's method with the exact Hessian converges
to the optimum itself.
"""

import numpy as np
import pytest

from sagegam.model import newton
from sagegam.model.basis import difference_penalty
from sagegam.model.reml import Penalty, Smoothness, WorkingModel


class _QuarticAt:
    """A smooth convex function with its minimum at ``center``, evaluated at ``x``."""

    def __init__(self, center: np.ndarray, x: np.ndarray) -> None:
        self.d = x - center
        self.value = float(np.sum(self.d**2) + np.sum(self.d**4) + 0.5 * self.d[0] * self.d[1])

    def derivatives(self):
        d = self.d
        gradient = 2 * d + 4 * d**3 + 0.5 * d[::-1]
        hessian = np.diag(2 + 12 * d**2) + 0.5 * (1 - np.eye(2))
        return gradient, hessian


def _quartic(center):
    return lambda x: _QuarticAt(np.asarray(center), x)


def test_newton_finds_an_interior_minimum_to_rounding_precision():
    center = np.array([1.3, -2.1])
    result = newton.minimize(_quartic(center), np.array([6.0, 4.0]), -18.0, 18.0)
    assert result.converged
    np.testing.assert_allclose(result.x, center, atol=1e-12)


def test_newton_stops_at_a_bound_that_holds_the_minimum_beyond_it():
    result = newton.minimize(_quartic([30.0, 0.0]), np.zeros(2), -18.0, 18.0)
    assert result.converged
    assert result.x[0] == 18.0


def _working_model(rng, n=400, k=12):
    """A two-term penalized regression's X'X, X'y, y'y in the solver's coordinates."""
    X = rng.normal(size=(n, 2 * k))
    y = X[:, :k] @ np.sin(np.arange(k)) + rng.normal(size=n)
    return WorkingModel(X.T @ X, X.T @ y, float(y @ y), float(n))


@pytest.mark.parametrize("scale_known", [False, True])
def test_reml_gradient_and_hessian_match_finite_differences(scale_known):
    rng = np.random.default_rng(0)
    working = _working_model(rng)
    S = difference_penalty(12)
    # Two penalties share the first block (as an adaptive term's pieces do).
    half = np.diag(np.r_[np.ones(6), np.zeros(6)])
    penalties = [Penalty(slice(0, 12), S), Penalty(slice(0, 12), half + 1e-3 * np.eye(12)),
                 Penalty(slice(12, 24), S)]
    selector = Smoothness(penalties, n_free=24)
    selector.scales = np.ones(3)
    rho = np.array([0.3, -1.0, 2.0])
    gradient, hessian = selector.reml(rho, working, scale_known).derivatives()
    h = 1e-5
    for i in range(3):
        step = np.zeros(3)
        step[i] = h
        up, down = selector.reml(rho + step, working, scale_known), \
            selector.reml(rho - step, working, scale_known)
        numeric = (up.value - down.value) / (2 * h)
        assert numeric == pytest.approx(gradient[i], rel=1e-6, abs=1e-7)
        numeric_row = (up.derivatives()[0] - down.derivatives()[0]) / (2 * h)
        np.testing.assert_allclose(numeric_row, hessian[i], rtol=1e-5, atol=1e-6)


def test_selection_ends_at_a_stationary_point_whatever_the_start():
    rng = np.random.default_rng(1)
    working = _working_model(rng)
    S = difference_penalty(12)
    found = []
    for start in ([-10.0, 10.0], [5.0, -5.0], [0.0, 0.0]):
        selector = Smoothness([Penalty(slice(0, 12), S), Penalty(slice(12, 24), S)], 24)
        selector.resume(np.array(start))
        selector.select(working, scale_known=False)
        assert selector.converged
        found.append(selector.log_lambda)
    np.testing.assert_allclose(found[0], found[1], atol=1e-8)
    np.testing.assert_allclose(found[0], found[2], atol=1e-8)
