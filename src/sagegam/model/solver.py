"""Penalized IRLS with smoothness chosen by restricted maximum likelihood (REML).

The solver sees a :class:`~sagegam.model.design.Design` only through ``X'WX``, ``X'Wz`` and
``X beta``, so its cost per iteration is one pass over the data plus linear algebra on a
``k x k`` matrix (``k`` = total basis size, a few hundred at most).

Smoothness: for each penalized block ``k`` the weight ``lambda_k`` maximizes the Laplace
approximate REML of the working linear model of the current IRLS step (Wood 2011, "Fast
stable restricted maximum likelihood ... for semiparametric GLMs"; with the working model
this is the "performance iteration" of Gu 1992). For a gaussian identity model the first
step is the final one: one data pass selects every penalty exactly. REML rather than GCV
because it is less prone to undersmoothing and has fewer local optima (Reiss and Ogden
2009; Wood 2011), and its gradient is cheap here: the penalties act on disjoint blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import linalg, optimize

from sagegam.model.design import Design
from sagegam.model.families import Family

Array = NDArray[np.float64]
LOG_LAMBDA_BOUNDS = (-18.0, 18.0)
RIDGE = 1e-9
SELECTION_ITERATIONS = 15


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


@dataclass(frozen=True)
class FitResult:
    coef: Array  # in the design's columns
    warm_start: WarmStart  # to resume from this fit
    criterion: float  # negative log restricted likelihood (nan when nothing was selected)
    covariance: Array  # Bayesian posterior covariance of ``coef``, scale included
    alphas: Array  # one weight per penalty, chosen or given
    edf: Array  # effective degrees of freedom per penalty block
    edf_total: float
    deviance: float
    null_deviance: float
    scale: float
    n_iter: int
    converged: bool


@dataclass
class _WorkingModel:
    """``X'WX``, ``X'Wz`` and ``z'Wz`` of one IRLS step, in constrained coordinates."""

    gram: Array
    rhs: Array
    zwz: float
    n_obs: float


def penalized_irls(
    design: Design,
    y: Array,
    weights: Array,
    family: Family,
    penalties: Sequence[Penalty],
    constraint: Array | None = None,
    *,
    max_iter: int = 100,
    tol: float = 1e-9,
    start: WarmStart | None = None,
) -> FitResult:
    """Minimize ``deviance(beta) / 2 + sum_k alpha_k beta' S_k beta`` over ``beta = Z theta``.

    ``constraint`` is ``Z`` (design columns x free coefficients; identity when None); the
    penalties' blocks index ``theta``. ``start`` resumes from an earlier fit (for example
    one on a subsample), which saves most of the passes over a large data set.
    """
    Z = np.eye(design.n_columns) if constraint is None else constraint
    selector = _Smoothness(penalties, n_free=Z.shape[1])
    reusable = None
    if start is None:
        eta = family.link_fn(family.starting_mu(y))
        theta = np.zeros(Z.shape[1])
    else:
        theta = start.theta
        eta = start.eta if start.eta is not None else design.linear_predictor(Z @ theta)
        selector.resume(start)
        reusable = start.working
    previous = np.inf
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        working = reusable or _working_model(design, y, weights, family, eta, Z)
        reusable = None
        if n_iter <= SELECTION_ITERATIONS:
            # Performance iteration can cycle; past this point the weights stay fixed and
            # the remaining steps are plain penalized IRLS, which converges.
            selector.select(working, family.scale_known)
        theta_new = selector.solve(working)
        if _is_linear(family):
            # Least squares needs no step control: the first solution is the solution.
            theta, eta, converged = theta_new, design.linear_predictor(Z @ theta_new), True
            break
        theta, eta, objective = _step(design, y, weights, family, Z, selector, theta, theta_new)
        if abs(previous - objective) <= tol * (abs(objective) + 0.1):
            converged = True
            break
        previous = objective
    # The last step's working model serves for the covariance and the edf: at convergence
    # its weights are those of the solution (as in mgcv), and another pass would cost a Gram.
    return _summarize(working, y, weights, family, Z, selector, theta, eta, n_iter, converged)


