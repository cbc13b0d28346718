"""The first pass of a streaming fit: what the in-memory fit learns from the whole data.

Per column: whether it holds text, its distinct values (all of a categorical column's,
up to a cap for a numeric one), missing values, range; per piece the rows with positive
weight; for the target its range, sums and labels. Each piece's summary is computed
where the piece lives and the summaries merge (sets, minima, maxima, sums), so the
schema, the splines' ranges and bases and the discretization equal those of the
in-memory fit of the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sagegam.model.chunks import Chunk
from sagegam.model.features import MAX_LEVELS, frame_columns, learn_schema
from sagegam.model.schema import Kind, Schema, as_float

Array = NDArray[np.float64]
Declared = bool | None  # categorical, numeric, or (None) decided by the columns' dtypes


@dataclass
class ColumnSummary:
    """One column over the rows seen so far (rows with positive weight)."""

    distinct_cap: int
    text: bool = False  # some chunk held text (or a pandas category)
    values: dict[Any, None] = field(default_factory=dict)  # raw present values as levels
    overflow: bool = False  # more than MAX_LEVELS values: not a usable factor
    categories: list[Any] | None = None  # a pandas category column's order
    missing: bool = False
    lower: float = np.inf
    upper: float = -np.inf
    distinct: Array | None = field(default_factory=lambda: np.zeros(0))  # None: > cap
    numbers: bool = False  # some chunk was read as numbers (its values are in ``distinct``)

    def add(self, column: Any, name: str, declared: Declared) -> None:
        text = _text_dtype(getattr(column, "dtype", np.asarray(column).dtype))
        if declared is True or (declared is None and text):
            self._add_levels(column)
        else:
            self._add_numbers(np.asarray(column), name)
        self.text |= text

    def _add_levels(self, column: Any) -> None:
        import pandas as pd

        if str(getattr(column, "dtype", "")) == "category" and self.categories is None:
            self.categories = list(column.cat.categories)
        series = pd.Series(np.asarray(column, dtype=object))
        self.missing |= bool(series.isna().any())
        if not self.overflow:
            for value in pd.unique(series.dropna()):
                self.values.setdefault(value, None)
            self.overflow = len(self.values) > MAX_LEVELS

    def _add_numbers(self, column: NDArray[Any], name: str) -> None:
        if column.dtype.kind == "f" and self._add_finite(column):
            return
        values = as_float(column, name)
        if np.isinf(values).any():
            raise ValueError(f"Input X contains infinity (column '{name}'); every number must "
                             "be finite.")
        present = values[~np.isnan(values)]
        self.numbers = True
        self.missing |= present.size < values.size
        if present.size:
            self.lower = min(self.lower, float(present.min()))
            self.upper = max(self.upper, float(present.max()))
        self.distinct = _add_distinct(self.distinct, present, self.distinct_cap)

    def _add_finite(self, column: NDArray[np.floating[Any]]) -> bool:
        """A float column with no missing or infinite value, read with two reductions
        and no copy (min and max are NaN or infinite when some value is): False if it
        has such values, for the general path to look at."""
        if not column.size:
            return False
        lower, upper = float(column.min()), float(column.max())
        if not (np.isfinite(lower) and np.isfinite(upper)):
            return False
        self.numbers = True
        self.lower, self.upper = min(self.lower, lower), max(self.upper, upper)
        if self.distinct is not None:  # float32 widens to float64 exactly
            self.distinct = _add_distinct(self.distinct, column.astype(np.float64),
                                          self.distinct_cap)
        return True

    def merge(self, other: ColumnSummary) -> None:
        self.text |= other.text
        self.numbers |= other.numbers
        for value in other.values:
            self.values.setdefault(value, None)
        self.overflow |= other.overflow or len(self.values) > MAX_LEVELS
        self.categories = self.categories if self.categories is not None else other.categories
        self.missing |= other.missing
        self.lower, self.upper = min(self.lower, other.lower), max(self.upper, other.upper)
        self.distinct = None if other.distinct is None else _add_distinct(
            self.distinct, other.distinct, self.distinct_cap)

    @property
    def n_distinct(self) -> float:
        """Distinct present numbers (inf: more than the cap)."""
        return np.inf if self.distinct is None else float(len(self.distinct))


def _add_distinct(known: Array | None, values: Array, cap: int) -> Array | None:
    """The sorted union of ``known`` and ``values``, or None past ``cap`` values.

    Most chunks of a feature with few values bring nothing new: a binary search finds
    that without sorting the chunk.
    """
    if known is None:
        return None
    if len(known) and len(values):
        position = np.minimum(np.searchsorted(known, values), len(known) - 1)
        values = values[known[position] != values]
    if values.size == 0:
        return known
    merged = np.union1d(known, values)
    return merged if len(merged) <= cap else None


def _text_dtype(dtype: Any) -> bool:
    kind = getattr(dtype, "kind", "O")
    name = str(dtype)
    return name == "category" or kind in ("O", "U", "S") or name.startswith("string")


@dataclass
class TargetSummary:
    """The target over every row (labels, validity) and over rows of positive weight."""

    labels: dict[Any, float] = field(default_factory=dict)  # up to 3: weight of each
    rows: int = 0  # with positive weight
    sum_y: float = 0.0
    sum_w: float = 0.0
    sum_wy: float = 0.0
    lower: float = np.inf
    upper: float = -np.inf

    def merge(self, other: TargetSummary) -> None:
        for label, weight in other.labels.items():
            if label in self.labels or len(self.labels) < 3:
                self.labels[label] = self.labels.get(label, 0.0) + weight
        self.rows += other.rows
        self.sum_y += other.sum_y
        self.sum_w += other.sum_w
        self.sum_wy += other.sum_wy
        self.lower, self.upper = min(self.lower, other.lower), max(self.upper, other.upper)


@dataclass
class PieceSurvey:
    columns: list[ColumnSummary]
    target: TargetSummary
    rows: int = 0  # rows with positive weight


@dataclass(frozen=True)
class SurveyTask:
    """Summarize one piece; ``labels`` when the target holds class labels."""

    names: list[str]
    declared: list[Declared]
    labels: bool
    distinct_cap: int

    def __call__(self, piece: int, chunks: Iterator[Chunk]) -> PieceSurvey:
        summary = PieceSurvey([ColumnSummary(self.distinct_cap) for _ in self.names],
                              TargetSummary())
        for chunk in chunks:
            self._add(summary, chunk)
        return summary

    def _add(self, summary: PieceSurvey, chunk: Chunk) -> None:
        columns = frame_columns(chunk.X)
        if len(columns) != len(self.names):
            raise ValueError(f"A chunk has {len(columns)} feature columns; the data has "
                             f"{len(self.names)} ({', '.join(self.names)}).")
        weights = chunk_weights(chunk)
        keep = weights > 0
        self._add_target(summary.target, chunk.y, weights, keep)
        summary.rows += int(keep.sum())
        every = bool(keep.all())
        for column, name, declared, out in zip(columns, self.names, self.declared,
                                               summary.columns, strict=True):
            out.add(column if every else _rows(column, keep), name, declared)

    def _add_target(self, target: TargetSummary, y: NDArray[Any], weights: Array,
                    keep: NDArray[np.bool_]) -> None:
        if self.labels:
            self._add_labels(target, np.asarray(y), weights, keep)
            return
        values = np.asarray(y, dtype=np.float64)
        if not np.isfinite(values).all():
            what = "NaN" if np.isnan(values).any() else "infinity"
            raise ValueError(f"Input y contains {what}.")
        if values.size:
            target.lower = min(target.lower, float(values.min()))
            target.upper = max(target.upper, float(values.max()))
        kept, w = values[keep], weights[keep]
        target.rows += kept.size
        target.sum_y += float(kept.sum())
        target.sum_w += float(w.sum())
        target.sum_wy += float(np.dot(w, kept))


    @staticmethod
    def _add_labels(target: TargetSummary, y: NDArray[Any], weights: Array,
                    keep: NDArray[np.bool_]) -> None:
        if y.dtype.kind == "f" and np.isnan(y).any():
            raise ValueError("Input y contains NaN.")
        labels, inverse = np.unique(y, return_inverse=True)
        sums = np.bincount(inverse.ravel(), weights=np.where(keep, weights, 0.0),
                           minlength=len(labels))
        for label, weight in zip(labels, sums, strict=True):
            key = label.item() if hasattr(label, "item") else label
            if key in target.labels or len(target.labels) < 3:
                target.labels[key] = target.labels.get(key, 0.0) + float(weight)
        target.rows += int(keep.sum())
        target.sum_w += float(weights[keep].sum())


def _rows(column: Any, keep: NDArray[np.bool_]) -> Any:
    return column[keep] if not hasattr(column, "iloc") else column.iloc[np.flatnonzero(keep)]


def chunk_weights(chunk: Chunk) -> Array:
    """The chunk's sample weights (ones when none), checked as scikit-learn checks them."""
    if chunk.weights is None:
        return np.ones(len(chunk.y))
    weights = np.asarray(chunk.weights, dtype=np.float64)
    if weights.shape != (len(chunk.y),):
        raise ValueError(f"sample_weight has shape {weights.shape}; expected ({len(chunk.y)},) "
                         "for the chunk's rows.")
    if not np.isfinite(weights).all():
        raise ValueError("Input sample_weight contains NaN or infinity.")
    if (weights < 0).any():
        raise ValueError("Negative values in data passed to sample_weight")
    return weights


