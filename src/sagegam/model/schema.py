"""The model's input columns: numeric or categorical, and how raw values become numbers.

A fitted model remembers, per input column, whether it is numeric or categorical, the
levels of a categorical column in order, and whether the training data had missing
values there. :meth:`Schema.encode` turns raw rows (numbers, text, missing cells) into
one float matrix every term reads: numeric columns as numbers (NaN where missing),
categorical columns as level codes ``0 .. L-1`` (the learned "missing" level, if any, is
``L``; a value the model cannot place is ``-1`` or NaN and contributes nothing).

What the model cannot place (a level never seen in training, a missing value where
training had none) is an error naming the row, column and value; with
``handle_unknown="ignore"`` it gets zero effect instead, and the cells are reported.

numpy only: the serving path imports this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
Level = str | float
Kind = Literal["numeric", "categorical", "offset", "exposure"]
OFFSET_KINDS = ("offset", "exposure")
HANDLE_UNKNOWN = ("error", "ignore")
# Cells read as missing, in training files and request bodies alike (pandas' defaults,
# minus the odd ones such as "#N/A N/A").
MISSING_TOKENS = frozenset({"", "NA", "N/A", "n/a", "NaN", "nan", "-nan", "null", "NULL",
                            "None", "<NA>", "#N/A"})
UNKNOWN_CODE = -1.0
REPORTED_CELLS = 20  # unknown cells listed in a report; the count covers all of them
LARGE_COLUMN = 10_000  # rows from which text columns are factorized by pandas


class UnknownValueError(ValueError):
    """A value the model cannot place: an unseen level, a missing or non-numeric cell."""

    def __init__(self, row: int, column: str, value: Any, problem: str) -> None:
        self.row, self.column, self.value = row, column, value
        super().__init__(f"Row {row + 1}, column '{column}': {problem}")


@dataclass(frozen=True)
class Feature:
    """One input column as the model knows it."""

    name: str
    kind: Kind = "numeric"
    levels: tuple[Level, ...] = ()  # categorical: the levels, in code order
    missing: bool = False  # training had missing values here, so they have an effect

    @property
    def categorical(self) -> bool:
        return self.kind == "categorical"

    @property
    def offset(self) -> bool:
        """An offset column: added to the linear predictor with coefficient 1 (an exposure
        as its log), never a term of its own."""
        return self.kind in OFFSET_KINDS

    @property
    def n_codes(self) -> int:
        """Codes of a categorical column: one per level, plus one for "missing"."""
        return len(self.levels) + int(self.missing)

    @property
    def text_levels(self) -> bool:
        return any(isinstance(level, str) for level in self.levels)

    def level_name(self, code: int) -> str:
        return "(missing)" if code == len(self.levels) else str(self.levels[code])


@dataclass
class UnknownCells:
    """Cells given zero effect under ``handle_unknown="ignore"``: count and examples."""

    count: int = 0
    examples: list[tuple[int, str, Any]] = field(default_factory=list)
    rows: set[int] = field(default_factory=set)

    def add(self, rows: NDArray[np.intp], column: str, values: NDArray[Any]) -> None:
        self.count += len(rows)
        self.rows.update(int(r) for r in rows)
        room = REPORTED_CELLS - len(self.examples)
        self.examples += [(int(r), column, v) for r, v in zip(rows[:room], values[:room],
                                                             strict=True)]

    def sentences(self) -> list[str]:
        return [f"row {row + 1}, column '{column}': {_shown(value)} is unknown to the model "
                "and has zero effect" for row, column, value in self.examples]


@dataclass(frozen=True)
class Schema:
    features: tuple[Feature, ...]
    handle_unknown: str = "error"
    _lookups: dict[int, dict[Any, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lookups = {j: _lookup(f) for j, f in enumerate(self.features) if f.categorical}
        object.__setattr__(self, "_lookups", lookups)
        object.__setattr__(self, "_hash", hash((self.features, self.handle_unknown)))

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined,no-any-return]  # servers cache by schema

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @cached_property
    def numeric_only(self) -> bool:
        return not any(f.categorical for f in self.features)

    @cached_property
    def offsets(self) -> dict[int, Kind]:
        """The offset columns and their kinds ("offset" or "exposure")."""
        return {j: f.kind for j, f in enumerate(self.features) if f.offset}

    @cached_property
    def model_features(self) -> tuple[int, ...]:
        """The columns that are features (each a term of its own), offsets left out."""
        return tuple(j for j, f in enumerate(self.features) if not f.offset)

    def offset_of(self, codes: Array) -> Array | None:
        """Each encoded row's offset on the link scale (log exposures included), or None
        for a model without one."""
        columns = list(self.offsets)
        if not columns:
            return None
        if len(columns) == 1:
            return codes[:, columns[0]].astype(np.float64, copy=True)
        return codes[:, columns].sum(axis=1)

    @property
    def text_levels(self) -> bool:
        """Whether some categorical feature has text levels (numbers alone cannot say them)."""
        return any(f.categorical and f.text_levels for f in self.features)

    def encode(self, X: Any, unknown: UnknownCells | None = None) -> Array:
        """Raw rows (a 2-D array or list of rows, any dtype) as model codes."""
        if self._raw_codes and isinstance(X, np.ndarray) and X.dtype == np.float64 and \
                X.ndim == 2 and X.shape[1] == len(self.features) and np.isfinite(X).all():
            return X  # the common case, and the whole of a one-row request's work here
        return self.encode_columns(self._columns(X), unknown)

    @cached_property
    def _raw_codes(self) -> bool:
        """Whether finite numbers are their own codes (no levels to look up, no exposure
        to take the log of)."""
        return self.numeric_only and not any(f.kind == "exposure" for f in self.features)

    def encode_columns(self, columns: Sequence[NDArray[Any]],
                       unknown: UnknownCells | None = None) -> Array:
        """Raw columns, one per feature, as model codes."""
        out = np.empty((len(columns[0]) if len(columns) else 0, len(self.features)))
        for j, column in enumerate(columns):
            out[:, j] = self.encode_column(j, np.asarray(column), unknown)
        return out

    def encode_column(self, j: int, column: NDArray[Any],
                      unknown: UnknownCells | None = None) -> Array:
        """One raw column as codes: numbers, or level codes of a categorical feature."""
        feature = self.features[j]
        if feature.categorical:
            return self._level_codes(j, column, unknown)
        if feature.offset:
            return _offset_codes(feature, column)
        return self._numbers(feature, column, unknown)

    def _columns(self, X: Any) -> list[NDArray[Any]]:
        array = np.asarray(X) if not isinstance(X, np.ndarray) else X
        if array.ndim == 1 and array.shape[0] == len(self.features):
            array = array[None, :]
        if array.ndim != 2 or array.shape[1] != len(self.features):
            raise ValueError(
                f"Expected rows of {len(self.features)} features ({', '.join(self.names)}); "
                f"got an array of shape {array.shape}.")
        return [array[:, j] for j in range(array.shape[1])]

    def _numbers(self, feature: Feature, column: NDArray[Any],
                 unknown: UnknownCells | None) -> Array:
        values = as_float(column, feature.name)
        bad = ~np.isfinite(values)
        if not bad.any():
            return values
        infinite = np.flatnonzero(np.isinf(values))
        if infinite.size:
            row = int(infinite[0])
            raise UnknownValueError(row, feature.name, column[row], f"{values[row]} is not "
                                    "finite; every number must be finite.")
        if not feature.missing:
            self._unknown(np.flatnonzero(bad), feature.name, column, unknown)
        return values

    def _level_codes(self, j: int, column: NDArray[Any], unknown: UnknownCells | None) -> Array:
        feature = self.features[j]
        uniques, inverse = _unique(column)
        lookup = self._lookups[j]
        codes = np.array([lookup.get(_key(u, feature), UNKNOWN_CODE) for u in uniques],
                         dtype=np.float64)
        encoded = codes[inverse]
        if (codes < 0).any():
            bad = np.flatnonzero(encoded < 0)
            if bad.size:
                self._unknown(bad, feature.name, column, unknown, feature)
        return encoded

    def _unknown(self, rows: NDArray[np.intp], name: str, column: NDArray[Any],
                 unknown: UnknownCells | None, feature: Feature | None = None) -> None:
        """Refuse the first cell the model cannot place, or note them all (ignore)."""
        if self.handle_unknown == "ignore":
            if unknown is not None:
                unknown.add(rows, name, column[rows])
            return
        row = int(rows[0])
        value = column[row]
        if is_missing(value):
            problem = ("the value is missing, and the training data had no missing values "
                       "in this column. Fill it in, or fit with handle_unknown='ignore' to "
                       "give such cells zero effect.")
        else:
            assert feature is not None
            problem = (f"{_shown(value)} is not a level of this column (levels seen in "
                       f"training: {_level_list(feature)}). Fit with handle_unknown='ignore' "
                       "to give unseen levels zero effect.")
        raise UnknownValueError(row, name, value, problem)


def _offset_codes(feature: Feature, column: NDArray[Any]) -> Array:
    """An offset column as it enters the linear predictor: every value must be there (no
    model can ignore part of a row's scale), an exposure positive and taken as its log."""
    values = as_float(column, feature.name)
    exposure = feature.kind == "exposure"
    bad = ~(values > 0) | np.isinf(values) if exposure else ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        expected = ("a positive, finite number (the row's exposure: time, size or count "
                    "at risk)") if exposure else "a finite number (added to the linear predictor)"
        raise UnknownValueError(row, feature.name, column[row],
                                f"{_shown(column[row])} is not {expected}; this column is the "
                                f"model's {feature.kind}, needed in every row.")
    return np.log(values) if exposure else values


def _lookup(feature: Feature) -> dict[Any, int]:
    table: dict[Any, int] = {_key(level, feature): code
                             for code, level in enumerate(feature.levels)}
    if feature.missing:
        table[_MISSING] = len(feature.levels)
    return table


class _Missing:
    def __repr__(self) -> str:
        return "missing"


_MISSING = _Missing()


def _key(value: Any, feature: Feature) -> Any:
    """The lookup key of a raw value: missing, a canonical number, or stripped text."""
    if is_missing(value):
        return _MISSING
    if feature.text_levels:
        return level_text(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None  # text where the levels are numbers: unknown


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    if isinstance(value, str):
        return value.strip() in MISSING_TOKENS
    return False


def level_text(value: Any) -> str:
    """How a level is written: text stripped; whole numbers without a decimal point."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value).strip()


def as_float(column: NDArray[Any], name: str) -> Array:
    """A column as floats, with missing tokens as NaN, or an error naming the bad cell."""
    if column.dtype.kind in "fiub":
        return column.astype(np.float64)
    try:
        return column.astype(np.float64)
    except (TypeError, ValueError):
        pass
    out = np.empty(len(column))
    for row, value in enumerate(column):
        if is_missing(value):
            out[row] = np.nan
            continue
        try:
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                    value, (str, int, float, np.number)):
                raise TypeError
            out[row] = float(value)
        except (TypeError, ValueError):
            raise UnknownValueError(row, name, value, f"{_shown(value)} is not a number, "
                                    "and this column is numeric.") from None
    return out


def _unique(column: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """Distinct values and each row's index into them; object columns by value."""
    if column.dtype.kind in "fiub":
        uniques, inverse = np.unique(column, return_inverse=True)
        return uniques, inverse.ravel()
    if len(column) > LARGE_COLUMN:
        import pandas as pd  # hashing in C; loaded for large batches only

        codes, found = pd.factorize(column, use_na_sentinel=True)
        uniques = np.empty(len(found) + 1, dtype=object)
        uniques[:-1] = np.asarray(found, dtype=object)
        uniques[-1] = None  # pandas' missing values (code -1) index the last entry
        return uniques, np.where(codes < 0, len(found), codes).astype(np.intp)
    keys: dict[Any, int] = {}
    inverse = np.empty(len(column), dtype=np.intp)
    for row, value in enumerate(column.tolist()):
        key = ("nan",) if is_missing(value) else value
        inverse[row] = keys.setdefault(key, len(keys))
    uniques = np.empty(len(keys), dtype=object)
    for key, index in keys.items():
        uniques[index] = None if key == ("nan",) else key
    return uniques, inverse


def _level_list(feature: Feature, shown: int = 8) -> str:
    names = [repr(level_text(level)) for level in feature.levels[:shown]]
    more = len(feature.levels) - shown
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def _shown(value: Any) -> str:
    if is_missing(value):
        return "a missing value"
    text = level_text(value) if not isinstance(value, str) else value
    text = text if len(text) <= 40 else text[:37] + "..."
    return repr(text)