@dataclass(frozen=True)
class WarmStart:
    """Where an earlier fit ended: free coefficients and log smoothing parameters.

    The log-lambdas are relative to each block's data scale, which is recomputed from the
    new data, so a fit on a subsample transfers to the full data set.
    """

    theta: Array
    log_lambda: Array
    eta: Array | None = None  # the linear predictor at theta, when on the same data
    working: _WorkingModel | None = None  # the last working model, when on the same data


def _is_linear(family: Family) -> bool:
    return family.link == "identity" and family.name == "gaussian"


def _working_model(
    design: Design, y: Array, weights: Array, family: Family, eta: Array, Z: Array
) -> _WorkingModel:
    mu = family.inverse_link(eta)
    slope = family.dmu_deta(eta)
    w = weights * slope * slope / family.variance(mu)
    z = eta + (y - mu) / slope
    gram, rhs = design.cross_products(w, z)
    gram = Z.T @ gram @ Z
    # A ridge far below the data's scale keeps X'WX + S positive definite when the data
    # cannot identify every unpenalized direction (more features than rows, a binary
    # feature's spline), so the solution never hinges on rounding.
    ridge = RIDGE * max(float(np.trace(gram)) / len(gram), 1e-300)
    gram[np.diag_indices_from(gram)] += ridge
    return _WorkingModel(gram, Z.T @ rhs, float(np.dot(w, z * z)), float(weights.sum()))


def _step(
    design: Design,
    y: Array,
    weights: Array,
    family: Family,
    Z: Array,
    selector: _Smoothness,
    theta_old: Array,
    theta_new: Array,
) -> tuple[Array, Array, float]:
    """Take the IRLS step, halving it while the penalized deviance gets worse."""

    def objective(theta: Array) -> tuple[float, Array]:
        eta = design.linear_predictor(Z @ theta)
        mu = family.inverse_link(eta)
        return family.deviance(y, mu, weights) + selector.penalty_value(theta), eta

    old_value = objective(theta_old)[0] if np.any(theta_old) else np.inf
    value, eta = objective(theta_new)
    for _ in range(30):
        if np.isfinite(value) and value <= old_value * (1 + 1e-12) + 1e-12:
            break
        theta_new = 0.5 * (theta_old + theta_new)
        value, eta = objective(theta_new)
    return theta_new, eta, value


