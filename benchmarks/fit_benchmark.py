"""Fitting speed, memory and accuracy: sagegam against statsmodels, pyGAM and mgcv's bam.

Each fit runs in a fresh subprocess (so peak memory is the fit's own), on synthetic
additive data with 10 features (sine, quadratic, step, linear and null terms), gaussian
or logistic. The anchors are statsmodels' GLMGam configured as the reference deployment
did (BSplines df=15, degree 3, alpha=1, an intercept column), pyGAM's LinearGAM /
LogisticGAM with defaults, and R mgcv's fastest fitter, `bam(y ~ s(x0) + ... + s(x9),
method = "fREML", discrete = TRUE, nthreads = 2)` through `Rscript` (data handed over as
CSV in a temp dir, only the `bam()` call timed; skipped with a message when R is absent).
Prints a markdown table with medians, our/their ratios and every row's fit time against
bam's.

    python benchmarks/fit_benchmark.py                 # 10k, 100k and 1M rows
    python benchmarks/fit_benchmark.py --quick         # 10k only, one repeat, predict
                                                       # timed on 100k rows and scaled
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rscript

TOOLS = ("sagegam", "statsmodels", "pygam", "mgcv-bam")
MEMORY_LIMIT_GB = 14.0  # an anchor that would need more is reported, not run
TIME_LIMIT_S = 900
FIT_BUDGET_S = 300.0  # an anchor whose 10x-smaller fit extrapolates past this is not run
PREDICT_ROWS = 1_000_000


def make_data(n: int, task: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 10))
    eta = (np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] ** 2 + np.where(X[:, 2] > 0, 0.6, -0.6)
           + 0.5 * X[:, 3] - 0.3 * X[:, 4] + np.exp(X[:, 5] / 2) - 1.3)
    if task == "gaussian":
        return X, eta + rng.normal(0, 1.0, n)
    return X, (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)


def fit_and_score(tool: str, task: str, n: int, predict_rows: int) -> dict[str, Any]:
    """Runs inside the subprocess: fit, predict 1M rows, score on held-out data."""
    X, y = make_data(n, task, seed=1)
    _import(tool)  # import time is not fit time
    started = time.perf_counter()
    predict = _fit(tool, task, X, y)
    fit_seconds = time.perf_counter() - started
    fit_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MB on Linux
    X_test, y_test = make_data(200_000, task, seed=2)
    X_predict = make_data(predict_rows, task, seed=3)[0]
    started = time.perf_counter()
    predict(X_predict)
    # Scaled to 1M rows when --quick predicts fewer (prediction is linear in rows).
    predict_seconds = (time.perf_counter() - started) * PREDICT_ROWS / predict_rows
    score = _score(task, y_test, predict(X_test))
    # Peak while fitting (data included), before the 1M-row prediction adds its own.
    return {"fit": fit_seconds, "predict": predict_seconds, "score": score,
            "peak_mb": fit_peak}


def _score(task: str, y_test: np.ndarray, p: np.ndarray) -> float:
    if task == "gaussian":
        return float(1 - np.mean((y_test - p) ** 2) / np.var(y_test))
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y_test * np.log(p) + (1 - y_test) * np.log1p(-p)))


def _import(tool: str) -> None:
    if tool == "sagegam":
        import sagegam.model.estimators  # noqa: F401
    elif tool == "statsmodels":
        import statsmodels.gam.api  # noqa: F401
    else:
        import pygam  # noqa: F401


def _fit(tool: str, task: str, X: np.ndarray, y: np.ndarray) -> Any:
    if tool == "sagegam":
        from sagegam import GAMClassifier, GAMRegressor

        if task == "gaussian":
            return GAMRegressor().fit(X, y).predict
        model = GAMClassifier().fit(X, y)
        return lambda Z: model.predict_proba(Z)[:, 1]
    if tool == "statsmodels":
        import statsmodels.api as sm
        from statsmodels.gam.api import BSplines, GLMGam

        smoother = BSplines(X, df=[15] * X.shape[1], degree=[3] * X.shape[1])
        family = sm.families.Gaussian() if task == "gaussian" else sm.families.Binomial()
        result = GLMGam(y, exog=np.ones((len(y), 1)), smoother=smoother, alpha=1.0,
                        family=family).fit()

        def predict(Z: np.ndarray) -> np.ndarray:
            clipped = np.clip(Z, X.min(axis=0), X.max(axis=0))  # BSplines cannot extrapolate
            out = [result.predict(exog=np.ones((len(chunk), 1)), exog_smooth=chunk)
                   for chunk in np.array_split(clipped, max(1, len(Z) // 100_000))]
            return np.concatenate(out)

        return predict
    from pygam import LinearGAM, LogisticGAM

    if task == "gaussian":
        return LinearGAM().fit(X, y).predict
    model = LogisticGAM().fit(X, y)
    return model.predict_proba


BAM_FORMULA = "y ~ " + " + ".join(f"s(x{j})" for j in range(10))
BAM_BODY = """
train <- read_frame("train.csv")
fit <- timed(bam(%s, family = %s, data = train, method = "fREML", discrete = TRUE,
                 nthreads = 2))
