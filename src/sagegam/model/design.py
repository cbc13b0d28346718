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
from scipy.linalg.blas import dsyrk

from sagegam.model.terms import ColumnSums, FactorTerm, MarginTable, MarginValues, Term
from sagegam.model.terms.margins import Nonzeros
from sagegam.model.threads import threaded_blas

Array = NDArray[np.float64]
CHUNK_ROWS = 8_192  # a dense chunk of ~200 columns stays in cache
THREADED_ROWS = 100_000  # below this a Gram pass is too short for BLAS threads to pay
FACTOR_CHUNK_ROWS = 65_536  # rows per bincount when summing a term by a factor's levels


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


class ConstrainedCoordinates:
    """Coordinates under the terms' constraints once :meth:`constrain` is called: before,
    the terms' raw coefficients (``n_raw`` of them, intercept first); after, the free
    coefficients of every term's constraint, which is what the solver sees. Shared by the
    in-memory designs and the streamed one."""

    _blocks: Blocks | None

    @property
    def n_raw(self) -> int:
        raise NotImplementedError

    @property
    def n_columns(self) -> int:
        return self.n_raw if self._blocks is None else self._blocks.n_free

    def constrain(self, blocks: list[Array]) -> None:
        """Work in free coefficients from now on: ``beta = Z theta``, one ``Z`` per term."""
        self._blocks = Blocks([np.ones((1, 1)), *blocks])

    def raw_coef(self, theta: Array) -> Array:
        """``Z theta``: free coefficients as the terms' raw ones."""
        return theta if self._blocks is None else self._blocks.expand_vector(theta)

    def raw_covariance(self, covariance: Array) -> Array:
        """``Z C Z'``: a covariance of free coefficients in the terms' raw coefficients."""
        assert self._blocks is not None
        return self._blocks.expand(covariance)


