"""A categorical main effect: one coefficient per level, shrunk by a ridge penalty.

This is a random effect (mgcv's ``s(f, bs="re")``): REML chooses how strongly the levels'
effects are pulled towards zero, so a level seen in a handful of rows gets an effect
near zero (partial pooling) and rare levels need no special treatment. The penalty is
full rank, so the term needs no centring constraint: its effects are deviations from
the intercept. Missing values seen in training are one more level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sagegam.model.schema import Schema
from sagegam.model.terms.base import Array, ColumnSums, Evaluator, Term, TermEffect
from sagegam.model.terms.margins import FactorMargin, MarginValues, Nonzeros


@dataclass(frozen=True, eq=False)
class FactorTerm(Term):
    kind = "factor"
    margin: FactorMargin

    @property
    def margins(self) -> tuple[FactorMargin]:
        return (self.margin,)

    @property
    def n_coef(self) -> int:
        return self.margin.n_codes

    def name(self, schema: Schema) -> str:
        return schema.names[self.margin.feature]

    def nonzeros(self, values: MarginValues, index: list[int]) -> Nonzeros:
        return values[index[0]]

    def penalties(self, pieces: int = 1) -> list[Array]:
        return [self.margin.penalty()]

    def constraint(self, sums: ColumnSums) -> Array:
        return np.eye(self.n_coef)

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "margin": self.margin.spec()}

    def effect(self, evaluate: Evaluator, level: float, n_points: int) -> TermEffect:
        feature = evaluate.schema.features[self.margin.feature]
        codes = np.arange(self.margin.n_codes, dtype=np.float64)
        rows = evaluate.neutral_rows(len(codes))
        rows[:, self.margin.feature] = codes
        effect, std_error = evaluate.effect_on(rows)
        names = np.array([feature.level_name(int(c)) for c in codes], dtype=object)
        return TermEffect(feature.name, "levels", names, effect, std_error, level,
                          features=(feature.name,))