peak <- peak_mb()  # before the held-out rows are read, as on the Python side
test <- read_frame("test.csv"); big <- read_frame("predict.csv")
predicted <- timed(predict(fit$value, big, type = "response"))
report(fit = fit$seconds, predict = predicted$seconds, peak_mb = peak)
write_predictions(predict(fit$value, test, type = "response"))
"""


def run_bam(task: str, n: int, predict_rows: int) -> dict[str, Any]:
    """mgcv's bam in Rscript on the same rows; R's peak is its high-water mark after bam()."""
    if reason := rscript.r_missing():
        return {"error": f"not run: {reason}"}
    X, y = make_data(n, task, seed=1)
    X_test, y_test = make_data(200_000, task, seed=2)
    names = [f"x{j}" for j in range(X.shape[1])]
    family = "gaussian()" if task == "gaussian" else "binomial()"
    with rscript.scratch_folder() as folder:
        rscript.write_frames(folder, {
            "train.csv": pd.DataFrame(X, columns=names).assign(y=y),
            "test.csv": pd.DataFrame(X_test, columns=names),
            "predict.csv": pd.DataFrame(make_data(predict_rows, task, seed=3)[0],
                                        columns=names)})
        try:
            results, p = rscript.run_r(BAM_BODY % (BAM_FORMULA, family), folder, TIME_LIMIT_S)
        except rscript.RError as error:
            return {"error": f"error: {error}"}
    return {"fit": results["fit"], "predict": results["predict"] * PREDICT_ROWS / predict_rows,
            "score": _score(task, y_test, p), "peak_mb": results["peak_mb"]}


def run_isolated(tool: str, task: str, n: int, predict_rows: int) -> dict[str, Any]:
    if tool == "mgcv-bam":
        return run_bam(task, n, predict_rows)
    command = [sys.executable, __file__, "--child", tool, task, str(n), str(predict_rows)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=TIME_LIMIT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"over {TIME_LIMIT_S} s"}
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or ["failed"])[-1][:80]}
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def measure(tool: str, task: str, n: int, repeats: int, predict_rows: int,
            previous: dict[str, Any] | None) -> dict[str, Any]:
    # Fit time and memory of these solvers grow at least linearly in rows: 10x the
    # previous size's numbers is a lower bound used to decide not to run.
    if previous and "peak_mb" in previous and previous["peak_mb"] * 10 / 1024 > MEMORY_LIMIT_GB:
        return {"error": f"not run: would need ~{previous['peak_mb'] * 10 / 1024:.0f} GB "
                         "(10x the peak at 10x fewer rows)"}
    if tool != "sagegam" and previous and previous.get("fit", 0) * 10 > FIT_BUDGET_S:
        return {"error": f"not run: would take > {previous['fit'] * 10 / 60:.0f} min "
                         "(10x the fit at 10x fewer rows)"}
    runs = [run_isolated(tool, task, n, predict_rows) for _ in range(repeats)]
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[0]
    return {key: statistics.median(r[key] for r in good) for key in good[0]} | {"n": len(good)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--anchor-repeats", type=int, default=1,
                        help="repeats for statsmodels and pyGAM at 1M rows (they are slow)")
    parser.add_argument("--tools", default=",".join(TOOLS[1:]),
                        help="anchors to run beside sagegam (default: all)")
    parser.add_argument("--quick", action="store_true", help="10k rows, one repeat")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        tool, task, n, rows = args.child
        print(json.dumps(fit_and_score(tool, task, int(n), int(rows))))
        return
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    repeats = 1 if args.quick else args.repeats
    predict_rows = 100_000 if args.quick else PREDICT_ROWS
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}; {_versions()}; {os.cpu_count()} cpus; "
          f"load average at start: {_load()}")
    print("| task | n | tool | fit s | predict 1M s | fit peak MB | held-out | "
          "fit / predict / memory ratio (them/us) | bam fit / this fit | n runs |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for task in ("gaussian", "logistic"):
        previous: dict[str, dict[str, Any]] = {}
        for n in sizes:
            ours = measure("sagegam", task, n, repeats, predict_rows, previous.get("sagegam"))
            results = {"sagegam": ours}
            for tool in args.tools.split(","):
                # bam is as fast as we are: it gets the full repeats at every size.
                slow = n >= 1_000_000 and tool != "mgcv-bam"
                results[tool] = measure(tool, task, n, args.anchor_repeats if slow else repeats,
                                        predict_rows, previous.get(tool))
            for tool, result in results.items():
                print(_row(task, n, tool, result, ours, results.get("mgcv-bam", {})),
                      flush=True)
            previous = results
    print(f"# load average at end: {_load()}")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _versions() -> str:
    from importlib.metadata import version

    names = ("numpy", "scipy", "statsmodels", "pygam")
    return (", ".join(f"{name} {version(name)}" for name in names)
            + f", {rscript.r_versions()}")


def _row(task: str, n: int, tool: str, result: dict[str, Any], ours: dict[str, Any],
         bam: dict[str, Any]) -> str:
    metric = "R^2" if task == "gaussian" else "log-loss"
    if "error" in result:
        return f"| {task} | {n:,} | {tool} | {result['error']} | | | | | | |"
    ratios = "—"
    if tool != "sagegam" and "fit" in ours:
        ratios = " / ".join(f"{result[key] / ours[key]:.1f}x"
                            for key in ("fit", "predict", "peak_mb"))
    against_bam = "—"
    if tool != "mgcv-bam" and "fit" in bam:
        against_bam = f"{bam['fit'] / result['fit']:.2f}x"
    return (f"| {task} | {n:,} | {tool} | {result['fit']:.2f} | {result['predict']:.2f} | "
            f"{result['peak_mb']:.0f} | {metric} {result['score']:.4f} | {ratios} | "
            f"{against_bam} | {result['n']} |")


if __name__ == "__main__":
    main()
