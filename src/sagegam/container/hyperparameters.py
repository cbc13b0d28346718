"""Training hyperparameters: strings in, typed and validated settings out.

SageMaker hands every hyperparameter over as a string, either plain (``"20"``, ``"True"``)
or JSON-encoded (``"\\"abc\\""``, ``"true"``), depending on how the job was created. Each
value goes through ``json.loads`` with the raw string as fallback, then through its
setting's parser below. Names are case-insensitive and ``_`` equals ``-``; keys starting
``sagemaker_`` (and ``_tuning_objective_metric``) belong to the platform and are ignored.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sagegam.container.errors import UserError

ParsedValue = Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: ParsedValue
    parse: Callable[[str, ParsedValue], ParsedValue]
    help: str


def _integer(minimum: int) -> Callable[[str, ParsedValue], int]:
    def parse(name: str, value: ParsedValue) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _invalid(name, value, f"an integer >= {minimum}")
        try:
            number = float(value)
        except (ValueError, OverflowError):
            raise _invalid(name, value, f"an integer >= {minimum}") from None
        if not math.isfinite(number) or number != int(number) or number < minimum:
            raise _invalid(name, value, f"an integer >= {minimum}")
        return int(number)

    return parse


def _choice(*options: str) -> Callable[[str, ParsedValue], str]:
    def parse(name: str, value: ParsedValue) -> str:
        text = str(value).lower()
        if text not in options:
            raise _invalid(name, value, "one of " + ", ".join(repr(o) for o in options))
        return text

    return parse


def _boolean_or_auto(name: str, value: ParsedValue) -> bool | str:
    text = str(value).strip().lower()
    if text in ("auto", ""):
        return "auto"
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise _invalid(name, value, "'auto', 'true' or 'false'")


def _alpha(name: str, value: ParsedValue) -> str | float:
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise _invalid(name, value, "'auto' or a number >= 0") from None
    if not number >= 0 or number == float("inf"):
        raise _invalid(name, value, "'auto' or a number >= 0")
    return number


def _auto_or_between(lower: float, upper: float | None,
                     expected: str) -> Callable[[str, ParsedValue], str | float]:
    """'auto', or a number strictly inside (lower, upper)."""
    def parse(name: str, value: ParsedValue) -> str | float:
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            raise _invalid(name, value, expected) from None
        if not (lower < number < (float("inf") if upper is None else upper)):
            raise _invalid(name, value, expected)
        return number
    return parse


def _target(name: str, value: ParsedValue) -> int | str:
    """A column index (negative counts from the end) or a header name."""
    if isinstance(value, bool):
        raise _invalid(name, value, "a column index or a header name")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        with contextlib.suppress(ValueError):  # superscripts, or too many digits: a name
            return int(text)
    if not text:
        raise _invalid(name, value, "a column index or a header name")
    return text


def _optional_column(name: str, value: ParsedValue) -> int | str | None:
    """'none', a header name, or a 0-based feature index (the target not counted)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "")):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = str(value).strip()
    if isinstance(value, bool) or text.startswith("-"):
        raise _invalid(name, value, "'none', a header name or a 0-based feature index")
    return int(text) if text.isdigit() else text


def _optional_file(name: str, value: ParsedValue) -> str | None:
    text = str(value).strip()
    if text.startswith("/") or ".." in text.split("/"):
        raise _invalid(name, value, "a file name inside the channel (no '/' prefix, no '..')")
    return text or None


def _categorical(name: str, value: ParsedValue) -> str | list[int | str] | None:
    """'auto' (text columns), 'none', or a comma-separated list of names or indices."""
    text = str(value).strip()
    if text.lower() in ("auto", "from_dtype", ""):
        return "from_dtype"
    if text.lower() == "none":
        return None
    items = [item.strip() for item in text.split(",")]
    if any(not item for item in items):
        raise _invalid(name, value, "'auto', 'none' or a comma-separated list of column "
                       "names or 0-based feature indices")
    return [int(item) if item.lstrip("-").isdigit() else item for item in items]


def _interactions(name: str, value: ParsedValue) -> str | int | list[tuple[Any, Any]] | None:
    """'none', 'auto', a count, or pairs 'a:b,c:d' of names or indices."""
    text = str(value).strip()
    if text.lower() in ("none", ""):
        return None
    if text.lower() == "auto":
        return "auto"
    if text.isdigit():
        return int(text)
    pairs = []
    for item in text.split(","):
        parts = [part.strip() for part in item.split(":")]
        if len(parts) != 2 or not all(parts):
            raise _invalid(name, value, "'none', 'auto', a number of pairs, or pairs written "
                           "a:b separated by commas")
        pairs.append(tuple(int(p) if p.isdigit() else p for p in parts))
    return pairs  # type: ignore[return-value]


