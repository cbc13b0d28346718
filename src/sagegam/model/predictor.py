"""A fitted GAM as plain arrays: predictions, per-feature contributions and their bands.

:class:`GAMPredictor` is what an artifact loads into and what the estimators delegate to.
It needs numpy only (no scikit-learn, scipy or fitting code), so a server that loads it
starts fast and can execute nothing but arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sagegam.model.basis import OutsideRangeError, SplineBasis
from sagegam.model.families import Family

Array = NDArray[np.float64]
Label = str | int | float | bool
CHUNK_ROWS = 8_192


@dataclass(frozen=True)
class PartialDependence:
    """One term's shape on a grid: estimate, standard error and a pointwise band."""

    feature: str
    grid: Array
    effect: Array
    std_error: Array
    lower: Array
    upper: Array
    level: float


@dataclass(frozen=True)
class GAMPredictor:
    basis: SplineBasis
    coef: Array
    covariance: Array
    family: Family
    feature_names: tuple[str, ...]
    classes: tuple[Label, ...] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return "regression" if self.classes is None else "classification"

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def intercept(self) -> float:
        return float(self.coef[0])

    def check_input(self, X: Any) -> Array:
        """``X`` as a finite float matrix with this model's columns, or a ValueError."""
        array = np.asarray(X, dtype=np.float64)
        if array.ndim == 1 and array.shape[0] == self.n_features:
            array = array[None, :]
        if array.ndim != 2 or array.shape[1] != self.n_features:
            raise ValueError(
                f"Expected rows of {self.n_features} features "
                f"({', '.join(self.feature_names)}); got an array of shape {array.shape}."
            )
        if not np.isfinite(array).all():
            row, col = np.argwhere(~np.isfinite(array))[0]
            raise ValueError(
                f"Row {row}, column {col} ({self.feature_names[col]}) is {array[row, col]}; "
                "every value must be a finite number."
            )
        return array

    def contributions(self, X: Any) -> Array:
        """Each feature's additive term, on the link scale, shape ``(n, n_features)``."""
        array = self.check_input(X)
        out = np.empty(array.shape)
        offsets = np.arange(self.basis.degree + 1)
        # Chunks keep the temporaries in cache: one pass over 1M rows is ~10x faster so.
        for start in range(0, array.shape[0], CHUNK_ROWS):
            rows = slice(start, start + CHUNK_ROWS)
            try:
                columns, values = self.basis.evaluate(array[rows])
            except OutsideRangeError as error:
                # Say which row of the whole input, and the feature's name.
                raise OutsideRangeError(
                    error.row + start, error.feature, error.value, error.lower, error.upper,
                    self.feature_names[error.feature]) from None
            gathered = self.coef[columns[..., None] + offsets]
            out[rows] = np.einsum("ijk,ijk->ij", gathered, values)
        return out

    def linear_predictor(self, X: Any) -> Array:
        """Intercept plus the sum of :meth:`contributions`, exactly."""
        return self.intercept + self.contributions(X).sum(axis=1)

    def predict_mean(self, X: Any) -> Array:
        """The expected response (the positive-class probability for a classifier)."""
        return self.family.inverse_link(self.linear_predictor(X))

    def predict_proba(self, X: Any) -> Array:
        if self.classes is None:
            raise TypeError("predict_proba is only defined for classifiers.")
        positive = self.predict_mean(X)
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X: Any) -> NDArray[Any]:
        """Means for a regressor, labels for a classifier."""
        mean = self.predict_mean(X)
        if self.classes is None:
            return mean
        return np.asarray(self.classes, dtype=object if _mixed(self.classes) else None)[
            (mean > 0.5).astype(np.intp)
        ]

    def feature_index(self, feature: int | str) -> int:
        if isinstance(feature, str):
            if feature not in self.feature_names:
                raise KeyError(
                    f"Unknown feature {feature!r}; the model has {list(self.feature_names)}."
                )
            return self.feature_names.index(feature)
        if not 0 <= int(feature) < self.n_features:
            raise IndexError(f"Feature index {feature} is out of range [0, {self.n_features}).")
        return int(feature)

    def partial_dependence(
        self, feature: int | str, grid: Sequence[float] | Array | None = None, *,
        n_points: int = 200, level: float = 0.95,
    ) -> PartialDependence:
        """One term's effect on the link scale with standard errors and a band.

        The band is pointwise, from the Bayesian posterior covariance of the term's
        coefficients (Wood 2006); terms are centred, so it excludes intercept uncertainty.
        """
        j = self.feature_index(feature)
        if grid is None:
            grid = np.linspace(self.basis.lower[j], self.basis.upper[j], n_points)
        x = np.asarray(grid, dtype=np.float64)
        rows = np.tile((self.basis.lower + self.basis.upper) / 2.0, (x.shape[0], 1))
        rows[:, j] = x
        design = self._term_design(rows, j)
        block = self.basis.block(j)
        effect = design @ self.coef[block]
        variance = np.einsum("ij,jk,ik->i", design, self.covariance[block, block], design)
        se = np.sqrt(np.maximum(variance, 0.0))
        z = NormalDist().inv_cdf(0.5 + level / 2.0)
        return PartialDependence(
            self.feature_names[j], x, effect, se, effect - z * se, effect + z * se, level
        )

    def _term_design(self, rows: Array, j: int) -> Array:
        columns, values = self.basis.evaluate(rows)
        n_basis = int(self.basis.n_basis[j])
        design = np.zeros((rows.shape[0], n_basis))
        if n_basis == 0:
            return design
        local = columns[:, j, None] - self.basis.offsets[j] + np.arange(self.basis.degree + 1)
        np.put_along_axis(design, local, values[:, j, :], axis=1)
        return design


def _mixed(classes: Sequence[Label]) -> bool:
    return len({type(c) for c in classes}) > 1
