"""Data sets for the scale tests: large enough for the streamed path (more than 200,000 rows
of positive weight), with every term curved so each smoothing parameter has an interior
REML optimum (a term that is a straight line leaves its parameter undetermined beyond the
criterion's rounding, in memory as much as streamed)."""

from __future__ import annotations

import numpy as np
import pandas as pd

ROWS = 240_000


def mixed(rows: int = ROWS, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    """Two numeric features (one with missing values, one with few distinct values), a
    text column, and a linear predictor with an interaction."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.uniform(-2, 2, rows), "b": rng.uniform(0, 3, rows).round(2),
                      "c": rng.choice(["p", "q", "r", "s"], rows)})
    X.loc[rng.random(rows) < 0.03, "a"] = np.nan
    a = X["a"].fillna(0.5).to_numpy()
    eta = (np.sin(2 * a) + np.cos(X["b"].to_numpy()) + X["c"].map(
        {"p": 0.0, "q": 0.8, "r": -0.6, "s": 0.3}).to_numpy() + 0.5 * np.sin(a) * X["b"])
    return X, eta.to_numpy() if hasattr(eta, "to_numpy") else eta