def _monotone(name: str, value: ParsedValue) -> dict[int | str, int] | None:
    """'none', or 'a:1,b:-1': features (names or indices) and their direction."""
    return _signs(name, value, "name:1 (increasing) or name:-1 (decreasing)")


def _curvature(name: str, value: ParsedValue) -> dict[int | str, int] | None:
    """'none', or 'a:1,b:-1': features (names or indices) and their curvature."""
    return _signs(name, value, "name:1 (convex) or name:-1 (concave)")


def _signs(name: str, value: ParsedValue, written: str) -> dict[int | str, int] | None:
    text = str(value).strip()
    if text.lower() in ("none", ""):
        return None
    signs: dict[int | str, int] = {}
    for item in text.split(","):
        feature, _, sign = (part.strip() for part in item.rpartition(":"))
        if not feature or sign not in ("1", "+1", "-1", "0"):
            raise _invalid(name, value, f"'none' or features with their sign written {written}, "
                           "separated by commas")
        signs[int(feature) if feature.isdigit() else feature] = int(sign)
    return signs


def _invalid(name: str, value: ParsedValue, expected: str) -> UserError:
    return UserError(f"Hyperparameter '{name}' must be {expected}; got {value!r}.")


SETTINGS: tuple[Setting, ...] = (
    Setting("train-file", None, _optional_file,
            "Read only this file of the train channel (the reference's key); default: "
            "every file in the channel, recursively."),
    Setting("test-file", None, _optional_file,
            "Read only this file of the validation (or test) channel."),
    Setting("target", -1, _target,
            "Target column: a 0-based index (negative counts from the end) or a header "
            "name. Default: the last column."),
    Setting("header", "auto", _choice("auto", "true", "false"),
            "Whether CSV files start with a header row; 'auto' detects it (a first row "
            "none of whose cells is a number)."),
    Setting("task", "regression", _choice("regression", "classification"),
            "'classification' fits a binary GAMClassifier."),
    Setting("family", "gaussian",
            _choice("gaussian", "poisson", "gamma", "tweedie", "negative_binomial"),
            "Response family of a regression (tweedie and negative_binomial have a parameter "
            "of their own: power, theta)."),
    Setting("power", "auto", _auto_or_between(1.0, 2.0, "'auto' or a number between 1 and 2"),
            "The tweedie family's variance power: 'auto' (estimated) or a number in (1, 2)."),
    Setting("theta", "auto", _auto_or_between(0.0, None, "'auto' or a number > 0"),
            "The negative_binomial family's theta: 'auto' (estimated) or a number > 0."),
    Setting("df", 25, _integer(4), "Basis functions per feature."),
    Setting("knots", "auto", _choice("auto", "uniform", "quantile", "balanced"),
            "Where a numeric feature's knots go: 'auto', 'uniform', 'quantile', 'balanced'."),
    Setting("degree", 3, _integer(1), "Spline degree."),
    Setting("alpha", "auto", _alpha,
            "Penalty weight: 'auto' (REML) or a number >= 0 for every feature."),
    Setting("adaptive", "auto", _boolean_or_auto,
            "Adaptive smoothness: 'auto', 'true' or 'false'."),
    Setting("extrapolation", "linear", _choice("linear", "constant", "error"),
            "What terms do outside the training range at prediction time."),
    Setting("categorical-features", "from_dtype", _categorical,
            "Categorical feature columns: 'auto' (every column holding text), 'none', or a "
            "comma-separated list of header names or 0-based feature indices (the target "
            "not counted)."),
    Setting("offset", None, _optional_column,
            "A column added to the linear predictor with coefficient 1, not a feature: "
            "'none', a header name or a 0-based feature index (the target not counted); "
            "the endpoint reads it from the same column of every request."),
    Setting("exposure", None, _optional_column,
            "A column of positive exposures (time, size or count at risk) whose log is the "
            "offset, for a log-link family (poisson, gamma, tweedie, negative_binomial): "
            "predictions scale with it. 'none', a header name or a 0-based feature index."),
    Setting("interactions", None, _interactions,
            "Pairs of features fitted as interactions: 'none', 'auto' (the pairs significant "
            "on the main effects' residuals), a number k (the k strongest), or pairs a:b "
            "separated by commas."),
    Setting("interaction-df", 7, _integer(4), "Basis functions per numeric feature of a pair."),
    Setting("handle-unknown", "error", _choice("error", "ignore"),
            "A level unseen in training, or a missing value where training had none, at "
            "prediction time: 'error' (a 400 naming row, column and value) or 'ignore' "
            "(zero effect, said in the answer)."),
    Setting("discrete", "auto", _boolean_or_auto,
            "Fit on covariates rounded to at most 256 values: 'auto' (from 100,000 rows), "
            "'true' or 'false'."),
    Setting("monotonic-cst", None, _monotone,
            "Shape constraints on numeric features: 'none', or name:1 (increasing) and "
            "name:-1 (decreasing) separated by commas (names or 0-based feature indices). "
            "A constrained feature cannot be in an interaction."),
    Setting("curvature-cst", None, _curvature,
            "Convex or concave numeric features: 'none', or name:1 (convex) and name:-1 "
            "(concave) separated by commas (names or 0-based feature indices); combines "
            "with monotonic-cst. Not with extrapolation 'constant'; a constrained feature "
            "cannot be in an interaction."),
    Setting("max-iter", 100, _integer(1), "Iterations of penalized IRLS."),
    Setting("streaming", "auto", _boolean_or_auto,
            "Fit the train channel in passes, one chunk in memory at a time: 'auto' (when "
            "its files exceed 1/8 of the memory, or in Pipe mode), 'true' or 'false'."),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}
