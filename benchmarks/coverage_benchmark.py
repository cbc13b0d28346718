"""Do 95% intervals cover 95%? sagegam's bands against mgcv's, by simulation.

Each replicate draws n rows of four uniform covariates with Gu and Wahba's additive test
functions (Wood 2017, section 6.10: f0 = 2 sin(pi x), f1 = exp(2x), f2 a two-bump
function, f3 = 0), gaussian noise (sd 2) or a binomial outcome (logit link, the
functions scaled by 1/3). Both tools fit ``s(x0) + s(x1) + s(x2) + s(x3)`` by REML,
mgcv with its default basis (``gam(y ~ s(x0) + ..., method = "REML")``), sagegam with
defaults. Coverage "across the function" (Nychka 1988; Marra and Wood 2012): the share of
the n rows whose 95% interval covers the truth, averaged over replicates, for

- the prediction: the linear predictor's interval, intercept uncertainty included
  (``predict_interval``; mgcv's ``predict(se.fit = TRUE)``);
- the terms: each centred term's pointwise band (``partial_dependence``; mgcv's
  ``predict(type = "terms", se.fit = TRUE)``), against the centred truth.

    python benchmarks/coverage_benchmark.py [--replicates 200] [--n 400]
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rscript
from sagegam import GAMClassifier, GAMRegressor

Z95 = 1.959963984540054
FEATURES = ["x0", "x1", "x2", "x3"]


def truth(X: np.ndarray) -> np.ndarray:
    """The four centred-before-use test functions, one column each."""
    x0, x1, x2, _ = X.T
    f0 = 2 * np.sin(np.pi * x0)
    f1 = np.exp(2 * x1)
    f2 = 0.2 * x2**11 * (10 * (1 - x2)) ** 6 + 10 * (10 * x2) ** 3 * (1 - x2) ** 10
    return np.column_stack([f0, f1, f2, np.zeros(len(X))])


def draw(family: str, n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Covariates and response, and the true terms (n x 4, centred over the rows)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(n, 4))
    terms = truth(X)
    if family == "binomial":
        terms = terms / 3.0
        eta = terms.sum(axis=1) - 1.0 * terms.sum(axis=1).mean()
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    else:
        eta = terms.sum(axis=1)
        y = eta + rng.normal(0, 2.0, n)
    frame = pd.DataFrame(X, columns=FEATURES)
    frame["y"], frame["eta"] = y, eta
    return frame, terms - terms.mean(axis=0)


def ours(family: str, frame: pd.DataFrame, centred: np.ndarray) -> tuple[float, float]:
    X, y = frame[FEATURES], frame["y"].to_numpy()
    model = (GAMClassifier() if family == "binomial" else GAMRegressor()).fit(X, y)
    interval = model.predict_interval(X)
    prediction = np.mean(np.abs(interval.link - frame["eta"].to_numpy())
                         <= Z95 * interval.link_std)
    codes = model.predictor_.encode(X)
    covered = []
    for t in range(4):
        basis = model.predictor_.term_basis(t, codes)
        start = model.predictor_.offsets[t]
        block = slice(start, start + basis.shape[1])
        effect = basis @ model.predictor_.coef[block]
        se = np.sqrt(np.einsum("ij,jk,ik->i", basis, model.predictor_.covariance[block, block],
                               basis))
        covered.append(np.mean(np.abs(effect - centred[:, t]) <= Z95 * se))
    return float(prediction), float(np.mean(covered))


R_BODY = r"""
replicates <- as.integer(args[2])
family <- args[3]
out <- c()
for (r in seq_len(replicates)) {
  d <- read.csv(file.path(folder, sprintf("data_%d.csv", r)))
  centred <- read.csv(file.path(folder, sprintf("terms_%d.csv", r)))
  fam <- if (family == "binomial") binomial() else gaussian()
  m <- gam(y ~ s(x0) + s(x1) + s(x2) + s(x3), data = d, family = fam, method = "REML")
  p <- predict(m, se.fit = TRUE)
  prediction <- mean(abs(p$fit - d$eta) <= 1.959963984540054 * p$se.fit)
  tm <- predict(m, type = "terms", se.fit = TRUE)
  terms <- mean(sapply(1:4, function(j) mean(abs(tm$fit[, j] - centred[[j]]) <=
                                             1.959963984540054 * tm$se.fit[, j])))
  out <- c(out, prediction, terms)
}
write_predictions(out)
"""


def mgcv(family: str, frames: list[tuple[pd.DataFrame, np.ndarray]]) -> list[tuple[float, float]]:
    with rscript.scratch_folder() as folder:
        for r, (frame, centred) in enumerate(frames, start=1):
            rscript.write_frames(folder, {f"data_{r}.csv": frame, f"terms_{r}.csv":
                                          pd.DataFrame(centred, columns=FEATURES)})
        script = folder / "script.R"
        script.write_text(rscript.PRELUDE + R_BODY)
        done = subprocess.run(["Rscript", str(script), str(folder), str(len(frames)), family],
                              capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            raise rscript.RError(done.stderr.strip().splitlines()[-1])
        values = pd.read_csv(folder / "predictions.csv")["p"].to_numpy()
    return [(float(a), float(b)) for a, b in values.reshape(-1, 2)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--n", type=int, default=400)
    args = parser.parse_args()
    print(f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, load "
          f"average {os.getloadavg()[0]:.1f}; {rscript.r_versions()}; n = {args.n}, "
          f"{args.replicates} replicates (coverage does not depend on the load)")
    print("\n| family | interval | sagegam coverage | mgcv coverage | sagegam distance to "
          "0.95 | mgcv distance to 0.95 |\n|---|---|---|---|---|---|")
    for family in ("gaussian", "binomial"):
        frames = [draw(family, args.n, seed) for seed in range(args.replicates)]
        ours_results = [ours(family, frame, centred) for frame, centred in frames]
        theirs = mgcv(family, frames) if not rscript.r_missing() else None
        for k, kind in enumerate(("prediction", "terms")):
            a = statistics.mean(r[k] for r in ours_results)
            b = statistics.mean(r[k] for r in theirs) if theirs else float("nan")
            print(f"| {family} | {kind} | {a:.4f} | {b:.4f} | {abs(a - 0.95):.4f} | "
                  f"{abs(b - 0.95):.4f} |")


if __name__ == "__main__":
    main()
