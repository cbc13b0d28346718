"""The data an explorer page shows: rows encoded as the model reads them, and fit metrics.

Rows are embedded as the model's codes (numbers, level codes, NaN for missing, an
offset's value, an exposure's log), so the page evaluates every term and the offset
exactly as :class:`~sagegam.model.predictor.GAMPredictor` does, without re-implementing
how text becomes levels. An exposure is also kept as given, for the page to show. Past
``max_rows`` a seeded uniform sample is embedded; histograms, importances and metrics
use every row.

numpy only, like the predictor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sagegam.model.predictor import GAMPredictor
from sagegam.model.schema import UnknownCells, as_float, level_text

Array = NDArray[np.float64]
SAMPLE_SEED = 0


@dataclass(frozen=True)
class Rows:
    """One data set: every row's codes and target, and which rows the page embeds."""

    label: str
    codes: Array  # (n, p): what the terms read
    target: Array | None  # the response, or 1.0/0.0 for the positive class
    shown: NDArray[np.intp]  # 0-based indices of the embedded rows, ascending
    unknown: UnknownCells
    exposures: dict[int, Array]  # each exposure column as given (its codes are its log)

    @property
    def n(self) -> int:
        return int(self.codes.shape[0])


def read_rows(predictor: GAMPredictor, X: Any, y: Any, label: str, max_rows: int) -> Rows:
    """``X`` (a DataFrame with the model's feature names, or rows in the model's column
    order) and optional ``y``, encoded; refuses what the model cannot place, as
    ``predict`` does (unless the model was fitted with ``handle_unknown="ignore"``)."""
    unknown = UnknownCells()
    columns = _columns(predictor, X)
    codes = predictor.schema.encode_columns(columns, unknown) if isinstance(columns, list) \
        else predictor.encode(columns, unknown)
    target = None if y is None else _target(predictor, y, codes.shape[0], label)
    return Rows(label, codes, target, sample_rows(codes.shape[0], max_rows), unknown,
                _exposures(predictor, columns))


def sample_rows(n: int, max_rows: int) -> NDArray[np.intp]:
    """All rows, or a seeded uniform sample of ``max_rows`` of them, in file order."""
    if n <= max_rows:
        return np.arange(n, dtype=np.intp)
    chosen = np.random.default_rng(SAMPLE_SEED).choice(n, max_rows, replace=False)
    return np.sort(chosen).astype(np.intp)


def _columns(predictor: GAMPredictor, X: Any) -> Any:
    """A frame's columns in the model's order (by name), or anything else as an array of
    rows (a list, which is what the columns come back as, would read as columns)."""
    if not hasattr(X, "columns"):
        return X if isinstance(X, np.ndarray) else np.asarray(X, dtype=object)
    present = [str(c) for c in X.columns]
    missing = [name for name in predictor.feature_names if name not in present]
    if missing and len(present) == predictor.n_features:
        return X.to_numpy(dtype=object)  # positional columns (x0, x1, ... or none)
    if missing:
        raise ValueError(f"The data has no column {missing[0]!r}; the model's features are "
                         f"{list(predictor.feature_names)}.")
    by_name = {str(c): c for c in X.columns}
    return [np.asarray(X[by_name[name]]) for name in predictor.feature_names]


def _exposures(predictor: GAMPredictor, columns: Any) -> dict[int, Array]:
    """Each exposure column as the user gave it: ``exp`` of its log would not give back
    the same number, and the page shows (and lets one edit) the exposure itself."""
    wanted = [j for j, kind in predictor.schema.offsets.items() if kind == "exposure"]
    if wanted and not isinstance(columns, list):
        table = columns.reshape(1, -1) if columns.ndim == 1 else columns  # one row
        columns = list(table.T)
    return {j: as_float(np.asarray(columns[j]), predictor.feature_names[j]) for j in wanted}


def _target(predictor: GAMPredictor, y: Any, n: int, label: str) -> Array:
    values = np.asarray(y).ravel()
    if values.shape[0] != n:
        raise ValueError(f"The {label} has {n} rows but {values.shape[0]} target values.")
    if predictor.classes is None:
        try:
            target = values.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"The {label}'s target is not numeric; this model is a "
                             "regressor.") from None
        if not np.isfinite(target).all():
            row = int(np.flatnonzero(~np.isfinite(target))[0])
            raise ValueError(f"Row {row + 1} of the {label} has target {values[row]!r}; "
                             "every target must be a finite number.")
        return target
    # As text the way level names are written, so 1, 1.0 and "1" are one label.
    texts = np.array([level_text(v) for v in values.tolist()], dtype=object)
    labels = {level_text(c) for c in predictor.classes}
    unseen = sorted(set(texts.tolist()) - labels)
    if unseen:
        raise ValueError(f"The {label}'s target has labels {unseen[:5]} that the model "
                         f"does not know; its classes are {sorted(labels)}.")
    return (texts == level_text(predictor.classes[1])).astype(np.float64)


def fit_metrics(predictor: GAMPredictor, rows: Rows) -> dict[str, float]:
    """R^2, RMSE and MAE of a regressor, or log-loss, accuracy and AUC of a classifier,
    on every row of a data set with a target."""
    assert rows.target is not None
    mean = predictor.family.inverse_link(predictor.link_of(rows.codes))
    if predictor.classes is None:
        return _regression(rows.target, mean)
    return _classification(rows.target, mean)


def _regression(y: Array, mean: Array) -> dict[str, float]:
    residual = y - mean
    total = float(np.sum((y - y.mean()) ** 2))
    return {"r2": 1.0 - float(np.sum(residual**2)) / total if total > 0 else 0.0,
            "rmse": float(np.sqrt(np.mean(residual**2))),
            "mae": float(np.mean(np.abs(residual)))}


def _classification(positive: Array, p: Array) -> dict[str, float]:
    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    loss = -np.mean(positive * np.log(clipped) + (1 - positive) * np.log1p(-clipped))
    metrics = {"log_loss": float(loss),
               "accuracy": float(np.mean((p > 0.5) == (positive > 0.5)))}
    if 0 < positive.sum() < len(positive):
        metrics["auc"] = _auc(positive, p)
    return metrics


def _auc(positive: Array, score: Array) -> float:
    """The Mann-Whitney statistic with midranks for ties: the ROC curve's area."""
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    sorted_scores = score[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(score)]
    midranks = (starts + ends + 1) / 2.0  # ranks are 1-based
    ranks[order] = np.repeat(midranks, ends - starts)
    n_pos = positive.sum()
    n_neg = len(positive) - n_pos
    return float((ranks[positive > 0.5].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
