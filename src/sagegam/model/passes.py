"""One pass over a chunk source: a task per piece, and its results added up.

A :class:`PassTask` reads its piece chunk by chunk, encodes each chunk as the in-memory
fit encodes its rows (:class:`Plan`), drops rows of zero weight, and accumulates what the
driver asked for: the bins' sums, the terms' weighted column sums, the working model's
statistics at given coefficients, deviances, metrics, and the rows at given positions
(the subsample a fit starts from). Tasks are plain picklable objects, so Dask ships them
to the workers that hold the data; their results merge in piece order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sagegam.model.chunks import Chunk, encode_chunk
from sagegam.model.families import Family
from sagegam.model.schema import Schema
from sagegam.model.scoring import score_rows
from sagegam.model.statistics import (
    BinnedLayout,
    BinnedRows,
    ExactRows,
    Tables,
    add_column_sums,
)
from sagegam.model.survey import chunk_weights
from sagegam.model.terms import ColumnSums, Term

Array = NDArray[np.float64]
Index = NDArray[np.intp]


@dataclass(frozen=True)
class Plan:
    """How a chunk becomes the rows a fit sees, and the design they enter."""

    schema: Schema
    family: Family
    classes: tuple[Any, ...] | None  # a classification's labels; the target is "== [1]"
    terms: list[Term]
    layout: BinnedLayout | None  # None: the exact design

    def read(self, chunk: Chunk) -> tuple[Array, Array, Array]:
        """Codes, target and weights of the chunk's rows with positive weight."""
        weights = chunk_weights(chunk)
        keep = weights > 0
        codes = encode_chunk(self.schema, chunk.X)
        y = np.asarray(chunk.y)
        y = (y == self.classes[1]).astype(np.float64) if self.classes is not None else \
            y.astype(np.float64)
        if keep.all():
            return codes, y, weights
        return codes[keep], y[keep], weights[keep]

    def rows(self, codes: Array) -> BinnedRows | ExactRows:
        if self.layout is not None:
            return BinnedRows(self.layout, codes)
        return ExactRows(self.terms, self.schema.names, codes)


def working(family: Family, y: Array, eta: Array, weights: Array) -> tuple[Array, Array]:
    """IRLS working weights and response at ``eta`` (as the in-memory solver forms them)."""
    mu = family.inverse_link(eta)
    slope = family.dmu_deta(eta)
    return weights * slope * slope / family.variance(mu), eta + (y - mu) / slope


def pearson(family: Family, y: Array, eta: Array, weights: Array) -> float:
    mu = family.inverse_link(eta)
    return float(np.dot(weights, (y - mu) ** 2 / family.variance(mu)))


@dataclass
class PassResult:
    """What one pass found: every field a sum over the rows (or rows gathered)."""

    rows: int = 0
    bins: dict[tuple[int, int], tuple[Array, Array]] = field(default_factory=dict)
    term_counts: list[Array] | None = None  # binned: weighted rows per term slot
    margin_counts: list[list[Array]] | None = None
    column_sums: list[ColumnSums] | None = None  # exact designs
    tables: Tables | None = None
    deviance: float = 0.0
    pearson: float = 0.0
    null_deviance: float = 0.0
    null_score: tuple[float, float] = (0.0, 0.0)  # the null intercept's score, information
    gathered: list[tuple[Array, Array, Array, Array | None]] = field(default_factory=list)
    scores: Any = None  # Scores of the predictor a pass was asked to score

    def merge(self, other: PassResult) -> PassResult:
        self.rows += other.rows
        for key, (counts, sums) in other.bins.items():
            mine = self.bins.get(key)
            self.bins[key] = (counts, sums) if mine is None else (mine[0] + counts,
                                                                  mine[1] + sums)
        self.term_counts = _add_lists(self.term_counts, other.term_counts)
        if other.margin_counts is not None:
            self.margin_counts = other.margin_counts if self.margin_counts is None else [
                [a + b for a, b in zip(x, y, strict=True)]
                for x, y in zip(self.margin_counts, other.margin_counts, strict=True)]
        if other.column_sums is not None:
            self.column_sums = add_column_sums(self.column_sums, other.column_sums)
        if other.tables is not None:
            if self.tables is None:
                self.tables = other.tables
            else:
                self.tables.merge(other.tables)
        self.deviance += other.deviance
        self.pearson += other.pearson
        self.null_deviance += other.null_deviance
        self.null_score = (self.null_score[0] + other.null_score[0],
                           self.null_score[1] + other.null_score[1])
        self.gathered += other.gathered
        if other.scores is not None:
            if self.scores is None:
                self.scores = other.scores
            else:
                self.scores.add(other.scores)
        return self

    def gathered_rows(self) -> tuple[Array, Array, Array, Array | None]:
        codes, y, weights, eta = zip(*self.gathered, strict=True)
        return (np.concatenate(codes), np.concatenate(y), np.concatenate(weights),
                None if eta[0] is None else np.concatenate(eta))


