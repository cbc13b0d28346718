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

from sagegam.model import diagnostics, inference, interactions
from sagegam.model.families import Family
from sagegam.model.fitting import (
    Fit,
    Settings,
    distinct_rows,
    fit_terms,
    main_terms,
    pair_term,
    term_statistics,
)
from sagegam.model.interactions import pairable, resolve_pairs
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
    estimate_family: bool = False  # the family's free parameter is left to the data


def fit_model(problem: Problem, classes: tuple[Label, ...] | None) -> GAMPredictor:
    codes, y, weights = distinct_rows(problem.codes, problem.y, problem.weights)
    settings, schema = problem.settings, problem.schema
    terms: list[Term] = main_terms(schema, codes, settings)
    if not any(term.n_coef for term in terms):
        raise ValueError(_all_constant(schema, codes))
    alphas = [problem.alphas[j] for j in schema.model_features]  # one per main term
    offset = schema.offset_of(codes)
    pairs = resolve_pairs(schema, problem.interactions, settings.shapes)
    screening: dict[str, Any] = {}
    if isinstance(pairs, (str, int)):
        # The residuals to screen need main effects, not the best penalty structure, and
        # a few hundred thousand rows tell a pair from noise as well as all of them.
        plain = replace(settings, adaptive=False)
        rows = interactions.screening_rows(len(y))
        main = fit_terms(terms, alphas, codes[rows], y[rows], weights[rows], problem.family,
                         plain, schema.names, estimate_family=problem.estimate_family,
                         offset=None if offset is None else offset[rows])
        pairs, screening = _screen(main, codes[rows], y[rows], weights[rows], problem, pairs)
    terms += [pair_term(schema, codes, pair, settings) for pair in pairs]
    alphas += [problem.pair_alpha] * len(pairs)
    fit = fit_terms(terms, alphas, codes, y, weights, problem.family, settings,
                    schema.names, estimate_family=problem.estimate_family, offset=offset)
    family = fit.result.family
    info = _info(fit, weights, family) | screening
    if family.parameters:
        info["family_parameters"] = family.parameters | {"estimated": problem.estimate_family}
    predictor = GAMPredictor(schema, tuple(terms), fit.coef, fit.covariance, family,
                             classes, info)
    info["warnings"] = [finding.as_info() for finding in _findings(fit, predictor, codes, y,
                                                                   weights, settings)]
    return predictor


def _findings(fit: Fit, predictor: GAMPredictor, codes: Array, y: Array, weights: Array,
              settings: Settings) -> list[diagnostics.Finding]:
    eta = fit.result.warm_start.eta
    assert eta is not None
    rows = diagnostics.FittedRows(codes, y, weights, eta, predictor.schema, predictor.terms,
                                  predictor.family)
    boundary = diagnostics.boundary_findings(rows, predictor.contributions_of)
    if boundary:  # they say why IRLS could not converge
        return boundary
    last_step = fit.design.raw_coef(fit.result.last_step)
    return diagnostics.convergence_findings(rows, fit.result.converged, last_step,
                                            settings.max_iter)


def _all_constant(schema: Schema, codes: Array) -> str:
    features = schema.model_features
    values = ", ".join(f"{schema.names[j]} = {_shown(schema.features[j], codes[0, j])}"
                       for j in features[:5])
    more = f" and {len(features) - 5} more" if len(features) > 5 else ""
    return (f"Every feature is constant over the training rows with positive weight "
            f"({values}{more}): there is nothing to fit but the mean. A GAM needs at least "
            "one feature that varies.")


def _shown(feature: Any, code: float) -> str:
    if np.isnan(code):
        return "missing"
    return repr(feature.level_name(int(code))) if feature.categorical else f"{code:g}"


def _screen(main: Fit, codes: Array, y: Array, weights: Array, problem: Problem,
            setting: str | int) -> tuple[list[tuple[int, int]], dict[str, Any]]:
    """Pairs chosen on the main-effects fit's working residuals."""
    family = main.result.family
    eta = main.result.warm_start.eta
    assert eta is not None
    unit, working = family.working(y, eta)
    working_weights = weights * unit
    residuals = working - eta
    allowed = [j for j in problem.schema.model_features
               if pairable(problem.schema, j, problem.settings.shapes)]
    candidates = interactions.candidate_pairs(len(problem.schema.features), allowed)
    scores = interactions.screen(codes, problem.schema, residuals, working_weights, candidates)
    chosen = interactions.choose_pairs(scores, setting)
    names = problem.schema.names
    by_pair = {s.pair: s for s in scores}
    return chosen, {"interactions_screened": len(scores), "interactions_chosen": [
        {"pair": [names[a], names[b]], "f_statistic": by_pair[(a, b)].f_statistic,
         "log10_p_value": by_pair[(a, b)].log_p_value / np.log(10)} for a, b in chosen]}


def _tests(fit: Fit, weights: Array, family: Family) -> list[dict[str, Any] | None]:
    """Each term's test of being zero (:mod:`~sagegam.model.inference`)."""
    result = fit.result
    working = result.warm_start.working
    assert working is not None
    gram = working.gram - working.ridge * np.eye(len(working.gram))  # X'WX itself
    model = inference.FittedModel(result.coef, result.covariance, gram, result.scale,
                                  family.scale_known,
                                  float(weights.sum()) - result.edf_total)
    tests = [inference.term_test(model, block, random)
             for block, random in zip(fit.free, fit.fully_penalized, strict=True)]
    return [None if test is None else test.as_info() for test in tests]


def _info(fit: Fit, weights: Array, family: Family) -> dict[str, Any]:
    result = fit.result
    return {
        **term_statistics(fit),
        "tests": _tests(fit, weights, family),
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
