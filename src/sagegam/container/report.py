"""The training job's report: the model explorer, one self-contained HTML file.

The page needs no server or network, so it opens straight from ``output.tar.gz`` (an S3
download, an air-gapped laptop). The training rows give it histograms, importances, rows
for "why this prediction" and the fit; the validation rows, if any, their fit too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sagegam.explore import write_explorer
from sagegam.model.predictor import GAMPredictor


def write_report(path: Path, predictor: GAMPredictor, metrics: dict[str, Any], job_name: str,
                 train: tuple[Any, Any] | None = None,
                 validation: tuple[Any, Any] | None = None) -> None:
    """Write the explorer of ``predictor`` with the job's metrics; ``train`` and
    ``validation`` are ``(X, y)`` pairs."""
    X, y = train if train is not None else (None, None)
    X_validation, y_validation = validation if validation is not None else (None, None)
    write_explorer(path, predictor, X, y, X_validation=X_validation, y_validation=y_validation,
                   metrics=metrics, title=f"sagegam training report: {job_name}")
