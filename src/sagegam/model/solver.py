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
from scipy import linalg

from sagegam.model.design import Design
from sagegam.model.families import Family
from sagegam.model.reml import Penalty, Smoothness, WorkingModel
from sagegam.model.systems import cholesky

__all__ = ["FitResult", "Penalty", "WarmStart", "penalized_irls"]

Array = NDArray[np.float64]
RIDGE = 1e-9
SELECTION_ITERATIONS = 15
STALLED = 1e-13  # a relative step this small moves no prediction measurably


@dataclass(frozen=True)
class FitResult:
    coef: Array  # in the design's (free) coordinates
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
    last_step: Array  # the last IRLS step in ``coef``: where a fit that did not converge moved
    smoothness_converged: bool  # the REML search of the last selection reached its optimum


def penalized_irls(
    design: Design,
    y: Array,
    weights: Array,
    family: Family,
    penalties: Sequence[Penalty],
    *,
    max_iter: int = 100,
    tol: float = 1e-9,
    start: WarmStart | None = None,
) -> FitResult:
    """Minimize ``deviance(theta) / 2 + sum_k alpha_k theta' S_k theta``.

    ``theta`` are the design's coefficients (free ones: a :class:`TermDesign` applies the
    terms' constraints itself), which the penalties' blocks index. ``start`` resumes from
    an earlier fit (for example one on a subsample), which saves most of the passes over
    a large data set.
    """
    n_free = design.n_columns
    selector = Smoothness(penalties, n_free=n_free)
    reusable = None
    if start is None:
        eta = family.link_fn(family.starting_mu(y))
        theta = np.zeros(n_free)
    else:
        theta = start.theta
        eta = start.eta if start.eta is not None else design.linear_predictor(theta)
        selector.resume(start.log_lambda)
        reusable = start.working
    previous = np.inf
    converged = False
    n_iter = 0
    step = np.zeros(n_free)
    for n_iter in range(1, max_iter + 1):
        working = reusable or _working_model(design, y, weights, family, eta)
        reusable = None
        if n_iter <= SELECTION_ITERATIONS:
            # Performance iteration can cycle; past this point the weights stay fixed and
            # the remaining steps are plain penalized IRLS, which converges.
            selector.select(working, family.scale_known)
        theta_new = selector.solve(working)
        if _is_linear(family):
            # Least squares needs no step control: the first solution is the solution.
            theta, eta, converged = theta_new, design.linear_predictor(theta_new), True
            break
        old = theta
        theta, eta, objective = _step(design, y, weights, family, selector, theta, theta_new)
        step = theta - old
        # Converged when the penalized deviance stops changing, or when the coefficients
        # do (at a tight tol the deviance's last digits are rounding, not progress).
        stalled = np.max(np.abs(step), initial=0.0) <= STALLED * (
            1.0 + np.max(np.abs(theta), initial=0.0))
        if abs(previous - objective) <= tol * (abs(objective) + 0.1) or stalled:
            converged = True
            break
        previous = objective
    # The last step's working model serves for the covariance and the edf: at convergence
    # its weights are those of the solution (as in mgcv), and another pass would cost a Gram.
    return _summarize(working, y, weights, family, selector, theta, eta, n_iter, converged,
                      step)


@dataclass(frozen=True)
class WarmStart:
    """Where an earlier fit ended: free coefficients and log smoothing parameters.

    The log-lambdas are relative to each block's data scale, which is recomputed from the
    new data, so a fit on a subsample transfers to the full data set.
    """

    theta: Array
    log_lambda: Array
    eta: Array | None = None  # the linear predictor at theta, when on the same data
    working: WorkingModel | None = None  # the last working model, when on the same data


def _is_linear(family: Family) -> bool:
    return family.link == "identity" and family.name == "gaussian"


def _working_model(
    design: Design, y: Array, weights: Array, family: Family, eta: Array
) -> WorkingModel:
    unit, z = family.working(y, eta)
    w = weights * unit
    gram, rhs = design.cross_products(w, z)
    # A ridge far below the data's scale keeps X'WX + S positive definite when the data
    # cannot identify every unpenalized direction (more features than rows, a binary
    # feature's spline), so the solution never hinges on rounding.
    ridge = RIDGE * max(float(np.trace(gram)) / len(gram), 1e-300)
    gram[np.diag_indices_from(gram)] += ridge
    return WorkingModel(gram, rhs, float(np.dot(w, z * z)), float(weights.sum()), ridge)


def _step(
    design: Design,
    y: Array,
    weights: Array,
    family: Family,
    selector: Smoothness,
    theta_old: Array,
    theta_new: Array,
) -> tuple[Array, Array, float]:
    """Take the IRLS step, halving it while the penalized deviance gets worse."""

    def objective(theta: Array) -> tuple[float, Array]:
        eta = design.linear_predictor(theta)
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


def _summarize(
    working: WorkingModel,
    y: Array,
    weights: Array,
    family: Family,
    selector: Smoothness,
    theta: Array,
    eta: Array,
    n_iter: int,
    converged: bool,
    step: Array,
) -> FitResult:
    factor = cholesky(working.gram + selector.total(selector.alphas))
    inverse = linalg.cho_solve(factor, np.eye(selector.n_free))
    influence = np.einsum("ij,ji->i", inverse, working.gram)
    edf_total = float(influence.sum())
    mu = family.inverse_link(eta)
    deviance = family.deviance(y, mu, weights)
    null_mu = np.full_like(y, np.average(y, weights=weights))
    scale = 1.0
    if not family.scale_known:
        pearson = float(np.dot(weights, family.pearson(y, eta)))
        scale = pearson / max(float(weights.sum()) - edf_total, 1.0)
    return FitResult(
        coef=theta,
        covariance=inverse * scale,
        alphas=selector.alphas / 2.0,
        edf=np.array([float(influence[p.block].sum()) for p in selector.penalties]),
        edf_total=edf_total,
        deviance=deviance,
        null_deviance=family.deviance(y, null_mu, weights),
        scale=scale,
        n_iter=n_iter,
        converged=converged,
        last_step=step,
        smoothness_converged=selector.converged,
        warm_start=WarmStart(theta, selector.log_lambda.copy(), eta, working),
        criterion=selector.criterion,
    )
