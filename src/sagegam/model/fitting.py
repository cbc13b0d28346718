"""From encoded training rows to a fitted predictor: terms, penalties, structure, fit.

The estimators (scikit-learn's contract) validate settings and data and hand over to
:func:`fit_terms`; this module builds each term's basis from the data, applies the
terms' constraints, chooses between a plain and an adaptive penalty structure and runs
penalized IRLS (:mod:`~sagegam.model.solver`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sagegam.model.binned import BinnedDesign
from sagegam.model.design import TermDesign, is_identity
from sagegam.model.families import Family
from sagegam.model.knots import place_knots
from sagegam.model.reml import Penalty
from sagegam.model.schema import Schema
from sagegam.model.solver import FitResult, WarmStart, penalized_irls
from sagegam.model.terms import (
    FactorMargin,
    FactorTerm,
    Margin,
    SplineMargin,
    SplineTerm,
    Term,
    interaction,
)

Array = NDArray[np.float64]
AnyDesign = TermDesign | BinnedDesign
SUBSAMPLE_ROWS = 100_000
DISCRETE_ROWS = 100_000  # from here on "auto" fits on discretized covariates
MAX_PAIR_CODES = 50  # levels of a factor in an interaction (its columns multiply)


@dataclass(frozen=True)
class Settings:
    """What shapes the fit, as the estimator resolved its parameters."""

    df: tuple[int, ...] = ()  # basis size per feature
    degree: int = 3
    adaptive: Any = "auto"
    extrapolation: str = "linear"
    max_iter: int = 100
    tol: float = 1e-9
    interaction_df: int = 7
    discrete: bool | str = "auto"
    knots: str = "auto"
    monotone: tuple[int, ...] = ()  # per feature: +1 increasing, -1 decreasing, 0 free


@dataclass(frozen=True)
class Fit:
    """A fitted model in raw term coordinates, with what the summary reports."""

    terms: list[Term]
    coef: Array
    covariance: Array
    result: FitResult
    adaptive: bool
    alphas: list[float | None]  # per term: given, or None when REML chose it
    design: AnyDesign
    free: list[slice]  # each term's free coefficients
    owners: list[int]  # the term of each penalty the fit used
    fully_penalized: list[bool]  # per term: REML-weighted penalties of full rank (a
    # random effect: no unpenalized direction)


def main_terms(schema: Schema, codes: Array, settings: Settings) -> list[Term]:
    """One term per feature: a factor for a categorical one, else a smooth."""
    return [FactorTerm(_factor_margin(schema, j)) if feature.categorical else
            SplineTerm(_spline_margin(schema, codes, j, settings.df[j], settings),
                       feature.missing, settings.monotone[j] if settings.monotone else 0)
            for j, feature in enumerate(schema.features)]


def pair_term(schema: Schema, codes: Array, pair: tuple[int, int], settings: Settings) -> Term:
    """The interaction of two features (a tensor product without main effects)."""
    first, second = (_pair_margin(schema, codes, j, settings) for j in pair)
    return interaction(first, second)


def pairable(schema: Schema, j: int, monotone: tuple[int, ...] = ()) -> bool:
    """Whether feature ``j`` may enter an interaction (a factor's columns multiply; a
    monotone feature's effect could change direction through a pair)."""
    feature = schema.features[j]
    if monotone and monotone[j]:
        return False
    return not feature.categorical or feature.n_codes <= MAX_PAIR_CODES


def pair_problem(schema: Schema, pair: tuple[int, int],
                 monotone: tuple[int, ...] = ()) -> str | None:
    """Why a pair cannot be an interaction term, or None."""
    if pair[0] == pair[1]:
        return f"a feature cannot interact with itself ({schema.names[pair[0]]!r})"
    for j in pair:
        if monotone and monotone[j]:
            return (f"monotonic_cst constrains '{schema.names[j]}', and an interaction could "
                    "make its effect change direction; set its constraint to 0 or drop the "
                    "pair")
        if not pairable(schema, j):
            feature = schema.features[j]
            return (f"'{feature.name}' has {feature.n_codes} levels; a categorical feature in "
                    f"an interaction may have at most {MAX_PAIR_CODES}")
    return None


def _factor_margin(schema: Schema, j: int) -> FactorMargin:
    return FactorMargin(j, schema.features[j].n_codes)


def _pair_margin(schema: Schema, codes: Array, j: int, settings: Settings) -> Margin:
    if schema.features[j].categorical:
        return _factor_margin(schema, j)
    return _spline_margin(schema, codes, j, settings.interaction_df, settings)


def _spline_margin(schema: Schema, codes: Array, j: int, df: int,
                   settings: Settings) -> SplineMargin:
    """Range from the data; a constant gets no basis; few distinct values, fewer."""
    values = codes[:, j][~np.isnan(codes[:, j])]
    if values.size == 0:
        return SplineMargin(j, 0.0, 0.0, 0, settings.degree, settings.extrapolation)
    distinct = np.unique(values).size
    n_basis = min(df, max(settings.degree + 1, distinct)) if distinct > 1 else 0
    lower, upper = float(values.min()), float(values.max())
    if n_basis and not _divisible(lower, upper, n_basis - settings.degree):
        raise ValueError(f"Feature '{schema.names[j]}' spans [{lower:g}, {upper:g}], a width a "
                         "double cannot divide into knot intervals; rescale it (e.g. divide "
                         "by its largest absolute value) or transform it (e.g. a log).")
    knots = place_knots(values, n_basis - settings.degree, settings.knots) if n_basis else None
    return SplineMargin(j, lower, upper, int(n_basis), settings.degree, settings.extrapolation,
                        knots)


def _divisible(lower: float, upper: float, intervals: int) -> bool:
    """Whether ``[lower, upper]`` splits into intervals of a finite, invertible width."""
    with np.errstate(over="ignore", divide="ignore"):
        width = (np.float64(upper) - np.float64(lower)) / intervals
        return bool(np.isfinite(width) and width > 0 and np.isfinite(1.0 / width))


@dataclass(frozen=True)
class Sample:
    """The target and weights of the rows a fit sees."""

    y: Array
    weights: Array

    def subset(self, rows: NDArray[np.intp]) -> Sample:
        return Sample(self.y[rows], self.weights[rows])


def fit_terms(terms: list[Term], alphas: list[float | None], codes: Array, sample: Sample,
              family: Family, settings: Settings, names: tuple[str, ...],
              start: WarmStart | None = None, estimate_family: bool = False) -> Fit:
    """Fit ``terms`` with REML smoothness; ``alphas[t]`` fixes term ``t``'s penalty weight;
    with ``estimate_family`` the family's free parameter is estimated too."""
    weights = sample.weights
    discrete = settings.discrete is True or (settings.discrete == "auto" and
                                             len(codes) >= DISCRETE_ROWS)
    design = (BinnedDesign if discrete else TermDesign)(terms, codes, names)
    blocks = [term.constraint(sums) for term, sums in zip(terms, design.column_sums(weights),
                                                          strict=True)]
    design.constrain(blocks)
    free = _free_blocks(blocks)
    plain, plain_owners = _penalties(terms, blocks, free, alphas, adaptive=False)
    split, split_owners = _penalties(terms, blocks, free, alphas, adaptive=True)
    pieces = [_pieces(terms[t], alphas[t]) for t in dict.fromkeys(plain_owners)
              if alphas[t] is None]
    structures = _Structures(plain, split, pieces, settings.adaptive, family,
                             settings.max_iter, settings.tol, estimate_family,
                             _nonnegative(terms, free))
    result, adaptive = structures.fit(design, sample, start)
    coef = design.raw_coef(result.coef)
    covariance = design.raw_covariance(result.covariance)
    return Fit(terms, coef, covariance, result, adaptive, alphas, design, free,
               split_owners if adaptive else plain_owners,
               _fully_penalized(plain, plain_owners, free))


def _nonnegative(terms: list[Term], free: list[slice]) -> NDArray[np.bool_] | None:
    """Which free coefficients shape constraints keep >= 0 (intercept first), if any."""
    masks = [term.bounded() for term in terms]
    if all(mask is None for mask in masks):
        return None
    out = np.zeros(1 + sum(block.stop - block.start for block in free), dtype=bool)
    for mask, block in zip(masks, free, strict=True):
        if mask is not None:
            out[block] = mask
    return out


def _fully_penalized(penalties: list[Penalty], owners: list[int],
                     free: list[slice]) -> list[bool]:
    out = []
    for t, block in enumerate(free):
        mine = [p for p, owner in zip(penalties, owners, strict=True) if owner == t]
        size = block.stop - block.start
        if not mine or size == 0 or any(p.alpha == 0 for p in mine):
            out.append(False)
            continue
        total = sum(p.matrix / max(float(np.linalg.norm(p.matrix)), 1e-300) for p in mine)
        out.append(bool(np.linalg.matrix_rank(total) == size))
    return out


def _free_blocks(blocks: list[Array]) -> list[slice]:
    """Each term's slice of the free coefficients (the intercept is coefficient 0)."""
    slices, start = [], 1
    for Z in blocks:
        slices.append(slice(start, start + Z.shape[1]))
        start += Z.shape[1]
    return slices


def _pieces(term: Term, alpha: float | None) -> int:
    return term.adaptive_pieces() if alpha is None else 1


def _penalties(terms: list[Term], blocks: list[Array], free: list[slice],
               alphas: list[float | None], *,
               adaptive: bool) -> tuple[list[Penalty], list[int]]:
    """Every term's penalties in free coordinates, in term order, and their terms."""
    penalties, owners = [], []
    for t, (term, Z, block, alpha) in enumerate(zip(terms, blocks, free, alphas, strict=True)):
        if Z.shape[1] == 0:
            continue
        pieces = _pieces(term, alpha) if adaptive else 1
        matrices = term.penalties(pieces)
        penalties += [Penalty(block, S if is_identity(Z) else Z.T @ S @ Z, alpha)
                      for S in matrices]
        owners += [t] * len(matrices)
    return penalties, owners


@dataclass
class _Structures:
    """Fits the plain penalty structure, the adaptive one, or both and keeps the better.

    On a large data set the choice, and a starting point for the full fit, come from a
    random subsample: IRLS from a cold start needs ~8 passes over the data, from the
    subsample's solution two or three. The restricted likelihood gain of adaptivity grows
    with n, so a choice made on the subsample is conservative.
    """

    plain: list[Penalty]
    split: list[Penalty]
    pieces: list[int]  # local smoothing parameters of each freely smoothed term
    setting: Any  # the estimator's ``adaptive``
    family: Family
    max_iter: int
    tol: float
    estimate_family: bool = False
    nonnegative: NDArray[np.bool_] | None = None

    def fit(self, design: AnyDesign, sample: Sample,
            start: WarmStart | None) -> tuple[FitResult, bool]:
        if design.n_rows <= 2 * SUBSAMPLE_ROWS:
            return self._choose(design, sample, start)
        rows = np.sort(np.random.default_rng(0).choice(design.n_rows, SUBSAMPLE_ROWS,
                                                       replace=False))
        rough, adaptive = self._choose(design.subset(rows), sample.subset(rows), start,
                                       tol=1e-6)
        warm = WarmStart(rough.warm_start.theta, rough.warm_start.log_lambda)
        penalties = self.split if adaptive else self.plain
        return self._run(design, sample, penalties, warm, self.tol, rough.family), adaptive

    def _choose(self, design: AnyDesign, sample: Sample, start: WarmStart | None,
                tol: float | None = None) -> tuple[FitResult, bool]:
        tol = self.tol if tol is None else max(self.tol, tol)
        has_pieces = any(p > 1 for p in self.pieces)
        if self.setting is True and has_pieces:
            return self._run(design, sample, self.split, _split_start(start, self), tol,
                             self.family), True
        plain = self._run(design, sample, self.plain, start, tol, self.family)
        if self.setting is False or not has_pieces:
            return plain, False
        previous = plain.warm_start
        resumed = WarmStart(previous.theta, _repeat(previous.log_lambda, self),
                            previous.eta, previous.working)
        candidate = self._run(design, sample, self.split, resumed, tol, plain.family)
        # An AIC-style test on the restricted likelihood: keep the local smoothing
        # parameters only if they buy more than one log-likelihood unit each.
        if plain.criterion - candidate.criterion > len(self.split) - len(self.plain):
            return candidate, True
        return plain, False

    def _run(self, design: AnyDesign, sample: Sample, penalties: list[Penalty],
             start: WarmStart | None, tol: float, family: Family) -> FitResult:
        return penalized_irls(design, sample.y, sample.weights, family, penalties,
                              max_iter=self.max_iter, tol=tol, start=start,
                              estimate_family=self.estimate_family,
                              nonnegative=self.nonnegative)


def _repeat(log_lambda: Array, structures: _Structures) -> Array:
    """Plain log-lambdas spread over the adaptive pieces: the same penalty, split.

    Only freely smoothed penalties have log-lambdas; each adaptive term's one becomes
    ``pieces`` equal ones, and a term with several penalties (a tensor) keeps them.
    """
    counts = _free_counts(structures.plain)
    pieces = iter(structures.pieces)
    repeats = []
    for count in counts:
        per_term = next(pieces)
        repeats += [per_term] if count == 1 else [1] * count
    return np.repeat(log_lambda, repeats)


def _free_counts(penalties: list[Penalty]) -> list[int]:
    """Free (REML-chosen) penalties per block, in order."""
    counts: dict[tuple[int, int], int] = {}
    for penalty in penalties:
        if penalty.alpha is None:
            key = (penalty.block.start, penalty.block.stop)
            counts[key] = counts.get(key, 0) + 1
    return list(counts.values())


def _split_start(start: WarmStart | None, structures: _Structures) -> WarmStart | None:
    if start is None:
        return None
    return WarmStart(start.theta, _repeat(start.log_lambda, structures), start.eta,
                     start.working)


def term_statistics(fit: Fit) -> dict[str, list[Any]]:
    """Per term: penalty weight (geometric mean of an adaptive term's pieces) and edf."""
    result = fit.result
    alpha: list[float | None] = []
    edf: list[float] = []
    for t, block in enumerate(fit.free):
        mine = [i for i, owner in enumerate(fit.owners) if owner == t]
        if not mine:  # unpenalized (or empty): every free coefficient counts
            alpha.append(None)
            edf.append(float(block.stop - block.start))
            continue
        weights = np.maximum(result.alphas[mine], 1e-300)
        alpha.append(float(np.exp(np.mean(np.log(weights)))))
        edf.append(float(result.edf[mine[0]]))  # penalties of a term share its block
    selected = [alpha_given is None and any(o == t for o in fit.owners)
                for t, alpha_given in enumerate(fit.alphas)]
    return {"alpha": alpha, "edf": edf, "alpha_selected": selected}


MERGE_ROWS = 50_000


def distinct_rows(codes: Array, y: Array, weights: Array) -> tuple[Array, Sample]:
    """The data as a weighted set: rows with zero weight dropped and, up to MERGE_ROWS
    rows, identical rows merged (weights summed) in sorted order.

    The model depends on the data only as such a set, and so, exactly, does the fit:
    repeated rows and integer weights, or the same rows in another order, give bitwise
    the same computation. On larger data the sort would cost more than it saves, and
    rounding differences there stay far below the model's uncertainty.
    """
    keep = weights > 0
    codes, y, weights = codes[keep], y[keep], weights[keep]
    if codes.shape[0] > MERGE_ROWS:
        return codes, Sample(y, weights)
    # Missing values (NaN) compare unequal to themselves: a sentinel lets them merge.
    table = np.where(np.isnan(codes), -np.inf, codes)
    rows, inverse = np.unique(np.column_stack([table, y]), axis=0, return_inverse=True)
    merged = np.bincount(inverse.ravel(), weights=weights, minlength=rows.shape[0])
    features = np.where(np.isinf(rows[:, :-1]), np.nan, rows[:, :-1])
    return np.ascontiguousarray(features), Sample(rows[:, -1].copy(), merged.astype(np.float64))


def resolve_pairs(schema: Schema, setting: Any,
                  monotone: tuple[int, ...] = ()) -> list[tuple[int, int]] | str | int:
    """``interactions`` as index pairs, or "auto" / a count for screening to decide."""
    if setting is None:
        return []
    if isinstance(setting, str):
        if setting != "auto":
            raise ValueError(f"interactions={setting!r}; use None, 'auto', a number of pairs "
                             "or a list of feature pairs.")
        return "auto"
    if isinstance(setting, (int, np.integer)) and not isinstance(setting, bool):
        return int(setting)
    pairs = []
    for item in setting:
        pair = tuple(_feature(schema, value) for value in item)
        if len(pair) != 2:
            raise ValueError(f"interactions holds {item!r}; each interaction is a pair of "
                             "features.")
        problem = pair_problem(schema, (pair[0], pair[1]), monotone)
        if problem:
            raise ValueError(f"interactions cannot include {item!r}: {problem}.")
        if (pair[0], pair[1]) not in pairs and (pair[1], pair[0]) not in pairs:
            pairs.append((pair[0], pair[1]))
    return pairs


def _feature(schema: Schema, value: Any) -> int:
    names = list(schema.names)
    if isinstance(value, str) and value in names:
        return names.index(value)
    if isinstance(value, (int, np.integer)) and 0 <= int(value) < len(names):
        return int(value)
    raise ValueError(f"interactions names {value!r}, which is not a feature; the features "
                     f"are {names}.")
