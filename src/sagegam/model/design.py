"""Design matrices the solver can use without ever holding them whole.

Penalized IRLS needs, per iteration, only ``X'WX``, ``X'Wz`` and the linear predictor
``X beta``. :class:`TermDesign` computes them from the terms' per-row nonzeros, chunk by
chunk: smooth terms are scattered into a small dense block and BLAS does the Gram
(``dsyrk``), so memory stays bounded by the chunk and the arithmetic is the Gram's own.
A factor has one nonzero per row, so its blocks are counts and sums by level
(``bincount``), never dense columns: a factor of 1,000 levels costs little more than one
numeric column. Every term's identifiability constraint is applied on the way out, so
the solver works in free coefficients. :class:`DenseDesign` wraps an explicit matrix
(tests, and users who bring their own basis).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.linalg.blas import dsyrk

from sagegam.model.terms import ColumnSums, FactorTerm, MarginTable, MarginValues, Term
from sagegam.model.terms.margins import Nonzeros
from sagegam.model.threads import threaded_blas

Array = NDArray[np.float64]
CHUNK_ROWS = 8_192  # a dense chunk of ~200 columns stays in cache
THREADED_ROWS = 100_000  # below this a Gram pass is too short for BLAS threads to pay


class Design(Protocol):
    @property
    def n_rows(self) -> int: ...

    @property
    def n_columns(self) -> int: ...

    def linear_predictor(self, beta: Array) -> Array: ...

    def cross_products(self, weights: Array, z: Array) -> tuple[Array, Array]:
        """``X'WX`` and ``X'Wz`` for diagonal weights ``W``."""
        ...


@dataclass(frozen=True)
class DenseDesign:
    matrix: Array

    @property
    def n_rows(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def n_columns(self) -> int:
        return int(self.matrix.shape[1])

    def linear_predictor(self, beta: Array) -> Array:
        return self.matrix @ beta

    def cross_products(self, weights: Array, z: Array) -> tuple[Array, Array]:
        weighted = self.matrix * weights[:, None]
        return self.matrix.T @ weighted, weighted.T @ z


@dataclass
class TermDesign:
    """The design of encoded rows under ``terms``: intercept, then each term's columns.

    Until :meth:`constrain` is called its coordinates are the terms' raw coefficients;
    after, the free coefficients of every term's constraint.
    """

    terms: list[Term]
    codes: Array
    names: tuple[str, ...]
    chunk_rows: int = CHUNK_ROWS
    constraint: sparse.csr_matrix | None = None
    _margins: list[Nonzeros] = field(init=False, repr=False)
    _index: list[list[int]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Evaluate the margins once: IRLS passes over the data several times, and the
        # nonzeros (4 values per row and spline) cost a third of the dense design.
        distinct = list(dict.fromkeys(m for term in self.terms for m in term.margins))
        table = MarginTable(distinct, self.names)
        self._index = [[table.index(m) for m in term.margins] for term in self.terms]
        parts = [table.evaluate(self.codes[rows]) for rows in self._chunks()]
        self._margins = [
            (np.concatenate([p[i][0] for p in parts]).astype(np.int32),
             np.concatenate([p[i][1] for p in parts])) if parts else
            (np.zeros((0, 1), np.int32), np.zeros((0, 1)))
            for i in range(len(distinct))]

    @property
    def n_rows(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_raw(self) -> int:
        return 1 + sum(term.n_coef for term in self.terms)

    @property
    def n_columns(self) -> int:
        return self.n_raw if self.constraint is None else int(self.constraint.shape[1])

    @property
    def offsets(self) -> list[int]:
        sizes = [term.n_coef for term in self.terms]
        return [1 + int(s) for s in np.concatenate([[0], np.cumsum(sizes)[:-1]])]

    def subset(self, rows: NDArray[np.intp]) -> TermDesign:
        """The same design (and constraint) on some of the rows."""
        return TermDesign(self.terms, self.codes[rows], self.names, self.chunk_rows,
                          self.constraint)

    def constrain(self, blocks: list[Array]) -> None:
        """Work in free coefficients from now on: ``beta = Z theta``, one ``Z`` per term."""
        self.constraint = sparse.block_diag([np.ones((1, 1)), *blocks], format="csr")

    def column_sums(self, weights: Array) -> list[ColumnSums]:
        """Per term, the weighted column sums of its basis and of each of its margins."""
        sums = []
        for t, term in enumerate(self.terms):
            margins = [_sums(*self._margins[i], weights, m.size)
                       for i, m in zip(self._index[t], term.margins, strict=True)]
            columns, values = self._nonzeros(t, slice(0, self.n_rows))
            sums.append(ColumnSums(_sums(columns, values, weights, term.n_coef), margins))
        return sums

    def _chunks(self) -> Iterator[slice]:
        for start in range(0, self.n_rows, self.chunk_rows):
            yield slice(start, min(start + self.chunk_rows, self.n_rows))

    def _nonzeros(self, t: int, rows: slice) -> Nonzeros:
        chunk = MarginValues([(c[rows], v[rows]) for c, v in self._margins], self.codes[rows])
        return self.terms[t].nonzeros(chunk, self._index[t])

    def _raw(self, theta: Array) -> Array:
        return theta if self.constraint is None else self.constraint @ theta

    def linear_predictor(self, beta: Array) -> Array:
        raw = self._raw(beta)
        eta = np.full(self.n_rows, raw[0])
        for t, (term, offset) in enumerate(zip(self.terms, self.offsets, strict=True)):
            if term.n_coef == 0:
                continue
            block = raw[offset:offset + term.n_coef]
            for rows in self._chunks():
                columns, values = self._nonzeros(t, rows)
                eta[rows] += np.einsum("ij,ij->i", block[columns], values)
        return eta

    def cross_products(self, weights: Array, z: Array) -> tuple[Array, Array]:
        # Mixing in numpy's own BLAS here would make its idle threads spin against
        # scipy's on two cores and triple the time.
        with threaded_blas() if self.n_rows >= THREADED_ROWS else nullcontext():
            gram, rhs = _Gram(self).compute(weights, z)
        if self.constraint is None:
            return gram, rhs
        Z = self.constraint
        half = (Z.T @ gram).T  # gram is symmetric: this is gram @ Z
        return np.asarray(Z.T @ half), np.asarray(Z.T @ rhs)


def _sums(columns: NDArray[np.integer[Any]], values: Array, weights: Array,
          size: int) -> Array:
    """Weighted column sums of a basis given by its per-row nonzeros."""
    if size == 0:
        return np.zeros(0)
    sums = np.bincount(columns.ravel(), weights=(values * weights[:, None]).ravel(),
                       minlength=size)
    return sums[:size].astype(np.float64)


class _Gram:
    """``X'WX`` and ``X'Wz`` in raw coordinates, from dense blocks and factor counts."""

    def __init__(self, design: TermDesign) -> None:
        self.design = design
        offsets = design.offsets
        self.factors = [t for t, term in enumerate(design.terms)
                        if isinstance(term, FactorTerm) and term.n_coef]
        self.dense_terms = [t for t, term in enumerate(design.terms)
                            if t not in self.factors and term.n_coef]
        # Where each dense term's columns sit in the dense block (column 0: intercept).
        self.dense_start, start = {}, 1
        for t in self.dense_terms:
            self.dense_start[t] = start
            start += design.terms[t].n_coef
        self.dense_raw = np.concatenate(
            [[0]] + [np.arange(offsets[t], offsets[t] + design.terms[t].n_coef)
                     for t in self.dense_terms]).astype(np.intp)
        self.width = start

    def compute(self, weights: Array, z: Array) -> tuple[Array, Array]:
        d = self.design
        k = self.width
        gram = np.zeros((k + 1, k + 1), order="F")
        buffer = np.empty((min(d.chunk_rows, d.n_rows), k + 1))
        levels = {f: self._codes(f) for f in self.factors}
        by_level = {f: np.zeros((d.terms[f].n_coef, k + 1)) for f in self.factors}
        for rows in d._chunks():
            block = self._dense_chunk(rows, buffer)
            block[:, k] = z[rows]
            root = np.sqrt(weights[rows])
            block *= root[:, None]
            # block.T is Fortran-ordered, so dsyrk reads it without a copy.
            gram = dsyrk(1.0, block.T, beta=1.0, c=gram, trans=0, lower=0, overwrite_c=1)
            for f in self.factors:
                codes, present = levels[f]
                indicator = sparse.csr_matrix(
                    (present[rows] * root, (codes[rows], np.arange(rows.stop - rows.start))),
                    shape=(d.terms[f].n_coef, rows.stop - rows.start))
                by_level[f] += indicator @ block
        upper = np.triu(gram)
        dense = upper + np.triu(upper, 1).T
        return self._assemble(dense, by_level, levels, weights, z)

    def _codes(self, f: int) -> tuple[NDArray[np.intp], Array]:
        columns, values = self.design._nonzeros(f, slice(0, self.design.n_rows))
        return columns[:, 0].astype(np.intp), values[:, 0]

    def _assemble(self, dense: Array, by_level: dict[int, Array],
                  levels: dict[int, tuple[NDArray[np.intp], Array]], weights: Array,
                  z: Array) -> tuple[Array, Array]:
        d = self.design
        k = self.width
        gram = np.zeros((d.n_raw, d.n_raw))
        rhs = np.zeros(d.n_raw)
        gram[np.ix_(self.dense_raw, self.dense_raw)] = dense[:k, :k]
        rhs[self.dense_raw] = dense[:k, k]
        offsets = d.offsets
        for f in self.factors:
            cols = slice(offsets[f], offsets[f] + d.terms[f].n_coef)
            gram[cols, self.dense_raw] = by_level[f][:, :k]
            gram[self.dense_raw, cols] = by_level[f][:, :k].T
            rhs[cols] = by_level[f][:, k]
            for g in self.factors:
                if g <= f:
                    codes_f, present_f = levels[f]
                    codes_g, present_g = levels[g]
                    size_f, size_g = d.terms[f].n_coef, d.terms[g].n_coef
                    counts = np.bincount(codes_f * size_g + codes_g,
                                         weights=weights * present_f * present_g,
                                         minlength=size_f * size_g).reshape(size_f, size_g)
                    other = slice(offsets[g], offsets[g] + size_g)
                    gram[cols, other] = counts
                    gram[other, cols] = counts.T
        return gram, rhs

    def _dense_chunk(self, rows: slice, buffer: Array) -> Array:
        """The chunk's rows of the dense block, written into (a prefix of) ``buffer``."""
        n = rows.stop - rows.start
        block = buffer[:n]
        block.fill(0.0)
        block[:, 0] = 1.0
        flat_rows = np.arange(n)[:, None] * buffer.shape[1]
        for t in self.dense_terms:
            columns, values = self.design._nonzeros(t, rows)
            # Within a row a term's nonzero columns are distinct, so assignment is exact.
            block.ravel()[(flat_rows + self.dense_start[t] + columns).ravel()] = values.ravel()
        return block
