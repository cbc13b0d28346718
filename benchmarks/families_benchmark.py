"""Tweedie and negative binomial fits: sagegam against mgcv.

Both tools fit the same formula with the family's parameter estimated (mgcv: ``tw()``,
``nb()``, ``method = "REML"``, its default ``s()`` bases; sagegam: defaults with
``family="tweedie"`` or ``"negative_binomial"``) and are
scored on held-out rows by the mean deviance at the parameter the data were drawn with
(so that the score measures the fitted means alone; a model's own estimate would move
its yardstick), and by the mean negative log-likelihood at each model's own estimate.

- claims: Tweedie claim amounts (power 1.6, phi 2): age, engine power, a 4-level region,
  ``y ~ s(age) + s(engine) + s(region, bs = "re")``; 2,000 training and 20,000 held-out
  rows per replicate;
- visits: negative binomial counts (theta 2.5): two smooth effects, a 4-level group,
  ``y ~ s(x1) + s(x2) + s(group, bs = "re")``; 2,000
  and 20,000 rows;
- randhie: the RAND Health Insurance Experiment's doctor visits (statsmodels' copy, 20,190
  rows), ``mdvis ~ s(lncoins) + s(lpi) + s(physlm) + s(disea) + hlthg + hlthf + hlthp +
  s(fmde) + idp`` as negative binomial (binary covariates as two-level effects), 5-fold
  out-of-fold scores, the deviance at theta = 1 (near both tools' estimates).

    python benchmarks/families_benchmark.py [--replicates 5]
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rscript
from sagegam import GAMRegressor
from sagegam.model.dispersion import negative_binomial_log_likelihood, tweedie_log_density
from sagegam.model.families import FAMILIES

TWEEDIE = (1.6, 2.0)  # power, phi
THETA = 2.5


def claims(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    region = rng.choice(["n", "s", "e", "w"], n, p=[0.35, 0.3, 0.2, 0.15])
    age, engine = rng.uniform(18, 80, n), rng.uniform(50, 250, n)
    shift = pd.Series(region).map({"n": 0.0, "s": 0.3, "e": -0.2, "w": 0.5}).to_numpy()
    mu = np.exp(0.8 + 0.6 * np.cos((age - 18) / 10) + 0.5 * np.sin((engine - 50) / 60)
                           + shift)
    power, phi = TWEEDIE
    counts = rng.poisson(mu ** (2 - power) / (phi * (2 - power)))
    scale = phi * (power - 1) * mu ** (power - 1)
    y = np.array([rng.gamma(k * (2 - power) / (power - 1), s) if k else 0.0
                  for k, s in zip(counts, scale, strict=True)])
    return pd.DataFrame({"age": age, "engine": engine, "region": region,
                         "y": y})


def visits(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c", "d"], n, p=[0.35, 0.3, 0.25, 0.1])
    x1, x2 = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    shift = pd.Series(group).map({"a": 0.0, "b": 0.4, "c": -0.3, "d": 0.2}).to_numpy()
    mu = np.exp(0.5 + np.sin(2 * np.pi * x1) + 0.8 * np.cos(3 * x2) + shift)
    return pd.DataFrame({"x1": x1, "x2": x2, "group": group,
                         "y": rng.negative_binomial(THETA, THETA / (THETA + mu))})


TASKS: dict[str, tuple[Callable[[int, int], pd.DataFrame], str, str]] = {
    "claims": (claims, "tweedie",
               "y ~ s(age) + s(engine) + s(region, bs = 're')"),
    "visits": (visits, "negative_binomial",
               "y ~ s(x1) + s(x2) + s(group, bs = 're')"),
}

R_BODY = r"""
formula <- as.formula(args[2])
family <- if (args[3] == "tweedie") tw() else nb()
train <- read_frame("train.csv")
test <- read_frame("test.csv")
fit <- timed(gam(formula, data = train, family = family, method = "REML"))
write_predictions(predict(fit$value, newdata = test, type = "response"))
report(seconds = fit$seconds, parameter = fit$value$family$getTheta(TRUE),
       scale = fit$value$scale)
