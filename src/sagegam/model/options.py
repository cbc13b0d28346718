"""The estimators' settings resolved into what a fit needs: a basis size and a penalty
weight per feature, and the family with its parameter given or left to the data."""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

from sagegam.model.families import FAMILIES, Family
from sagegam.model.schema import Kind

DEFAULT_DF = 25


def df_per_feature(setting: Any, names: list[str]) -> list[int]:
    """``df`` as one basis size per feature (a dict keys some by name)."""
    if not isinstance(setting, dict):
        return [int(setting)] * len(names)
    unknown = set(map(str, setting)) - set(names)
    if unknown:
        raise ValueError(f"df names unknown features {sorted(unknown)}; the features are "
                         f"{names}.")
    values = {str(k): v for k, v in setting.items()}
    sizes = [values.get(name, DEFAULT_DF) for name in names]
    for name, size in zip(names, sizes, strict=True):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 4:
            raise ValueError(f"df[{name!r}] must be an integer >= 4; got {size!r}.")
    return [int(size) for size in sizes]


def alpha_per_feature(setting: Any, names: list[str]) -> list[float | None]:
    """The ``alpha`` setting as one weight (or None: choose it) per feature."""
    if isinstance(setting, dict):
        unknown = set(map(str, setting)) - set(names)
        if unknown:
            raise ValueError(f"alpha names unknown features {sorted(unknown)}; the "
                             f"features are {names}.")
        lookup = {str(k): v for k, v in setting.items()}
        values: list[Any] = [lookup.get(n, "auto") for n in names]
    elif isinstance(setting, (list, tuple, np.ndarray)):
        values = list(setting)
        if len(values) != len(names):
            raise ValueError(f"alpha has {len(values)} values but X has {len(names)} "
                             "features; give one per feature or a single value.")
    else:
        values = [setting] * len(names)
    return [one_alpha(v) for v in values]


def pair_alpha(setting: Any) -> float | None:
    """The weight of interaction terms: a single ``alpha``, else chosen by REML."""
    return None if isinstance(setting, (list, tuple, dict, np.ndarray)) else one_alpha(setting)


def one_alpha(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and value == "auto"):
        return None
    if isinstance(value, (Real, np.floating, np.integer)):
        number = float(value)
        if np.isfinite(number) and number >= 0:
            return number
    raise ValueError(f"Each alpha must be 'auto' or a finite number >= 0; got {value!r}.")


def monotone_per_feature(setting: Any, names: list[str],
                         categorical: list[bool]) -> tuple[int, ...]:
    """``monotonic_cst`` (scikit-learn's HistGradientBoosting convention: 1 increasing,
    -1 decreasing, 0 free; per feature, or a dict by name or 0-based index) as one int
    per feature."""
    return _signs_per_feature("monotonic_cst", ("increasing", "decreasing", "monotone"),
                              setting, names, categorical)


def curvature_per_feature(setting: Any, names: list[str], categorical: list[bool],
                          extrapolation: str) -> tuple[int, ...]:
    """``curvature_cst`` (the sign the second derivative must keep, as ``monotonic_cst``
    gives the first's: 1 convex, -1 concave, 0 free) as one int per feature."""
    signs = _signs_per_feature("curvature_cst", ("convex", "concave", "convex or concave"),
                               setting, names, categorical)
    if extrapolation == "constant" and any(signs):
        name = names[next(j for j, sign in enumerate(signs) if sign)]
        raise ValueError(f"curvature_cst constrains '{name}', but extrapolation='constant' "
                         "would bend a sloping convex or concave curve the other way at its "
                         "range's ends; use extrapolation='linear' or 'error'.")
    return signs


