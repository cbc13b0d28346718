"""Everything an explorer page shows, as one JSON-ready dict (numpy only).

Three parts: the model itself (features, terms, coefficients: what the page needs to
compute any row's contributions, as the endpoint's explanations do), each term's effect
with its band on its natural grid (from :meth:`GAMPredictor.partial_dependence`), and
the data sets (embedded rows, histograms, metrics). An offset or exposure column is a
feature of the schema but no term: it gets no effect or importance, only its spread.
Coefficients and data values keep full precision so sums are exact; effect grids are
rounded for the eye.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sagegam import __version__
from sagegam.explore.rows import Rows, fit_metrics
from sagegam.model.interpret import summary_text, term_domain
from sagegam.model.predictor import GAMPredictor
from sagegam.model.schema import Feature
from sagegam.model.terms import SplineMargin, TermEffect

HISTOGRAM_BINS = 40
SHOWN_DIGITS = 7  # significant digits of effect grids: finer than any screen
INFO_STATISTICS = ("n_obs", "edf_total", "deviance_explained", "scale", "smoothness",
                   "converged", "n_iter")


def build_payload(predictor: GAMPredictor, datasets: list[Rows], *, title: str,
                  metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The page's data: model, terms, data sets and fit statistics."""
    importance, basis = _importances(predictor, datasets)
    return {
        "title": title,
        "written_by": f"sagegam {__version__}",
        "model": _model(predictor),
        "statistics": _statistics(predictor, metrics or {}),
        "summary": summary_text(predictor),
        "importance_basis": basis,
        "terms": [_term(predictor, t, float(importance[t])) for t in range(len(predictor.terms))],
        "histograms": _histograms(predictor, datasets[0] if datasets else None),
        "offsets": _offsets(predictor, datasets[0] if datasets else None),
        "datasets": [_dataset(predictor, rows) for rows in datasets],
    }


def _model(predictor: GAMPredictor) -> dict[str, Any]:
    """What the page's evaluator needs: the same arithmetic as the predictor's."""
    return {
        "task": predictor.task,
        "family": predictor.family.name,
        "link": predictor.family.link,
        "classes": None if predictor.classes is None else [str(c) for c in predictor.classes],
        "handle_unknown": predictor.schema.handle_unknown,
        "intercept": predictor.intercept,
        "coef": exact(predictor.coef),
        "features": [_feature(f) for f in predictor.schema.features],
        "terms": [_term_spec(predictor, t) for t in range(len(predictor.terms))],
    }


def _feature(feature: Feature) -> dict[str, Any]:
    return {"name": feature.name, "kind": feature.kind, "missing": feature.missing,
            "levels": [feature.level_name(c) for c in range(len(feature.levels))]}


def _term_spec(predictor: GAMPredictor, t: int) -> dict[str, Any]:
    term = predictor.terms[t]
    return {"name": predictor.term_names[t], "kind": term.kind,
            "margins": [m.spec() for m in term.margins],
            "missing": bool(getattr(term, "missing", False)),
            "offset": predictor.offsets[t], "n_coef": term.n_coef}


def _statistics(predictor: GAMPredictor, metrics: dict[str, Any]) -> dict[str, Any]:
    info = predictor.info
    shown = {key: info[key] for key in INFO_STATISTICS if key in info}
    shown |= {key: value for key, value in info.items() if key.startswith("train_")}
    shown |= metrics
    return {key: _scalar(value) for key, value in shown.items()}


def _term(predictor: GAMPredictor, t: int, importance: float) -> dict[str, Any]:
    info = predictor.info
    n = len(predictor.terms)
    alpha = info.get("alpha", [None] * n)[t]
    selected = info.get("alpha_selected", [False] * n)[t]
    effect = predictor.partial_dependence(t)
    return {
        "name": predictor.term_names[t],
        "kind": predictor.terms[t].kind,
        "features": list(effect.features) or [effect.feature],
        "edf": _scalar(info.get("edf", [None] * n)[t]),
        "alpha": _scalar(alpha),
        "chosen_by": "-" if alpha is None else "REML" if selected else "fixed",
        "importance": importance,
        "domain": term_domain(predictor, predictor.terms[t]),
        "effect": _effect(effect),
    }


def _effect(effect: TermEffect) -> dict[str, Any]:
    return {"kind": effect.kind, "level": effect.level,
            "grid": _labels(effect.grid), "grid2": None if effect.grid2 is None
            else _labels(effect.grid2), "effect": rounded(effect.effect),
            "lower": rounded(effect.lower), "upper": rounded(effect.upper),
            "std_error": rounded(effect.std_error)}


