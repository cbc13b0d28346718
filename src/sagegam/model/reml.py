"""Smoothing parameters chosen by restricted maximum likelihood (REML).

For the working linear model of one IRLS step (``X'WX``, ``X'Wz``), each free penalty
weight ``lambda_k`` maximizes the Laplace approximate restricted likelihood (Wood 2011,
"Fast stable restricted maximum likelihood ... for semiparametric GLMs"). With
``A = X'WX + S``, ``theta = A^-1 X'Wz`` and ``P = z'Wz - theta' X'Wz`` (penalized residual
sum of squares), the criterion minimized is

    V(rho) = (D log P  or  P) + log|A| - log|S|_+        (halved; D = n - null space)

(the first form when the scale is estimated, the second when it is known), in
``rho = log lambda``. Its gradient and Hessian are exact, so Newton's method
(:mod:`sagegam.model.newton`) finds the optimum to rounding precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray
from scipy import linalg

from sagegam.model import newton

Array = NDArray[np.float64]
LOG_LAMBDA_BOUNDS = (-18.0, 18.0)


@dataclass(frozen=True)
class Penalty:
    """A penalty ``alpha * beta[block]' matrix beta[block]`` on constrained coefficients.

    The fit minimizes ``-loglik(beta) + sum_k alpha_k beta' S_k beta`` (statsmodels' GLMGam
    convention), i.e. deviance plus twice the penalties.

    ``alpha=None`` asks the solver to choose the weight by REML.
    """

    block: slice
    matrix: Array
    alpha: float | None = None

    @cached_property
    def diagonal(self) -> Array | None:
        """The diagonal when the matrix is diagonal (a factor's ridge): products are then
        column scalings, not matrix products."""
        diagonal = np.diag(self.matrix)
        return diagonal.copy() if np.count_nonzero(self.matrix) == np.count_nonzero(
            diagonal) else None

    def right_multiply(self, columns: Array) -> Array:
        """``columns @ matrix``."""
        return columns * self.diagonal if self.diagonal is not None else columns @ self.matrix


@dataclass
class WorkingModel:
    """``X'WX``, ``X'Wz`` and ``z'Wz`` of one IRLS step, in constrained coordinates."""

    gram: Array
    rhs: Array
    zwz: float
    n_obs: float


class Smoothness:
    """The penalty weights: fixed ones as given, the others chosen by REML."""

    def __init__(self, penalties: Sequence[Penalty], n_free: int) -> None:
        self.penalties = list(penalties)
        self.n_free = n_free
        self.free = [i for i, p in enumerate(self.penalties) if p.alpha is None]
        # Internally weights are on the deviance scale (-2 loglik): twice the user's alpha,
        # which keeps statsmodels' convention of -loglik + alpha * beta' S beta.
        self.alphas = np.array([0.0 if p.alpha is None else 2.0 * p.alpha
                                for p in self.penalties])
        self.scales: Array | None = None
        self.log_lambda = np.zeros(len(self.free))
        self.groups = _group_by_block(self.penalties)
        self.criterion = float("nan")  # the negative log restricted likelihood at the optimum
        self.converged = True

    def resume(self, log_lambda: Array) -> None:
        self.log_lambda = log_lambda.copy()

    def total(self, alphas: Array) -> Array:
        S = np.zeros((self.n_free, self.n_free))
        for alpha, penalty in zip(alphas, self.penalties, strict=True):
            S[penalty.block, penalty.block] += alpha * penalty.matrix
        return S

    def penalty_value(self, theta: Array) -> float:
        return float(theta @ self.total(self.alphas) @ theta)

    def solve(self, working: WorkingModel) -> Array:
        factor = cholesky(working.gram + self.total(self.alphas))
        return linalg.cho_solve(factor, working.rhs)

    def select(self, working: WorkingModel, scale_known: bool) -> None:
        """Set the free weights to the REML optimum of this working model."""
        if not self.free:
            return
        if self.scales is None:
            # Put every penalty on its data block's scale, so log-lambda 0 is moderate.
            self.scales = np.array([self._relative_scale(working.gram, i) for i in self.free])
        result = newton.minimize(lambda rho: self.reml(rho, working, scale_known),
                                 self.log_lambda, *LOG_LAMBDA_BOUNDS)
        self.log_lambda = result.x
        self.alphas[self.free] = self.scales * np.exp(result.x)
        self.criterion = result.value
        self.converged = result.converged

    def _relative_scale(self, gram: Array, index: int) -> float:
        """Data block size over the block's total penalty size.

        Penalties that share a block share this scale, so equal log-lambdas on an
        adaptive term's pieces reproduce the single penalty they split.
        """
        block = self.penalties[index].block
        total = sum(p.matrix for p in self.penalties if p.block == block)
        data = float(np.linalg.norm(gram[block, block]))
        size = float(np.linalg.norm(total))
        return data / size if data > 0 and size > 0 else 1.0

    def reml(self, log_lambda: Array, working: WorkingModel,
             scale_known: bool) -> _Criterion:
        """The negative REML criterion at ``log_lambda``; derivatives on request."""
        assert self.scales is not None
        alphas = self.alphas.copy()
        alphas[self.free] = self.scales * np.exp(log_lambda)
        return _Criterion(self, alphas, working, scale_known)

    def _penalty_parts(self, alphas: Array, theta: Array,
                       inverse: Array) -> tuple[Array, Array]:
        """First and second derivatives of the penalized RSS ``P`` in the free log-weights.

        ``dP/drho_k = lambda_k theta' S_k theta`` and, with ``v_k = lambda_k S_k theta``,
        ``d2P/drho_j drho_k = [j = k] dP/drho_k - 2 v_j' A^-1 v_k``.
        """
        v = np.zeros((self.n_free, len(self.free)))
        for g, i in enumerate(self.free):
            block = self.penalties[i].block
            v[block, g] = alphas[i] * self.penalties[i].right_multiply(theta[block])
        first = theta @ v
        second = np.diag(first) - 2.0 * (v.T @ inverse @ v)
        return first, second

    def _trace_parts(self, alphas: Array, inverse: Array) -> tuple[Array, Array]:
        """Derivatives of ``log|A|``: ``lambda_k tr(A^-1 S_k)`` and the second ones,
        ``[j = k] lambda_k tr(A^-1 S_k) - lambda_j lambda_k tr(A^-1 S_j A^-1 S_k)``.

        ``M_k = lambda_k A^-1[:, block_k] S_k`` holds the nonzero columns of
        ``lambda_k A^-1 S_k``, so ``lambda_j lambda_k tr(A^-1 S_j A^-1 S_k)`` is the sum of
        ``M_j[block_k] * M_k[block_j]'``: all pairs at once are block sums of ``T * T'``
        with ``T`` the rows of every block taken from ``[M_1 ... M_m]``.
        """
        blocks = [self.penalties[i].block for i in self.free]
        rows = np.concatenate([np.arange(b.start, b.stop) for b in blocks])
        T = np.hstack([alphas[i] * self.penalties[i].right_multiply(inverse[rows, block])
                       for i, block in zip(self.free, blocks, strict=True)])
        starts = np.cumsum([0] + [b.stop - b.start for b in blocks])[:-1]
        first = np.add.reduceat(np.diag(T), starts)
        cross = np.add.reduceat(np.add.reduceat(T * T.T, starts, axis=0), starts, axis=1)
        return first, np.diag(first) - cross

    def log_det(self, alphas: Array) -> tuple[float, Array, Array, float]:
        """``log|S|_+``, its first and second derivatives in each log-alpha, and rank ``S``."""
        value, rank = 0.0, 0.0
        gradient = np.zeros(len(alphas))
        hessian = np.zeros((len(alphas), len(alphas)))
        for group in self.groups:
            members = alphas[group.members]
            if not np.any(members > 0):
                continue
            rank += group.rank
            if len(group.members) == 1:
                # One penalty on a block: log|a S|_+ = rank log a + log|S|_+.
                value += group.rank * np.log(members[0]) + group.log_det_unit
                gradient[group.members[0]] = group.rank
                continue
            total = np.einsum("m,mij->ij", members, group.projected)
            factor = cholesky(total)
            value += 2.0 * float(np.sum(np.log(np.diag(factor[0]))))
            inverse = linalg.cho_solve(factor, np.eye(group.rank))
            weighted = members[:, None, None] * np.einsum("ij,mjk->mik", inverse,
                                                          group.projected)
            first = np.einsum("mii->m", weighted)
            index = np.ix_(group.members, group.members)
            gradient[group.members] = first
            hessian[index] = np.diag(first) - np.einsum("mij,nji->mn", weighted, weighted)
        return value, gradient, hessian, rank


class _Criterion:
    """The criterion at one set of weights: the value at once, derivatives when asked."""

    def __init__(self, smoothness: Smoothness, alphas: Array, working: WorkingModel,
                 scale_known: bool) -> None:
        self.smoothness, self.alphas, self.scale_known = smoothness, alphas, scale_known
        try:
            self.factor = cholesky(working.gram + smoothness.total(alphas), jitter=False)
        except np.linalg.LinAlgError:
            self.value = np.inf
            return
        self.theta = linalg.cho_solve(self.factor, working.rhs)
        # An exact fit leaves only rounding in P; the floor keeps log P and 1/P^2 finite.
        self.prss = max(working.zwz - float(self.theta @ working.rhs), 1e-13 * working.zwz,
                        1e-100)
        self.log_det_S = smoothness.log_det(alphas)
        self.dof = max(working.n_obs - (smoothness.n_free - self.log_det_S[3]), 1.0)
        log_det_A = 2.0 * float(np.sum(np.log(np.diag(self.factor[0]))))
        fit = self.prss if scale_known else self.dof * np.log(self.prss)
        self.value = 0.5 * (fit + log_det_A - self.log_det_S[0])

    def derivatives(self) -> tuple[Array, Array]:
        smoothness, free = self.smoothness, self.smoothness.free
        if not np.isfinite(self.value):
            return np.zeros(len(free)), np.eye(len(free))
        inverse = _inverse_from_cholesky(self.factor[0])
        parts = smoothness._penalty_parts(self.alphas, self.theta, inverse)
        fit = _fit_derivatives(parts, self.prss, self.dof, self.scale_known)
        traces = smoothness._trace_parts(self.alphas, inverse)
        _, d_log_det_S, d2_log_det_S, _ = self.log_det_S
        gradient = 0.5 * (fit[0] + traces[0] - d_log_det_S[free])
        hessian = 0.5 * (fit[1] + traces[1] - d2_log_det_S[np.ix_(free, free)])
        return gradient, hessian


def _fit_derivatives(parts: tuple[Array, Array], prss: float, dof: float,
                     scale_known: bool) -> tuple[Array, Array]:
    """Derivatives of ``P`` (known scale) or ``D log P`` (estimated scale)."""
    first, second = parts
    if scale_known:
        return first, second
    return dof * first / prss, dof * (second / prss - np.outer(first, first) / prss**2)


@dataclass(frozen=True)
class _PenaltyGroup:
    """Penalties that share one block, with their range space projected out.

    The null space of a sum of penalties with positive weights does not depend on the
    weights, so ``log|S|_+`` is the log determinant of ``S`` restricted to a fixed range
    space: stable, and cheap to differentiate.
    """

    members: list[int]
    rank: int
    projected: Array  # (members, rank, rank)
    log_det_unit: float  # log|S|_+ of a lone member at weight 1


def _group_by_block(penalties: Sequence[Penalty]) -> list[_PenaltyGroup]:
    by_block: dict[tuple[int, int], list[int]] = {}
    for i, penalty in enumerate(penalties):
        by_block.setdefault((penalty.block.start, penalty.block.stop), []).append(i)
    groups = []
    for members in by_block.values():
        matrices = [penalties[i].matrix / max(float(np.linalg.norm(penalties[i].matrix)), 1e-300)
                    for i in members]
        eigenvalues, vectors = np.linalg.eigh(sum(matrices))
        keep = eigenvalues > 1e-9 * max(float(eigenvalues.max()), 1e-300)
        U = vectors[:, keep]
        projected = np.stack([U.T @ penalties[i].matrix @ U for i in members])
        log_det_unit = float(np.linalg.slogdet(projected[0])[1]) if len(members) == 1 else 0.0
        groups.append(_PenaltyGroup(members, int(keep.sum()), projected, log_det_unit))
    return groups


def _inverse_from_cholesky(upper: Array) -> Array:
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
