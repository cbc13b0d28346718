"""B-splines on knots placed by the data, and their penalty.

Equally spaced knots over a feature's range put every knot interval where the range is,
not where the data are: one value of 1e6 among values in [0, 1] leaves all of them in
one interval, and the term can only be a cubic there. Knots at quantiles of the distinct
training values put the same number of values in every interval, whatever the outliers;
"balanced" knots put half the intervals at quantiles and spread half over the range, so
that sparse tails keep some intervals too (:func:`place_knots` says which is used when).

On each knot interval a B-spline is a polynomial in the position inside the interval;
the coefficients are computed once per interval (de Boor's recursion), so evaluating
rows is a lookup, a gather and Horner's rule. The knots beyond the range continue the
first and last intervals' widths. The
penalty is on second *divided* differences of the coefficients at their Greville
abscissae (scaled so that on equally spaced knots it is exactly the P-spline penalty):
its null space is still the straight line in ``x``, so a heavily penalized term is
linear whatever the knots.

numpy only: the serving path imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from sagegam.model.basis import Extrapolation, OutsideRangeError

Array = NDArray[np.float64]


PLACEMENTS = ("auto", "uniform", "quantile", "balanced")
CROWDED = 5.0  # "auto": an equally spaced interval holding 5x its share of the values


def place_knots(values: Array, intervals: int, placement: str) -> tuple[float, ...] | None:
    """``intervals + 1`` inner knots from min to max (None: equally spaced).

    ``quantile``: quantiles of the distinct values, so every interval holds as many;
    ``balanced``: quantiles of an even mixture of the distinct values' distribution and
    the uniform distribution over their range, so half the intervals follow the data and
    half the range; ``auto``: equally spaced unless one of those intervals would hold
    more than CROWDED times its share of the distinct values (skewed data, outliers),
    then balanced. benchmarks/knots_benchmark.py measured the choice.
    """
    distinct = np.unique(values)
    if placement == "auto":
        placement = "balanced" if crowding(distinct, intervals) > CROWDED else "uniform"
    if placement == "uniform":
        return None
    share = 1.0 if placement == "quantile" else 0.5
    ranks = np.arange(len(distinct)) / (len(distinct) - 1)
    spread = (distinct - distinct[0]) / (distinct[-1] - distinct[0])
    mixture = share * ranks + (1.0 - share) * spread
    knots = np.interp(np.linspace(0.0, 1.0, intervals + 1), mixture, distinct)
    knots[0], knots[-1] = distinct[0], distinct[-1]
    return tuple(float(k) for k in knots)


def crowding(distinct: Array, intervals: int) -> float:
    """The most distinct values in one equally spaced knot interval, over the average."""
    counts, _ = np.histogram(distinct, bins=intervals, range=(distinct[0], distinct[-1]))
    return float(counts.max() * intervals / len(distinct))


def full_knots(inner: Array, degree: int) -> Array:
    """The inner knots with ``degree`` more on each side, spaced as the end intervals."""
    first, last = inner[1] - inner[0], inner[-1] - inner[-2]
    before = inner[0] - first * np.arange(degree, 0, -1)
    after = inner[-1] + last * np.arange(1, degree + 1)
    return np.concatenate([before, inner, after])


def greville(inner: Array, degree: int) -> Array:
    """Where each coefficient "sits": the mean of its basis function's inner knots."""
    t = full_knots(inner, degree)
    n_basis = len(inner) - 1 + degree
    return np.array([t[i + 1:i + degree + 1].mean() for i in range(n_basis)]) if degree else \
        t[:n_basis]


def divided_differences(inner: Array, degree: int, order: int = 2) -> Array:
    """``D`` with ``D beta`` the ``order``-th divided differences at the Greville abscissae,
    in units of the mean abscissa spacing (so that equal spacing gives ``np.diff``)."""
    g = greville(inner, degree)
    n = len(g)
    u = (g - g[0]) / ((g[-1] - g[0]) / (n - 1))
    D = np.eye(n)
    for k in range(1, order + 1):
        gaps = (u[k:] - u[:-k]) / k
        D = np.diff(D, axis=0) / gaps[:, None]
    return D


