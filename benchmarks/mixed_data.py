"""The data of benchmarks/mixed_benchmark.py: seeded, so every run fits the same rows.

- :func:`wage_folds`: ISLR's Wage (3,000 rows) as pyGAM ships it, with a fixed 5-fold split.
- :func:`pair_frames`: y = sin(x1) cos(x2) + N(0, 0.3^2) with 8 null features.
- :func:`large_frames`: 8 numeric features, a 50-level and a 1,000-level categorical, two
  pair interactions among the numeric features.

Held-out frames carry ``truth``, the noise-free mean, to score against.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

WAGE_FOLDS = 5
PAIR_ROWS, PAIR_TEST_ROWS = 5_000, 10_000
LARGE_TEST_SHARE, LARGE_TEST_MAX = 0.2, 200_000
# pyGAM 0.10-0.12 wheels ship without their CSV files (pyGAM issue #423); 0.9.1's has them.
WAGE_WHEEL = "pygam==0.9.1"


def load_wage() -> pd.DataFrame:
    """pyGAM's copy of ISLR's Wage, read from the installed pyGAM or from its 0.9.1 wheel."""
    try:
        from pygam.datasets import wage

        return wage(return_X_y=False)
    except FileNotFoundError:
        return _wage_from_wheel()


def _wage_from_wheel() -> pd.DataFrame:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sagegam-bench"
    wheels = sorted(cache.glob("pygam-0.9.1-*.whl"))
    if not wheels:
        print(f"# the installed pyGAM has no wage.csv (pyGAM issue #423); downloading "
              f"{WAGE_WHEEL}'s wheel (not installed) to read it", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "download", WAGE_WHEEL, "--no-deps",
                        "--only-binary=:all:", "--quiet", "--dest", str(cache)], check=True)
        wheels = sorted(cache.glob("pygam-0.9.1-*.whl"))
    with zipfile.ZipFile(wheels[0]) as wheel, wheel.open("pygam/datasets/wage.csv") as raw:
        return pd.read_csv(raw, index_col=0)


def wage_folds() -> pd.DataFrame:
    """age, year, education (text), wage and a fold number 0-4 (seeded shuffle)."""
    data = load_wage()[["age", "year", "education", "wage"]].reset_index(drop=True)
    order = np.random.default_rng(0).permutation(len(data))
    fold = np.empty(len(data), dtype=np.int64)
    fold[order] = np.arange(len(data)) % WAGE_FOLDS
    return data.assign(fold=fold)


def pair_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return _pair(PAIR_ROWS, seed=1), _pair(PAIR_TEST_ROWS, seed=2)


def _pair(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=(n, 10))
    truth = np.sin(X[:, 0]) * np.cos(X[:, 1])
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(1, 11)])
    return frame.assign(y=truth + rng.normal(0, 0.3, n), truth=truth)


LARGE_NUMERIC = [f"x{j}" for j in range(8)]
LARGE_PAIRS = [("x0", "x1"), ("x2", "x3")]


def large_frames(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """n training rows and min(n / 5, 200,000) held-out rows; categoricals as pandas category."""
    n_test = min(int(n * LARGE_TEST_SHARE), LARGE_TEST_MAX)
    return _large(n, seed=1), _large(n_test, seed=2)


def _large(n: int, seed: int) -> pd.DataFrame:
    # Level effects come from their own seed, so training and held-out rows share them.
    effects = np.random.default_rng(0)
    effect50 = effects.normal(0, 0.5, 50)
    effect1000 = effects.normal(0, 0.3, 1000)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 8))
    f50 = _skewed_levels(rng, n, 50)
    f1000 = _skewed_levels(rng, n, 1000)
    truth = (np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] ** 2 + np.where(X[:, 2] > 0, 0.5, -0.5)
             + 0.4 * X[:, 3] + np.exp(X[:, 4] / 2) - 1.2 - 0.3 * X[:, 5]
             + 0.8 * np.sin(X[:, 0]) * X[:, 1] + 0.5 * X[:, 2] * X[:, 3]
             + effect50[f50] + effect1000[f1000])
    frame = pd.DataFrame(X, columns=LARGE_NUMERIC)
    frame["f50"] = pd.Categorical.from_codes(f50, [f"a{i:02d}" for i in range(50)])
    frame["f1000"] = pd.Categorical.from_codes(f1000, [f"b{i:03d}" for i in range(1000)])
    return frame.assign(y=truth + rng.normal(0, 1.0, n), truth=truth)


def _skewed_levels(rng: np.random.Generator, n: int, levels: int) -> np.ndarray:
    """Level codes with probabilities falling as 1 / (rank + 10); the first ``levels`` rows
    take every level once, so any held-out level was seen in training."""
    weights = 1.0 / (np.arange(levels) + 10.0)
    codes = rng.choice(levels, size=n, p=weights / weights.sum())
    codes[: min(n, levels)] = np.arange(min(n, levels))
    return codes
