"""Sufficient statistics of a GAM's working model, computed chunk by chunk and added.

Penalized IRLS needs ``X'WX``, ``X'Wz`` and ``z'Wz`` per step, and a fit's constraints the
weighted column sums of each term: sums over rows, so the sums of any split of the rows
(chunks of a file, Dask partitions, the shards of several hosts) add up to those of the
whole. With discretized covariates (``discrete``, :mod:`~sagegam.model.binned`) each term
is, per row, an index into a small matrix ``B`` of distinct basis rows, and the sums are
weighted cross-tabulations of index pairs and bincounts: ``X'WX`` blocks are
``B_a' C_ab B_b``. Without discretization a chunk's Gram comes from
:class:`~sagegam.model.design.TermDesign`, exactly as in memory.

The bins are the in-memory fit's (:func:`~sagegam.model.binned._discretize`): a numeric
feature's distinct values when it has at most ``limit``, else equal-width bins between its
minimum and maximum standing for their rows' mean; they are fixed from the first pass
and, for the means, the second (:class:`FeatureBins`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from sagegam.model.binned import DENSE_CELLS, MAIN_BINS, PAIR_BINS
from sagegam.model.design import TermDesign
from sagegam.model.terms import ColumnSums, SplineMargin, Term, dense_basis

Array = NDArray[np.float64]
Index = NDArray[np.intp]
TABLE_CELLS = 1 << 24  # cross-tabulation cells a pass may hold before the bins are known


@dataclass
class FeatureBins:
    """One numeric feature (or categorical codes) as bins: index per row, value per bin.

    ``kind``: ``codes`` (a categorical feature's codes are its bins), ``distinct`` (at
    most ``limit`` distinct values), ``width`` (equal-width bins over the range, each
    standing for the mean of its rows). A last slot holds missing values.
    """

    feature: int
    kind: str
    size: int
    missing: bool
    values: Array  # distinct values, or bin means once known (width)
    lower: float = 0.0
    width: float = 1.0
    known: bool = True  # the values are known (width bins: once their means are)

    @property
    def slots(self) -> int:
        return self.size + int(self.missing)

    def index(self, column: Array) -> Index:
        if self.kind == "codes":
            return column.astype(np.intp)
        present = ~np.isnan(column)
        if present.all():
            return self._present(column)
        out = np.full(len(column), self.size, dtype=np.intp)
        out[present] = self._present(column[present])
        return out

    def _present(self, values: Array) -> Index:
        if self.kind == "distinct":
            return np.searchsorted(self.values, values).astype(np.intp)
        # The in-memory fit's own expression, so every row lands in the same bin.
        return np.minimum(((values - self.lower) / self.width).astype(np.intp), self.size - 1)

    def representatives(self) -> Array:
        return np.append(self.values, np.nan) if self.missing else self.values

    def sums(self, column: Array, index: Index) -> tuple[Array, Array]:
        """Rows and the sum of their values per bin (width bins' means), given the rows'
        :meth:`index`."""
        present = ~np.isnan(column)
        if not present.all():
            column, index = column[present], index[present]
        return (np.bincount(index, minlength=self.size).astype(np.float64),
                np.bincount(index, weights=column, minlength=self.size).astype(np.float64))

    def set_means(self, counts: Array, sums: Array) -> None:
        centres = self.lower + (np.arange(self.size) + 0.5) * self.width
        used = counts > 0
        self.values = np.where(used, sums / np.where(used, counts, 1.0), centres)
        self.known = True


def feature_bins(feature: int, categorical: bool, n_codes: int, missing: bool,
                 distinct: Array | None, lower: float, upper: float,
                 limit: int) -> FeatureBins:
    """The in-memory fit's discretization of a feature, from the first pass."""
    if categorical:
        return FeatureBins(feature, "codes", n_codes, False, np.arange(n_codes, dtype=float))
    if distinct is not None and len(distinct) <= limit:
        return FeatureBins(feature, "distinct", len(distinct), missing, distinct)
    width = (upper - lower) / limit
    return FeatureBins(feature, "width", limit, missing, np.zeros(limit), lower, width,
                       known=False)


def term_limit(term: Term) -> int:
    return MAIN_BINS if len(term.margins) == 1 else PAIR_BINS


@dataclass
class BinnedLayout:
    """Every term as indexes into bins, and (once the bins' means are known) its ``B``."""

    terms: list[Term]
    names: tuple[str, ...]
    bins: dict[tuple[int, int], FeatureBins]  # (feature, limit)
    bases: list[Array] | None = None  # per term: its basis at every combination of bins
    margin_bases: list[list[Array]] | None = None

    def term_bins(self, t: int) -> list[FeatureBins]:
        limit = term_limit(self.terms[t])
        return [self.bins[(m.feature, limit if isinstance(m, SplineMargin) else 0)]
                for m in self.terms[t].margins]

    def slots(self, t: int) -> int:
        return int(np.prod([b.slots for b in self.term_bins(t)]))

    @property
    def width_bins(self) -> list[FeatureBins]:
        return [b for b in self.bins.values() if b.kind == "width"]

    def table_cells(self) -> int:
        sizes = [self.slots(t) for t in range(len(self.terms)) if self.terms[t].n_coef]
        return sum(a * b for i, a in enumerate(sizes) for b in sizes[i + 1:])

    def finish(self) -> None:
        """Evaluate every term's basis at its bins' values (after the means are known)."""
        self.bases = [_grid_basis(term, self.term_bins(t), self.names)
                      for t, term in enumerate(self.terms)]
        self.margin_bases = [[_grid_basis(_Margin(m), [b], self.names)
                              for m, b in zip(term.margins, self.term_bins(t), strict=True)]
                             for t, term in enumerate(self.terms)]


@dataclass(frozen=True)
class _Margin:
    """A margin on its own, with the one method :func:`_grid_basis` needs of a term."""

    margin: Any

    @property
    def margins(self) -> tuple[Any]:
        return (self.margin,)

    @property
    def n_coef(self) -> int:
        return int(self.margin.size)

    def nonzeros(self, values: Any, index: list[int]) -> tuple[Any, Any]:
        return values[index[0]]  # type: ignore[no-any-return]


def _grid_basis(term: Any, bins: list[FeatureBins], names: tuple[str, ...]) -> Array:
    """The term's basis at every combination of its margins' bin values (the last margin
    varying fastest, as :meth:`BinnedRows.index` combines them)."""
    values = [b.representatives() for b in bins]
    grids = np.meshgrid(*values, indexing="ij")
    rows = np.zeros((grids[0].size, len(names)))
    for grid, margin in zip(grids, term.margins, strict=True):
        rows[:, margin.feature] = grid.ravel()
    return dense_basis(term, rows, names)


@dataclass
class Tables:
    """The working model's sums in raw coordinates, from any number of chunks.

    Before the bins' means are known (a fused second pass) blocks of two terms are kept
    as cross-tabulations; after, as ``B_a' C_ab B_b`` directly.
    """

    n_raw: int
    counts: list[Array] = field(default_factory=list)  # per term: weighted rows per slot
    sums: list[Array] = field(default_factory=list)  # per term: sum of w z per slot
    blocks: dict[tuple[int, int], Array] = field(default_factory=dict)
    gram: Array | None = None  # exact designs: the raw Gram itself
    rhs: Array | None = None
    tabulated: bool = False  # blocks are cross-tabulations, not yet products with ``B``
    zwz: float = 0.0
    sum_w: float = 0.0  # of the working weights
    sum_wz: float = 0.0

    def merge(self, other: Tables) -> None:
        self.zwz += other.zwz
        self.sum_w += other.sum_w
        self.sum_wz += other.sum_wz
        if not self.counts and self.gram is None:
            self.counts, self.sums, self.blocks = other.counts, other.sums, other.blocks
            self.gram, self.rhs = other.gram, other.rhs
            return
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.sums = [a + b for a, b in zip(self.sums, other.sums, strict=True)]
        for key, value in other.blocks.items():
            self.blocks[key] = self.blocks[key] + value if key in self.blocks else value
        if self.gram is not None and other.gram is not None and other.rhs is not None:
            self.gram = self.gram + other.gram
            self.rhs = (self.rhs if self.rhs is not None else 0.0) + other.rhs

    def raw(self, layout: BinnedLayout | None) -> tuple[Array, Array]:
        """``X'WX`` and ``X'Wz`` in the terms' raw coordinates."""
        if layout is None:
            assert self.gram is not None and self.rhs is not None
            return self.gram, self.rhs
        assert layout.bases is not None
        bases, offsets = layout.bases, _offsets(layout.terms)
        gram, rhs = np.zeros((self.n_raw, self.n_raw)), np.zeros(self.n_raw)
        gram[0, 0], rhs[0] = self.sum_w, self.sum_wz
        for t, (B, start) in enumerate(zip(bases, offsets, strict=True)):
            cols = slice(start, start + B.shape[1])
            rhs[cols] = B.T @ self.sums[t]
            gram[0, cols] = gram[cols, 0] = B.T @ self.counts[t]
            gram[cols, cols] = (B.T * self.counts[t]) @ B
        for (a, b), block in self.blocks.items():
            rows = slice(offsets[a], offsets[a] + bases[a].shape[1])
            cols = slice(offsets[b], offsets[b] + bases[b].shape[1])
            product = bases[a].T @ (block @ bases[b]) if self.tabulated else block
            gram[rows, cols] = product
            gram[cols, rows] = product.T
        return gram, rhs


def _offsets(terms: list[Term]) -> list[int]:
    sizes = [term.n_coef for term in terms]
    return [1 + int(s) for s in np.concatenate([[0], np.cumsum(sizes)[:-1]])]


class BinnedRows:
    """A chunk's rows as bin indexes of every term."""

    def __init__(self, layout: BinnedLayout, codes: Array) -> None:
        self.layout = layout
        self.n_rows = len(codes)
        self.features = {key: bins.index(codes[:, key[0]]) for key, bins in layout.bins.items()}
        self.indexes = [self._combine(t, self.features) for t in range(len(layout.terms))]

    def _combine(self, t: int, features: dict[tuple[int, int], Index]) -> Index:
        limit = term_limit(self.layout.terms[t])
        index: Index | None = None
        for margin, bins in zip(self.layout.terms[t].margins, self.layout.term_bins(t),
                                strict=True):
            own = features[(margin.feature, limit if isinstance(margin, SplineMargin) else 0)]
            index = own if index is None else index * bins.slots + own
        assert index is not None
        return index

    def tables(self, weights: Array, z: Array) -> Tables:
        layout = self.layout
        n_raw = 1 + sum(term.n_coef for term in layout.terms)
        slots = [layout.slots(t) for t in range(len(layout.terms))]
        wz = weights * z
        out = Tables(n_raw, tabulated=layout.bases is None, zwz=float(np.dot(weights, z * z)),
                     sum_w=float(weights.sum()), sum_wz=float(wz.sum()))
        # Unit weights (a linear model without sample weights) are counted, not added:
        # the same whole numbers, a third faster.
        counted = None if len(weights) and weights.min() == 1.0 == weights.max() else weights
        out.counts = [_bincount(i, counted, s) for i, s in zip(self.indexes, slots, strict=True)]
        out.sums = [_bincount(i, wz, s) for i, s in zip(self.indexes, slots, strict=True)]
        active = [t for t, term in enumerate(layout.terms) if term.n_coef]
        for i, a in enumerate(active):
            for b in active[i + 1:]:
                out.blocks[(a, b)] = self._block(a, b, slots, weights, counted)
        return out

    def _block(self, a: int, b: int, slots: list[int], weights: Array,
               counted: Array | None) -> Array:
        bases = self.layout.bases
        cells = slots[a] * slots[b]
        if bases is None or cells <= DENSE_CELLS:
            table = _bincount(self.indexes[a] * slots[b] + self.indexes[b], counted,
                              cells).reshape(slots[a], slots[b])
            return table if bases is None else bases[a].T @ (table @ bases[b])
        table = sparse.coo_matrix((weights, (self.indexes[a], self.indexes[b])),
                                  shape=(slots[a], slots[b])).tocsr()
        return bases[a].T @ np.asarray(table @ bases[b])

    def linear_predictor(self, raw: Array) -> Array:
        bases = self.layout.bases
        assert bases is not None
        eta = np.full(self.n_rows, raw[0])
        for B, index, start in zip(bases, self.indexes, _offsets(self.layout.terms),
                                   strict=True):
            if B.shape[1]:
                eta += (B @ raw[start:start + B.shape[1]])[index]
        return eta

    def margin_counts(self, weights: Array) -> list[list[Array]]:
        """Per term and margin, weighted rows per bin (a tensor centres each margin)."""
        layout = self.layout
        out = []
        for t in range(len(layout.terms)):
            index = self.indexes[t]
            bins = layout.term_bins(t)
            if len(bins) == 1:
                out.append([_bincount(index, weights, bins[0].slots)])
                continue
            joint = _bincount(index, weights, layout.slots(t)).reshape([b.slots for b in bins])
            out.append([joint.sum(axis=1), joint.sum(axis=0)])
        return out


def _bincount(index: Index, weights: Array | None, size: int) -> Array:
    return np.bincount(index, weights=weights, minlength=size).astype(np.float64, copy=False)


def binned_column_sums(layout: BinnedLayout, counts: list[Array],
                       margins: list[list[Array]]) -> list[ColumnSums]:
    assert layout.bases is not None and layout.margin_bases is not None
    return [ColumnSums(B.T @ c, [M.T @ m for M, m in zip(Ms, ms, strict=True)])
            for B, c, Ms, ms in zip(layout.bases, counts, layout.margin_bases, margins,
                                    strict=True)]


class ExactRows:
    """A chunk's rows under the exact (not discretized) design."""

    def __init__(self, terms: list[Term], names: tuple[str, ...], codes: Array) -> None:
        self.design = TermDesign(terms, codes, names)
        self.n_rows = len(codes)

    def tables(self, weights: Array, z: Array) -> Tables:
        gram, rhs = self.design.cross_products(weights, z)
        return Tables(self.design.n_raw, gram=gram, rhs=rhs,
                      zwz=float(np.dot(weights, z * z)))

    def linear_predictor(self, raw: Array) -> Array:
        return self.design.linear_predictor(raw)

    def column_sums(self, weights: Array) -> list[ColumnSums]:
        return self.design.column_sums(weights)


def add_column_sums(first: list[ColumnSums] | None,
                    second: list[ColumnSums]) -> list[ColumnSums]:
    if first is None:
        return second
    return [ColumnSums(a.term + b.term, [x + y for x, y in zip(a.margins, b.margins,
                                                               strict=True)])
            for a, b in zip(first, second, strict=True)]