class TermCoordinates(ConstrainedCoordinates):
    """What every in-memory design over terms shares: its rows' codes and the layout of
    the coefficients (intercept, then each term's)."""

    terms: list[Term]
    codes: Array

    @property
    def n_rows(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_raw(self) -> int:
        return 1 + sum(term.n_coef for term in self.terms)

    @property
    def offsets(self) -> list[int]:
        sizes = [term.n_coef for term in self.terms]
        return [1 + int(s) for s in np.concatenate([[0], np.cumsum(sizes)[:-1]])]


@dataclass
class TermDesign(TermCoordinates):
    """The design of encoded rows under ``terms``: intercept, then each term's columns."""

    terms: list[Term]
    codes: Array
    names: tuple[str, ...]
    chunk_rows: int = CHUNK_ROWS
    _blocks: Blocks | None = field(default=None, init=False, repr=False)
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

    def subset(self, rows: NDArray[np.intp]) -> TermDesign:
        """The same design (and constraint) on some of the rows."""
        part = TermDesign(self.terms, self.codes[rows], self.names, self.chunk_rows)
        part._blocks = self._blocks
        return part

    def column_sums(self, weights: Array) -> list[ColumnSums]:
        """Per term, the weighted column sums of its basis and of each of its margins."""
        sums = []
        for t, term in enumerate(self.terms):
            margins = [_sums(*self._margins[i], weights, m.size)
                       for i, m in zip(self._index[t], term.margins, strict=True)]
            columns, values = self._nonzeros(t, slice(0, self.n_rows))
            sums.append(ColumnSums(_sums(columns, values, weights, term.n_coef), margins))
        return sums

    def _chunks(self, size: int | None = None) -> Iterator[slice]:
        step = size or self.chunk_rows
        for start in range(0, self.n_rows, step):
            yield slice(start, min(start + step, self.n_rows))

    def _nonzeros(self, t: int, rows: slice) -> Nonzeros:
        chunk = MarginValues([(c[rows], v[rows]) for c, v in self._margins], self.codes[rows])
        return self.terms[t].nonzeros(chunk, self._index[t])

    def linear_predictor(self, beta: Array) -> Array:
        raw = self.raw_coef(beta)
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
        if self._blocks is None:
            return gram, rhs
        return self._blocks.reduce(gram, rhs)


class Blocks:
    """A block-diagonal ``Z`` applied block by block (a factor's block is the identity)."""

    def __init__(self, blocks: list[Array]) -> None:
        self.blocks = [None if is_identity(Z) else Z for Z in blocks]
        self.raw = _slices([Z.shape[0] for Z in blocks])
        self.free = _slices([Z.shape[1] for Z in blocks])
        self.n_free = sum(Z.shape[1] for Z in blocks)

    def reduce(self, gram: Array, rhs: Array) -> tuple[Array, Array]:
        """``Z' G Z`` and ``Z' r``."""
        out = np.empty((self.n_free, self.n_free))
        free_rhs = np.empty(self.n_free)
        for a, (Za, ra, fa) in enumerate(zip(self.blocks, self.raw, self.free, strict=True)):
            free_rhs[fa] = _left(Za, rhs[ra])
            for Zb, rb, fb in zip(self.blocks[a:], self.raw[a:], self.free[a:], strict=True):
                block = _right(_left(Za, gram[ra, rb]), Zb)
                out[fa, fb] = block
                out[fb, fa] = block.T
        return out, free_rhs

    def expand_vector(self, theta: Array) -> Array:
        """``Z theta``."""
        return np.concatenate([_left_transposed(Z, theta[f])
                               for Z, f in zip(self.blocks, self.free, strict=True)])

    def expand(self, covariance: Array) -> Array:
        """``Z C Z'``."""
        size = self.raw[-1].stop
        out = np.empty((size, size))
        for a, (Za, ra, fa) in enumerate(zip(self.blocks, self.raw, self.free, strict=True)):
            for Zb, rb, fb in zip(self.blocks[a:], self.raw[a:], self.free[a:], strict=True):
                block = _right(_left_transposed(Za, covariance[fa, fb]), Zb, transposed=True)
                out[ra, rb] = block
                out[rb, ra] = block.T
        return out


def is_identity(Z: Array) -> bool:
    return Z.shape[0] == Z.shape[1] and bool(np.array_equal(Z, np.eye(Z.shape[0])))


def _slices(sizes: list[int]) -> list[slice]:
    ends = np.cumsum(sizes)
    return [slice(int(e - n), int(e)) for e, n in zip(ends, sizes, strict=True)]


def _left(Z: Array | None, M: Array) -> Array:
    """``Z' M``."""
    return M if Z is None else Z.T @ M


def _left_transposed(Z: Array | None, M: Array) -> Array:
    """``Z M``."""
    return M if Z is None else Z @ M


def _right(M: Array, Z: Array | None, transposed: bool = False) -> Array:
    """``M Z`` (or ``M Z'``)."""
    if Z is None:
        return M
    return M @ (Z.T if transposed else Z)


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
        for rows in d._chunks():
            block = self._dense_chunk(rows, buffer)
            block[:, k] = z[rows]
            block *= np.sqrt(weights[rows])[:, None]
            # block.T is Fortran-ordered, so dsyrk reads it without a copy.
            gram = dsyrk(1.0, block.T, beta=1.0, c=gram, trans=0, lower=0, overwrite_c=1)
        by_level = {f: self._by_level(f, *levels[f], weights, z) for f in self.factors}
        upper = np.triu(gram)
        dense = upper + np.triu(upper, 1).T
        return self._assemble(dense, by_level, levels, weights, z)

    def _by_level(self, f: int, codes: NDArray[np.intp], present: Array, weights: Array,
                  z: Array) -> Array:
        """A factor's rows of ``X'WX`` against the dense block, and of ``X'Wz``.

        Each dense term's nonzeros are summed by (level, column) with one ``bincount``,
        so the cost is the term's nonzeros per row, never the dense block's width.
        """
        d = self.design
        size = d.terms[f].n_coef
        out = np.zeros((size, self.width + 1))
        weighted = weights * present
        out[:, 0] = np.bincount(codes, weights=weighted, minlength=size)
        out[:, self.width] = np.bincount(codes, weights=weighted * z, minlength=size)
        for t in self.dense_terms:
            n_coef = d.terms[t].n_coef
            start = self.dense_start[t]
            for rows in d._chunks(FACTOR_CHUNK_ROWS):
                columns, values = d._nonzeros(t, rows)
                index = codes[rows, None] * n_coef + columns
                sums = np.bincount(index.ravel(), weights=(values * weighted[rows, None]).ravel(),
                                   minlength=size * n_coef)
                out[:, start:start + n_coef] += sums[:size * n_coef].reshape(size, n_coef)
        return out

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
