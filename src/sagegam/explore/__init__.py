"""The model explorer: one self-contained HTML page to look at a fitted GAM.

An overview (fit statistics, terms ranked by importance, the summary), one chart per
term drawn by its kind, "why this prediction" for any row (each term's contribution,
summing to the prediction exactly as the endpoint's explanations do), and predicted
against observed for every data set with a target. The page needs no server and no
network: open it from a file.

numpy only (the serving path may import it); the estimators' ``explore`` methods,
``sagegam explore`` and the training job's report all come here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sagegam.explore.page import render_page
from sagegam.explore.payload import build_payload
from sagegam.explore.rows import Rows, read_rows
from sagegam.model.predictor import GAMPredictor

MAX_ROWS = 5_000

__all__ = ["MAX_ROWS", "explorer_html", "write_explorer"]


def explorer_html(predictor: GAMPredictor, X: Any = None, y: Any = None, *,
                  X_validation: Any = None, y_validation: Any = None,
                  title: str | None = None, max_rows: int = MAX_ROWS,
                  metrics: dict[str, Any] | None = None) -> str:
    """The explorer page of a fitted model as one HTML string.

    ``X`` (and its target ``y``) is the data to show: histograms under each term, the
    rows "why this prediction" can pick, importances, partial residuals. With
    ``X_validation`` and ``y_validation`` the page also shows the fit on them. Up to
    ``max_rows`` rows of each set are embedded (a seeded sample past that); every row
    counts in histograms, importances and metrics. ``metrics`` (name: value) are added
    to the fit statistics.
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1; got {max_rows}.")
    datasets: list[Rows] = []
    if X is not None:
        datasets.append(read_rows(predictor, X, y, "training data" if X_validation is not
                                  None else "data", max_rows))
    elif y is not None:
        raise ValueError("y was given without X; give the rows it belongs to.")
    if X_validation is not None:
        datasets.append(read_rows(predictor, X_validation, y_validation, "validation data",
                                  max_rows))
    payload = build_payload(predictor, datasets, metrics=metrics,
                            title=title or f"sagegam {predictor.task} model")
    return render_page(payload)


def write_explorer(path: str | Path, predictor: GAMPredictor, X: Any = None, y: Any = None,
                   **options: Any) -> Path:
    """Write :func:`explorer_html` to ``path`` (UTF-8) and return the path."""
    target = Path(path)
    target.write_text(explorer_html(predictor, X, y, **options), encoding="utf-8")
    return target
