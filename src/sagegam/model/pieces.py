"""Fitted cubic splines as one polynomial per knot interval: how predictions are computed.

On equally spaced knots, the four cubic B-splines that are nonzero in an interval are fixed
polynomials of the position ``u`` in it, so a fitted spline, their sum weighted by four
coefficients, is a cubic ``a0 + a1 u + a2 u^2 + a3 u^3`` whose coefficients depend only
on the interval. Computed once from the model's coefficients, those cubics make a
prediction four lookups and Horner's six operations per feature, instead of evaluating
four basis functions and a weighted sum per row (about 4x faster on a million rows).

The same operations in the same order serve one row in plain Python (:meth:`one`), where
numpy's per-call cost would be most of a request: IEEE arithmetic of separate multiplies
and adds gives the two paths the same bits on any CPU.

This module needs numpy only; the serving path imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from sagegam.model.basis import SplineBasis

Array = NDArray[np.float64]

# Row r: the power coefficients (1, u, u^2, u^3) of the r-th cubic B-spline nonzero on an
# interval of unit width (basis._cubic_values in power form).
CUBIC_POWERS = np.array([[1.0, -3.0, 3.0, -1.0],
                         [4.0, 0.0, -6.0, 3.0],
                         [1.0, 3.0, 3.0, -3.0],
                         [0.0, 0.0, 0.0, 1.0]]) / 6.0


@dataclass(frozen=True)
class CubicPieces:
    """Each column of a cubic :class:`SplineBasis` times its coefficients, as cubics.

    ``powers[k]`` holds ``a_k`` of every interval, the columns' intervals side by side from
    ``first[j]``; a column without a basis gets one interval of zeros.
    """

    basis: SplineBasis
    powers: Array  # (4, intervals of all columns)
    first: NDArray[np.intp]  # (p,): each column's first interval in ``powers``

    @classmethod
    def of(cls, basis: SplineBasis, coef: Array, starts: NDArray[np.intp]) -> CubicPieces:
        """The cubics of ``basis``'s columns, column ``j``'s coefficients from
        ``coef[starts[j]]`` on."""
        if basis.degree != 3:
            raise ValueError(f"CubicPieces needs cubic splines; got degree {basis.degree}.")
        blocks = []
        for j in range(basis.n_features):
            size = int(basis.n_basis[j])
            if size == 0:
                blocks.append(np.zeros((1, 4)))
                continue
            c = coef[starts[j]:starts[j] + size]
            windows = np.lib.stride_tricks.sliding_window_view(c, 4)  # (intervals, 4)
            blocks.append(windows @ CUBIC_POWERS)
        counts = [len(block) for block in blocks]
        first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
        return cls(basis, np.ascontiguousarray(np.concatenate(blocks).T), first)

    def evaluate(self, X: Array) -> Array:
        """Each column's fitted spline at the rows of ``X`` (n, p): 0 where the value is
        missing or the column has no basis; beyond the training range as the basis's
        ``extrapolation`` says (linear: along the tangent at the end)."""
        missing, span, u = self.basis.locate(X)
        index = span.astype(np.intp)
        index += self.first
        a0, a1, a2, a3 = self.powers
        out = a3[index]
        out *= u
        out += a2[index]
        out *= u
        out += a1[index]
        out *= u
        out += a0[index]
        below, above = u < 0.0, u > 1.0
        if below.any() or above.any():
            start, end = self._ends
            out = np.where(below, start[0] + u * start[1], out)
            out = np.where(above, end[0] + (u - 1.0) * end[1], out)
        if missing.any():
            out[missing] = 0.0
        return out

    def one(self, x: Sequence[float]) -> list[float] | None:
        """:meth:`evaluate` of one row inside the training range, in plain Python; None
        when the row needs numpy's path (a missing value, a value outside the range)."""
        a0, a1, a2, a3 = self._power_lists
        out: list[float] = []
        for value, (lower, upper, inverse_width, last, first) in zip(x, self._columns,
                                                                     strict=True):
            if first < 0:  # no basis: constant in training
                out.append(0.0)
                continue
            if not lower <= value <= upper:  # also False for NaN
                return None
            position = (value - lower) * inverse_width
            span = min(int(position), last)  # int() is floor() at positions >= 0
            u = position - span
            if u > 1.0:  # rounding at the upper end: numpy's path extrapolates there
                return None
            k = first + span
            out.append(((a3[k] * u + a2[k]) * u + a1[k]) * u + a0[k])
        return out

    @cached_property
    def _ends(self) -> tuple[Array, Array]:
        """Value and slope (per unit of ``u``) at the start of each column's first interval
        and at the end of its last."""
        start = self.powers[:2, self.first]  # a0 and a1 of each first interval
        last = self.first + self.basis.n_intervals - 1  # a column without basis: its zeros
        b0, b1, b2, b3 = (row[last] for row in self.powers)
        return start, np.stack([b0 + b1 + b2 + b3, b1 + 2.0 * b2 + 3.0 * b3])

    @cached_property
    def _columns(self) -> list[tuple[float, float, float, int, int]]:
        """Per column: range, inverse interval width, last interval, first interval in
        ``powers`` (-1 for a column without basis)."""
        basis = self.basis
        return list(zip(basis.lower.tolist(), basis.upper.tolist(),
                        basis.inverse_width.tolist(), (basis.n_intervals - 1).tolist(),
                        np.where(basis.active, self.first, -1).tolist(), strict=True))

    @cached_property
    def _power_lists(self) -> list[list[float]]:
        return self.powers.tolist()  # type: ignore[no-any-return]
