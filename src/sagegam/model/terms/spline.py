"""A smooth main effect: a penalized B-spline (P-spline) of one numeric feature.

A monotone term (``monotone`` +1 or -1) is parametrized by the increments of its
coefficients, ``beta_i = c + sign * sum_(k < i) delta_k`` with ``delta >= 0``: a B-spline
with monotone coefficients is monotone everywhere, so the constraint holds between and
beyond the data (its linear extrapolation has the boundary's non-negative slope) and
needs no grid of checks. A convex or concave term (``curvature`` +1 or -1, alone or with
a direction) is parametrized likewise by the non-negative changes of its derivative's
coefficients (:mod:`~sagegam.model.terms.shapes`). The centring fixes ``c``; the
second-difference penalty on ``beta`` is carried into the new coordinates, and its null
space is still the straight line.

The penalty is on second differences of neighbouring coefficients (Eilers and Marx
1996); REML chooses its weight. With adaptive smoothness the penalty splits into up to
five hat-weighted pieces, ``D' diag(w_m) D``, so the wiggliness allowed may vary along
the feature (Ruppert and Carroll 2000; Wood 2017, 5.3.5). If the training data had
missing values in the feature, missing rows get one more, unpenalized coefficient: their
own effect, as gradient-boosting and EBM models give them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sagegam.model.schema import Schema
from sagegam.model.terms.base import Array, ColumnSums, Evaluator, Term, TermEffect, centering
from sagegam.model.terms.margins import MarginValues, Nonzeros, SplineMargin
from sagegam.model.terms.shapes import shape_map

ADAPTIVE_PIECES = 5


@dataclass(frozen=True, eq=False)
class SplineTerm(Term):
    kind = "spline"
    margin: SplineMargin
    missing: bool = False  # missing values have their own coefficient
    monotone: int = 0  # +1 increasing, -1 decreasing, 0 free
    curvature: int = 0  # +1 convex, -1 concave, 0 free

    @property
    def margins(self) -> tuple[SplineMargin]:
        return (self.margin,)

    @property
    def n_coef(self) -> int:
        return self.margin.n_basis + int(self.missing)

    def name(self, schema: Schema) -> str:
        return schema.names[self.margin.feature]

    def nonzeros(self, values: MarginValues, index: list[int]) -> Nonzeros:
        columns, weights = values[index[0]]
        if not self.missing:
            return columns, weights
        absent = np.isnan(values.codes[:, self.margin.feature]).astype(np.float64)[:, None]
        extra = np.full((len(columns), 1), self.margin.n_basis)
        if self.margin.n_basis == 0:
            return extra, absent
        return np.hstack([columns, extra]), np.hstack([weights, absent])

    def penalties(self, pieces: int = 1) -> list[Array]:
        n = self.margin.n_basis
        if n == 0:
            return []
        D = self.margin.differences()
        matrices = [D.T @ (w[:, None] * D) for w in _hat_weights(max(n - 2, 1), pieces)]
        if self.missing:
            matrices = [np.pad(S, ((0, 1), (0, 1))) for S in matrices]
        return matrices

    def adaptive_pieces(self) -> int:
        return int(min(ADAPTIVE_PIECES, max(1, (self.margin.n_basis - 2) // 3)))

    def constraint(self, sums: ColumnSums) -> Array:
        if self.margin.n_basis == 0:
            # Nothing to centre: at most the missing rows' coefficient, which is
            # identified against the intercept by the rows that are not missing.
            return np.eye(self.n_coef)
        if self.monotone or self.curvature:
            return self._shaped(sums.term)
        return centering(sums.term)

    def _shape_map(self) -> tuple[Array, NDArray[np.bool_]]:
        m = self.margin
        return shape_map(m.n_basis, m.degree, m.knots, self.monotone, self.curvature)

    def _shaped(self, sums: Array) -> Array:
        """``Z`` from (shape coordinates, missing coefficient) to centred raw coefficients."""
        n = self.margin.n_basis
        cumulative, _ = self._shape_map()  # beta_i - beta_0
        present = float(sums[:n].sum())  # the rows that are not missing (unity partition)
        Z = np.zeros((self.n_coef, n - 1 + int(self.missing)))
        Z[:n, :n - 1] = cumulative - (sums[:n] @ cumulative) / present
        if self.missing:
            Z[:n, n - 1] = -sums[n] / present
            Z[n, n - 1] = 1.0
        return Z

    def bounded(self) -> NDArray[np.bool_] | None:
        if not (self.monotone or self.curvature) or self.margin.n_basis == 0:
            return None
        _, bounded = self._shape_map()
        return np.concatenate([bounded, np.zeros(int(self.missing), dtype=bool)])

    def spec(self) -> dict[str, Any]:
        spec = {"kind": self.kind, "margin": self.margin.spec(), "missing": self.missing}
        if self.monotone:
            spec["monotone"] = self.monotone
        if self.curvature:
            spec["curvature"] = self.curvature
        return spec

    def effect(self, evaluate: Evaluator, level: float, n_points: int) -> TermEffect:
        grid = self.margin.grid(n_points)
        rows = evaluate.neutral_rows(len(grid))
        rows[:, self.margin.feature] = grid
        effect, std_error = evaluate.effect_on(rows)
        name = self.name(evaluate.schema)
        return TermEffect(name, "curve", grid, effect, std_error, level, features=(name,))


def _hat_weights(positions: int, pieces: int) -> list[Array]:
    if pieces == 1:
        return [np.ones(positions)]
    nodes = np.linspace(0.0, positions - 1.0, pieces)
    spacing = nodes[1] - nodes[0]
    grid = np.arange(positions, dtype=float)
    return [np.maximum(0.0, 1.0 - np.abs(grid - node) / spacing) for node in nodes]