class _Smoothness:
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

    def log_det(self, alphas: Array) -> tuple[float, Array, float]:
        """``log|S|_+``, its derivatives in each log-alpha, and the rank of ``S``."""
        value, rank = 0.0, 0.0
        gradient = np.zeros(len(alphas))
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
            factor = _cholesky(total)
            value += 2.0 * float(np.sum(np.log(np.diag(factor[0]))))
            inverse = linalg.cho_solve(factor, np.eye(group.rank))
            gradient[group.members] = members * np.einsum("ij,mji->m", inverse, group.projected)
        return value, gradient, rank

    def resume(self, start: WarmStart) -> None:
        self.log_lambda = start.log_lambda.copy()

    def total(self, alphas: Array) -> Array:
        S = np.zeros((self.n_free, self.n_free))
        for alpha, penalty in zip(alphas, self.penalties, strict=True):
            S[penalty.block, penalty.block] += alpha * penalty.matrix
        return S

    def penalty_value(self, theta: Array) -> float:
        return float(theta @ self.total(self.alphas) @ theta)

    def solve(self, working: _WorkingModel) -> Array:
        factor = _cholesky(working.gram + self.total(self.alphas))
        return linalg.cho_solve(factor, working.rhs)

    def select(self, working: _WorkingModel, scale_known: bool) -> None:
        if not self.free:
            return
        if self.scales is None:
            # Put every penalty on its data block's scale, so log-lambda 0 is moderate.
            self.scales = np.array([self._relative_scale(working.gram, i) for i in self.free])
        result = optimize.minimize(
            self._reml,
            self.log_lambda,
            args=(working, scale_known),
            jac=True,
            method="L-BFGS-B",
            bounds=[LOG_LAMBDA_BOUNDS] * len(self.free),
            # Tight, so that equivalent data (weights or repeated rows) agree closely.
            options={"ftol": 1e-12, "gtol": 1e-8, "maxiter": 500},
        )
        x = result.x
        value = float(result.fun)
        self.log_lambda = x
        self.alphas[self.free] = self.scales * np.exp(x)
        self.criterion = value

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

    def _reml(
        self, log_lambda: Array, working: _WorkingModel, scale_known: bool
    ) -> tuple[float, Array]:
        """The negative REML criterion and its gradient in ``log_lambda``."""
        assert self.scales is not None
        alphas = self.alphas.copy()
        alphas[self.free] = self.scales * np.exp(log_lambda)
        try:
            factor = _cholesky(working.gram + self.total(alphas), jitter=False)
        except np.linalg.LinAlgError:
            return 1e300, np.zeros_like(log_lambda)
        theta = linalg.cho_solve(factor, working.rhs)
        inverse = _inverse_from_cholesky(factor[0])
        penalized_rss = max(working.zwz - float(theta @ working.rhs), 1e-300)
        log_det_S, log_det_S_gradient, penalty_rank = self.log_det(alphas)
        dof = max(working.n_obs - (self.n_free - penalty_rank), 1.0)
        scale = 1.0 if scale_known else penalized_rss / dof
        log_det_A = 2.0 * float(np.sum(np.log(np.diag(factor[0]))))
        fit_term = penalized_rss if scale_known else dof * np.log(penalized_rss)
        value = 0.5 * (fit_term + log_det_A - log_det_S)
        gradient = np.empty_like(log_lambda)
        for g, i in enumerate(self.free):
            block, S = self.penalties[i].block, self.penalties[i].matrix
            beta_S_beta = float(theta[block] @ S @ theta[block])
            trace = float(np.sum(inverse[block, block] * S))
            gradient[g] = 0.5 * (alphas[i] * (beta_S_beta / scale + trace) - log_det_S_gradient[i])
        return value, gradient


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


def _cholesky(matrix: Array, jitter: bool = True) -> tuple[Array, bool]:
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


def _summarize(
    working: _WorkingModel,
    y: Array,
    weights: Array,
    family: Family,
    Z: Array,
    selector: _Smoothness,
    theta: Array,
    eta: Array,
    n_iter: int,
    converged: bool,
) -> FitResult:
    factor = _cholesky(working.gram + selector.total(selector.alphas))
    inverse = linalg.cho_solve(factor, np.eye(selector.n_free))
    influence = np.einsum("ij,ji->i", inverse, working.gram)
    edf_total = float(influence.sum())
    mu = family.inverse_link(eta)
    deviance = family.deviance(y, mu, weights)
    null_mu = np.full_like(y, np.average(y, weights=weights))
    scale = 1.0
    if not family.scale_known:
        pearson = float(np.dot(weights, (y - mu) ** 2 / family.variance(mu)))
        scale = pearson / max(float(weights.sum()) - edf_total, 1.0)
    return FitResult(
        coef=Z @ theta,
        covariance=Z @ (inverse * scale) @ Z.T,
        alphas=selector.alphas / 2.0,
        edf=np.array([float(influence[p.block].sum()) for p in selector.penalties]),
        edf_total=edf_total,
        deviance=deviance,
        null_deviance=family.deviance(y, null_mu, weights),
        scale=scale,
        n_iter=n_iter,
        converged=converged,
        warm_start=WarmStart(theta, selector.log_lambda.copy(), eta, working),
        criterion=selector.criterion,
    )
