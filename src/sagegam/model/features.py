"""Learning a :class:`~sagegam.model.schema.Schema` from training data.

Which columns are categorical follows scikit-learn's ``HistGradientBoostingRegressor``
convention for ``categorical_features``: ``"from_dtype"`` (pandas ``category``, ``object``
and ``string`` columns), or names, indices or a boolean mask; ``None`` for none.
A categorical column's levels are its categories' order for a pandas ``category``,
otherwise its distinct values sorted (numbers numerically, text alphabetically).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from sagegam.model.schema import (
    MISSING_TOKENS,
    Feature,
    Kind,
    Level,
    Schema,
    UnknownCells,
    as_float,
    is_missing,
    level_text,
)

MAX_LEVELS = 5_000  # beyond this a column is an identifier, not a factor (and too costly)


def categorical_mask(X: Any, setting: Any, names: list[str]) -> NDArray[np.bool_]:
    """Which of the ``len(names)`` columns of ``X`` are categorical under ``setting``."""
    p = len(names)
    if setting is None or (isinstance(setting, str) and setting == "from_dtype"):
        if setting is None or not hasattr(X, "dtypes"):
            return np.zeros(p, dtype=bool)
        mask = np.array([_text_dtype(dtype) for dtype in X.dtypes], dtype=bool)
        for j in np.flatnonzero(mask):
            if str(X.dtypes.iloc[j]) != "category":
                _refuse_mistyped(X.iloc[:, j], names[j])
        return mask
    values = list(np.ravel(np.asarray(setting, dtype=object)))
    if values and all(isinstance(v, (bool, np.bool_)) for v in values):
        if len(values) != p:
            raise ValueError(f"categorical_features has {len(values)} booleans but X has "
                             f"{p} features; give one per feature.")
        return np.array(values, dtype=bool)
    mask = np.zeros(p, dtype=bool)
    for value in values:
        mask[_column(value, names)] = True
    return mask


def mistyped_numbers(column: Any) -> int | None:
    """The first row of a text column that is mostly numbers but for a few cells, if any.

    Such a column is numeric data with a typo, not a categorical feature: read as levels
    it would silently become a factor of every distinct number. None when fine.
    """
    import pandas as pd

    series = pd.Series(np.asarray(column, dtype=object))
    present = ~(series.isna() | series.astype(str).str.strip().isin(MISSING_TOKENS))
    numbers = pd.to_numeric(series[present], errors="coerce").notna().to_numpy()
    if numbers.size == 0 or numbers.all() or numbers.mean() <= 0.5:
        return None
    return int(np.flatnonzero(present.to_numpy())[np.argmin(numbers)])


def _column(value: Any, names: list[str]) -> int:
    if isinstance(value, str):
        if value not in names:
            raise ValueError(f"categorical_features names {value!r}, which is not a feature; "
                             f"the features are {names}.")
        return names.index(value)
    if isinstance(value, (int, np.integer)) and -len(names) <= int(value) < len(names):
        return int(value) % len(names)
    raise ValueError(f"categorical_features holds {value!r}; expected feature names, "
                     f"indices in [0, {len(names)}) or one boolean per feature.")


def _refuse_mistyped(column: Any, name: str) -> None:
    row = mistyped_numbers(column)
    if row is not None:
        value = np.asarray(column, dtype=object)[row]
        raise ValueError(
            f"Row {row + 1}, column '{name}': {str(value)[:40]!r} is not a number, though the "
            "column's other values are; fix the cell, or list the column in "
            "categorical_features to read every value as a level.")


def _text_dtype(dtype: Any) -> bool:
    kind = getattr(dtype, "kind", "O")
    return str(dtype) == "category" or kind in ("O", "U", "S") or str(dtype).startswith(
        "string")


def learn_schema(columns: list[NDArray[Any]], names: list[str], categorical: NDArray[np.bool_],
                 handle_unknown: str, categories: dict[int, list[Any]],
                 offsets: dict[int, Kind] | None = None) -> Schema:
    """Levels and missing values of each column; ``categories[j]``: pandas' order;
    ``offsets[j]``: column ``j`` is an offset or an exposure, not a feature.

    Numeric columns must already be floats (:func:`numeric_columns`).
    """
    features = []
    for j, (column, name) in enumerate(zip(columns, names, strict=True)):
        if offsets and j in offsets:
            features.append(Feature(name, offsets[j]))
        elif categorical[j]:
            features.append(_factor(column, name, categories.get(j)))
        else:
            features.append(Feature(name, "numeric", (), missing=_has_missing(column)))
    return Schema(tuple(features), handle_unknown)


def frame_columns(X: Any) -> list[Any]:
    """The columns of a DataFrame (as Series, dtypes kept) or of a 2-D array."""
    if hasattr(X, "iloc"):
        return [X.iloc[:, j] for j in range(X.shape[1])]
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValueError(f"Expected a 2-D array of rows x features; got shape {array.shape}.")
    return [array[:, j] for j in range(array.shape[1])]


def numeric_columns(columns: list[Any], names: list[str],
                    categorical: NDArray[np.bool_]) -> list[NDArray[Any]]:
    """Numeric columns as floats (an error names a cell that is not a number); categorical
    ones as they are."""
    return [np.asarray(column) if categorical[j] else as_float(np.asarray(column), names[j])
            for j, column in enumerate(columns)]


def encode_columns(schema: Schema, columns: list[Any],
                   unknown: UnknownCells | None = None) -> NDArray[np.float64]:
    """Columns as model codes; a pandas ``category`` column whose categories are the
    feature's levels maps by its integer codes, without looking at each value."""
    out = np.empty((len(columns[0]) if columns else 0, len(columns)))
    for j, column in enumerate(columns):
        fast = _category_codes(schema.features[j], column)
        out[:, j] = fast if fast is not None else schema.encode_column(
            j, np.asarray(column), unknown)
    return out


