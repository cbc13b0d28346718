"""The terms of a GAM, one module per kind, and their stored form."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from sagegam.model.terms.base import ColumnSums, Evaluator, Term, TermEffect
from sagegam.model.terms.by_curve import ByCurveTerm
from sagegam.model.terms.factor import FactorTerm
from sagegam.model.terms.margins import (
    FactorMargin,
    Margin,
    MarginTable,
    MarginValues,
    SplineMargin,
    margin_from_spec,
)
from sagegam.model.terms.spline import SplineTerm
from sagegam.model.terms.tensor import TensorTerm

__all__ = ["ByCurveTerm", "ColumnSums", "Evaluator", "FactorMargin", "FactorTerm", "Margin",
           "MarginTable", "MarginValues", "SplineMargin", "SplineTerm", "TensorTerm", "Term",
           "TermEffect", "dense_basis", "interaction", "term_from_spec"]


def dense_basis(term: Term, rows: NDArray[np.float64],
                names: tuple[str, ...]) -> NDArray[np.float64]:
    """The term's basis on encoded rows as a dense ``(n, n_coef)`` matrix."""
    table = MarginTable(list(term.margins), names)
    columns, weights = term.nonzeros(table.evaluate(rows), list(range(len(term.margins))))
    basis = np.zeros((len(rows), term.n_coef))
    if term.n_coef:
        np.add.at(basis, (np.arange(len(rows))[:, None], columns), weights)
    return basis


def interaction(first: Margin, second: Margin) -> TensorTerm:
    """The pair's term: curves per level for numeric by categorical, else a tensor."""
    if isinstance(first, FactorMargin) and isinstance(second, SplineMargin):
        first, second = second, first
    if isinstance(first, SplineMargin) and isinstance(second, FactorMargin):
        return ByCurveTerm(first, second)
    return TensorTerm(first, second)


def term_from_spec(spec: dict[str, Any]) -> Term:
    kind = spec.get("kind")
    if kind == "spline":
        margin = margin_from_spec(spec["margin"])
        if isinstance(margin, SplineMargin):
            return SplineTerm(margin, bool(spec.get("missing", False)),
                              int(spec.get("monotone", 0)), int(spec.get("curvature", 0)))
    if kind == "factor":
        margin = margin_from_spec(spec["margin"])
        if isinstance(margin, FactorMargin):
            return FactorTerm(margin)
    if kind in ("tensor", "by"):
        first, second = (margin_from_spec(m) for m in spec["margins"])
        return interaction(first, second)
    raise ValueError(f"Unknown term {spec!r}.")
