"""Gauss3 over many random splits: plain versus adaptive smoothness, against the truth.

NIST certifies the function behind Gauss3, so besides held-out R^2 we can measure each
fit's mean squared error against the certified curve. Run:

    python benchmarks/gauss3_smoothness.py [--splits 30]
"""

from __future__ import annotations

import argparse

import numpy as np

from sagegam import GAMRegressor
from sagegam.datasets import gauss3_split

CERTIFIED = (98.940368970, 0.010945879335, 100.69553078, 111.63619459,
             23.300500029, 73.705031418, 147.76164251, 19.668221230)


def certified_curve(x: np.ndarray) -> np.ndarray:
    b1, b2, b3, b4, b5, b6, b7, b8 = CERTIFIED
    return (b1 * np.exp(-b2 * x) + b3 * np.exp(-((x - b4) ** 2) / b5**2)
            + b6 * np.exp(-((x - b7) ** 2) / b8**2))


def evaluate(df: int, adaptive: object, splits: int) -> tuple[float, float, float]:
    grid = np.linspace(1, 250, 500)[:, None]
    test_r2, train_r2, error = [], [], []
    for seed in range(splits):
        X_train, X_test, y_train, y_test = gauss3_split(seed)
        model = GAMRegressor(df=df, adaptive=adaptive).fit(X_train, y_train)
        test_r2.append(model.score(X_test, y_test))
        train_r2.append(model.score(X_train, y_train))
        error.append(np.mean((model.predict(grid) - certified_curve(grid[:, 0])) ** 2))
    return float(np.mean(train_r2)), float(np.mean(test_r2)), float(np.median(error))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--splits", type=int, default=30)
    args = parser.parse_args()
    print(f"| df | adaptive | mean train R^2 | mean test R^2 | median MSE vs certified "
          f"({args.splits} splits) |")
    print("|---|---|---|---|---|")
    for df in (20, 25, 30):
        for adaptive in (False, "auto"):
            train, test, error = evaluate(df, adaptive, args.splits)
            print(f"| {df} | {adaptive} | {train:.5f} | {test:.5f} | {error:.3f} |")


if __name__ == "__main__":
    main()
