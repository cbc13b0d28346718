"""Uniform B-spline (P-spline) bases, evaluated for all features at once.

Every feature gets ``n_basis`` B-splines of one ``degree`` on equally spaced knots over its
training range. On equally spaced knots a B-spline is a translate of one fixed piecewise
polynomial, so the ``degree + 1`` basis values that are nonzero at ``x`` depend only on the
position of ``x`` inside its knot interval. That lets us evaluate a whole ``(n, p)`` matrix
with a handful of vectorised numpy operations, and store only the nonzero values: the dense
``n x (p * n_basis)`` design is never built.

This module needs numpy only; the serving path imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Extrapolation = Literal["linear", "constant", "error"]
EXTRAPOLATIONS: tuple[str, ...] = ("linear", "constant", "error")


def local_values(frac: NDArray[np.float64], degree: int) -> NDArray[np.float64]:
    """Values of the ``degree + 1`` uniform B-splines that are nonzero on one interval.

    ``frac`` is the position inside the interval, in [0, 1]; the result has one more axis of
    length ``degree + 1``. Cubic splines, the default, use their closed form; other degrees
    run Cox-de Boor's recursion on the integer knots.
    """
    if degree == 3:
        return _cubic_values(frac)
    values = [np.ones_like(frac)]
    for j in range(1, degree + 1):
        saved = np.zeros_like(frac)
        nxt = []
        for r in range(j):
            # On integer knots x - t[s+1-k] = frac + k - 1 and t[s+k] - x = k - frac,
            # so every denominator of the recursion is j.
            temp = values[r] / j
            nxt.append(saved + ((r + 1) - frac) * temp)
            saved = (frac + (j - r - 1)) * temp
        nxt.append(saved)
        values = nxt
    return np.stack(values, axis=-1)


def _cubic_values(u: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.empty((*u.shape, 4))
    v = 1.0 - u
    u3 = u * u * u
    out[..., 0] = v * v * v
    out[..., 3] = u3
    # The middle two are 4 - 6u^2 + 3u^3 and the same with u -> 1 - u.
    out[..., 1] = 4.0 - 6.0 * u * u + 3.0 * u3
    out[..., 2] = 4.0 - 6.0 * v * v + 3.0 * v * v * v
    out *= 1.0 / 6.0
    return out


def local_slopes(frac: NDArray[np.float64], degree: int) -> NDArray[np.float64]:
    """Derivatives, per unit of ``frac``, of the values :func:`local_values` returns.

    On unit-spaced knots ``B'_{i,d} = B_{i,d-1} - B_{i+1,d-1}``.
    """
    if degree == 0:
        return np.zeros((*frac.shape, 1))
    lower = local_values(frac, degree - 1)
    pad = np.zeros((*frac.shape, 1))
    return np.concatenate([pad, lower], axis=-1) - np.concatenate([lower, pad], axis=-1)


class OutsideRangeError(ValueError):
    """A value beyond a feature's training range, for a model that refuses to extrapolate,
    or (``far``) so far beyond it that extrapolating overflows a double."""

    def __init__(self, row: int, feature: int, value: float, lower: float, upper: float,
                 name: str | None = None, *, far: bool = False) -> None:
        self.row, self.feature, self.value = row, feature, value
        self.lower, self.upper, self.far = lower, upper, far
        label = f"Feature {feature}" + (f" ({name})" if name else "")
        reason = ("too far from it to extrapolate in double precision" if far else
                  "this model was fitted with extrapolation='error'")
        super().__init__(
            f"{label} of row {row} is {value!r}, outside the training range "
            f"[{lower!r}, {upper!r}]; {reason}."
        )


@dataclass(frozen=True)
class SplineBasis:
    """Equally spaced B-spline bases for ``p`` columns at once (the spline margins).

    ``lower``/``upper`` are the training ranges; ``n_basis[j]`` the basis size of column
    ``j`` (0 for a column that was constant in training, which then contributes nothing).
    """

    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    n_basis: NDArray[np.int64]
    degree: int
    extrapolation: Extrapolation = "linear"

    @property
    def n_features(self) -> int:
        return int(self.lower.shape[0])

    @cached_property  # per-request cost when serving one row
    def n_intervals(self) -> NDArray[np.int64]:
        return np.maximum(self.n_basis - self.degree, 1)

    @cached_property  # per-request cost when serving one row
    def active(self) -> NDArray[np.bool_]:
        """Columns that have a basis (non-constant in training)."""
        return self.n_basis > 0

    @cached_property  # per-request cost when serving one row
    def inverse_width(self) -> NDArray[np.float64]:
        width = (self.upper - self.lower) / self.n_intervals
        return 1.0 / np.where(width > 0, width, 1.0)

    def evaluate(self, X: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """The first nonzero basis function of every row and column, and the values.

        Returns ``spans`` of shape ``(n, p)`` and ``values`` of shape ``(n, p, degree + 1)``:
        in column ``j``, row ``i`` has basis functions ``spans[i, j] + r`` equal to
        ``values[i, j, r]``. Constant columns and missing values (NaN) get span 0 and zero
        values, so they add nothing.
        """
        missing, span, frac = self.locate(X)
        outside = bool(frac.min(initial=0.0) < 0.0 or frac.max(initial=1.0) > 1.0)
        edge = np.clip(frac, 0.0, 1.0) if outside else frac
        values = local_values(edge, self.degree)
        if outside:
            # Linear extrapolation: continue each term along its tangent at the boundary.
            beyond = np.where(frac < 0.0, frac, np.maximum(frac - 1.0, 0.0))
            values += beyond[..., None] * local_slopes(edge, self.degree)
        if not self.active.all():
            values *= self.active[:, None]
        if missing.any():
            values[missing] = 0.0
        return span.astype(np.int64), values

    def locate(self, X: NDArray[np.float64]) -> tuple[NDArray[np.bool_], NDArray[np.float64],
                                                     NDArray[np.float64]]:
        """Where each value is: missing or not, its knot interval (clamped to the first
        and last) and its position in it (0 to 1 inside the range, beyond outside it, as
        ``extrapolation`` wants). A missing value is placed at the lower end."""
        missing = np.isnan(X)
        if missing.any():
            X = np.where(missing, self.lower, X)
        with np.errstate(over="ignore", invalid="ignore"):
            position = (X - self.lower) * self.inverse_width
        position = self._handle_outside(X, position)
        span = np.minimum(np.floor(position), self._last_interval)
        np.maximum(span, 0.0, out=span)
        return missing, span, position - span

    @cached_property
    def _last_interval(self) -> NDArray[np.float64]:
        return (self.n_intervals - 1).astype(np.float64)

    def _handle_outside(
        self, X: NDArray[np.float64], position: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Positions (in knot intervals) as ``extrapolation`` wants them beyond the range:
        as they are (linear), clipped to it (constant), or an :class:`OutsideRangeError`."""
        if self.extrapolation == "linear":
            if not np.all(np.isfinite(position)):
                row, col = (int(i) for i in np.argwhere(~np.isfinite(position))[0])
                raise OutsideRangeError(row, col, float(X[row, col]), float(self.lower[col]),
                                        float(self.upper[col]), far=True)
            return position
        if self.extrapolation == "constant":
            return np.clip(position, 0.0, self.n_intervals.astype(np.float64))
        outside = ((self.lower > X) | (self.upper < X)) & self.active
        if outside.any():
            row, col = (int(i) for i in np.argwhere(outside)[0])
            raise OutsideRangeError(row, col, float(X[row, col]), float(self.lower[col]),
                                    float(self.upper[col]))
        return position

    def dense(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """Intercept column, then every column's basis side by side. For tests only."""
        spans, values = self.evaluate(X)
        offsets = 1 + np.concatenate([[0], np.cumsum(self.n_basis)[:-1]])
        design = np.zeros((X.shape[0], 1 + int(self.n_basis.sum())))
        rows = np.arange(X.shape[0])[:, None, None]
        cols = (spans + offsets)[..., None] + np.arange(self.degree + 1)
        keep = np.broadcast_to(self.active[None, :, None], cols.shape)
        np.add.at(design, (np.broadcast_to(rows, cols.shape)[keep], cols[keep]), values[keep])
        design[:, 0] = 1.0
        return design


def difference_penalty(n_basis: int, order: int = 2) -> NDArray[np.float64]:
    """Eilers and Marx's P-spline penalty ``D'D`` on ``order``-th coefficient differences."""
    if n_basis <= order:
        return np.zeros((n_basis, n_basis))
    D = np.diff(np.eye(n_basis), n=order, axis=0)
    return D.T @ D
