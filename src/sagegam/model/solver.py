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

from sagegam.model import dispersion, shape
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
    family: Family  # with its free parameter as estimated (``estimate_family``)


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
    offset: Array | None = None,
    estimate_family: bool = False,
    nonnegative: NDArray[np.bool_] | None = None,
) -> FitResult:
    """Minimize ``deviance(theta) / 2 + sum_k alpha_k theta' S_k theta``.

    ``theta`` are the design's coefficients (free ones: a :class:`TermDesign` applies the
    terms' constraints itself), which the penalties' blocks index; the linear predictor is
    ``X theta + offset``. ``start`` resumes from an earlier fit (for example one on a
    subsample), which saves most of the passes over a large data set. With
    ``estimate_family`` the family's free parameter (a Tweedie's power, a negative
    binomial's theta) is re-estimated at each smoothness-selection step until it settles.
    ``nonnegative`` marks coefficients that must stay >= 0 (shape constraints): each step
    is then a quadratic program (:mod:`~sagegam.model.shape`).
    """
    data = _Data(design, y, weights, np.zeros(len(y)) if offset is None else offset)
    n_free = design.n_columns
    selector = Smoothness(penalties, n_free=n_free)
    reusable = None
    if start is None:
        eta = family.link_fn(family.starting_mu(y))
        theta = np.zeros(n_free)
    else:
        theta = start.theta
        eta = start.eta if start.eta is not None else data.linear_predictor(theta)
        selector.resume(start.log_lambda)
        reusable = start.working
    previous = np.inf
    # The deviance at theta, carried between steps: the penalized objective at the old
    # theta needs only its penalty recomputed when the smoothing parameters move.
    deviance = np.inf if start is None else family.deviance(y, family.inverse_link(eta),
                                                             weights)
    converged = False
    n_iter = 0
    step = np.zeros(n_free)
    settling = estimate_family
    shaped = _Shaped(nonnegative) if nonnegative is not None and nonnegative.any() else None
    for n_iter in range(1, max_iter + 1):
        selecting = n_iter <= SELECTION_ITERATIONS
        if settling and selecting and (n_iter > 1 or start is not None):
            updated = dispersion.update(family, y, family.inverse_link(eta), weights)
            settling = not dispersion.settled(family, updated)
            family, reusable = updated, None
            # The deviance carried between steps belongs to the old parameter.
            deviance = family.deviance(y, family.inverse_link(eta), weights)
        working = reusable or _working_model(data, family, eta)
        reusable = None
        if shaped is not None:
            theta_new = shaped.step(selector, working, family.scale_known, selecting)
        else:
            if selecting:
                # Performance iteration can cycle; past this point the weights stay fixed
                # and the remaining steps are plain penalized IRLS, which converges.
                selector.select(working, family.scale_known)
            theta_new = selector.solve(working)
        if _is_linear(family):
            # Least squares needs no step control: the first solution is the solution.
            theta, eta, converged = theta_new, data.linear_predictor(theta_new), True
            break
        old = theta
        theta, eta, objective, deviance = _step(data, family, selector, theta, deviance,
                                                theta_new)
        step = theta - old
        # Converged when the penalized deviance stops changing, or when the coefficients
        # do (at a tight tol the deviance's last digits are rounding, not progress).
        stalled = np.max(np.abs(step), initial=0.0) <= STALLED * (
            1.0 + np.max(np.abs(theta), initial=0.0))
        if (abs(previous - objective) <= tol * (abs(objective) + 0.1) or stalled) and \
                not (settling and selecting):
            converged = True
            break
        previous = objective
    # The last step's working model serves for the covariance and the edf: at convergence
    # its weights are those of the solution (as in mgcv), and another pass would cost a Gram.
    held = None if shaped is None else shaped.active
    return _summarize(working, data, family, selector, _Iterate(theta, eta, n_iter,
                                                                 converged, step), held)


@dataclass(frozen=True)
class _Data:
    design: Design
    y: Array
    weights: Array
    offset: Array

    def linear_predictor(self, theta: Array) -> Array:
        return self.design.linear_predictor(theta) + self.offset