def _add_lists(first: list[Array] | None, second: list[Array] | None) -> list[Array] | None:
    if second is None:
        return first
    if first is None:
        return second
    return [a + b for a, b in zip(first, second, strict=True)]


@dataclass(frozen=True)
class PassTask:
    """What to compute over a piece; ``offsets[i]`` is piece ``i``'s first row overall."""

    plan: Plan
    offsets: list[int]
    bin_sums: bool = False
    column_sums: bool = False
    coef: Array | None = None  # raw coefficients: deviance (and tables) at X coef
    tables: bool = False
    linear_tables: bool = False  # the working model of a linear family: weights and y
    null_mu: float | None = None
    null_intercept: float | None = None  # with an offset: the null model's, on the link scale
    gather: Index | None = None  # sorted positions among all rows of positive weight
    score: Any = None  # a GAMPredictor: its training metrics (exact covariates) too

    def __call__(self, piece: int, chunks: Iterator[Chunk]) -> PassResult:
        result = PassResult()
        position = self.offsets[piece]
        for chunk in chunks:
            codes, y, weights = self.plan.read(chunk)
            self._add(result, codes, y, weights, position)
            position += len(y)
            result.rows += len(y)
        return result

    def _add(self, result: PassResult, codes: Array, y: Array, weights: Array,
             position: int) -> None:
        plan = self.plan
        offset = plan.schema.offset_of(codes)
        if self.null_mu is not None:
            result.null_deviance += plan.family.deviance(y, np.full_like(y, self.null_mu),
                                                         weights)
        if self.null_intercept is not None:
            assert offset is not None
            self._null(result, y, weights, offset, self.null_intercept)
        needs_rows = self.column_sums or self.tables or self.linear_tables or \
            self.coef is not None or self.bin_sums
        rows = plan.rows(codes) if needs_rows else None
        if self.bin_sums:
            assert isinstance(rows, BinnedRows)
            self._bin_sums(result, rows, codes)
        if self.column_sums:
            self._column_sums(result, rows, weights)
        eta = None
        if self.coef is not None:
            assert rows is not None
            eta = rows.linear_predictor(self.coef)
            if offset is not None:
                eta = eta + offset
            mu = plan.family.inverse_link(eta)
            result.deviance += plan.family.deviance(y, mu, weights)
            result.pearson += pearson(plan.family, y, eta, weights)
        if self.tables or self.linear_tables:
            assert rows is not None
            if self.linear_tables:
                w, z = weights, y
            else:
                assert eta is not None
                w, z = working(plan.family, y, eta, weights)
            if offset is not None:
                z = z - offset  # the part of the working response the design explains
            tables = rows.tables(w, z)
            if result.tables is None:
                result.tables = tables
            else:
                result.tables.merge(tables)
        if self.gather is not None:
            self._gather(result, codes, y, weights, eta, position)
        if self.score is not None:
            scores = score_rows(self.score, codes, y, weights)
            if result.scores is None:
                result.scores = scores
            else:
                result.scores.add(scores)

    def _null(self, result: PassResult, y: Array, weights: Array, offset: Array,
              intercept: float) -> None:
        """The null model's deviance, score and information at ``intercept``."""
        family = self.plan.family
        result.null_deviance += family.deviance(y, family.inverse_link(offset + intercept),
                                                weights)
        score, information = family.null_score(y, weights, offset, intercept)
        result.null_score = (result.null_score[0] + score,
                             result.null_score[1] + information)

    @staticmethod
    def _bin_sums(result: PassResult, rows: BinnedRows, codes: Array) -> None:
        for key, bins in rows.layout.bins.items():
            if bins.kind == "width":
                counts, sums = bins.sums(codes[:, key[0]], rows.features[key])
                mine = result.bins.get(key)
                result.bins[key] = (counts, sums) if mine is None else (
                    mine[0] + counts, mine[1] + sums)

    def _column_sums(self, result: PassResult, rows: Any, weights: Array) -> None:
        if isinstance(rows, ExactRows):
            result.column_sums = add_column_sums(result.column_sums, rows.column_sums(weights))
            return
        counts = [np.bincount(index, weights=weights, minlength=rows.layout.slots(t)).astype(
            np.float64) for t, index in enumerate(rows.indexes)]
        result.term_counts = _add_lists(result.term_counts, counts)
        margins = rows.margin_counts(weights)
        result.margin_counts = margins if result.margin_counts is None else [
            [a + b for a, b in zip(x, y, strict=True)]
            for x, y in zip(result.margin_counts, margins, strict=True)]

    def _gather(self, result: PassResult, codes: Array, y: Array, weights: Array,
                eta: Array | None, position: int) -> None:
        assert self.gather is not None
        lo, hi = np.searchsorted(self.gather, [position, position + len(y)])
        if hi > lo:
            local = self.gather[lo:hi] - position
            result.gathered.append((codes[local], y[local], weights[local],
                                    None if eta is None else eta[local]))


@dataclass(frozen=True)
class CollectTask:
    """Every row of a piece as it was read (small data is fitted in memory)."""

    def __call__(self, piece: int, chunks: Iterator[Chunk]) -> list[Chunk]:
        return list(chunks)
