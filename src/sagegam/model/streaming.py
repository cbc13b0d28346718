"""Fitting data that does not fit in memory: the in-memory fit's steps, as passes.

:func:`fit_out_of_memory` gives a chunk source (files, Dask partitions, the shards of
several hosts) the estimators' ``fit``. It follows :func:`~sagegam.model.learn.fit_model`
step by step, with what that function computes from the rows in memory computed by
passes instead:

1. survey (:mod:`~sagegam.model.survey`): schema, ranges, distinct values, row counts;
2. bins and constraints: the means of equal-width bins, the terms' column sums, the
   100,000-row subsample the fit starts from, the null deviance (and a linear model's
   whole working model);
3. penalized IRLS: the subsample's fit (in memory, the same code) chooses the penalty
   structure and starts the full fit, whose every step is a pass
   (:class:`~sagegam.model.streamed.StreamedDesign`);
4. with ``interactions="auto"``, before step 2: the screening rows gathered in one pass,
   and the main effects fitted and screened on them in memory, as in memory; finally one
   pass for the training metrics.

Up to 200,000 rows (where the in-memory fit uses no subsample) the rows are gathered and
fitted in memory. So the model equals the in-memory fit of the same rows up to the order
of additions (tested to 1e-8), and memory holds one chunk per task plus statistics.
What needs the rows in memory is refused before any pass (an estimated family parameter,
``monotonic_cst``, data-placed knots); ``knots="auto"`` is equally spaced here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets

from sagegam.model import interactions
from sagegam.model.binned import MAIN_BINS, PAIR_BINS
from sagegam.model.chunks import ChunkSource, is_chunk_source
from sagegam.model.families import FAMILIES, Family
from sagegam.model.features import categorical_mask
from sagegam.model.fitting import (
    SUBSAMPLE_ROWS,
    Fit,
    Settings,
    fit_terms,
    is_discrete,
)
from sagegam.model.interactions import resolve_pairs
from sagegam.model.learn import Problem, _info
from sagegam.model.learn import _screen as screen_pairs
from sagegam.model.options import offset_columns, refuse_offset_settings, regression_family
from sagegam.model.passes import CollectTask, PassResult, PassTask, Plan
from sagegam.model.predictor import GAMPredictor
from sagegam.model.schema import Schema
from sagegam.model.scoring import MetricsTask, Scores
from sagegam.model.statistics import (
    TABLE_CELLS,
    BinnedLayout,
    FeatureBins,
    binned_column_sums,
    feature_bins,
)
from sagegam.model.streamed import Gathered, StreamedDesign
from sagegam.model.survey import Declared, Survey, SurveyTask
from sagegam.model.terms import (
    FactorMargin,
    FactorTerm,
    Margin,
    SplineMargin,
    SplineTerm,
    Term,
    interaction,
)
from sagegam.model.threads import single_threaded_blas

Array = NDArray[np.float64]
IN_MEMORY_ROWS = 2 * SUBSAMPLE_ROWS  # the in-memory fit takes no subsample up to here


def out_of_memory(X: Any) -> bool:
    """Whether ``X`` is a chunk source or a Dask collection (fitted in passes)."""
    return is_chunk_source(X) or hasattr(X, "__dask_graph__")


def fit_out_of_memory(estimator: Any, X: Any, y: Any, sample_weight: Any) -> Any:
    """``estimator.fit`` on a chunk source or Dask collections; returns the estimator."""
    _refuse_in_memory_options(estimator)
    if is_chunk_source(X):
        if y is not None or sample_weight is not None:
            raise ValueError("A chunk source carries its own target and weights; call "
                             "fit(source) without y and sample_weight.")
        source: ChunkSource = X
    else:
        from sagegam.model.dask_collections import DaskSource

        source = DaskSource.of(X, y, sample_weight)
    return _Fitter(estimator, source).fit()


def _refuse_in_memory_options(estimator: Any) -> None:
    """Refuse, before any pass, the options only the rows in memory can honour: an
    estimated family parameter (its likelihood is re-read from every target at each
    step), shape bounds (each step an active-set program on the rows' cross products)
    and knots placed at quantiles of every distinct value."""
    why = "a fit in passes (a chunk source or Dask collections) cannot"
    for family, name in (("tweedie", "power"), ("negative_binomial", "theta")):
        value = getattr(estimator, name, None)
        if getattr(estimator, "family", None) == family and isinstance(value, str):
            raise ValueError(f"family='{family}' with {name}='auto' estimates {name} from "
                             f"the targets held in memory, which {why}: give {name} as a "
                             "number, or fit rows in memory.")
    for parameter in ("monotonic_cst", "curvature_cst"):
        setting = getattr(estimator, parameter, None)
        values = list(setting.values()) if isinstance(setting, dict) else \
            [] if setting is None else list(np.ravel(np.asarray(setting, dtype=object)))
        if any(value != 0 for value in values):
            raise ValueError(f"{parameter}={setting!r} bounds each step's coefficients, "
                             f"which {why} do: drop {parameter}, or fit rows in memory.")
    if estimator.knots in ("quantile", "balanced"):
        raise ValueError(f"knots='{estimator.knots}' places knots at quantiles of every "
                         f"distinct value, which {why} know: use knots='uniform' (or "
                         "'auto', equally spaced in passes), or fit rows in memory.")


@dataclass
class _Fitter:
    estimator: Any
    source: ChunkSource

    @property
    def classification(self) -> bool:
        return not hasattr(self.estimator, "family")

    def fit(self) -> Any:
        names = self.source.feature_names
        labels = names or [f"x{j}" for j in range(self.source.n_features)]
        declared = _declared(self.estimator.categorical_features, labels, named=bool(names))
        offsets = offset_columns(getattr(self.estimator, "offset", None),
                                 getattr(self.estimator, "exposure", None), labels,
                                 FAMILIES["binomial"] if self.classification else
                                 FAMILIES[self.estimator.family])
        refuse_offset_settings(offsets, labels, {"categorical_features": [
            d is True for d in declared]})
        declared = [False if j in offsets else d for j, d in enumerate(declared)]
        settings, alphas, pair_alpha = self.estimator._fit_settings(
            labels, (0,) * len(labels))
        self.estimator._refuse_offset_settings(offsets, labels, alphas)
        cap = max(MAIN_BINS, *settings.df, settings.interaction_df) + 1
        task = SurveyTask(labels, declared, self.classification, cap)
        survey = Survey.merged(labels, self.source.map(task))
        if survey.n_rows <= IN_MEMORY_ROWS:
            return self._fit_in_memory()
        family, classes = self._target(survey)
        schema = survey.schema(declared, self.estimator.handle_unknown, offsets)
        self._set_features(names)
        problem = _Problem(self.source, survey, schema, family, classes, settings, alphas,
                           pair_alpha, self.estimator.interactions)
        with single_threaded_blas():
            predictor, scores = problem.fit()
        self._finish(predictor, scores)
        return self.estimator

    def _fit_in_memory(self) -> Any:
        """Gather every row (there are few) and fit them as the estimator does."""
        chunks = [chunk for piece in self.source.map(CollectTask()) for chunk in piece]
        frames = [chunk.X for chunk in chunks]
        X = pd.concat(frames, ignore_index=True) if hasattr(frames[0], "iloc") else \
            np.concatenate([np.asarray(f) for f in frames])
        y = np.concatenate([np.asarray(chunk.y) for chunk in chunks])
        weights = None if all(c.weights is None for c in chunks) else np.concatenate(
            [np.ones(len(c.y)) if c.weights is None else np.asarray(c.weights)
             for c in chunks])
        return self.estimator.fit(X, y, sample_weight=weights)

    def _target(self, survey: Survey) -> tuple[Family, tuple[Any, ...] | None]:
        target = survey.target
        if not target.sum_w > 0:
            raise ValueError("sample_weight must have at least one positive value.")
        if not self.classification:
            family, _ = regression_family(self.estimator.family, self.estimator.power,
                                          self.estimator.theta)  # a given parameter
            problem = family.valid_target(np.array([target.lower, target.upper]))
            if problem is not None:
                raise ValueError(f"The target must hold {problem}; got values in "
                                 f"[{target.lower!r}, {target.upper!r}].")
            return family, None
        found = np.array(list(target.labels))
        check_classification_targets(found)
        if len(found) != 2:
            raise ValueError(
                "Only binary classification is supported: GAMClassifier needs a target with "
                f"exactly 2 classes; got {len(found)}{'+' if len(found) > 2 else ''}: "
                f"{np.unique(found).tolist()}.")
        self.estimator.classes_ = np.unique(found)
        classes = tuple(c.item() if hasattr(c, "item") else c for c in
                        self.estimator.classes_)
        target.sum_wy = target.labels[classes[1]]
        return FAMILIES["binomial"], classes

    def _set_features(self, names: list[str] | None) -> None:
        self.estimator.n_features_in_ = self.source.n_features
        if names is not None:
            self.estimator.feature_names_in_ = np.array(names, dtype=object)
        elif hasattr(self.estimator, "feature_names_in_"):
            del self.estimator.feature_names_in_

    def _finish(self, predictor: GAMPredictor, scores: Scores | None) -> None:
        estimator = self.estimator
        estimator.predictor_ = predictor
        estimator.n_iter_ = predictor.info["n_iter"]
        for finding in predictor.info["warnings"]:
            warnings.warn(finding["message"], ConvergenceWarning, stacklevel=4)
        if scores is None:  # a linear fit's last pass measured them; others need a pass
            scores = Scores.merged(self.source.map(MetricsTask(predictor)))
        predictor.info.update(scores.train_info(self.classification))


def _declared(setting: Any, names: list[str], named: bool) -> list[Declared]:
    """Per column: categorical (True), numeric (False), or decided by its dtype (None)."""
    if isinstance(setting, str) and setting == "from_dtype":
        return [None if named else False] * len(names)
    return [bool(m) for m in categorical_mask(None, setting, names)]


@dataclass
class _Problem:
    """The fit of :func:`~sagegam.model.learn.fit_model`, pass by pass."""

    source: ChunkSource
    survey: Survey
    schema: Schema
    family: Family
    classes: tuple[Any, ...] | None
    settings: Settings
    alphas: list[float | None]
    pair_alpha: float | None
    interactions: Any
    subsample_target: tuple[Array, Array] = (np.zeros(0), np.zeros(0))

    def fit(self) -> tuple[GAMPredictor, Scores | None]:
        n_rows = self.survey.n_rows
        positions = np.sort(np.random.default_rng(0).choice(n_rows, SUBSAMPLE_ROWS,
                                                            replace=False))
        terms: list[Term] = [self._main_term(j) for j in self.schema.model_features]
        alphas = [self.alphas[j] for j in self.schema.model_features]
        pairs = resolve_pairs(self.schema, self.interactions)
        screening: dict[str, Any] = {}
        passes = 1  # the survey
        if isinstance(pairs, (str, int)):
            pairs, screening = self._screen(terms, alphas, pairs)
            passes += 1
        terms += [self._pair_term(pair) for pair in pairs]
        alphas += [self.pair_alpha] * len(pairs)
        design = self._design(terms, positions)
        design.passes += passes
        design.score = True
        fit = self._fit(terms, alphas, design, self.settings)
        info = _info(fit, np.array([self.survey.target.sum_w]), fit.result.family) | \
            screening
        if self.family.parameters:
            info["family_parameters"] = self.family.parameters | {"estimated": False}
        info["warnings"] = [] if fit.result.converged else [{"kind": "convergence", "message": (
            f"Penalized IRLS did not converge in max_iter={self.settings.max_iter} "
            "iterations; raise max_iter or check the data.")}]
        info["passes"] = design.passes
        return GAMPredictor(self.schema, tuple(terms), fit.coef, fit.covariance, self.family,
                            self.classes, info), design.scores

    def _fit(self, terms: list[Term], alphas: list[float | None], design: StreamedDesign,
             settings: Settings) -> Fit:
        assert design.subsample is not None
        positions = design.subsample[0]
        y, weights = self.subsample_target
        offset = self.schema.offset_of(design.subsample[1])
        return fit_terms(terms, alphas, np.zeros((0, 0)), Gathered(positions, y),  # type: ignore[arg-type]
                         Gathered(positions, weights), self.family, settings,  # type: ignore[arg-type]
                         self.schema.names, design=design,
                         offset=None if offset is None else Gathered(positions, offset))  # type: ignore[arg-type]

    # -- terms, as fitting.main_terms and pair_term make them from the rows ---------------

    def _main_term(self, j: int) -> Term:
        feature = self.schema.features[j]
        if feature.categorical:
            return FactorTerm(FactorMargin(j, feature.n_codes))
        return SplineTerm(self._spline_margin(j, self.settings.df[j]), feature.missing)

    def _pair_term(self, pair: tuple[int, int]) -> Term:
        first, second = (self._pair_margin(j) for j in pair)
        return interaction(first, second)

    def _pair_margin(self, j: int) -> Margin:
        feature = self.schema.features[j]
        if feature.categorical:
            return FactorMargin(j, feature.n_codes)
        return self._spline_margin(j, self.settings.interaction_df)

    def _spline_margin(self, j: int, df: int) -> SplineMargin:
        column, settings = self.survey.columns[j], self.settings
        if column.lower > column.upper:  # no value present
            return SplineMargin(j, 0.0, 0.0, 0, settings.degree, settings.extrapolation)
        distinct = column.n_distinct
        n_basis = int(min(df, max(settings.degree + 1, distinct))) if distinct > 1 else 0
        return SplineMargin(j, column.lower, column.upper, n_basis, settings.degree,
                            settings.extrapolation)

    # -- passes ---------------------------------------------------------------------------

    def _plan(self, terms: list[Term]) -> Plan:
        layout = None
        if is_discrete(self.settings, self.survey.n_rows):
            layout = BinnedLayout(terms, self.schema.names, self._bins(terms))
        return Plan(self.schema, self.family, self.classes, terms, layout)

    def _bins(self, terms: list[Term]) -> dict[tuple[int, int], FeatureBins]:
        """Every bin the terms read."""
        keys = {(m.feature, MAIN_BINS if len(t.margins) == 1 else PAIR_BINS)
                if isinstance(m, SplineMargin) else (m.feature, 0)
                for t in terms for m in t.margins}
        bins = {}
        for j, limit in sorted(keys):
            feature, column = self.schema.features[j], self.survey.columns[j]
            bins[(j, limit)] = feature_bins(j, feature.categorical, feature.n_codes,
                                            feature.missing, column.distinct, column.lower,
                                            column.upper, limit)
        return bins

    def _design(self, terms: list[Term], positions: NDArray[np.intp]) -> StreamedDesign:
        """A pass for the bins, the constraints' sums, the subsample and the null
        deviance (and a linear model's working model), then the design."""
        plan = self._plan(terms)
        layout = plan.layout
        pending = layout is not None and not all(b.known for b in layout.bins.values())
        linear = self.family.name == "gaussian" and self.family.link == "identity"
        tables = linear and (not pending or layout is None or
                             layout.table_cells() <= TABLE_CELLS)
        task = PassTask(plan, self.survey.offsets, bin_sums=pending, column_sums=True,
                        linear_tables=tables,
                        null_mu=self.survey.target.sum_wy / self.survey.target.sum_w,
                        gather=positions)
        result = self._run(task)
        if layout is not None:
            for key, (counts, sums) in result.bins.items():
                layout.bins[key].set_means(counts, sums)
            layout.finish()
            assert result.term_counts is not None and result.margin_counts is not None
            column_sums = binned_column_sums(layout, result.term_counts, result.margin_counts)
        else:
            assert result.column_sums is not None
            column_sums = result.column_sums
        codes, y, weights, _ = result.gathered_rows()
        self.subsample_target = (y, weights)
        null_deviance, null_passes = result.null_deviance, 0
        if self.schema.offsets:
            null_deviance, null_passes = self._null_deviance(plan, codes, y, weights)
        design = StreamedDesign(self.source, plan, self.survey.offsets, self.survey.n_rows,
                                self.survey.target.sum_w, column_sums, null_deviance,
                                (positions, codes), result.tables if tables else None)
        design.passes = 1 + null_passes
        return design

    def _null_deviance(self, plan: Plan, codes: Array, y: Array,
                       weights: Array) -> tuple[float, int]:
        """With an offset, the null model (offset and intercept) has no closed form: its
        intercept is fitted on the subsample in memory, then by Fisher scoring with a
        pass per step until a step would move it by less than 1e-8 (two or three passes:
        the subsample's is close). Returns its deviance and the passes taken."""
        offset = self.schema.offset_of(codes)
        assert offset is not None
        intercept = self.family.null_intercept(y, weights, offset)
        passes = 0
        while True:
            result = self._run(PassTask(plan, self.survey.offsets, null_intercept=intercept))
            passes += 1
            score, information = result.null_score
            step = score / information if information > 0 else 0.0
            # The deviance is flat at the optimum: 1e-8 off moves it by ~1e-16 of itself.
            if abs(step) < 1e-8 * max(1.0, abs(intercept)) or passes == 30:
                return result.null_deviance, passes
            intercept += float(np.clip(step, -5.0, 5.0))

    def _run(self, task: PassTask) -> PassResult:
        total = PassResult()
        for result in self.source.map(task):
            total.merge(result)
        return total

    def _screen(self, terms: list[Term], alphas: list[float | None],
                setting: str | int) -> tuple[list[tuple[int, int]], dict[str, Any]]:
        """Pairs chosen as :func:`~sagegam.model.learn.fit_model` chooses them: the main
        effects fitted on the screening rows (gathered in one pass; a sample of at most
        SCREEN_ROWS, so in memory) and their working residuals screened."""
        rows = interactions.screening_rows(self.survey.n_rows)
        plan = Plan(self.schema, self.family, self.classes, terms, None)
        codes, y, weights, _ = self._run(PassTask(plan, self.survey.offsets,
                                                  gather=rows)).gathered_rows()
        plain = replace(self.settings, adaptive=False)
        main = fit_terms(terms, alphas, codes, y, weights, self.family, plain,
                         self.schema.names, offset=self.schema.offset_of(codes))
        problem = Problem(self.schema, codes, y, weights, self.family, plain, alphas,
                          self.pair_alpha, setting)
        return screen_pairs(main, codes, y, weights, problem, setting)
