"""A design on discretized covariates: ``X'WX`` from cross-tabulations, not rows.

Each numeric feature is rounded to at most a few hundred values (its distinct values
when it has no more, else the means of equal-width bins), so every term's basis takes a
small number of distinct rows: a term is a small matrix ``B`` (distinct rows x columns)
and an index per data row. The Gram block of two terms is then ``B_a' C_ab B_b`` with
``C_ab`` the weighted cross-tabulation of their indexes, one ``bincount`` over the rows,
so a pass over a million rows costs a few ``bincount`` per pair of terms instead of a
product with the dense design (Wood, Li, Shaddick and Augustin 2017, "Generalized
additive models for gigadata", who do this in mgcv's ``bam(discrete = TRUE)``).
Predictions use the exact covariates; only the fit sees them rounded, by at most half a
bin: far less than a knot interval of any basis here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from sagegam.model.design import Blocks, TermCoordinates
from sagegam.model.terms import ColumnSums, Margin, MarginTable, SplineMargin, Term, dense_basis

Array = NDArray[np.float64]
Index = NDArray[np.intp]
MAIN_BINS = 256  # values of a numeric feature in a main effect
PAIR_BINS = 64  # values of a numeric feature in an interaction: pairs multiply
DENSE_CELLS = 1 << 24  # cross-tabulations larger than this are kept sparse
Knots = tuple[float, ...] | None


@dataclass(frozen=True)
class _Indexed:
    """A term as distinct basis rows and, per data row, which one it has."""

    index: Index  # (n,)
    basis: Array  # (distinct, n_coef)


@dataclass
class BinnedDesign(TermCoordinates):
    """The design of ``terms`` on encoded rows, through discretized covariates."""

    terms: list[Term]
    codes: Array
    names: tuple[str, ...]
    _terms: list[_Indexed] = field(init=False, repr=False)
    _margin_sums: list[list[_Indexed]] = field(init=False, repr=False)
    _blocks: Blocks | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        bins = _Bins(self.codes)
        self._terms = [_Indexed(np.zeros(self.n_rows, dtype=np.intp), np.ones((1, 1)))]
        self._terms += [bins.term(term, self.names) for term in self.terms]
        self._margin_sums = [[bins.margin(term, m, self.names) for m in range(len(term.margins))]
                             for term in self.terms]

    def subset(self, rows: Index) -> BinnedDesign:
        """The same design (and constraint) on some of the rows."""
        part = object.__new__(BinnedDesign)
        part.terms, part.codes, part.names = self.terms, self.codes[rows], self.names
        part._terms = [_Indexed(t.index[rows], t.basis) for t in self._terms]
        part._margin_sums = [[_Indexed(m.index[rows], m.basis) for m in margins]
                             for margins in self._margin_sums]
        part._blocks = self._blocks
        return part

    def column_sums(self, weights: Array) -> list[ColumnSums]:
        return [ColumnSums(_sums(self._terms[t + 1], weights),
                           [_sums(m, weights) for m in self._margin_sums[t]])
                for t in range(len(self.terms))]

    def linear_predictor(self, beta: Array) -> Array:
        raw = self.raw_coef(beta)
        eta = np.zeros(self.n_rows)
        for term, start in zip(self._terms, [0, *self.offsets], strict=True):
            size = term.basis.shape[1]
            if size:
                eta += (term.basis @ raw[start:start + size])[term.index]
        return eta

    def cross_products(self, weights: Array, z: Array) -> tuple[Array, Array]:
        starts = [0, *self.offsets]
        gram = np.zeros((self.n_raw, self.n_raw))
        rhs = np.zeros(self.n_raw)
        for a, (term_a, start_a) in enumerate(zip(self._terms, starts, strict=True)):
            cols_a = slice(start_a, start_a + term_a.basis.shape[1])
            rhs[cols_a] = term_a.basis.T @ _bincount(term_a.index, weights * z,
                                                     len(term_a.basis))
            for term_b, start_b in zip(self._terms[a:], starts[a:], strict=True):
                cols_b = slice(start_b, start_b + term_b.basis.shape[1])
                block = _cross(term_a, term_b, weights)
                gram[cols_a, cols_b] = block
                gram[cols_b, cols_a] = block.T
        if self._blocks is None:
            return gram, rhs
        return self._blocks.reduce(gram, rhs)


def _cross(a: _Indexed, b: _Indexed, weights: Array) -> Array:
    """``B_a' C B_b`` with ``C`` the weighted cross-tabulation of the two indexes."""
    size_a, size_b = len(a.basis), len(b.basis)
    if a.index is b.index:  # a term with itself: the table is diagonal
        return (a.basis.T * _bincount(a.index, weights, size_a)) @ a.basis
    if size_a * size_b <= DENSE_CELLS:
        table = _bincount(a.index * size_b + b.index, weights, size_a * size_b)
        return a.basis.T @ (table.reshape(size_a, size_b) @ b.basis)
    table = sparse.coo_matrix((weights, (a.index, b.index)), shape=(size_a, size_b)).tocsr()
    return a.basis.T @ np.asarray(table @ b.basis)


def _bincount(index: Index, weights: Array, size: int) -> Array:
    return np.bincount(index, weights=weights, minlength=size).astype(np.float64)


def _sums(term: _Indexed, weights: Array) -> Array:
    return term.basis.T @ _bincount(term.index, weights, len(term.basis))


