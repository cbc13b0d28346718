"""A design whose rows stay where they are: every product with it is a pass over a source.

:class:`StreamedDesign` offers :func:`~sagegam.model.fitting.fit_terms` what an in-memory
design does (column sums for the constraints, the constraint itself, a subsample to
start from) and runs penalized IRLS itself (:meth:`StreamedDesign.irls`): each step's
``X'WX``, ``X'Wz`` and deviance come from one pass, the tasks' sums added up. The step
logic is :func:`~sagegam.model.solver.penalized_irls`'s, line for line, so on the same
rows the two give the same model up to the order of additions; the equality tests hold
the two together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import linalg

from sagegam.model.chunks import ChunkSource
from sagegam.model.design import Blocks, ConstrainedCoordinates
from sagegam.model.families import Family
from sagegam.model.passes import PassResult, PassTask, Plan
from sagegam.model.predictor import GAMPredictor
from sagegam.model.reml import Penalty, Smoothness, WorkingModel
from sagegam.model.solver import RIDGE, SELECTION_ITERATIONS, FitResult, WarmStart
from sagegam.model.statistics import BinnedRows, Tables
from sagegam.model.systems import cholesky
from sagegam.model.terms import ColumnSums

Array = NDArray[np.float64]
Index = NDArray[np.intp]
# The quadratic form's terms are each about z'Wz, whose sums over 1e8 rows carry ~1e-12 of
# it in rounding: a deviance above 1e-3 of z'Wz is so known to 1e-9.
CANCELLATION = 1e-3


@dataclass
class Gathered:
    """Rows gathered by a pass, indexed by the positions they were gathered at: what
    :func:`~sagegam.model.fitting.fit_terms` reads as ``y[rows]`` and ``weights[rows]``."""

    positions: Index
    values: Array

    def __getitem__(self, rows: Index) -> Array:
        if not np.array_equal(rows, self.positions):
            raise RuntimeError("A streamed fit asked for rows it did not gather.")
        return self.values


@dataclass
class StreamedDesign(ConstrainedCoordinates):
    """The design of a chunk source's rows under ``plan`` (terms, bins, encoding)."""

    source: ChunkSource
    plan: Plan
    offsets: list[int]
    n_rows: int
    n_obs: float  # sum of the prior weights
    sums: list[ColumnSums]
    null_deviance: float
    subsample: tuple[Index, Array] | None  # positions and their codes
    linear: Tables | None = None  # a linear family's working model, from an earlier pass
    score: bool = False  # a linear fit's last pass also scores the model (training metrics)
    scores: Any = None  # what it found
    passes: int = 0
    _blocks: Blocks | None = field(default=None, repr=False)
    _cache: dict[bytes, PassResult] = field(default_factory=dict, repr=False)

    @property
    def n_raw(self) -> int:
        return 1 + sum(term.n_coef for term in self.plan.terms)

    def column_sums(self, weights: Any) -> list[ColumnSums]:
        return self.sums

    def subset(self, rows: Index) -> RowsDesign:
        """The gathered subsample as an in-memory design (the same bins and constraint)."""
        assert self.subsample is not None
        positions, codes = self.subsample
        if not np.array_equal(rows, positions):
            raise RuntimeError("A streamed fit asked for a subsample it did not gather.")
        return RowsDesign(self.plan.rows(codes), self._blocks)

    def run(self, task: PassTask) -> PassResult:
        self.passes += 1
        results = self.source.map(task)
        total = PassResult()
        for result in results:
            total.merge(result)
        return total

    def evaluate(self, theta: Array, *, tables: bool, score: bool = False) -> PassResult:
        """Deviance (and the working model's sums) at ``theta``: one pass, remembered."""
        key = theta.tobytes()
        known = self._cache.get(key)
        if known is not None and (known.tables is not None or not tables) and not score:
            return known
        raw = self.raw_coef(theta)
        predictor = self._model(raw) if score else None
        task = PassTask(self.plan, self.offsets, coef=raw, tables=tables, score=predictor)
        result = self.run(task)
        self._cache = {key: result}  # IRLS looks back one step at most
        return result

    def _model(self, raw: Array) -> GAMPredictor:
        """The model these coefficients make, for its exact predictions."""
        plan = self.plan
        return GAMPredictor(plan.schema, tuple(plan.terms), raw, np.zeros((len(raw), len(raw))),
                            plan.family, plan.classes)

    def _linear_solution(self, theta: Array) -> PassResult:
        """A linear fit's deviance at its solution and (``score``) its training metrics.

        The deviance is a quadratic form in the working model's sums, ``z'Wz - 2 b'X'Wz +
        b'X'WX b``, with no pass, unless it is so small beside ``z'Wz`` (a nearly exact
        fit) that the form's cancellation could reach 1e-9 of it: then a pass sums the
        squared residuals. The metrics' pass scores exact predictions and needs no bins.
        """
        deviance = self._quadratic_deviance(theta)
        if deviance is None:
            return self.evaluate(theta, tables=False, score=self.score)
        result = self.run(PassTask(self.plan, self.offsets, score=self._model(
            self.raw_coef(theta)))) if self.score else PassResult()
        result.deviance = result.pearson = deviance  # gaussian: the variance is 1
        return result

    def _quadratic_deviance(self, theta: Array) -> float | None:
        if self.linear is None:
            return None
        raw = self.raw_coef(theta)
        gram, rhs = self.linear.raw(self.plan.layout)
        zwz = self.linear.zwz
        deviance = zwz - 2.0 * float(raw @ rhs) + float(raw @ (gram @ raw))
        return deviance if deviance > CANCELLATION * zwz else None

    def working_model(self, tables: Tables) -> WorkingModel:
        assert self._blocks is not None
        raw_gram, raw_rhs = tables.raw(self.plan.layout)
        gram, rhs = self._blocks.reduce(raw_gram, raw_rhs)
        ridge = RIDGE * max(float(np.trace(gram)) / len(gram), 1e-300)
        gram[np.diag_indices_from(gram)] += ridge
        return WorkingModel(gram, rhs, tables.zwz, self.n_obs, ridge)

    def irls(self, design: Any, y: Any, weights: Any, family: Family,
             penalties: Sequence[Penalty], *, max_iter: int, tol: float,
             start: WarmStart | None) -> FitResult:
        """:func:`~sagegam.model.solver.penalized_irls` with a pass for every product."""
        assert start is not None, "a streamed fit starts from its subsample's fit"
        selector = Smoothness(penalties, n_free=self.n_columns)
        theta = start.theta
        selector.resume(start.log_lambda)
        reusable = start.working
        linear = family.link == "identity" and family.name == "gaussian"
        previous, converged, n_iter = np.inf, False, 0
        at, step = None, np.zeros(self.n_columns)
        for n_iter in range(1, max_iter + 1):
            working = reusable or self._working_at(theta, linear)
            reusable = None
            if n_iter <= SELECTION_ITERATIONS:
                selector.select(working, family.scale_known)
            theta_new = selector.solve(working)
            if linear:
                at = self._linear_solution(theta_new)
                theta, converged, self.scores = theta_new, True, at.scores
                break
            moved, at, objective = self._step(selector, theta, theta_new)
            theta, step = moved, moved - theta
            if abs(previous - objective) <= tol * (abs(objective) + 0.1):
                converged = True
                break
            previous = objective
            reusable = self.working_model(_tables(at))
        assert at is not None
        return self._summarize(working, family, selector, theta, at, n_iter, converged, step)

    def _working_at(self, theta: Array, linear: bool) -> WorkingModel:
        if linear and self.linear is not None:
            return self.working_model(self.linear)  # weights and y: the same at any theta
        return self.working_model(_tables(self.evaluate(theta, tables=True)))

    def _step(self, selector: Smoothness, theta_old: Array,
              theta_new: Array) -> tuple[Array, PassResult, float]:
        """Take the IRLS step, halving it while the penalized deviance gets worse."""
        def objective(theta: Array) -> tuple[float, PassResult]:
            result = self.evaluate(theta, tables=True)
            return result.deviance + selector.penalty_value(theta), result

        old_value = objective(theta_old)[0] if np.any(theta_old) else np.inf
        value, result = objective(theta_new)
        for _ in range(30):
            if np.isfinite(value) and value <= old_value * (1 + 1e-12) + 1e-12:
                break
            theta_new = 0.5 * (theta_old + theta_new)
            value, result = objective(theta_new)
        return theta_new, result, value

    def _summarize(self, working: WorkingModel, family: Family, selector: Smoothness,
                   theta: Array, at: PassResult, n_iter: int, converged: bool,
                   step: Array) -> FitResult:
        factor = cholesky(working.gram + selector.total(selector.alphas))
        inverse = linalg.cho_solve(factor, np.eye(selector.n_free))
        influence = np.einsum("ij,ji->i", inverse, working.gram)
        edf_total = float(influence.sum())
        scale = 1.0
        if not family.scale_known:
            scale = at.pearson / max(self.n_obs - edf_total, 1.0)
        return FitResult(
            coef=theta, covariance=inverse * scale, alphas=selector.alphas / 2.0,
            edf=np.array([float(influence[p.block].sum()) for p in selector.penalties]),
            edf_total=edf_total, deviance=at.deviance, null_deviance=self.null_deviance,
            scale=scale, n_iter=n_iter, converged=converged,
            warm_start=WarmStart(theta, selector.log_lambda.copy(), None, working),
            criterion=selector.criterion, last_step=step,
            smoothness_converged=selector.converged, family=family)


def _tables(result: PassResult) -> Tables:
    assert result.tables is not None
    return result.tables


@dataclass
class RowsDesign:
    """Rows in memory (a gathered subsample) under a streamed fit's bins and constraint."""

    rows: Any  # BinnedRows | ExactRows
    blocks: Blocks | None

    @property
    def n_rows(self) -> int:
        return int(self.rows.n_rows)

    @property
    def n_columns(self) -> int:
        assert self.blocks is not None
        return self.blocks.n_free

    def linear_predictor(self, theta: Array) -> Array:
        assert self.blocks is not None
        return self.rows.linear_predictor(self.blocks.expand_vector(theta))

    def cross_products(self, weights: Array, z: Array) -> tuple[Array, Array]:
        assert self.blocks is not None
        tables = self.rows.tables(weights, z)
        layout = self.rows.layout if isinstance(self.rows, BinnedRows) else None
        return self.blocks.reduce(*tables.raw(layout))
