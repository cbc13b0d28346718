"""sagegam: interpretable GAMs from a CSV file to an Amazon SageMaker endpoint.

``import sagegam`` is cheap: the estimators (which need scikit-learn and scipy) load on
first access, so the serving path pulls in numpy and the artifact reader only.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["FileSource", "GAMClassifier", "GAMPredictor", "GAMRegressor", "load", "save"]


def __getattr__(name: str) -> Any:
    if name in ("GAMRegressor", "GAMClassifier"):
        from sagegam.model import estimators

        return getattr(estimators, name)
    if name in ("save", "load"):
        from sagegam.model import artifact

        return getattr(artifact, name)
    if name == "FileSource":  # files larger than memory, fitted in passes
        from sagegam.container.streams import FileSource

        return FileSource
    if name == "GAMPredictor":
        from sagegam.model.predictor import GAMPredictor

        return GAMPredictor
    raise AttributeError(f"module 'sagegam' has no attribute {name!r}")