def _signs_per_feature(parameter: str, meaning: tuple[str, str, str], setting: Any,
                       names: list[str], categorical: list[bool]) -> tuple[int, ...]:
    """A setting of 1, -1 or 0 per feature (or a dict of some by name or 0-based index)
    as one int per feature; ``meaning``: what 1 and -1 ask, and what the shape is."""
    if setting is None:
        return (0,) * len(names)
    if isinstance(setting, dict):
        keys = [names[k] if isinstance(k, (int, np.integer)) and 0 <= k < len(names)
                else str(k) for k in setting]
        unknown = set(keys) - set(names)
        if unknown:
            raise ValueError(f"{parameter} names unknown features {sorted(unknown)}; the "
                             f"features are {names}.")
        lookup = dict(zip(keys, setting.values(), strict=True))
        values: list[Any] = [lookup.get(n, 0) for n in names]
    else:
        values = list(np.ravel(np.asarray(setting, dtype=object)))
        if len(values) != len(names):
            raise ValueError(f"{parameter} has {len(values)} values but X has {len(names)} "
                             "features; give one per feature (1, -1 or 0) or a dict by name.")
    out = []
    for name, value, is_categorical in zip(names, values, categorical, strict=True):
        if isinstance(value, bool) or value not in (-1, 0, 1):
            raise ValueError(f"{parameter} for '{name}' is {value!r}; it must be 1 "
                             f"({meaning[0]}), -1 ({meaning[1]}) or 0 (unconstrained).")
        if value and is_categorical:
            raise ValueError(f"{parameter} constrains '{name}', which is categorical; only "
                             f"numeric features can be {meaning[2]}.")
        out.append(int(value))
    return tuple(out)


def offset_columns(offset: Any, exposure: Any, names: list[str],
                   family: Family) -> dict[int, Kind]:
    """``offset`` and ``exposure`` (each a column of X by name or 0-based index, or None)
    as the columns that are not features: ``{column: "offset" or "exposure"}``."""
    out: dict[int, Kind] = {}
    for parameter, value in (("offset", offset), ("exposure", exposure)):
        if value is None:
            continue
        j = _named_column(parameter, value, names)
        if j in out:
            raise ValueError(f"offset and exposure both name column '{names[j]}'; a column is "
                             "one or the other.")
        out[j] = parameter  # type: ignore[assignment]
    if "exposure" in out.values() and family.link != "log":
        raise ValueError(f"exposure multiplies the expected response, which needs a log link, "
                         f"and family='{family.name}' has the {family.link} link; use family "
                         "'poisson', 'gamma', 'tweedie' or 'negative_binomial', or give the "
                         "column as offset (added on the link scale).")
    if out and len(out) == len(names):
        raise ValueError(f"X's only column{'s are' if len(out) > 1 else ' is'} the "
                         f"{' and '.join(out.values())}; a GAM needs at least one feature "
                         "besides.")
    return out


def refuse_offset_settings(offsets: dict[int, Kind], names: list[str],
                           asked: dict[str, list[bool]]) -> None:
    """A feature setting that asks something of an offset column (``asked[parameter][j]``)
    is a mistake worth a sentence: the offset has no term to shape, smooth or group."""
    for j, kind in offsets.items():
        for parameter, columns in asked.items():
            if columns[j]:
                raise ValueError(f"{parameter} names '{names[j]}', the model's {kind}, which "
                                 "enters with coefficient 1 and has no term of its own; "
                                 f"leave it out of {parameter}.")


def _named_column(parameter: str, value: Any, names: list[str]) -> int:
    if isinstance(value, str):
        if value not in names:
            raise ValueError(f"{parameter}={value!r} is not a column of X; the columns are "
                             f"{names}.")
        return names.index(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and \
            0 <= int(value) < len(names):
        return int(value)
    raise ValueError(f"{parameter}={value!r}; name a column of X by its name or its 0-based "
                     f"index in [0, {len(names)}).")


def regression_family(name: str, power: Any, theta: Any) -> tuple[Family, bool]:
    """The family ``name`` with its parameter, and whether the data must estimate it.

    ``power`` belongs to the Tweedie family and ``theta`` to the negative binomial; either
    given to another family is a mistake worth a sentence, not a silent no-op.
    """
    family = FAMILIES[name]
    for setting, value, owner in (("power", power, "tweedie"),
                                  ("theta", theta, "negative_binomial")):
        if not (isinstance(value, str) and value == "auto") and name != owner:
            raise ValueError(f"{setting}={value!r} applies to family='{owner}' only; this "
                             f"model has family='{name}'. Remove {setting}, or set "
                             f"family='{owner}'.")
    if name == "tweedie":
        return _given_or_estimated(family, "power", power)
    if name == "negative_binomial":
        return _given_or_estimated(family, "theta", theta)
    return family, False


def _given_or_estimated(family: Family, name: str, value: Any) -> tuple[Family, bool]:
    if isinstance(value, str) and value == "auto":
        return family, True
    return family.with_parameters({name: float(value)}), False
