"""A numeric feature by a categorical one: a curve per level (mgcv's ``s(x, by = f)``).

Fitted as the tensor product of a spline margin and a factor margin, both centred
(mgcv's ``ti(x, f, bs = c("ps", "re"))``): each level's curve is its deviation from the
feature's main effect, and the deviations cancel across levels at every ``x``, so the
main effects keep their meaning. Its two smoothing parameters say how wiggly the level
curves may be and how far they may stray from each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sagegam.model.terms.base import Evaluator, TermEffect
from sagegam.model.terms.margins import FactorMargin, SplineMargin
from sagegam.model.terms.tensor import TensorTerm

CURVE_POINTS = 100


@dataclass(frozen=True, eq=False)
class ByCurveTerm(TensorTerm):
    kind = "by"
    first: SplineMargin
    second: FactorMargin

    def effect(self, evaluate: Evaluator, level: float, n_points: int) -> TermEffect:
        feature = evaluate.schema.features[self.second.feature]
        grid = self.first.grid(min(n_points, CURVE_POINTS))
        codes = np.arange(self.second.n_codes, dtype=np.float64)
        rows = evaluate.neutral_rows(len(grid) * len(codes))
        grid_x, grid_f = np.meshgrid(grid, codes, indexing="ij")
        rows[:, self.first.feature] = grid_x.ravel()
        rows[:, self.second.feature] = grid_f.ravel()
        effect, std_error = evaluate.effect_on(rows)
        shape = (len(grid), len(codes))
        names = np.array([feature.level_name(int(c)) for c in codes], dtype=object)
        features = tuple(evaluate.schema.names[m.feature] for m in self.margins)
        return TermEffect(self.name(evaluate.schema), "curves", grid, effect.reshape(shape),
                          std_error.reshape(shape), level, names, features)
