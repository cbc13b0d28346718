"""Shape constraints of a spline term as bounds on new coordinates of its coefficients.

A B-spline of degree ``p`` with coefficients ``beta`` on knots ``t`` has as derivative a
spline of degree ``p - 1`` whose coefficients are the divided differences
``d_i = p (beta_i - beta_(i-1)) / (t_(i+p) - t_i)``, and as second derivative one whose
coefficients are ``(p - 1) (d_i - d_(i-1)) / (t_(i+p-1) - t_i)``. Every denominator is
positive, so:

- ``d >= 0`` (increments of ``beta`` >= 0) makes the curve non-decreasing;
- ``d`` non-decreasing makes it convex (its second derivative, a spline with
  non-negative coefficients, is non-negative). For cubic and quadratic splines this is
  also necessary: the second derivative is piecewise linear (constant), equal to its
  coefficients at the knots; for degree 1 it says the slopes never decrease.

Both hold on the whole training range and between any data, and survive linear
extrapolation (the tangent at the boundary continues a monotone curve monotonically and
a convex one convexly). Each combination of direction ``m`` and curvature ``c`` is a
linear map ``beta - beta_0 = B gamma`` with ``gamma >= 0`` (but one free slope when
only the curvature is constrained):

- ``m`` only: ``d = m * gamma`` (the increments themselves);
- ``c`` only: ``d_j = c (s + sum_(k <= j) gamma_k)`` with ``s`` free;
- ``m == c``: the same with ``s >= 0`` (increasing convex, decreasing concave);
- ``m == -c``: ``d_j = -c sum_(k >= j) gamma_k`` (decreasing convex, increasing concave:
  the slope is smallest in size at the right end).

numpy only: the serving path imports :mod:`~sagegam.model.terms`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sagegam.model.knots import full_knots

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]


def shape_map(n_basis: int, degree: int, knots: tuple[float, ...] | None, monotone: int,
              curvature: int) -> tuple[Array, Mask]:
    """``B`` (``n_basis`` by ``n_basis - 1``) with ``beta - beta_0 = B gamma``, and which
    coordinates of ``gamma`` must stay >= 0."""
    n = n_basis
    cumulative = np.tril(np.ones((n, n - 1)), -1)  # beta_i - beta_0 from the increments
    if not curvature:
        return monotone * cumulative, np.ones(n - 1, dtype=bool)
    if monotone == -curvature:
        slopes = -curvature * np.triu(np.ones((n - 1, n - 1)))
    else:
        slopes = curvature * np.tril(np.ones((n - 1, n - 1)))
    bounded = np.ones(n - 1, dtype=bool)
    if not monotone:
        bounded[0] = False  # the slope at the left end may have either sign
    return cumulative @ (_spacing(n, degree, knots)[:, None] * slopes), bounded


def _spacing(n_basis: int, degree: int, knots: tuple[float, ...] | None) -> Array:
    """``(t_(i+p) - t_i) / p`` for i = 1 .. n - 1, relative to its mean: the increment of
    ``beta`` that one unit of slope ``d_i`` makes (all ones on equally spaced knots)."""
    if knots is None:
        return np.ones(n_basis - 1)
    t = full_knots(np.asarray(knots, dtype=np.float64), degree)
    index = np.arange(1, n_basis)
    widths = (t[index + degree] - t[index]) / degree
    return widths / widths.mean()
