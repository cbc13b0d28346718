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
from sagegam.model.systems import (
    BlockSystem,
    DenseSystem,
    PenaltyTerm,
    cholesky,
    diagonal_block,
)

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
    ridge: float = 0.0  # added to the gram's diagonal (solver.RIDGE), for what needs X'WX


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
        self.diagonal: slice | None = None  # a block of A to eliminate (systems.py)

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
        self.diagonal = diagonal_block(working.gram, self._diagonal_candidates())
        result = newton.minimize(lambda rho: self.reml(rho, working, scale_known),
                                 self.log_lambda, *LOG_LAMBDA_BOUNDS)
        self.log_lambda = result.x
        self.alphas[self.free] = self.scales * np.exp(result.x)
        self.criterion = result.value
        self.converged = result.converged

    def select_restricted(self, working: WorkingModel, scale_known: bool,
                          keep: NDArray[np.bool_]) -> None:
        """:meth:`select` on the model without the coefficients outside ``keep`` (those
        a shape constraint holds at 0): the restricted likelihood of the constrained fit,
        whose active constraints remove directions as fixed zeros."""
        if not self.free:  # every weight given: nothing to select
            return
        child, survivors = self._restricted(keep)
        index = np.flatnonzero(keep)
        child.select(WorkingModel(working.gram[np.ix_(index, index)], working.rhs[index],
                                  working.zwz, working.n_obs, working.ridge), scale_known)
        positions = [self.free.index(i) for i in survivors if i in self.free]
        self.log_lambda[positions] = child.log_lambda
        self.alphas[[self.free[p] for p in positions]] = child.alphas[child.free]
        self.criterion, self.converged = child.criterion, child.converged

    def _restricted(self, keep: NDArray[np.bool_]) -> tuple[Smoothness, list[int]]:
        """The same penalties on the kept coordinates only (a penalty whose block is
        entirely dropped goes), sharing scales and log-lambdas; and which survived."""
        before = np.concatenate([[0], np.cumsum(keep)])
        penalties, survivors = [], []
        for i, penalty in enumerate(self.penalties):
            kept = keep[penalty.block]
            if not kept.any():
                continue
            start = int(before[penalty.block.start])
            block = slice(start, start + int(kept.sum()))
            penalties.append(Penalty(block, penalty.matrix[np.ix_(kept, kept)], penalty.alpha))
            survivors.append(i)
        child = Smoothness(penalties, n_free=int(keep.sum()))
        positions = [self.free.index(i) for i in survivors if i in self.free]
        assert self.scales is not None
        child.scales = self.scales[positions]
        child.log_lambda = self.log_lambda[positions].copy()
        return child, survivors

    def _diagonal_candidates(self) -> list[slice]:
        """Blocks all of whose penalties are diagonal (a factor's ridge)."""
        return [self.penalties[g.members[0]].block for g in self.groups
                if all(self.penalties[m].diagonal is not None for m in g.members)]

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
                       system: DenseSystem | BlockSystem) -> tuple[Array, Array]:
        """First and second derivatives of the penalized RSS ``P`` in the free log-weights.

        ``dP/drho_k = lambda_k theta' S_k theta`` and, with ``v_k = lambda_k S_k theta``,
        ``d2P/drho_j drho_k = [j = k] dP/drho_k - 2 v_j' A^-1 v_k``.
        """
        v = np.zeros((self.n_free, len(self.free)))
        for g, i in enumerate(self.free):
            block = self.penalties[i].block
            v[block, g] = alphas[i] * self.penalties[i].right_multiply(theta[block])
        first = theta @ v
        second = np.diag(first) - 2.0 * (v.T @ system.solve(v))
        return first, second

    def _traces(self, alphas: Array, system: DenseSystem | BlockSystem) -> tuple[Array, Array]:
        """Derivatives of ``log|A|``: ``lambda_k tr(A^-1 S_k)`` and the second ones,
        ``[j = k] lambda_k tr(A^-1 S_k) - lambda_j lambda_k tr(A^-1 S_j A^-1 S_k)``."""
        first, cross = system.traces([
            PenaltyTerm(self.penalties[i].block, self.penalties[i].matrix,
                        self.penalties[i].diagonal, float(alphas[i])) for i in self.free])
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
        matrix = working.gram + smoothness.total(alphas)
        try:
            self.system: DenseSystem | BlockSystem = DenseSystem(matrix) if \
                smoothness.diagonal is None else BlockSystem(matrix, smoothness.diagonal)
        except np.linalg.LinAlgError:
            self.value = np.inf
            return
        self.theta = self.system.solve(working.rhs)
        # An exact fit leaves only rounding in P; the floor keeps log P and 1/P^2 finite.
        self.prss = max(working.zwz - float(self.theta @ working.rhs), 1e-13 * working.zwz,
                        1e-100)
        self.log_det_S = smoothness.log_det(alphas)
        self.dof = max(working.n_obs - (smoothness.n_free - self.log_det_S[3]), 1.0)
        log_det_A = self.system.log_det()
        fit = self.prss if scale_known else self.dof * np.log(self.prss)
        self.value = 0.5 * (fit + log_det_A - self.log_det_S[0])

    def derivatives(self) -> tuple[Array, Array]:
        smoothness, free = self.smoothness, self.smoothness.free
        if not np.isfinite(self.value):
            return np.zeros(len(free)), np.eye(len(free))
        parts = smoothness._penalty_parts(self.alphas, self.theta, self.system)
        fit = _fit_derivatives(parts, self.prss, self.dof, self.scale_known)
        traces = smoothness._traces(self.alphas, self.system)
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
