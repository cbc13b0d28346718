"""What a fit must say about itself: separation, regions of zeros, non-convergence.

Some data have no finite maximum likelihood. When one feature separates the two classes
of a classifier, the log-odds it explains grow without bound; when a count model sees
only zeros over a region of a feature, the log of the rate there falls without bound.
Penalized IRLS then returns a fit whose effect in that region is an artifact of where
it stopped (fitted probabilities of 1e-80, rates of 1e-86). Such a fit is still usable
for ranking, but its numbers there are not estimates, so it is reported: the feature
whose term drives it, the rows and range concerned, and what to do. A fit that stops
before converging names the term that was still moving.

Each finding is one sentence in ``info["warnings"]`` (so the artifact and the summary
keep it) and is raised as a warning by the estimator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sagegam.model.families import Family
from sagegam.model.schema import Schema
from sagegam.model.terms import FactorMargin, SplineMargin, Term

Array = NDArray[np.float64]
BOUNDARY = 1e-8  # a fitted probability this close to 0 or 1, or a mean this small
LEVELS_NAMED = 3


class FitWarning(UserWarning):
    """The fit exists, but some of its numbers are not estimates (see the message)."""


@dataclass(frozen=True)
class Finding:
    kind: str  # "separation", "zeros" or "convergence"
    message: str

    def as_info(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class FittedRows:
    """The fitted model on its (distinct, weighted) training rows."""

    codes: Array
    y: Array
    weights: Array
    eta: Array  # the linear predictor, offset included
    schema: Schema
    terms: tuple[Term, ...]
    family: Family


def boundary_findings(rows: FittedRows, contributions: Any) -> list[Finding]:
    """Separation (binomial) or a region of zeros (log link), with the term at fault.

    ``contributions(codes)`` gives each term's part of the linear predictor at some rows.
    """
    flagged = _boundary_rows(rows)
    if not flagged.any():
        return []
    parts = contributions(rows.codes[flagged])
    sign = _direction(rows, flagged)
    # The term at fault pushes the flagged rows furthest towards the boundary.
    push = np.mean(parts * sign[:, None], axis=0)
    t = int(np.argmax(push))
    where = _where(rows, t, flagged)
    extreme = float(parts[np.argmax(np.abs(parts[:, t])), t])
    count, total = int(flagged.sum()), int(np.count_nonzero(rows.weights))
    name = rows.terms[t].name(rows.schema)
    if rows.family.name == "binomial":
        return [Finding("separation", (
            f"Feature '{name}' separates the classes: on {count} of {total} training rows "
            f"({where}) the fitted probability is within {BOUNDARY:g} of 0 or 1, and the "
            f"term's effect reaches {extreme:+.3g} on the log-odds scale. The data do not "
            "bound such an effect (complete or quasi-complete separation): predictions "
            "there are 0 or 1 and the term's values and band are not estimates. Drop or "
            "coarsen the feature, or fix its penalty with alpha, if that matters."))]
    return [Finding("zeros", (
        f"Feature '{name}' has a region of zeros: on {count} of {total} training rows "
        f"({where}) every target is 0 and the fitted mean falls below {BOUNDARY:g} times "
        f"the average target (the term's effect reaches {extreme:+.3g} on the log scale). "
        "The data bound the mean there only from above, so predictions there are "
        "numerically 0 and the term's values and band are not estimates."))]


def convergence_findings(rows: FittedRows, converged: bool, last_step: Array,
                         max_iter: int) -> list[Finding]:
    """IRLS that stopped at ``max_iter``, naming the term whose coefficients still moved.

    ``last_step`` is the last IRLS step in raw coefficients (intercept first).
    """
    if converged:
        return []
    # Basis values are at most 1 (B-splines, indicators and their products), so a raw
    # coefficient's change bounds its term's change on the link scale.
    moved, start = [], 1
    for term in rows.terms:
        block = last_step[start:start + term.n_coef]
        moved.append(float(np.max(np.abs(block), initial=0.0)))
        start += term.n_coef
    where = ""
    if moved and max(moved) > 0:
        t = int(np.argmax(moved))
        where = (f"; the coefficients of '{rows.terms[t].name(rows.schema)}' moved most in "
                 f"the last step (by up to {max(moved):.2g} on the link scale)")
    return [Finding("convergence", (
        f"Penalized IRLS did not converge in max_iter={max_iter} iterations{where}. Raise "
        "max_iter, or look at that feature's data (an extreme value, or a region it "
        "separates)."))]


def _boundary_rows(rows: FittedRows) -> NDArray[np.bool_]:
    positive = rows.weights > 0
    family = rows.family
    if family.name == "binomial":
        limit = float(np.log(1.0 / BOUNDARY - 1.0))
        return positive & (np.abs(rows.eta) > limit)
    if family.link != "log":
        return np.zeros(len(rows.eta), dtype=bool)
    average = float(np.average(rows.y, weights=rows.weights))
    if average <= 0:
        return np.zeros(len(rows.eta), dtype=bool)
    return positive & (rows.y == 0) & (rows.eta < np.log(BOUNDARY * average))


def _direction(rows: FittedRows, flagged: NDArray[np.bool_]) -> Array:
    """+1 where the boundary is above (probability 1), -1 where it is below."""
    if rows.family.name == "binomial":
        return np.sign(rows.eta[flagged])
    return -np.ones(int(flagged.sum()))


def _where(rows: FittedRows, t: int, flagged: NDArray[np.bool_]) -> str:
    """Where a term's flagged rows lie: a numeric range or a few levels per feature."""
    parts = []
    for margin in rows.terms[t].margins:
        feature = rows.schema.features[margin.feature]
        values = rows.codes[flagged, margin.feature]
        present = values[~np.isnan(values)]
        if isinstance(margin, SplineMargin):
            parts.append(f"{feature.name} in [{present.min():.4g}, {present.max():.4g}]"
                         if present.size else f"{feature.name} missing")
        elif isinstance(margin, FactorMargin):
            codes = np.unique(present[present >= 0]).astype(int)
            named = ", ".join(repr(feature.level_name(c)) for c in codes[:LEVELS_NAMED])
            more = f" and {len(codes) - LEVELS_NAMED} more" if len(codes) > LEVELS_NAMED else ""
            parts.append(f"{feature.name} = {named}{more}")
    return "; ".join(parts)