class _Bins:
    """Each feature's discretization (per number of bins), made once per design."""

    def __init__(self, codes: Array) -> None:
        self.codes = codes
        self.cache: dict[tuple[int, int, Knots], tuple[Index, Array]] = {}

    def feature(self, margin: Margin, limit: int) -> tuple[Index, Array]:
        """Per row, its bin; per bin, the value that stands for it (NaN: missing)."""
        j = margin.feature
        if not isinstance(margin, SplineMargin):
            key: tuple[int, int, Knots] = (j, 0, None)
            if key not in self.cache:
                self.cache[key] = _codes_as_bins(self.codes[:, j])
            return self.cache[key]
        key = (j, limit, margin.knots)
        if key not in self.cache:
            self.cache[key] = _discretize(self.codes[:, j], limit, margin.knots)
        return self.cache[key]

    def term(self, term: Term, names: tuple[str, ...]) -> _Indexed:
        limit = MAIN_BINS if len(term.margins) == 1 else PAIR_BINS
        binned = [self.feature(m, limit) for m in term.margins]
        index, rows = _combine(binned, self.codes.shape[1], [m.feature for m in term.margins])
        return _Indexed(index, dense_basis(term, rows, names))

    def margin(self, term: Term, m: int, names: tuple[str, ...]) -> _Indexed:
        """One margin of a term alone (a tensor's constraint centres each margin)."""
        margin = term.margins[m]
        limit = MAIN_BINS if len(term.margins) == 1 else PAIR_BINS
        index, values = self.feature(margin, limit)
        rows = np.zeros((len(values), self.codes.shape[1]))
        rows[:, margin.feature] = values
        table = MarginTable([margin], names)
        columns, weights = table.evaluate(rows)[0]
        basis = np.zeros((len(values), margin.size))
        if margin.size:
            np.add.at(basis, (np.arange(len(values))[:, None], columns), weights)
        return _Indexed(index, basis)


def _discretize(values: Array, limit: int, knots: Knots) -> tuple[Index, Array]:
    """Distinct values if there are at most ``limit``, else the means of bins of equal
    width: in ``x`` for equally spaced knots, in knot intervals otherwise (each interval
    then gets as many bins, so an outlier cannot crowd the data into one bin)."""
    # A column of row-major codes is strided: each pass over it would read every row's
    # cache line, so it is read once, into its own array.
    values = np.ascontiguousarray(values)
    missing = np.isnan(values)
    has_missing = bool(missing.any())
    present = values[~missing] if has_missing else values
    few = few_distinct(present, limit)
    if few is not None:
        representative, index = few
    else:
        position = present if knots is None else np.interp(
            present, np.array(knots), np.arange(len(knots), dtype=np.float64))
        lower, upper = float(position.min()), float(position.max())
        width = (upper - lower) / limit
        scaled = np.subtract(position, lower)
        np.divide(scaled, width, out=scaled)
        index = scaled.astype(np.intp)
        np.minimum(index, limit - 1, out=index)
        counts = np.bincount(index, minlength=limit)
        used = counts > 0
        means = np.bincount(index, weights=present, minlength=limit)[used] / counts[used]
        if not used.all():  # renumbered so that every bin holds rows
            index = (np.cumsum(used) - 1)[index]
        representative = means
    if not has_missing:
        return index, representative
    return _with_missing(missing, index, representative)


SAMPLE = 10_000  # values looked at before sorting them all


def few_distinct(values: Array, limit: int) -> tuple[Array, Index] | None:
    """The distinct values and each value's index into them, if there are at most
    ``limit``; None otherwise. A sample with more rules it out before a full sort."""
    if len(values) > SAMPLE and np.unique(values[:: len(values) // SAMPLE]).size > limit:
        return None
    distinct, inverse = np.unique(values, return_inverse=True)
    return (distinct, inverse.ravel()) if len(distinct) <= limit else None


def _codes_as_bins(values: Array) -> tuple[Index, Array]:
    """A categorical feature's codes are its bins already (NaN: not a level)."""
    missing = np.isnan(values)
    size = int(values[~missing].max(initial=-1)) + 1
    index = np.where(missing, 0, values).astype(np.intp)
    return _with_missing(missing, index, np.arange(size, dtype=np.float64))


def _with_missing(missing: NDArray[np.bool_], index: Index,
                  representative: Array) -> tuple[Index, Array]:
    full = np.empty(len(missing), dtype=np.intp)
    full[~missing] = index
    if missing.any():
        full[missing] = len(representative)
        representative = np.append(representative, np.nan)
    return full, representative


def _combine(binned: list[tuple[Index, Array]], n_features: int,
             features: list[int]) -> tuple[Index, Array]:
    """One index over the distinct combinations of the margins' bins present in the data,
    and encoded rows standing for each combination."""
    index = binned[0][0].astype(np.int64, copy=len(binned) > 1)
    for other, values in binned[1:]:
        index = index * len(values) + other
    distinct, inverse = _present(index, int(np.prod([len(v) for _, v in binned])))
    rows = np.zeros((len(distinct), n_features))
    remainder = distinct.copy()
    for (_, values), j in zip(reversed(binned), reversed(features), strict=True):
        rows[:, j] = values[remainder % len(values)]
        remainder //= len(values)
    return inverse.ravel().astype(np.intp, copy=False), rows


def _present(index: NDArray[np.int64], size: int) -> tuple[NDArray[np.int64], Index]:
    """The values ``index`` takes (sorted) and each row's position among them: by counts
    when the range is small (one pass), else by sorting."""
    if size > DENSE_CELLS:
        distinct, inverse = np.unique(index, return_inverse=True)
        return distinct, inverse.ravel().astype(np.intp)
    used = np.bincount(index, minlength=size) > 0
    if used.all():  # a main effect's bins, as a rule: the index is its own renumbering
        return np.arange(size, dtype=np.int64), index.astype(np.intp, copy=False)
    renumber = np.cumsum(used) - 1
    return np.flatnonzero(used), renumber[index].astype(np.intp)