@dataclass(frozen=True)
class KnotBasis:
    """B-splines of one ``degree`` on given inner knots, for ``p`` columns at once.

    On each knot interval the ``degree + 1`` nonzero B-splines are polynomials in the
    position ``u`` in [0, 1] inside the interval; their coefficients are computed once
    (de Boor's recursion at ``degree + 1`` points, then exact interpolation), so
    evaluating a row is a search, a gather and Horner's rule, as cheap as on equally
    spaced knots.
    """

    knots: tuple[tuple[float, ...], ...]  # per column, increasing, intervals + 1 values
    degree: int
    extrapolation: Extrapolation = "linear"

    @cached_property
    def active(self) -> NDArray[np.bool_]:
        """Every column has a basis (a constant feature never gets knots)."""
        return np.ones(len(self.knots), dtype=bool)

    @cached_property
    def _table(self) -> _Table:
        return _Table.build([np.asarray(k, dtype=np.float64) for k in self.knots], self.degree)

    def evaluate(self, X: Array) -> tuple[NDArray[np.int64], Array]:
        """As :meth:`SplineBasis.evaluate`: first nonzero column and the values."""
        table = self._table
        missing = np.isnan(X)
        if missing.any():
            X = np.where(missing, table.lower, X)
        inside = np.clip(X, table.lower, table.upper)
        if self.extrapolation == "error":
            _refuse(inside != X, X, table)
        interval = table.interval(inside)
        u = (inside - np.take(table.start, interval)) * np.take(table.inverse_width, interval)
        values = np.take(table.coefficients[self.degree], interval, axis=0)
        for power in range(self.degree - 1, -1, -1):
            values *= u[..., None]
            values += np.take(table.coefficients[power], interval, axis=0)
        if self.extrapolation == "linear" and not np.array_equal(inside, X):
            with np.errstate(over="ignore", invalid="ignore"):
                beyond = (X - inside) * np.take(table.inverse_width, interval)
            _refuse(~np.isfinite(beyond), X, table, far=True)
            at_end = (u >= 0.5)[..., None]
            slopes = np.where(at_end, np.take(table.slope_upper, interval, axis=0),
                              np.take(table.slope_lower, interval, axis=0))
            values += beyond[..., None] * slopes
        if missing.any():
            values[missing] = 0.0
        return (interval - table.first).astype(np.int64), values


def _refuse(refused: NDArray[np.bool_], X: Array, table: _Table, far: bool = False) -> None:
    """An error naming the first refused cell, if any."""
    if refused.any():
        row, col = (int(i) for i in np.argwhere(refused)[0])
        raise OutsideRangeError(row, col, float(X[row, col]), float(table.lower[col]),
                                float(table.upper[col]), far=far)


CELLS = 4096  # per column: a lookup from position to interval, exact after a check
MAX_KNOTS_PER_CELL = 3  # more (knots crowded into 1/4096 of the range): binary search


@dataclass(frozen=True)
class _Table:
    """Every column's intervals in one flat numbering (an interval is named by its left
    knot), their polynomials, and a lookup from position to interval.

    The lookup cuts each column's range into CELLS equal cells and stores, per cell, the
    last interval that surely starts before it; the few knots inside a cell are then
    checked one by one. Finding an interval so costs a multiplication, a gather and a
    comparison or two instead of a binary search (which took most of the time).
    """

    lower: Array  # (p,) per column
    upper: Array
    inverse_range: Array
    first: NDArray[np.intp]  # (p,) each column's first interval in the flat numbering
    last: NDArray[np.intp]
    start: Array  # per flat knot: the knot (an interval's left end)
    inverse_width: Array
    coefficients: list[Array]  # per power of u: (knots, degree + 1 functions)
    slope_lower: Array  # (knots, degree + 1): d/du of each function at u = 0
    slope_upper: Array  # ... at u = 1
    lookup: NDArray[np.intp]  # (p * CELLS,)
    checks: int  # knots to check after the lookup, or -1: use search instead
    search: Array  # every column's normalized knots in [2j, 2j + 1], concatenated

    @classmethod
    def build(cls, inner: list[Array], degree: int) -> _Table:
        lower = np.array([k[0] for k in inner])
        upper = np.array([k[-1] for k in inner])
        inverse_range = 1.0 / (upper - lower)
        counts = np.array([len(k) for k in inner])
        first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
        starts = np.concatenate(inner)
        widths = np.append(np.diff(starts), 1.0)
        polynomials, slopes_0, slopes_1 = [], [], []
        for k in inner:
            t = full_knots(k, degree)
            for s in range(len(k)):
                c, d0, d1 = _interval_polynomials(t, min(s, len(k) - 2), degree)
                polynomials.append(c)
                slopes_0.append(d0)
                slopes_1.append(d1)
        coefficients = np.array(polynomials)
        lookup, checks = _lookup(inner, lower, inverse_range, first)
        search = np.concatenate([2.0 * j + (k - k[0]) / (k[-1] - k[0])
                                 for j, k in enumerate(inner)])
        return cls(lower, upper, inverse_range, first, first + counts - 2, starts,
                   1.0 / np.where(widths > 0, widths, 1.0),
                   [np.ascontiguousarray(coefficients[:, p]) for p in range(degree + 1)],
                   np.array(slopes_0), np.array(slopes_1), lookup, checks, search)

    def interval(self, inside: Array) -> NDArray[np.intp]:
        """The flat interval of every value (already clipped to its column's range)."""
        if self.checks < 0:
            position = 2.0 * np.arange(inside.shape[1]) + (inside - self.lower) * \
                self.inverse_range
            found = np.searchsorted(self.search, position, side="right") - 1
            return np.clip(found, self.first, self.last)
        cell = _cells(inside, self.lower, self.inverse_range)
        interval = np.take(self.lookup, cell + CELLS * np.arange(inside.shape[1]))
        for _ in range(self.checks):
            interval += (inside >= np.take(self.start, interval + 1)) & (interval < self.last)
        return interval


