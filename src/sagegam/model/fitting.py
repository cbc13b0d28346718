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

from sagegam.model.binned import BinnedDesign, few_distinct
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
PLATEAU = 12.0  # |log lambda| from which a subsample's smoothing parameter is not trusted
DISCRETE_ROWS = 100_000  # from here on "auto" fits on discretized covariates


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
    curvature: tuple[int, ...] = ()  # per feature: +1 convex, -1 concave, 0 free

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape constraints by the parameter that set them (for pairs' refusals)."""
        return {"monotonic_cst": self.monotone, "curvature_cst": self.curvature}


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
    """One term per feature (offset columns are not features): a factor for a categorical
    one, else a smooth."""
    return [FactorTerm(_factor_margin(schema, j)) if feature.categorical else
            SplineTerm(_spline_margin(schema, codes, j, settings.df[j], settings),
                       feature.missing, settings.monotone[j] if settings.monotone else 0,
                       settings.curvature[j] if settings.curvature else 0)
            for j, feature in enumerate(schema.features) if not feature.offset]


def pair_term(schema: Schema, codes: Array, pair: tuple[int, int], settings: Settings) -> Term:
    """The interaction of two features (a tensor product without main effects)."""
    first, second = (_pair_margin(schema, codes, j, settings) for j in pair)
    return interaction(first, second)


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
    few = few_distinct(values, df)
    distinct = df if few is None else len(few[0])
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


def fit_terms(terms: list[Term], alphas: list[float | None], codes: Array, y: Array,
              weights: Array, family: Family, settings: Settings, names: tuple[str, ...],
              estimate_family: bool = False, design: Any = None,
              offset: Array | None = None) -> Fit:
    """Fit ``terms`` with REML smoothness; ``alphas[t]`` fixes term ``t``'s penalty weight;
    with ``estimate_family`` the family's free parameter is estimated too; ``offset`` (per
    row, on the link scale) is added to the linear predictor with coefficient 1.

    ``design``: rows that are not in memory (:mod:`~sagegam.model.streamed`), in place of
    ``codes``.
    """
    if design is None:
        design = (BinnedDesign if is_discrete(settings, len(codes)) else TermDesign)(
            terms, codes, names)
    blocks = [term.constraint(sums) for term, sums in zip(terms, design.column_sums(weights),
                                                          strict=True)]
    design.constrain(blocks)
    builder = _PenaltyBuilder(terms, blocks, alphas)
    structures = _Structures(builder, settings.adaptive, family, settings.max_iter,
                             settings.tol, estimate_family, _nonnegative(terms, builder.free),
                             offset)
    result, structure = structures.fit(design, y, weights)
    coef = design.raw_coef(result.coef)
    covariance = design.raw_covariance(result.covariance)
    plain = builder.build(frozenset())
    return Fit(terms, coef, covariance, result, bool(structure.split), alphas, design,
               builder.free, structure.owners,
               _fully_penalized(plain.penalties, plain.owners, builder.free))


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
        # The rank REML takes (reml._group_by_block): a null space known only up to
        # rounding (the straight line of a shape-constrained term on uneven knots, whose
        # coordinates are sums of spacings) is still a null space.
        singular = np.linalg.svd(total, compute_uv=False)
        out.append(bool(np.sum(singular > 1e-9 * singular[0]) == size))
    return out


def is_discrete(settings: Settings, n_rows: int) -> bool:
    """Whether a fit of ``n_rows`` rows (of positive weight) discretizes its covariates."""
    return settings.discrete is True or (settings.discrete == "auto" and
                                         n_rows >= DISCRETE_ROWS)


def _free_blocks(blocks: list[Array]) -> list[slice]:
    """Each term's slice of the free coefficients (the intercept is coefficient 0)."""
    slices, start = [], 1
    for Z in blocks:
        slices.append(slice(start, start + Z.shape[1]))
        start += Z.shape[1]
    return slices


ADAPTIVE_MIN_EDF = 5.0  # a smoother term has too little wiggle to vary along the feature


@dataclass(frozen=True)
class _Structure:
    """A set of penalties: each one's term, and which terms have adaptive pieces."""

    penalties: list[Penalty]
    owners: list[int]
    split: frozenset[int]


class _PenaltyBuilder:
    """Every term's penalties in free coordinates, plain or split into adaptive pieces."""

    def __init__(self, terms: list[Term], blocks: list[Array],
                 alphas: list[float | None]) -> None:
        self.terms, self.blocks, self.alphas = terms, blocks, alphas
        self.free = _free_blocks(blocks)

    def build(self, split: frozenset[int]) -> _Structure:
        penalties, owners = [], []
        for t, (term, Z, block) in enumerate(zip(self.terms, self.blocks, self.free,
                                                 strict=True)):
            if Z.shape[1] == 0:
                continue
            matrices = term.penalties(self._pieces(t) if t in split else 1)
            penalties += [Penalty(block, S if is_identity(Z) else Z.T @ S @ Z, self.alphas[t])
                          for S in matrices]
            owners += [t] * len(matrices)
        return _Structure(penalties, owners, split)

    def adaptable(self) -> list[int]:
        """Terms whose smoothness REML chooses and may vary along the feature."""
        return [t for t, Z in enumerate(self.blocks)
                if Z.shape[1] and self.alphas[t] is None and self._pieces(t) > 1]

    def spread(self, plain: _Structure, log_lambda: Array, split: frozenset[int]) -> Array:
        """Plain log-lambdas spread over the adaptive pieces: the same penalty, split."""
        free = [t for penalty, t in zip(plain.penalties, plain.owners, strict=True)
                if penalty.alpha is None]
        repeats = [self._pieces(t) if t in split else 1 for t in free]
        return np.repeat(log_lambda, repeats)

    def _pieces(self, t: int) -> int:
        return self.terms[t].adaptive_pieces()


@dataclass
class _Structures:
    """Fits the plain penalty structure, the adaptive one, or both and keeps the better.

    Only terms of at least ADAPTIVE_MIN_EDF in the plain fit are split: the others are
    too smooth for their smoothness to vary, and trying them costs a second fit for
    nothing. On a large data set the choice, and a starting point for the full fit, come
    from a random subsample: IRLS from a cold start needs ~8 passes over the data, from
    the subsample's solution two or three. The restricted likelihood gain of adaptivity
    grows with n, so a choice made on the subsample is conservative.
    """

    builder: _PenaltyBuilder
    setting: Any  # the estimator's ``adaptive``
    family: Family
    max_iter: int
    tol: float
    estimate_family: bool = False
    nonnegative: NDArray[np.bool_] | None = None
    offset: Array | None = None

    def fit(self, design: AnyDesign, y: Array,
            weights: Array) -> tuple[FitResult, _Structure]:
        if design.n_rows <= 2 * SUBSAMPLE_ROWS:
            return self._choose(design, y, weights, self.tol, self.offset)
        rows = np.sort(np.random.default_rng(0).choice(design.n_rows, SUBSAMPLE_ROWS,
                                                       replace=False))
        rough, structure = self._choose(design.subset(rows), y[rows], weights[rows],
                                        max(self.tol, 1e-6),
                                        None if self.offset is None else self.offset[rows])
        # A parameter near its bound on the subsample sits on the criterion's plateau (the
        # term is nearly a straight line there), where rounding decides where Newton stops;
        # started that far out, the full fit could not find an optimum inside. So it
        # starts from no further out than PLATEAU.
        warm = WarmStart(rough.warm_start.theta,
                         np.clip(rough.warm_start.log_lambda, -PLATEAU, PLATEAU))
        return self._run(design, y, weights, structure, warm, self.tol,
                         rough.family, self.offset), structure

    def _choose(self, design: AnyDesign, y: Array, weights: Array,
                tol: float, offset: Array | None) -> tuple[FitResult, _Structure]:
        plain_structure = self.builder.build(frozenset())
        adaptable = self.builder.adaptable()
        if self.setting is True and adaptable:
            split = self.builder.build(frozenset(adaptable))
            return self._run(design, y, weights, split, None, tol, self.family,
                             offset), split
        plain = self._run(design, y, weights, plain_structure, None, tol, self.family, offset)
        if self.setting is False:
            return plain, plain_structure
        edf = dict(zip(plain_structure.owners, plain.edf, strict=True))
        chosen = frozenset(t for t in adaptable if edf.get(t, 0.0) >= ADAPTIVE_MIN_EDF)
        if not chosen:
            return plain, plain_structure
        split = self.builder.build(chosen)
        previous = plain.warm_start
        resumed = WarmStart(previous.theta, self.builder.spread(
            plain_structure, previous.log_lambda, chosen), previous.eta, previous.working)
        # The plain fit's family parameter starts the adaptive one.
        candidate = self._run(design, y, weights, split, resumed, tol, plain.family, offset)
        # An AIC-style test on the restricted likelihood: keep the local smoothing
        # parameters only if they buy more than one log-likelihood unit each.
        added = len(split.penalties) - len(plain_structure.penalties)
        if plain.criterion - candidate.criterion > added:
            return candidate, split
        return plain, plain_structure

    def _run(self, design: AnyDesign, y: Array, weights: Array, structure: _Structure,
             start: WarmStart | None, tol: float, family: Family,
             offset: Array | None) -> FitResult:
        streamed = getattr(design, "irls", None)  # a streamed design runs its passes
        if streamed is not None:
            # streaming refuses what needs the rows in memory (estimate_family, bounds)
            return streamed(design, y, weights, family, structure.penalties,  # type: ignore[no-any-return]
                            max_iter=self.max_iter, tol=tol, start=start)
        return penalized_irls(design, y, weights, family, structure.penalties,
                              max_iter=self.max_iter, tol=tol, start=start, offset=offset,
                              estimate_family=self.estimate_family,
                              nonnegative=self.nonnegative)


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


def distinct_rows(codes: Array, y: Array, weights: Array) -> tuple[Array, Array, Array]:
    """The data as a weighted set: rows with zero weight dropped and, up to MERGE_ROWS
    rows, identical rows merged (weights summed) in sorted order.

    The model depends on the data only as such a set, and so, exactly, does the fit:
    repeated rows and integer weights, or the same rows in another order, give bitwise
    the same computation. On larger data the sort would cost more than it saves, and
    rounding differences there stay far below the model's uncertainty.
    """
    keep = weights > 0
    if not keep.all():  # a copy of 1M x 10 codes costs 0.2 s: only when rows go
        codes, y, weights = codes[keep], y[keep], weights[keep]
    if codes.shape[0] > MERGE_ROWS:
        return codes, y, weights
    # Missing values (NaN) compare unequal to themselves: a sentinel lets them merge.
    table = np.where(np.isnan(codes), -np.inf, codes)
    rows, inverse = np.unique(np.column_stack([table, y]), axis=0, return_inverse=True)
    merged = np.bincount(inverse.ravel(), weights=weights, minlength=rows.shape[0])
    features = np.where(np.isinf(rows[:, :-1]), np.nan, rows[:, :-1])
    return np.ascontiguousarray(features), rows[:, -1].copy(), merged.astype(np.float64)
