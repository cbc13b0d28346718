"""Margins: the one-feature bases that terms are built from.

A spline margin is a cubic (by default) B-spline basis on equally spaced knots over a
numeric feature's training range; a factor margin is the indicator basis of a
categorical feature's codes. A main effect has one margin, an interaction two. Every
margin of a model is evaluated in one pass by a :class:`MarginTable`: the spline margins
together, vectorised over columns (the cost of serving one row is a handful of numpy
calls, not one per term), the factor margins by their codes.

numpy only: the serving path imports this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from sagegam.model.basis import OutsideRangeError, SplineBasis
from sagegam.model.knots import KnotBasis, divided_differences
from sagegam.model.pieces import CubicPieces

Array = NDArray[np.float64]
Columns = NDArray[np.int64]
Nonzeros = tuple[Columns, Array]  # per row: first columns (n, nnz) and values (n, nnz)
T = TypeVar("T")


@dataclass(frozen=True)
class SplineMargin:
    feature: int
    lower: float
    upper: float
    n_basis: int  # 0 when the feature was constant in training
    degree: int = 3
    extrapolation: str = "linear"
    knots: tuple[float, ...] | None = None  # inner knots (None: equally spaced)

    @property
    def size(self) -> int:
        return self.n_basis

    def differences(self) -> Array:
        """``D``: second differences of the coefficients (divided differences at their
        Greville abscissae when the knots are not equally spaced)."""
        if self.n_basis <= 2:
            return np.zeros((0, self.n_basis))
        if self.knots is None:
            return np.diff(np.eye(self.n_basis), n=2, axis=0)
        return divided_differences(np.array(self.knots), self.degree)

    def penalty(self) -> Array:
        """Eilers and Marx's second-difference penalty ``D'D``."""
        D = self.differences()
        return D.T @ D

    def grid(self, n_points: int) -> Array:
        """Points over the range, as dense as the knots: equally spaced for equally
        spaced knots, else equally many in every knot interval."""
        if self.knots is None:
            return np.linspace(self.lower, self.upper, n_points)
        index = np.linspace(0.0, len(self.knots) - 1.0, n_points)
        return np.interp(index, np.arange(len(self.knots)), np.array(self.knots))

    def spec(self) -> dict[str, Any]:
        spec = {"kind": "spline", "feature": self.feature, "lower": self.lower,
                "upper": self.upper, "n_basis": self.n_basis, "degree": self.degree,
                "extrapolation": self.extrapolation}
        if self.knots is not None:
            spec["knots"] = list(self.knots)
        return spec


@dataclass(frozen=True)
class FactorMargin:
    feature: int
    n_codes: int  # levels, plus one if missing values had their own level

    @property
    def size(self) -> int:
        return self.n_codes

    def penalty(self) -> Array:
        """A ridge: every level's effect shrunk towards zero (a random effect)."""
        return np.eye(self.n_codes)

    def spec(self) -> dict[str, Any]:
        return {"kind": "factor", "feature": self.feature, "n_codes": self.n_codes}


Margin = SplineMargin | FactorMargin


def margin_from_spec(spec: dict[str, Any]) -> Margin:
    if spec["kind"] == "spline":
        knots = spec.get("knots")
        return SplineMargin(int(spec["feature"]), float(spec["lower"]), float(spec["upper"]),
                            int(spec["n_basis"]), int(spec["degree"]),
                            str(spec["extrapolation"]),
                            None if knots is None else tuple(float(k) for k in knots))
    if spec["kind"] == "factor":
        return FactorMargin(int(spec["feature"]), int(spec["n_codes"]))
    raise ValueError(f"Unknown margin kind {spec['kind']!r}.")


@dataclass(frozen=True)
class MarginValues:
    """Every margin's nonzeros for a block of rows, in the table's margin order, and the
    rows' encoded values (for what a margin does not carry, such as missingness)."""

    nonzeros: list[Nonzeros]
    codes: Array

    def __getitem__(self, index: int) -> Nonzeros:
        return self.nonzeros[index]