def _cells(x: Array, lower: Array, inverse_range: Array) -> NDArray[np.intp]:
    """Each value's cell; the same arithmetic for knots and data keeps it monotone."""
    cell = ((x - lower) * inverse_range * CELLS).astype(np.intp)
    return np.minimum(cell, CELLS - 1)


def _lookup(inner: list[Array], lower: Array, inverse_range: Array,
            first: NDArray[np.intp]) -> tuple[NDArray[np.intp], int]:
    """Per cell, the last interval starting in an earlier cell, and how many interval
    starts share a cell at most (they need a comparison each)."""
    tables, crowded = [], 0
    for j, k in enumerate(inner):
        starts = _cells(k[1:-1], lower[j], inverse_range[j])  # interval starts but the first
        before = np.searchsorted(starts, np.arange(CELLS), side="left")
        tables.append(first[j] + before)
        crowded = max(crowded, int(np.bincount(starts, minlength=1).max(initial=0)))
    checks = crowded if crowded <= MAX_KNOTS_PER_CELL else -1
    return np.concatenate(tables).astype(np.intp), checks


def _interval_polynomials(t: Array, span: int, degree: int) -> tuple[Array, Array, Array]:
    """Coefficients in ``u`` (powers 0..degree) of the nonzero B-splines on one inner
    interval, and their slopes in ``u`` at both ends."""
    d = degree
    left, right = t[span + d], t[span + d + 1]
    nodes = np.linspace(0.0, 1.0, d + 1)
    x = left + nodes * (right - left)
    gathered = np.broadcast_to(t[span + 1:span + 2 * d + 1], (d + 1, 2 * d))
    vandermonde = np.vander(nodes, d + 1, increasing=True)
    coefficients = np.asarray(np.linalg.solve(vandermonde, _de_boor(x, gathered, d)),
                              dtype=np.float64)
    powers = np.arange(d + 1, dtype=np.float64)  # degree >= 1: the slopes exist
    return coefficients, coefficients[1].copy(), powers[1:] @ coefficients[1:]


def _de_boor(x: Array, t: Array, degree: int) -> Array:
    """The ``degree + 1`` nonzero B-splines at ``x`` (de Boor's triangle), ``t[..., k]``
    being knot ``span + 1 + k`` of the full knots."""
    d = degree
    left = [np.zeros_like(x)] + [x - t[..., d - j] for j in range(1, d + 1)]
    right = [np.zeros_like(x)] + [t[..., d - 1 + j] - x for j in range(1, d + 1)]
    values = [np.ones_like(x)]
    for j in range(1, d + 1):
        saved = np.zeros_like(x)
        nxt = []
        for r in range(j):
            temp = values[r] / (right[r + 1] + left[j - r])
            nxt.append(saved + right[r + 1] * temp)
            saved = left[j - r] * temp
        nxt.append(saved)
        values = nxt
    return np.stack(values, axis=-1)