class _Shaped:
    """Steps under bounds: the quadratic program, and smoothness selected on the model
    without the coefficients the bounds hold at 0, alternated until that set settles."""

    ROUNDS = 10

    def __init__(self, bounded: NDArray[np.bool_]) -> None:
        self.bounded = bounded
        self.active: NDArray[np.bool_] | None = None

    def step(self, selector: Smoothness, working: WorkingModel, scale_known: bool,
             selecting: bool) -> Array:
        theta = np.zeros(len(working.rhs))
        for _ in range(self.ROUNDS if selecting else 1):
            if selecting:
                if self.active is None or not self.active.any():
                    selector.select(working, scale_known)
                else:
                    selector.select_restricted(working, scale_known, ~self.active)
            A = working.gram + selector.total(selector.alphas)
            theta, active = shape.nonnegative_solve(A, working.rhs, self.bounded, self.active)
            settled = self.active is not None and np.array_equal(active, self.active)
            self.active = active
            if settled:
                break
        return theta


@dataclass(frozen=True)
class _Iterate:
    theta: Array
    eta: Array
    n_iter: int
    converged: bool
    step: Array


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


def _working_model(data: _Data, family: Family, eta: Array) -> WorkingModel:
    unit, z = family.working(data.y, eta)
    w = data.weights * unit
    z = z - data.offset  # the part of the working response the design explains
    gram, rhs = data.design.cross_products(w, z)
    # A ridge far below the data's scale keeps X'WX + S positive definite when the data
    # cannot identify every unpenalized direction (more features than rows, a binary
    # feature's spline), so the solution never hinges on rounding.
    ridge = RIDGE * max(float(np.trace(gram)) / len(gram), 1e-300)
    gram[np.diag_indices_from(gram)] += ridge
    return WorkingModel(gram, rhs, float(np.dot(w, z * z)), float(data.weights.sum()), ridge)


def _step(data: _Data, family: Family, selector: Smoothness, theta_old: Array,
          old_deviance: float, theta_new: Array) -> tuple[Array, Array, float, float]:
    """Take the IRLS step, halving it while the penalized deviance gets worse.

    Returns the new coefficients, their linear predictor, penalized deviance and deviance.
    """

    def deviance(theta: Array) -> tuple[float, Array]:
        eta = data.linear_predictor(theta)
        return family.deviance(data.y, family.inverse_link(eta), data.weights), eta

    old_value = old_deviance + selector.penalty_value(theta_old)
    new_deviance, eta = deviance(theta_new)
    value = new_deviance + selector.penalty_value(theta_new)
    for _ in range(30):
        if np.isfinite(value) and value <= old_value * (1 + 1e-12) + 1e-12:
            break
        theta_new = 0.5 * (theta_old + theta_new)
        new_deviance, eta = deviance(theta_new)
        value = new_deviance + selector.penalty_value(theta_new)
    return theta_new, eta, value, new_deviance


def _summarize(working: WorkingModel, data: _Data, family: Family, selector: Smoothness,
               last: _Iterate, held: NDArray[np.bool_] | None = None) -> FitResult:
    # Coefficients a bound holds at 0 are fixed: the posterior covariance is that of the
    # others (conditional on the active constraints), with zeros for them.
    free = np.flatnonzero(np.ones(selector.n_free, dtype=bool) if held is None else ~held)
    A = working.gram + selector.total(selector.alphas)
    inverse = np.zeros((selector.n_free, selector.n_free))
    inverse[np.ix_(free, free)] = linalg.cho_solve(cholesky(A[np.ix_(free, free)]),
                                                   np.eye(len(free)))
    influence = np.einsum("ij,ji->i", inverse, working.gram)
    edf_total = float(influence.sum())
    y, weights = data.y, data.weights
    deviance = family.deviance(y, family.inverse_link(last.eta), weights)
    scale = 1.0
    if not family.scale_known:
        pearson = float(np.dot(weights, family.pearson(y, last.eta)))
        scale = pearson / max(float(weights.sum()) - edf_total, 1.0)
    return FitResult(
        coef=last.theta,
        covariance=inverse * scale,
        alphas=selector.alphas / 2.0,
        edf=np.array([float(influence[p.block].sum()) for p in selector.penalties]),
        edf_total=edf_total,
        deviance=deviance,
        null_deviance=family.deviance(y, family.null_mean(y, weights, data.offset), weights),
        scale=scale,
        n_iter=last.n_iter,
        converged=last.converged,
        last_step=last.step,
        smoothness_converged=selector.converged,
        family=family,
        warm_start=WarmStart(last.theta, selector.log_lambda.copy(), last.eta, working),
        criterion=selector.criterion,
    )
