"""Data that is read a chunk at a time: the interface of streaming and distributed fits.

A :class:`ChunkSource` is data in pieces (files, Dask partitions, the shards of several
hosts) that can be read as often as a fit needs: :meth:`ChunkSource.map` runs a task on
every piece, where the piece lives, and returns the tasks' results in the pieces' order.
A task sees a piece as an iterator of :class:`Chunk` (features, target, weights), so it
never holds more than one chunk; what it returns are sums over rows (the sufficient
statistics of :mod:`~sagegam.model.statistics`), small whatever the data.

The estimators fit a source when one is passed as ``X`` (``y`` then stays None):
``GAMRegressor().fit(source)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from sagegam.model.features import _category_codes, frame_columns
from sagegam.model.schema import Schema, as_float

Array = NDArray[np.float64]
T = TypeVar("T")
CHUNK_ROWS = 250_000  # rows a task works on at once: ~20 MB for ten features, and its
# temporaries (bin indexes, cross-tabulations) stay a few times that


@dataclass(frozen=True)
class Chunk:
    """Rows of a piece: features (a DataFrame or a 2-D array), target, weights (None: 1)."""

    X: Any
    y: NDArray[Any]
    weights: Array | None = None

    def __len__(self) -> int:
        return len(self.y)


Task = Callable[[int, Iterator[Chunk]], T]  # (piece index, its chunks) -> statistics


@runtime_checkable
class ChunkSource(Protocol):
    """Data in pieces, each read as chunks wherever it lives."""

    @property
    def feature_names(self) -> list[str] | None:
        """Column names (None: unnamed columns of an array, called x0, x1, ...)."""
        ...

    @property
    def n_features(self) -> int: ...

    def map(self, task: Task[T]) -> Iterable[T]:
        """``task(i, chunks of piece i)`` for every piece, results in piece order (as
        they come, where a source can: whoever adds them up need not hold them all)."""
        ...


def is_chunk_source(X: Any) -> bool:
    return isinstance(X, ChunkSource) and not isinstance(X, type)


@dataclass(frozen=True)
class ArraySource:
    """In-memory rows as a chunk source: pieces of ``piece_rows`` rows, read in chunks of
    ``chunk_rows``. It stands in for a file or a partition where the same code must run
    on data a test can also fit whole."""

    X: Any
    y: NDArray[Any]
    sample_weight: Array | None = None
    piece_rows: int = 100_000
    chunk_rows: int = 25_000

    @property
    def feature_names(self) -> list[str] | None:
        columns = getattr(self.X, "columns", None)
        return [str(c) for c in columns] if columns is not None else None

    @property
    def n_features(self) -> int:
        return int(np.shape(self.X)[1])

    def map(self, task: Task[T]) -> list[T]:
        starts = range(0, len(self.y), self.piece_rows)
        return [task(i, self._chunks(start, min(start + self.piece_rows, len(self.y))))
                for i, start in enumerate(starts)]

    def _chunks(self, start: int, stop: int) -> Iterator[Chunk]:
        for begin in range(start, stop, self.chunk_rows):
            rows = slice(begin, min(begin + self.chunk_rows, stop))
            X = self.X.iloc[rows] if hasattr(self.X, "iloc") else np.asarray(self.X)[rows]
            weights = None if self.sample_weight is None else np.asarray(
                self.sample_weight, dtype=np.float64)[rows]
            yield Chunk(X, np.asarray(self.y)[rows], weights)


def split_rows(n_rows: int, limit: int = CHUNK_ROWS) -> Sequence[slice]:
    """Slices of at most ``limit`` rows covering ``n_rows`` (a large partition in chunks)."""
    return [slice(start, min(start + limit, n_rows)) for start in range(0, n_rows, limit)]


def encode_chunk(schema: Schema, X: Any) -> Array:
    """Raw rows as model codes, as the estimators encode training data."""
    columns = frame_columns(X)
    if len(columns) != len(schema.features):
        raise ValueError(f"A chunk has {len(columns)} feature columns; the model has "
                         f"{len(schema.features)} ({', '.join(schema.names)}).")
    # Column-major: each column is written, and later binned, as one contiguous run.
    out = np.empty((len(columns[0]) if columns else 0, len(columns)), order="F")
    for j, (column, feature) in enumerate(zip(columns, schema.features, strict=True)):
        if feature.offset:  # checked in every row, and an exposure's log taken
            out[:, j] = schema.encode_column(j, np.asarray(column))
            continue
        if feature.categorical:
            fast = _category_codes(feature, column)
            out[:, j] = fast if fast is not None else schema.encode_column(j, np.asarray(
                column))
            continue
        raw = np.asarray(column)
        if raw.dtype.kind == "f":
            out[:, j] = raw  # widened in place: no temporary column
            if _plain(out[:, j], feature.missing):
                continue
        values = as_float(raw, feature.name)
        if _plain(values, feature.missing):
            out[:, j] = values  # nothing to check beyond the number itself
        else:
            out[:, j] = schema.encode_column(j, values)  # names the cell at fault
    return out


def _plain(values: Array, missing_allowed: bool) -> bool:
    """Every value finite (or NaN where the feature had missing values): a finite sum
    says so without a mask; only otherwise is every value looked at."""
    if np.isfinite(values.sum()) or np.isfinite(values).all():
        return True
    return missing_allowed and not np.isinf(values).any()