PLATFORM_PREFIXES = ("sagemaker_", "_tuning_objective_metric")


def decode(raw: str) -> ParsedValue:
    """A value as SageMaker wrote it: JSON when it parses, the raw string otherwise."""
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw


def canonical_name(key: str) -> str:
    """A hyperparameter's name as the image reads it: case-insensitive, ``_`` as ``-``."""
    return key.strip().lower().replace("_", "-")


@dataclass(frozen=True)
class TrainingSettings:
    """Every setting of a training job (or ``sagegam fit``), typed."""

    values: Mapping[str, ParsedValue]

    def __getitem__(self, name: str) -> ParsedValue:
        return self.values[name]

    @property
    def classification(self) -> bool:
        return bool(self.values["task"] == "classification")

    def estimator(self) -> Any:
        """The estimator these settings describe (scikit-learn's contract)."""
        from sagegam import GAMClassifier, GAMRegressor

        common = {"df": self["df"], "degree": self["degree"], "knots": self["knots"],
                  "alpha": self["alpha"],
                  "adaptive": self["adaptive"], "extrapolation": self["extrapolation"],
                  "categorical_features": self["categorical-features"],
                  "offset": self["offset"], "exposure": self["exposure"],
                  "interactions": self["interactions"],
                  "interaction_df": self["interaction-df"],
                  "handle_unknown": self["handle-unknown"], "discrete": self["discrete"],
                  "monotonic_cst": self["monotonic-cst"],
                  "curvature_cst": self["curvature-cst"], "max_iter": self["max-iter"]}
        if self.classification:
            return GAMClassifier(**common)
        return GAMRegressor(family=self["family"], power=self["power"], theta=self["theta"],
                            **common)

    def describe(self) -> str:
        """The settings that differ from their defaults, for the log."""
        changed = [f"{s.name}={self[s.name]}" for s in SETTINGS if self[s.name] != s.default]
        return ", ".join(changed) or "defaults"


def parse(raw: Mapping[str, Any]) -> TrainingSettings:
    """Every setting, typed: the given ones parsed, the others at their defaults."""
    values = {setting.name: setting.default for setting in SETTINGS}
    for key, value in raw.items():
        if key.startswith(PLATFORM_PREFIXES):
            continue
        name = canonical_name(key)
        if name not in BY_NAME:
            raise UserError(
                f"Unknown hyperparameter '{key}'. Valid hyperparameters: "
                f"{', '.join(sorted(BY_NAME))}.")
        decoded = decode(value) if isinstance(value, str) else value
        values[name] = BY_NAME[name].parse(key, decoded)
    for name, family in (("power", "tweedie"), ("theta", "negative_binomial")):
        if values[name] != "auto" and values["family"] != family:
            raise UserError(f"Hyperparameter '{name}' applies to family={family} only; this "
                            f"job has family={values['family']}. Remove '{name}' or set "
                            f"family={family}.")
    if values["task"] == "classification" and values["family"] != "gaussian":
        raise UserError("Hyperparameter 'family' applies to regression only; a classification "
                        "is always binomial. Remove 'family' or set task=regression.")
    return TrainingSettings(values)