def _labels(grid: NDArray[Any]) -> list[Any]:
    if grid.dtype == object:
        return [str(g) for g in grid]
    return rounded(grid)


def _importances(predictor: GAMPredictor, datasets: list[Rows]) -> tuple[Any, str]:
    """Each term's mean absolute contribution: over the first data set's rows, else
    evenly over each term's grid (every level, every grid point)."""
    if datasets:
        contributions = predictor.contributions_of(datasets[0].codes)
        return np.mean(np.abs(contributions), axis=0), f"rows of the {datasets[0].label}"
    values = [float(np.mean(np.abs(predictor.partial_dependence(t).effect)))
              for t in range(len(predictor.terms))]
    return np.array(values), "each term's grid (no data given)"


def _histograms(predictor: GAMPredictor, rows: Rows | None) -> list[dict[str, Any] | None]:
    """Per feature, how the data is spread: bins over the range, or counts per level."""
    if rows is None:
        return [None] * predictor.n_features
    ranges = {m.feature: (m.lower, m.upper) for term in predictor.terms
              for m in term.margins if isinstance(m, SplineMargin)}
    return [_histogram(_as_given(rows, j), feature, ranges.get(j))
            for j, feature in enumerate(predictor.schema.features)]


def _as_given(rows: Rows, j: int) -> NDArray[np.float64]:
    """A column's values as the user gave them: its codes, but an exposure's own values
    rather than their log."""
    return rows.exposures.get(j, rows.codes[:, j])


def _offsets(predictor: GAMPredictor, rows: Rows | None) -> list[dict[str, Any]]:
    """Each offset or exposure column, and how it spreads over every row of the data."""
    out = []
    for j, kind in predictor.schema.offsets.items():
        values = None if rows is None else _as_given(rows, j)
        spread = None if values is None or values.size == 0 else \
            [float(np.min(values)), float(np.median(values)), float(np.max(values))]
        out.append({"feature": j, "name": predictor.feature_names[j], "kind": kind,
                    "min_median_max": spread})
    return out


def _histogram(column: NDArray[np.float64], feature: Feature,
               training_range: tuple[float, float] | None) -> dict[str, Any]:
    missing = np.isnan(column)
    present = column[~missing]
    if feature.categorical:
        known = present[present >= 0].astype(np.intp)
        counts = np.bincount(known, minlength=feature.n_codes)
        return {"counts": counts.tolist(), "unknown": int(len(column) - known.size)}
    if present.size == 0:
        return {"edges": [], "counts": [], "missing": int(missing.sum())}
    low, high = float(present.min()), float(present.max())
    if training_range is not None:
        low, high = min(low, training_range[0]), max(high, training_range[1])
    counts, edges = np.histogram(present, bins=HISTOGRAM_BINS, range=(low, high or low + 1))
    return {"edges": rounded(edges), "counts": counts.tolist(), "missing": int(missing.sum())}


def _dataset(predictor: GAMPredictor, rows: Rows) -> dict[str, Any]:
    codes = rows.codes[rows.shown]
    return {
        "label": rows.label,
        "n": rows.n,
        "rows": rows.shown.tolist(),
        "codes": [exact(codes[:, j]) for j in range(codes.shape[1])],
        "exposures": [exact(rows.exposures[j][rows.shown]) if j in rows.exposures else None
                      for j in range(codes.shape[1])],
        "target": None if rows.target is None else exact(rows.target[rows.shown]),
        "metrics": None if rows.target is None else fit_metrics(predictor, rows),
        "unknown": rows.unknown.count,
    }


def exact(values: NDArray[Any]) -> list[float | int | None]:
    """Numbers that read back bit for bit (whole numbers without ".0"); NaN as null."""
    out: list[float | int | None] = []
    for v in np.asarray(values, dtype=np.float64).ravel().tolist():
        if math.isnan(v):
            out.append(None)
        elif v.is_integer() and abs(v) < 2.0**53:
            out.append(int(v))
        else:
            out.append(v)
    return out


def rounded(values: NDArray[Any]) -> Any:
    """An array as nested lists of numbers to SHOWN_DIGITS significant digits."""
    array = np.asarray(values, dtype=np.float64)
    flat = [None if not math.isfinite(v) else float(f"{v:.{SHOWN_DIGITS}g}")
            for v in array.ravel().tolist()]
    return np.array(flat, dtype=object).reshape(array.shape).tolist()


def _scalar(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (list, tuple)):
        return [_scalar(v) for v in value]
    return value