@dataclass
class Survey:
    """Every piece's summary merged, and what follows from it."""

    names: list[str]
    columns: list[ColumnSummary]
    target: TargetSummary
    piece_rows: list[int]

    @classmethod
    def merged(cls, names: list[str], pieces: Iterable[PieceSurvey]) -> Survey:
        first, *rest = pieces  # summaries are small: a few hundred values per column
        for piece in rest:
            for mine, theirs in zip(first.columns, piece.columns, strict=True):
                mine.merge(theirs)
            first.target.merge(piece.target)
        return cls(names, first.columns, first.target, [first.rows] + [p.rows for p in rest])

    @property
    def n_rows(self) -> int:
        return sum(self.piece_rows)

    @property
    def offsets(self) -> list[int]:
        """Each piece's first row among all rows of positive weight."""
        return [int(o) for o in np.concatenate([[0], np.cumsum(self.piece_rows)[:-1]])]

    def categorical(self, declared: list[Declared]) -> NDArray[np.bool_]:
        return np.array([d is True or (d is None and c.text)
                         for d, c in zip(declared, self.columns, strict=True)], dtype=bool)

    def schema(self, declared: list[Declared], handle_unknown: str,
               offsets: dict[int, Kind] | None = None) -> Schema:
        """The schema the in-memory fit learns: from each column's distinct values;
        ``offsets``: the columns that are an offset or exposure, not features."""
        mask = self.categorical(declared)
        columns, categories = [], {}
        for j, (column, name) in enumerate(zip(self.columns, self.names, strict=True)):
            if not mask[j]:
                columns.append(np.array([np.nan if column.missing else 0.0]))
                continue
            if column.overflow or (column.numbers and column.distinct is None):
                raise ValueError(f"Column '{name}' has more than {MAX_LEVELS:,} levels; a "
                                 f"categorical feature may have at most {MAX_LEVELS:,} (more "
                                 "look like an identifier). Drop it, or group rare levels.")
            numbers = list(column.distinct) if column.numbers and column.distinct is not None \
                else []
            values = list(column.values) + numbers + ([None] if column.missing else [])
            columns.append(np.array(values, dtype=object))
            if column.categories is not None:
                categories[j] = column.categories
        return learn_schema(columns, self.names, mask, handle_unknown, categories, offsets)
