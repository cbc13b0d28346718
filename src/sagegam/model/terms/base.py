"""What every term of a GAM knows: its basis, penalties, constraint, storage and effect.

A term adds ``f(x)`` to the linear predictor through ``n_coef`` coefficients. Its basis is
built from one or two margins (:mod:`~sagegam.model.terms.margins`) and given per row as
a fixed number of nonzeros, so the design matrix is never built. Penalties and the
identifiability constraint act on the term's own coefficients; the fitting code, the
artifact, the predictor, the explanations and the plots all go through this interface,
so a new kind of term touches one module.

numpy only: the serving path imports this module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from sagegam.model.schema import Schema
from sagegam.model.terms.margins import Margin, MarginValues, Nonzeros

Array = NDArray[np.float64]


@dataclass(frozen=True)
class TermEffect:
    """A term's effect on a grid, with standard errors and a pointwise band.

    ``kind`` says how to read it: ``"curve"`` (``grid`` holds x values, ``effect`` one value
    each), ``"levels"`` (``grid`` holds level names), ``"surface"`` (a pair of numeric
    features: ``effect[i, j]`` at ``grid[i]``, ``grid2[j]``), ``"curves"`` (a numeric
    feature by a factor: one curve per level in ``grid2``) or ``"table"`` (two factors).
    """

    feature: str
    kind: str
    grid: NDArray[Any]
    effect: Array
    std_error: Array
    level: float
    grid2: NDArray[Any] | None = None
    features: tuple[str, ...] = ()

    @property
    def lower(self) -> Array:
        return self.effect - self._half_width()

    @property
    def upper(self) -> Array:
        return self.effect + self._half_width()

    def _half_width(self) -> Array:
        return NormalDist().inv_cdf(0.5 + self.level / 2.0) * self.std_error


class Term(ABC):
    """One additive term; subclasses are the term kinds."""

    kind: ClassVar[str]

    @property
    @abstractmethod
    def margins(self) -> tuple[Margin, ...]: ...

    @property
    @abstractmethod
    def n_coef(self) -> int: ...

    @abstractmethod
    def name(self, schema: Schema) -> str: ...

    @abstractmethod
    def nonzeros(self, values: MarginValues, index: list[int]) -> Nonzeros:
        """Per row, the term's nonzero basis columns (within the term) and values.

        ``index[m]`` is the position of this term's ``m``-th margin in ``values``.
        """

    @abstractmethod
    def penalties(self, pieces: int = 1) -> list[Array]:
        """Penalty matrices on the term's coefficients (``pieces`` > 1: adaptive)."""

    @abstractmethod
    def constraint(self, sums: ColumnSums) -> Array:
        """``Z`` (coefficients x free coefficients): the identifiability constraint."""

    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """The JSON description the artifact stores."""

    @abstractmethod
    def effect(self, evaluate: Evaluator, level: float, n_points: int) -> TermEffect:
        """The term's effect on its natural grid, with standard errors."""

    def adaptive_pieces(self) -> int:
        """How many local smoothing parameters an adaptive fit may give this term."""
        return 1

    def bounded(self) -> NDArray[np.bool_] | None:
        """Which free coefficients (of :meth:`constraint`'s ``Z``) must stay >= 0, for a
        shape-constrained term; None when none must."""
        return None

    @property
    def features(self) -> tuple[int, ...]:
        return tuple(m.feature for m in self.margins)


@dataclass(frozen=True)
class ColumnSums:
    """Weighted column sums over the training rows: of the term's basis and each margin's."""

    term: Array
    margins: list[Array]


class Evaluator(ABC):
    """What a term needs from the fitted model to compute its effect on a grid."""

    @property
    @abstractmethod
    def schema(self) -> Schema: ...

    @abstractmethod
    def term_basis(self, rows: Array) -> Array:
        """The term's dense basis on encoded ``rows`` (other features irrelevant)."""

    @abstractmethod
    def coefficients(self) -> tuple[Array, Array]:
        """The term's coefficients and their posterior covariance."""

    def neutral_rows(self, n: int) -> Array:
        """Encoded rows to fill in: a term's basis reads only its own features."""
        return np.zeros((n, len(self.schema.features)))

    def effect_on(self, rows: Array) -> tuple[Array, Array]:
        """Effect and standard error of the term at each encoded row."""
        basis = self.term_basis(rows)
        coef, covariance = self.coefficients()
        variance = np.einsum("ij,jk,ik->i", basis, covariance, basis)
        return basis @ coef, np.sqrt(np.maximum(variance, 0.0))


def centering(sums: Array) -> Array:
    """``Z`` whose columns span the coefficients with ``sums . beta = 0``.

    The term then sums to zero over the (weighted) training rows, which separates it
    from the intercept. A complete QR of the sums vector: its first column is parallel to
    the constraint, the others are an orthonormal basis of what is left.
    """
    if sums.size == 0:
        return np.zeros((0, 0))
    q, _ = np.linalg.qr(sums[:, None], mode="complete")
    return q[:, 1:]
