"""The penalized normal equations ``A = X'WX + S``, factored once per smoothing parameter.

REML needs from ``A`` its log-determinant, solves, and the traces
``tr(A^-1 S_k)`` and ``tr(A^-1 S_j A^-1 S_k)`` of its penalties. :class:`DenseSystem` gets
them from a Cholesky factor and the inverse. A factor with many levels makes ``A`` large
but gives it a diagonal block: indicator columns never share a row, and the factor's
ridge penalty is diagonal. :class:`BlockSystem` eliminates that block (a Schur
complement), so its cost grows with the other columns cubed and the factor's levels
only linearly: a 1,000-level factor next to 300 spline coefficients costs about what
the splines alone would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray
from scipy import linalg

Array = NDArray[np.float64]
SCHUR_MIN_COLUMNS = 200  # a diagonal block smaller than this is not worth eliminating


@dataclass(frozen=True)
class PenaltyTerm:
    """One free penalty as the traces see it: block, matrix (or its diagonal), weight."""

    block: slice
    matrix: Array
    diagonal: Array | None
    weight: float

    def times(self, columns: Array) -> Array:
        """``weight * columns @ matrix``."""
        scaled = columns * self.diagonal if self.diagonal is not None else \
            columns @ self.matrix
        return self.weight * scaled


class DenseSystem:
    def __init__(self, matrix: Array) -> None:
        self.factor = cholesky(matrix, jitter=False)

    def log_det(self) -> float:
        return 2.0 * float(np.sum(np.log(np.diag(self.factor[0]))))

    def solve(self, rhs: Array) -> Array:
        return linalg.cho_solve(self.factor, rhs)

    @cached_property
    def inverse(self) -> Array:
        return inverse_from_cholesky(self.factor[0])

    def traces(self, penalties: Sequence[PenaltyTerm]) -> tuple[Array, Array]:
        """``lambda_k tr(A^-1 S_k)`` and ``lambda_j lambda_k tr(A^-1 S_j A^-1 S_k)``."""
        return _traces(self.inverse, penalties)


class BlockSystem:
    """``A`` with the diagonal block ``D`` eliminated: ``C = A_PP - A_PD D^-1 A_DP``."""

    def __init__(self, matrix: Array, block: slice) -> None:
        size = matrix.shape[0]
        self.block = block
        self.rest = np.r_[0:block.start, block.stop:size]
        self.d = np.diag(matrix)[block].copy()
        if not np.all(self.d > 0):
            raise np.linalg.LinAlgError("not positive definite")
        self.coupling = matrix[self.rest, block]  # A_PD
        self.scaled = self.coupling / self.d  # B = A_PD D^-1
        schur = matrix[np.ix_(self.rest, self.rest)] - self.scaled @ self.coupling.T
        self.factor = cholesky(schur, jitter=False)

    def log_det(self) -> float:
        return float(np.sum(np.log(self.d))) + 2.0 * float(
            np.sum(np.log(np.diag(self.factor[0]))))

    def solve(self, rhs: Array) -> Array:
        top = rhs[self.rest] - self.scaled @ rhs[self.block]
        out = np.empty_like(rhs, dtype=np.float64)
        out[self.rest] = linalg.cho_solve(self.factor, top)
        remainder = rhs[self.block] - self.coupling.T @ out[self.rest]
        out[self.block] = remainder / (self.d if rhs.ndim == 1 else self.d[:, None])
        return out

    @cached_property
    def _inverse_rest(self) -> Array:
        return inverse_from_cholesky(self.factor[0])  # (A^-1)_PP = C^-1

    @cached_property
    def _inverse_coupling(self) -> Array:
        return self._inverse_rest @ self.scaled  # -(A^-1)_PD = C^-1 B

    def traces(self, penalties: Sequence[PenaltyTerm]) -> tuple[Array, Array]:
        inside = [i for i, p in enumerate(penalties) if p.block != self.block]
        on_block = [i for i, p in enumerate(penalties) if p.block == self.block]
        shifted = [self._shift(penalties[i]) for i in inside]
        first = np.zeros(len(penalties))
        cross = np.zeros((len(penalties), len(penalties)))
        if inside:
            first[inside], cross[np.ix_(inside, inside)] = _traces(self._inverse_rest, shifted)
        for k in on_block:
            first[k], cross[k, k] = self._block_traces(penalties[k])
            for i, penalty in zip(inside, shifted, strict=True):
                cross[i, k] = cross[k, i] = self._mixed_trace(penalty, penalties[k])
        return first, cross

    def _shift(self, penalty: PenaltyTerm) -> PenaltyTerm:
        """The penalty's block in the coordinates without ``D``."""
        width = self.block.stop - self.block.start
        start = penalty.block.start - (width if penalty.block.start >= self.block.stop else 0)
        block = slice(start, start + penalty.block.stop - penalty.block.start)
        return PenaltyTerm(block, penalty.matrix, penalty.diagonal, penalty.weight)

    def _block_traces(self, penalty: PenaltyTerm) -> tuple[float, float]:
        """``(A^-1)_DD = D^-1 + W`` with ``W = B' C^-1 B``; ``S_D = diag(s)``."""
        s = penalty.diagonal if penalty.diagonal is not None else np.diag(penalty.matrix)
        w_diagonal = np.einsum("ki,ki->i", self.scaled, self._inverse_coupling)
        first = penalty.weight * float(np.sum(s * (1.0 / self.d + w_diagonal)))
        gram = (self.scaled * s) @ self.scaled.T  # B S B'
        product = self._inverse_rest @ gram
        square = (float(np.sum(s * s / self.d**2)) + 2.0 * float(np.sum(s * s * w_diagonal
                                                                         / self.d))
                  + float(np.sum(product * product.T)))
        return first, penalty.weight**2 * square

    def _mixed_trace(self, inside: PenaltyTerm, on_block: PenaltyTerm) -> float:
        """``lambda_g lambda_D tr(S_g H diag(s) H')`` with ``H = (C^-1 B)[block_g]``."""
        s = on_block.diagonal if on_block.diagonal is not None else np.diag(on_block.matrix)
        H = self._inverse_coupling[inside.block]
        product = (H * s) @ H.T
        return on_block.weight * float(np.trace(inside.times(product)))