"""


def run_mgcv(train: pd.DataFrame, test: pd.DataFrame, formula: str,
             family: str) -> tuple[np.ndarray, float, float, float]:
    with rscript.scratch_folder() as folder:
        rscript.write_frames(folder, {"train.csv": train, "test.csv": test})
        script = folder / "script.R"
        script.write_text(rscript.PRELUDE + R_BODY)
        done = subprocess.run(["Rscript", str(script), str(folder), formula, family],
                              capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            raise rscript.RError(done.stderr.strip().splitlines()[-1])
        results = {line.split("=")[0][7:]: float(line.split("=")[1])
                   for line in done.stdout.splitlines() if line.startswith("RESULT ")}
        predictions = pd.read_csv(folder / "predictions.csv")["p"].to_numpy()
    return predictions, results["parameter"], results["scale"], results["seconds"]


def run_ours(train: pd.DataFrame, test: pd.DataFrame, family: str,
             features: list[str]) -> tuple[np.ndarray, float, float, float]:
    started = time.perf_counter()
    model = GAMRegressor(family=family).fit(train[features], train["y"].to_numpy())
    seconds = time.perf_counter() - started
    predictions = model.predict(test[features])
    parameter = model.power_ if family == "tweedie" else model.theta_
    return predictions, parameter, model.predictor_.info["scale"], seconds


def scores(family: str, y: np.ndarray, mu: np.ndarray, parameter: float,
           scale: float) -> tuple[float, float]:
    """Mean deviance at the true parameter; mean negative log-likelihood at the model's."""
    if family == "tweedie":
        truth = FAMILIES["tweedie"].with_parameters({"power": TWEEDIE[0]})
        # The model's own dispersion at its own power: the likelihood needs both.
        nll = -float(np.mean(tweedie_log_density(y, mu, scale, parameter)))
    else:
        truth = FAMILIES["negative_binomial"].with_parameters({"theta": THETA})
        nll = -negative_binomial_log_likelihood(y, mu, parameter, np.ones(len(y))) / len(y)
    return float(np.mean(truth.unit_deviance(y, mu))), nll


def simulated(name: str, replicates: int) -> list[str]:
    make, family, formula = TASKS[name]
    features = [c for c in make(10, 0).columns if c != "y"]
    rows: dict[str, list[tuple[float, ...]]] = {"sagegam": [], "mgcv": []}
    for seed in range(replicates):
        train, test = make(2_000, 2 * seed), make(20_000, 2 * seed + 1)
        for tool in rows:
            mu, parameter, scale, seconds = run_ours(train, test, family, features) \
                if tool == "sagegam" else run_mgcv(train, test, formula, family)
            rows[tool].append((*scores(family, test["y"].to_numpy(), mu, parameter, scale),
                               parameter, seconds))
    return _table_rows(name, rows)


def _table_rows(name: str, rows: dict[str, list[tuple[float, ...]]]) -> list[str]:
    theirs = rows["mgcv"]
    lines = []
    for tool, results in rows.items():
        ratio = statistics.median(a[0] / b[0] for a, b in zip(results, theirs, strict=True))
        medians = [statistics.median(r[k] for r in results) for k in range(4)]
        lines.append(f"| {name} | {tool} | {medians[0]:.5f} | {ratio:.4f} | {medians[1]:.4f} "
                     f"| {medians[2]:.4f} | {medians[3]:.2f} |")
    return lines


def randhie() -> list[str]:
    import statsmodels.api as sm

    data = sm.datasets.randhie.load_pandas().data.rename(columns={"mdvis": "y"})
    binary = ["hlthg", "hlthf", "hlthp", "idp"]
    for column in binary:
        data[column] = data[column].map({0: "no", 1: "yes"})
    features = ["lncoins", "lpi", "physlm", "disea", "fmde", *binary]
    formula = ("y ~ s(lncoins, k = 5) + s(lpi) + s(physlm, k = 5) + s(disea) + s(fmde, k = 5)"
               " + hlthg + hlthf + hlthp + idp")
    folds = np.random.default_rng(0).permutation(len(data)) % 5
    rows: dict[str, list[tuple[float, ...]]] = {"sagegam": [], "mgcv": []}
    for k in range(5):
        train, test = data[folds != k], data[folds == k]
        for tool in rows:
            mu, parameter, _, seconds = run_ours(train, test, "negative_binomial",
                                                     features) if tool == "sagegam" else \
                run_mgcv(train, test, formula, "negative_binomial")
            y = test["y"].to_numpy().astype(float)
            deviance = float(np.mean(FAMILIES["negative_binomial"].with_parameters(
                {"theta": 1.0}).unit_deviance(y, mu)))
            nll = -negative_binomial_log_likelihood(y, mu, parameter, np.ones(len(y))) / len(y)
            rows[tool].append((deviance, nll, parameter, seconds))
    return _table_rows("randhie (5 folds; deviance at theta = 1)", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicates", type=int, default=5)
    args = parser.parse_args()
    if rscript.r_missing():
        sys.exit(f"mgcv is the anchor here: {rscript.r_missing()}")
    print(f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, load "
          f"average {os.getloadavg()[0]:.1f}; {rscript.r_versions()}; medians of "
          f"{args.replicates} replicates (scores do not depend on the load, times do)")
    print("\n| data | tool | held-out mean deviance | ratio to mgcv | held-out NLL | "
          "estimated power / theta | fit s |\n|---|---|---|---|---|---|---|")
    for name in TASKS:
        print("\n".join(simulated(name, args.replicates)))
    print("\n".join(randhie()))


if __name__ == "__main__":
    main()
