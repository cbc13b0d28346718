"""Dask collections as a chunk source, and predictions on them (``sagegam[dask]``).

A fit on a ``dask.dataframe`` or ``dask.array`` runs every pass of
:mod:`~sagegam.model.streaming` as one task per partition, on the worker that holds the
partition (or reads it: an unpersisted collection is read again by every pass, so
``persist()`` it when the cluster's memory allows). Only the tasks' statistics travel.
Tasks run on whatever scheduler is active: a ``distributed.Client`` if one was created,
else Dask's threads. Predictions map the estimator over the partitions, lazily.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from sagegam.model.allocator import task_allocator
from sagegam.model.chunks import Chunk, Task, split_rows

T = TypeVar("T")


def _dask() -> Any:
    try:
        import dask
    except ImportError:
        raise ImportError("Fitting Dask collections needs dask: install 'sagegam[dask]'.") \
            from None
    return dask


@dataclass(frozen=True)
class DaskSource:
    """Aligned partitions of features, target and (optionally) weights."""

    X: list[Any]  # delayed partitions
    y: list[Any]
    weights: list[Any] | None
    names: list[str] | None
    width: int

    @classmethod
    def of(cls, X: Any, y: Any, sample_weight: Any) -> DaskSource:
        if y is None:
            raise ValueError("Fitting a Dask collection needs y: a Dask Series or array with "
                             "the same partitions as X.")
        parts = _partitions(X, "X", columns=True)
        names = [str(c) for c in X.columns] if hasattr(X, "columns") else None
        width = len(names) if names is not None else int(X.shape[1])
        targets = _partitions(y, "y", like=X)
        weights = None if sample_weight is None else _partitions(sample_weight,
                                                                 "sample_weight", like=X)
        for label, other in (("y", targets), ("sample_weight", weights)):
            if other is not None and len(other) != len(parts):
                raise ValueError(f"X has {len(parts)} partitions but {label} has {len(other)}; "
                                 f"give {label} the same partitions (e.g. columns of one "
                                 "DataFrame, or arrays with equal row chunks).")
        return cls(parts, targets, weights, names, width)

    @property
    def feature_names(self) -> list[str] | None:
        return self.names

    @property
    def n_features(self) -> int:
        return self.width

    def map(self, task: Task[T]) -> Iterable[T]:
        dask = _dask()
        calls = [dask.delayed(_run_piece, pure=False)(
                     task, i, X, y, None if self.weights is None else self.weights[i])
                 for i, (X, y) in enumerate(zip(self.X, self.y, strict=True))]
        client = _distributed_client()
        if client is None:
            return list(dask.compute(*calls))
        return _in_order(client.compute(calls))


def _distributed_client() -> Any:
    try:
        distributed: Any = importlib.import_module("distributed")  # untyped
    except ImportError:
        return None
    try:
        return distributed.default_client()
    except ValueError:  # distributed is installed, but no client was made: Dask's threads
        return None


def _in_order(futures: list[Any]) -> Iterator[Any]:
    """The results in the partitions' order, each fetched when wanted and then let go
    of: the client holds one partition's statistics at a time (a design pass's are ~25
    MB each), the workers the rest until then."""
    for future in futures:
        yield future.result()
        future.release()


def _partitions(collection: Any, label: str, columns: bool = False,
                like: Any = None) -> list[Any]:
    if hasattr(collection, "chunks") and hasattr(collection, "rechunk"):  # a Dask array
        if like is not None and hasattr(like, "chunks"):
            collection = collection.rechunk({0: like.chunks[0]})
        if columns and collection.ndim == 2:
            collection = collection.rechunk({1: -1})
        return list(collection.to_delayed().ravel())
    if hasattr(collection, "to_delayed") and hasattr(collection, "npartitions"):
        return list(collection.to_delayed())  # a Dask DataFrame or Series
    raise TypeError(f"{label} is a {type(collection).__name__}; fitting with Dask needs Dask "
                    "collections for X and y (dask.dataframe or dask.array).")


def _run_piece(task: Task[T], piece: int, X: Any, y: Any, weights: Any) -> T:
    with task_allocator():  # a nanny's worker detunes malloc: see allocator
        return task(piece, _chunks(X, y, weights))


def _chunks(X: Any, y: Any, weights: Any) -> Iterator[Chunk]:
    target = np.asarray(y)
    if target.ndim == 2 and target.shape[1] == 1:
        target = target[:, 0]
    w = None if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    for rows in split_rows(len(target)):
        part = X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]
        yield Chunk(part, target[rows], None if w is None else w[rows])


def dask_aware(method: Callable[..., Any]) -> Callable[..., Any]:
    """Let a prediction method take a Dask collection: mapped over its partitions, lazily."""
    @functools.wraps(method)
    def wrapper(self: Any, X: Any, *args: Any, **kwargs: Any) -> Any:
        if hasattr(X, "__dask_graph__"):
            if args or kwargs:  # each partition would be answered without them
                raise ValueError(
                    f"{method.__name__} of a Dask collection takes no options (got "
                    f"{', '.join(map(repr, args)) or ', '.join(kwargs)}); call it on "
                    "in-memory rows for those.")
            return map_partitions(method, self, X)
        return method(self, X, *args, **kwargs)

    return wrapper


def map_partitions(method: Callable[..., Any], estimator: Any, X: Any) -> Any:
    """``method(estimator, partition)`` for each partition: a Dask array of the results
    (rows in the partitions' order; one row of output per row of input)."""
    dask = _dask()
    da: Any = importlib.import_module("dask.array")  # its functions are untyped
    probe = method(estimator, _probe_rows(X))
    shape = (np.nan, *probe.shape[1:])
    blocks = [da.from_delayed(dask.delayed(method)(estimator, part), shape=shape,
                              dtype=probe.dtype)
              for part in _partitions(X, "X", columns=True)]
    return da.concatenate(blocks, axis=0, allow_unknown_chunksizes=True)


def _probe_rows(X: Any) -> Any:
    """Two rows of the collection, to learn the output's shape and dtype."""
    head = X.head(2) if hasattr(X, "head") and not hasattr(X, "chunks") else np.asarray(
        X[:2])
    return head