def _traces(inverse: Array, penalties: Sequence[PenaltyTerm]) -> tuple[Array, Array]:
    """``M_k = lambda_k A^-1[:, block_k] S_k`` holds the nonzero columns of
    ``lambda_k A^-1 S_k``, so ``lambda_j lambda_k tr(A^-1 S_j A^-1 S_k)`` is the sum of
    ``M_j[block_k] * M_k[block_j]'``: all pairs at once are block sums of ``T * T'`` with
    ``T`` the rows of every block taken from ``[M_1 ... M_m]``."""
    blocks = [p.block for p in penalties]
    rows = np.concatenate([np.arange(b.start, b.stop) for b in blocks])
    T = np.hstack([p.times(inverse[rows, p.block]) for p in penalties])
    starts = np.cumsum([0] + [b.stop - b.start for b in blocks])[:-1]
    first = np.add.reduceat(np.diag(T), starts)
    cross = np.add.reduceat(np.add.reduceat(T * T.T, starts, axis=0), starts, axis=1)
    return first, cross


def diagonal_block(matrix: Array, candidates: Sequence[slice]) -> slice | None:
    """The largest candidate block of at least SCHUR_MIN_COLUMNS on which ``matrix`` is
    diagonal, if any."""
    best = None
    for block in candidates:
        width = block.stop - block.start
        if width < SCHUR_MIN_COLUMNS or (best is not None and width <= best.stop - best.start):
            continue
        part = matrix[block, block]
        if np.count_nonzero(part) == np.count_nonzero(np.diag(part)):
            best = block
    return best


def inverse_from_cholesky(upper: Array) -> Array:
    """``A^-1`` from the upper Cholesky factor of ``A`` (LAPACK's potri, a third of a solve)."""
    inverse, info = linalg.lapack.dpotri(upper, lower=0)
    if info != 0:
        raise np.linalg.LinAlgError("potri failed")
    return np.triu(inverse) + np.triu(inverse, 1).T


def cholesky(matrix: Array, jitter: bool = True) -> tuple[Array, bool]:
    """Cholesky factor; with ``jitter``, a tiny ridge rescues a semi-definite matrix."""
    try:
        return linalg.cho_factor(matrix, lower=False, check_finite=False)
    except linalg.LinAlgError:
        if not jitter:
            raise np.linalg.LinAlgError("not positive definite") from None
    ridge = 1e-10 * max(float(np.max(np.abs(np.diag(matrix)))), 1e-300)
    for _ in range(12):
        try:
            return linalg.cho_factor(matrix + ridge * np.eye(len(matrix)), lower=False)
        except linalg.LinAlgError:
            ridge *= 10.0
    raise np.linalg.LinAlgError("The penalized normal equations are singular.")
