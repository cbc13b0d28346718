"""Design matrices the solver can use without ever holding them whole.

Penalized IRLS needs, per iteration, only ``X'WX``, ``X'Wz`` and the linear predictor
``X beta``. :class:`SplineDesign` computes them from the raw features chunk by chunk: it
evaluates the ``degree + 1`` nonzero B-spline values per feature, scatters them into a
small dense block and lets BLAS do the Gram (``dsyrk``), so memory stays bounded by the
chunk and the arithmetic is the Gram's own. :class:`DenseDesign` wraps an explicit matrix
(tests, and users who bring their own basis).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.blas import dsyrk

from sagegam.model.basis import SplineBasis

Array = NDArray[np.float64]
CHUNK_ROWS = 8_192  # a dense chunk of ~200 columns stays in cache


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
class SplineDesign:
    """The B-spline design of ``X`` under ``basis``, intercept in column 0."""

    basis: SplineBasis
    X: Array
    chunk_rows: int = CHUNK_ROWS
    _columns: NDArray[np.int32] = field(init=False, repr=False)
    _values: Array = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Evaluate the basis once: IRLS passes over the data several times, and the
        # nonzeros (4 values per row and feature) cost a third of the dense design.
        active = np.flatnonzero(self.basis.active)
        width = self.basis.degree + 1
        self._columns = np.empty((self.n_rows, active.size), dtype=np.int32)
        self._values = np.empty((self.n_rows, active.size, width))
        for rows in self._chunks():
            columns, values = self.basis.evaluate(self.X[rows])
            self._columns[rows] = columns[:, active]
            self._values[rows] = values[:, active]

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_columns(self) -> int:
        return self.basis.n_columns

    def _chunks(self) -> Iterator[slice]:
        for start in range(0, self.n_rows, self.chunk_rows):
            yield slice(start, min(start + self.chunk_rows, self.n_rows))

    def _nonzeros(self, rows: slice) -> tuple[NDArray[np.int32], Array]:
        """First columns and values of the chunk's nonzero design entries, per feature."""
        return self._columns[rows], self._values[rows]

    def _dense_chunk(self, rows: slice, buffer: Array) -> Array:
        """The chunk's rows of the design, written into (a prefix of) ``buffer``.

        ``buffer`` may be wider than the design; extra columns are left zero.
        """
        columns, values = self._nonzeros(rows)
        n = rows.stop - rows.start
        block = buffer[:n]
        block.fill(0.0)
        block[:, 0] = 1.0
        starts = np.arange(n)[:, None, None] * buffer.shape[1] + np.arange(self.basis.degree + 1)
        flat = (starts + columns[..., None]).ravel()
        # Within a row each feature owns disjoint columns, so plain assignment is exact.
        block.ravel()[flat] = values.ravel()
        return block

    def linear_predictor(self, beta: Array) -> Array:
        eta = np.empty(self.n_rows)
        offsets = np.arange(self.basis.degree + 1)
        for rows in self._chunks():
            columns, values = self._nonzeros(rows)
            gathered = beta[columns[..., None] + offsets]
            eta[rows] = beta[0] + np.einsum("ijk,ijk->i", gathered, values)
        return eta

    def cross_products(self, weights: Array, z: Array) -> tuple[Array, Array]:
        # z rides along as one more column, so a single dsyrk per chunk yields X'WX and
        # X'Wz together. Mixing in numpy's own BLAS here would make its idle threads spin
        # against scipy's on two cores and triple the time.
        k = self.n_columns
        gram = np.zeros((k + 1, k + 1), order="F")
        buffer = np.empty((min(self.chunk_rows, self.n_rows), k + 1))
        for rows in self._chunks():
            block = self._dense_chunk(rows, buffer)
            block[:, k] = z[rows]
            block *= np.sqrt(weights[rows])[:, None]
            # block.T is Fortran-ordered, so dsyrk reads it without a copy.
            gram = dsyrk(1.0, block.T, beta=1.0, c=gram, trans=0, lower=0, overwrite_c=1)
        upper = np.triu(gram)
        full = upper + np.triu(upper, 1).T
        return full[:k, :k], full[:k, k]

    def column_sums(self, weights: Array) -> Array:
        """``X' w``: each basis function's weighted sum over the rows."""
        sums = np.zeros(self.n_columns)
        offsets = np.arange(self.basis.degree + 1)
        for rows in self._chunks():
            columns, values = self._nonzeros(rows)
            cols = (columns[..., None] + offsets).ravel()
            contrib = (values * weights[rows][:, None, None]).ravel()
            sums += np.bincount(cols, weights=contrib, minlength=self.n_columns)
        sums[0] = float(weights.sum())
        return sums
