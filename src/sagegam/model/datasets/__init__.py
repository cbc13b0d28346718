"""Small datasets that ship with sagegam, so examples and tests need no download."""

from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray


def gauss3_path() -> Any:
    """The bundled NIST StRD Gauss3 file (columns ``x,y``, 250 rows, with a header)."""
    return resources.files(__name__).joinpath("gauss3.csv")


def load_gauss3(*, return_X_y: bool = False, as_frame: bool = False) -> Any:
    """NIST Gauss3: two blended Gaussian peaks on a decaying baseline (public domain).

    ``return_X_y`` gives ``(X, y)`` with ``X`` of shape (250, 1); ``as_frame`` a pandas
    DataFrame with columns ``x`` and ``y``; otherwise an array of shape (250, 2).
    """
    with resources.as_file(gauss3_path()) as path:
        data = np.loadtxt(path, delimiter=",", skiprows=1)
    if as_frame:
        import pandas as pd

        return pd.DataFrame(data, columns=["x", "y"])
    if return_X_y:
        return data[:, :1], data[:, 1]
    return data


def gauss3_split(seed: int = 42) -> tuple[NDArray[np.float64], ...]:
    """The reference walkthrough's split, then test rows outside the training x-range dropped.

    The split is scikit-learn's ``train_test_split(test_size=0.25, random_state=seed)``: a
    ``RandomState(seed)`` permutation whose first quarter (rounded up) is the test set.
    Returns ``X_train, X_test, y_train, y_test``.
    """
    X, y = load_gauss3(return_X_y=True)
    order = np.random.RandomState(seed).permutation(len(y))
    n_test = int(np.ceil(0.25 * len(y)))
    test, train = order[:n_test], order[n_test:]
    lo, hi = X[train, 0].min(), X[train, 0].max()
    test = test[(X[test, 0] >= lo) & (X[test, 0] <= hi)]
    return X[train], X[test], y[train], y[test]
