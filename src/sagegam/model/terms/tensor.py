"""An interaction: the tensor product of two margins, without their main effects.

The basis is the row-wise Kronecker product of the margins' bases, each first centred
over the training rows (mgcv's ``ti``): the term then contains neither main effect, so a
model reads as one curve (or bar chart) per feature plus one surface per pair. Each
margin brings its own penalty, ``S_1 (x) I`` and ``I (x) S_2``, with its own smoothing
parameter (mgcv's ``te``), so the surface may be smooth along one feature and wiggly
along the other. A factor margin's penalty is a ridge, so a factor by factor pair is a
random interaction effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sagegam.model.schema import Schema
from sagegam.model.terms.base import Array, ColumnSums, Evaluator, Term, TermEffect, centering
from sagegam.model.terms.margins import (
    FactorMargin,
    Margin,
    MarginValues,
    Nonzeros,
    SplineMargin,
)

SURFACE_POINTS = 40  # per axis of a surface's grid


@dataclass(frozen=True, eq=False)
class TensorTerm(Term):
    kind = "tensor"
    first: Margin
    second: Margin

    @property
    def margins(self) -> tuple[Margin, Margin]:
        return (self.first, self.second)

    @property
    def n_coef(self) -> int:
        return self.first.size * self.second.size

    def name(self, schema: Schema) -> str:
        return ":".join(schema.names[m.feature] for m in self.margins)

    def nonzeros(self, values: MarginValues, index: list[int]) -> Nonzeros:
        columns_1, weights_1 = values[index[0]]
        columns_2, weights_2 = values[index[1]]
        n = len(columns_1)
        columns = columns_1[:, :, None] * self.second.size + columns_2[:, None, :]
        weights = weights_1[:, :, None] * weights_2[:, None, :]
        return columns.reshape(n, -1), weights.reshape(n, -1)

    def penalties(self, pieces: int = 1) -> list[Array]:
        eye_1, eye_2 = np.eye(self.first.size), np.eye(self.second.size)
        return [np.kron(self.first.penalty(), eye_2).astype(np.float64),
                np.kron(eye_1, self.second.penalty()).astype(np.float64)]

    def constraint(self, sums: ColumnSums) -> Array:
        return np.kron(centering(sums.margins[0]), centering(sums.margins[1])).astype(np.float64)

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "margins": [m.spec() for m in self.margins]}

    def effect(self, evaluate: Evaluator, level: float, n_points: int) -> TermEffect:
        first, second = (_axis(m, evaluate.schema, SURFACE_POINTS) for m in self.margins)
        rows = evaluate.neutral_rows(len(first[0]) * len(second[0]))
        grid_1, grid_2 = np.meshgrid(first[0], second[0], indexing="ij")
        rows[:, self.first.feature] = grid_1.ravel()
        rows[:, self.second.feature] = grid_2.ravel()
        effect, std_error = evaluate.effect_on(rows)
        shape = (len(first[0]), len(second[0]))
        kind = "surface" if isinstance(self.first, SplineMargin) and isinstance(
            self.second, SplineMargin) else "table"
        names = tuple(evaluate.schema.names[m.feature] for m in self.margins)
        return TermEffect(self.name(evaluate.schema), kind, first[1], effect.reshape(shape),
                          std_error.reshape(shape), level, second[1], names)


def _axis(margin: Margin, schema: Schema, n_points: int) -> tuple[Array, Any]:
    """Codes to evaluate along one margin, and how to label them."""
    if isinstance(margin, FactorMargin):
        feature = schema.features[margin.feature]
        codes = np.arange(margin.n_codes, dtype=np.float64)
        return codes, np.array([feature.level_name(int(c)) for c in codes], dtype=object)
    grid = margin.grid(n_points)
    return grid, grid