class MarginTable:
    """Evaluates a model's distinct margins together."""

    def __init__(self, margins: list[Margin], names: tuple[str, ...]) -> None:
        self.margins = margins
        self.names = names
        self._splines = [i for i, m in enumerate(margins) if isinstance(m, SplineMargin)]

    def index(self, margin: Margin) -> int:
        return self.margins.index(margin)

    @cached_property
    def _basis(self) -> list[tuple[SplineBasis | KnotBasis, list[int]]]:
        """One vectorised basis per (degree, extrapolation, equally spaced or not): in
        practice, one or two."""
        groups: dict[tuple[int, str, bool], list[int]] = {}
        for i in self._splines:
            margin = self.margins[i]
            assert isinstance(margin, SplineMargin)
            uniform = margin.knots is None
            groups.setdefault((margin.degree, margin.extrapolation, uniform), []).append(i)
        bases: list[tuple[SplineBasis | KnotBasis, list[int]]] = []
        for (degree, extrapolation, uniform), members in groups.items():
            chosen = [m for m in (self.margins[i] for i in members)
                      if isinstance(m, SplineMargin)]
            if not uniform:
                knots = tuple(m.knots for m in chosen if m.knots is not None)
                bases.append((KnotBasis(knots, degree, extrapolation), members))  # type: ignore[arg-type]
                continue
            bases.append((SplineBasis(
                np.array([m.lower for m in chosen]), np.array([m.upper for m in chosen]),
                np.array([m.size for m in chosen], dtype=np.int64), degree,
                extrapolation), members))  # type: ignore[arg-type]
        return bases

    @cached_property
    def _spline_features(self) -> list[NDArray[np.intp]]:
        return [np.array([self.margins[i].feature for i in members], dtype=np.intp)
                for _, members in self._basis]

    def evaluate(self, codes: Array) -> MarginValues:
        """All margins on rows of encoded features (see :class:`~sagegam.model.schema`)."""
        out: list[Nonzeros | None] = [None] * len(self.margins)
        for (basis, members), features in zip(self._basis, self._spline_features, strict=True):
            spans, values = self._splines_at(basis, codes[:, features], features)
            offsets = np.arange(basis.degree + 1)
            for position, i in enumerate(members):
                # A constant feature's margin has no columns: point at 0, with value 0.
                columns = spans[:, position, None] + offsets if basis.active[position] else \
                    np.zeros((len(spans), len(offsets)), dtype=np.int64)
                out[i] = (columns, values[:, position])
        for i, margin in enumerate(self.margins):
            if isinstance(margin, FactorMargin):
                out[i] = factor_nonzeros(codes[:, margin.feature])
        return MarginValues(out, codes)  # type: ignore[arg-type]

    def splines(self, codes: Array) -> tuple[Columns, Array]:
        """For a table of spline margins of one degree: every margin's first basis function
        per row and the values, as :meth:`SplineBasis.evaluate` gives them."""
        ((basis, _),), (features,) = self._basis, self._spline_features
        return self._splines_at(basis, codes[:, features], features)

    @property
    def spline_basis(self) -> SplineBasis | KnotBasis:
        """The one basis of a table of spline margins of one degree and knot layout (see
        :meth:`splines`)."""
        ((basis, _),) = self._basis
        return basis

    def fitted(self, pieces: CubicPieces, codes: Array) -> Array:
        """For a table of cubic spline margins on equally spaced knots: each margin's spline
        times its coefficients (``pieces`` of :attr:`spline_basis`) at rows of codes."""
        ((_, _),), (features,) = self._basis, self._spline_features
        return self._named(pieces.evaluate, codes[:, features], features)

    def _splines_at(self, basis: SplineBasis | KnotBasis, X: Array,
                    features: NDArray[np.intp]) -> tuple[Columns, Array]:
        return self._named(basis.evaluate, X, features)

    def _named(self, evaluate: Callable[[Array], T], X: Array,
               features: NDArray[np.intp]) -> T:
        """``evaluate(X)``, an out-of-range error naming the feature as the model does."""
        try:
            return evaluate(X)
        except OutsideRangeError as error:
            feature = int(features[error.feature])
            raise OutsideRangeError(error.row, feature, error.value, error.lower, error.upper,
                                    self.names[feature], far=error.far) from None


def factor_nonzeros(codes: Array) -> Nonzeros:
    """Indicator columns of level codes; a code the model cannot place (< 0, NaN) is 0."""
    known = codes >= 0  # False for NaN too
    columns = np.where(known, codes, 0.0).astype(np.int64)[:, None]
    return columns, known.astype(np.float64)[:, None]