def _category_codes(feature: Feature, column: Any) -> NDArray[np.float64] | None:
    if not feature.categorical or str(getattr(column, "dtype", "")) != "category":
        return None
    categories = list(column.cat.categories)
    text = feature.text_levels
    if [level_text(c) if text else c for c in categories] != list(feature.levels):
        return None
    codes = column.cat.codes.to_numpy().astype(np.float64)
    if (codes < 0).any():
        if not feature.missing:
            return None  # the schema says what to do with missing values
        codes[codes < 0] = len(feature.levels)
    return codes


def _factor(column: NDArray[Any], name: str, order: list[Any] | None) -> Feature:
    present = [v for v in (order if order is not None else _distinct(column))
               if not is_missing(v)]
    text = any(isinstance(v, str) for v in present)
    levels: list[Level] = [level_text(v) if text else float(v) for v in present]
    if order is None:
        levels = sorted(set(levels), key=_sort_key)
    elif len(set(levels)) != len(levels):
        raise ValueError(f"Column '{name}' has categories that are equal once stripped of "
                         f"spaces: {levels}.")
    if len(levels) > MAX_LEVELS:
        raise ValueError(f"Column '{name}' has {len(levels):,} levels; a categorical feature "
                         f"may have at most {MAX_LEVELS:,} (more look like an identifier). "
                         "Drop it, or group rare levels.")
    return Feature(name, "categorical", tuple(levels), missing=_has_missing(column))


def _distinct(column: NDArray[Any]) -> list[Any]:
    if column.dtype.kind in "fiub":
        return list(np.unique(column[~np.isnan(column.astype(float))]))
    import pandas as pd  # hashing beats sorting mixed objects

    return list(pd.unique(pd.Series(column, dtype=object).dropna()))


def _sort_key(level: Level) -> tuple[int, Any]:
    return (0, level) if isinstance(level, float) else (1, str(level))


def _has_missing(column: NDArray[Any]) -> bool:
    column = np.asarray(column)
    if column.dtype.kind in "fc":
        return bool(np.isnan(column).any())
    if column.dtype.kind in "iub":
        return False
    import pandas as pd

    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    return bool((codes < 0).any() or any(is_missing(value) for value in uniques))
