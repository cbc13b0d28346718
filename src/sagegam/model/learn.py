"""The steps of a fit, from encoded rows to a :class:`GAMPredictor`.

Main effects first; with ``interactions="auto"`` (or a count) their working residuals are
screened for pairs (:mod:`~sagegam.model.interactions`); then the whole model, main
effects and chosen pairs, is fitted at once (:mod:`~sagegam.model.fitting`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sagegam.model import interactions
from sagegam.model.families import Family
from sagegam.model.fitting import (
    Fit,
    Settings,
    distinct_rows,
    fit_terms,
    main_terms,
    pair_term,
    pairable,
    resolve_pairs,
    term_statistics,
)
from sagegam.model.predictor import GAMPredictor, Label
from sagegam.model.schema import Schema
from sagegam.model.terms import Term

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Problem:
    """The data and model a fit is asked for."""

    schema: Schema
    codes: Array
    y: Array
    weights: Array
    family: Family
    settings: Settings
    alphas: list[float | None]  # per feature; pairs use ``pair_alpha``
    pair_alpha: float | None
    interactions: Any


def fit_model(problem: Problem, classes: tuple[Label, ...] | None) -> GAMPredictor:
    codes, y, weights = distinct_rows(problem.codes, problem.y, problem.weights)
    settings, schema = problem.settings, problem.schema
    terms: list[Term] = main_terms(schema, codes, settings)
    alphas = list(problem.alphas)
    pairs = resolve_pairs(schema, problem.interactions)
    screening: dict[str, Any] = {}
    if isinstance(pairs, (str, int)):
        # The residuals to screen need main effects, not the best penalty structure, and
        # a few hundred thousand rows tell a pair from noise as well as all of them.
        plain = replace(settings, adaptive=False)
        rows = interactions.screening_rows(len(y))
        main = fit_terms(terms, alphas, codes[rows], y[rows], weights[rows], problem.family,
                         plain, schema.names)
        pairs, screening = _screen(main, codes[rows], y[rows], weights[rows], problem, pairs)
    terms += [pair_term(schema, codes, pair, settings) for pair in pairs]
    alphas += [problem.pair_alpha] * len(pairs)
    fit = fit_terms(terms, alphas, codes, y, weights, problem.family, settings, schema.names)
    info = _info(fit, weights) | screening
    return GAMPredictor(schema, tuple(terms), fit.coef, fit.covariance, problem.family,
                        classes, info)


def _screen(main: Fit, codes: Array, y: Array, weights: Array, problem: Problem,
            setting: str | int) -> tuple[list[tuple[int, int]], dict[str, Any]]:
    """Pairs chosen on the main-effects fit's working residuals."""
    family = problem.family
    eta = main.design.linear_predictor(main.result.coef)
    mu = family.inverse_link(eta)
    slope = family.dmu_deta(eta)
    working_weights = weights * slope * slope / family.variance(mu)
    residuals = (y - mu) / slope
    allowed = [j for j in range(len(problem.schema.features)) if pairable(problem.schema, j)]
    candidates = interactions.candidate_pairs(len(problem.schema.features), allowed)
    scores = interactions.screen(codes, problem.schema, residuals, working_weights, candidates)
    chosen = interactions.choose_pairs(scores, setting)
    names = problem.schema.names
    by_pair = {s.pair: s for s in scores}
    return chosen, {"interactions_screened": len(scores), "interactions_chosen": [
        {"pair": [names[a], names[b]], "f_statistic": by_pair[(a, b)].f_statistic,
         "log10_p_value": by_pair[(a, b)].log_p_value / np.log(10)} for a, b in chosen]}


def _info(fit: Fit, weights: Array) -> dict[str, Any]:
    result = fit.result
    return {
        **term_statistics(fit),
        "edf_total": result.edf_total,
        "deviance": result.deviance,
        "null_deviance": result.null_deviance,
        "deviance_explained": 1.0 - result.deviance / result.null_deviance
        if result.null_deviance > 0 else 0.0,
        "scale": result.scale,
        "n_obs": float(weights.sum()),
        "n_iter": result.n_iter,
        "converged": result.converged,
        "smoothness": "REML",
        "adaptive": fit.adaptive,
        "reml_criterion": result.criterion,
    }
