"""Categorical features and interactions (issue 10): sagegam beside mgcv, pyGAM and EBM.

Three tasks, every tool in one run on the same seeded data (benchmarks/mixed_data.py):

- wage: ISLR Wage, 5-fold RMSE of wage ~ s(age) + s(year) + education, education as text;
- pair: y = sin(x1) cos(x2) + N(0, 0.3^2), n = 5,000, 10 features (8 null): RMSE against
  the truth on 10,000 held-out rows;
- large: n rows x (8 numeric, a 50-level and a 1,000-level categorical, two true pair
  interactions): RMSE against the truth on min(n/5, 200,000) held-out rows.

Each fit runs in a fresh process (Python tools in a subprocess of this script, mgcv in
`Rscript` reading CSV from a temp dir); "fit s" times the fitting call only (summed over
the folds for wage), "peak MB" is that process's maximum RSS right after fitting, data
included (in brackets: before fitting). Medians of --repeats runs. In the large task an
anchor whose fit at 10x fewer rows, times 10, exceeds --budget seconds (or whose memory
would exceed 14 GB) is reported, not run; bam is bounded by a timeout of 3x the budget
instead, as its time hardly depends on the rows.

    python benchmarks/mixed_benchmark.py                 # all tasks, large at 100k and 1M
    python benchmarks/mixed_benchmark.py --quick         # one repeat, large at 10k and 100k
    python benchmarks/mixed_benchmark.py --tasks pair --repeats 5
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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mixed_data as data
import rscript

MEMORY_LIMIT_GB = 14.0
Predict = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class Anchor:
    tool: str  # sagegam, mgcv, pygam, ebm
    setting: str  # what the child builds; for mgcv the R call
    label: str  # the table's "model" cell


R_WAGE = "wage ~ s(age) + s(year, k = 5) + education"
R_PAIR_TE = "y ~ te(x1, x2) + " + " + ".join(f"s(x{j})" for j in range(3, 11))
R_PAIR_TI = "y ~ s(x1) + s(x2) + ti(x1, x2) + " + " + ".join(f"s(x{j})" for j in range(3, 11))
R_LARGE = ("y ~ " + " + ".join(f"s({x})" for x in data.LARGE_NUMERIC)
           + ' + s(f50, bs = "re") + s(f1000, bs = "re") + ti(x0, x1) + ti(x2, x3)')

ANCHORS: dict[str, list[Anchor]] = {
    "wage": [
        Anchor("sagegam", "auto", 'categorical_features="from_dtype", interactions="auto"'),
        Anchor("sagegam", "1", "interactions=1 (the strongest pair)"),
        Anchor("mgcv", f'gam({R_WAGE}, method = "REML")',
               'gam(wage ~ s(age) + s(year, k=5) + education, method="REML")'),
        Anchor("pygam", "wage", "LinearGAM(s(age) + s(year) + f(education)).gridsearch"),
        Anchor("ebm", "default", "ExplainableBoostingRegressor() (native categorical)"),
    ],
    "pair": [
        Anchor("sagegam", "auto", 'interactions="auto"'),
        Anchor("mgcv", f'gam({R_PAIR_TE}, method = "REML")', 'gam(te(x1,x2) + s(x3..x10), "REML")'),
        Anchor("mgcv", f'gam({R_PAIR_TI}, method = "REML")',
               'gam(s(x1) + s(x2) + ti(x1,x2) + s(x3..x10), "REML")'),
        Anchor("pygam", "te", "LinearGAM(te(x1,x2) + s(x3..x10)).gridsearch"),
        Anchor("ebm", "default", 'ExplainableBoostingRegressor() (interactions="5x", found)'),
    ],
    "large": [
        Anchor("sagegam", "pairs", 'interactions=[("x0","x1"), ("x2","x3")]'),
        Anchor("sagegam", "auto", 'interactions="auto"'),
        Anchor("mgcv", f'bam({R_LARGE}, method = "fREML", discrete = TRUE, nthreads = 2)',
               'bam(s(x0..x7) + s(f50, bs="re") + s(f1000, bs="re") + ti(x0,x1) + ti(x2,x3), '
               "fREML, discrete, 2 threads)"),
        Anchor("pygam", "pairs", "LinearGAM(s(x0..x7) + f(f50) + f(f1000) + te(x0,x1) + "
               "te(x2,x3)), default lam"),
        Anchor("ebm", "pairs", "ExplainableBoostingRegressor(interactions=[(x0,x1), (x2,x3)])"),
    ],
}
FEATURES = {"wage": ["age", "year", "education"],
            "pair": [f"x{j}" for j in range(1, 11)],
            "large": [*data.LARGE_NUMERIC, "f50", "f1000"]}
TARGET = {"wage": "wage", "pair": "y", "large": "y"}


# ---- the tools (run inside a child process) ---------------------------------------------

def fit_sagegam(task: str, setting: str, train: pd.DataFrame) -> Predict:
    from sagegam import GAMRegressor

    interactions: Any = data.LARGE_PAIRS if setting == "pairs" else \
        int(setting) if setting.isdigit() else setting
    model = GAMRegressor(categorical_features="from_dtype", interactions=interactions)
    model.fit(train[FEATURES[task]], train[TARGET[task]])
    return lambda frame: model.predict(frame[FEATURES[task]])


def fit_pygam(task: str, setting: str, train: pd.DataFrame) -> Predict:
    from pygam import LinearGAM, f, s, te

    encode = _level_codes(train, FEATURES[task])
    X = encode(train)
    if task == "wage":
        model = LinearGAM(s(0) + s(1) + f(2)).gridsearch(X, train["wage"].to_numpy(),
                                                         progress=False)
    elif task == "pair":
        terms = te(0, 1)
        for j in range(2, 10):
            terms += s(j)
        model = LinearGAM(terms).gridsearch(X, train["y"].to_numpy(), progress=False)
    else:
        terms = s(0)
        for j in range(1, 8):
            terms += s(j)
        terms += f(8) + f(9) + te(0, 1) + te(2, 3)
        model = LinearGAM(terms).fit(X, train["y"].to_numpy())
    return lambda frame: model.predict(encode(frame))


def fit_ebm(task: str, setting: str, train: pd.DataFrame) -> Predict:
    from interpret.glassbox import ExplainableBoostingRegressor

    pairs = data.LARGE_PAIRS if setting == "pairs" else None
    model = (ExplainableBoostingRegressor(interactions=pairs) if pairs
             else ExplainableBoostingRegressor())
    model.fit(train[FEATURES[task]], train[TARGET[task]])
    return lambda frame: model.predict(frame[FEATURES[task]])


def _level_codes(train: pd.DataFrame, columns: list[str]) -> Callable[[pd.DataFrame], np.ndarray]:
    """pyGAM takes numbers: text and category columns become codes of the training levels."""
    levels = {c: sorted(set(train[c].astype(str))) for c in columns
              if not pd.api.types.is_numeric_dtype(train[c])}

    def encode(frame: pd.DataFrame) -> np.ndarray:
        out = frame[columns].copy()
        for column, known in levels.items():
            out[column] = pd.Categorical(frame[column].astype(str), categories=known).codes
        return out.to_numpy(dtype=float)

    return encode


FITTERS = {"sagegam": fit_sagegam, "pygam": fit_pygam, "ebm": fit_ebm}


def child(task: str, tool: str, setting: str, n: int) -> dict[str, float]:
    """One measured fit in this (fresh) process; prints nothing but the JSON result."""
    __import__({"sagegam": "sagegam", "pygam": "pygam", "ebm": "interpret.glassbox"}[tool])
    frames = _frames(task, n)
    before = _peak_mb()
    if task == "wage":
        full = frames[0]
        predictions = np.empty(len(full))
        seconds = 0.0
        for fold in range(data.WAGE_FOLDS):
            held = (full["fold"] == fold).to_numpy()
            started = time.perf_counter()
            predict = FITTERS[tool](task, setting, full[~held])
            seconds += time.perf_counter() - started
            predictions[held] = predict(full[held])
        peak = _peak_mb()
        return {"fit": seconds, "peak_mb": peak, "before_mb": before,
                "rmse": _rmse(predictions, full["wage"])}
    train, test = frames
    started = time.perf_counter()
    predict = FITTERS[tool](task, setting, train)
    seconds = time.perf_counter() - started
    peak = _peak_mb()
    return {"fit": seconds, "peak_mb": peak, "before_mb": before,
            "rmse": _rmse(predict(test), test["truth"])}


def _frames(task: str, n: int) -> tuple[pd.DataFrame, ...]:
    if task == "wage":
        return (data.wage_folds(),)
    if task == "pair":
        return data.pair_frames()
    return data.large_frames(n)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _rmse(predicted: np.ndarray, target: pd.Series) -> float:
    return float(np.sqrt(np.mean((np.asarray(predicted) - target.to_numpy()) ** 2)))


# ---- mgcv (through Rscript) ----------------------------------------------------------------

R_WAGE_BODY = """
d <- read_frame("train.csv")
before <- peak_mb()
predictions <- numeric(nrow(d)); seconds <- 0
for (k in sort(unique(d$fold))) {
  held <- d$fold == k
  fit <- timed(%s)
  seconds <- seconds + fit$seconds
  predictions[held] <- predict(fit$value, d[held, ])
}
report(fit = seconds, peak_mb = peak_mb(), before_mb = before)
write_predictions(predictions)
"""
R_FIT_BODY = """
train <- read_frame("train.csv")
before <- peak_mb()
fit <- timed(%s)
report(fit = fit$seconds, peak_mb = peak_mb(), before_mb = before)
test <- read_frame("test.csv")
write_predictions(predict(fit$value, test))
"""


def run_mgcv(task: str, anchor: Anchor, n: int, timeout: float) -> dict[str, float]:
    frames = _frames(task, n)
    with rscript.scratch_folder() as folder:
        if task == "wage":
            call = anchor.setting[:-1] + ", data = d[!held, ])"
            rscript.write_frames(folder, {"train.csv": frames[0]})
            results, predictions = rscript.run_r(R_WAGE_BODY % call, folder, timeout)
            return results | {"rmse": _rmse(predictions, frames[0]["wage"])}
        train, test = frames
        call = anchor.setting[:-1] + ", data = train)"
        rscript.write_frames(folder, {"train.csv": train.drop(columns="truth"),
                                      "test.csv": test[FEATURES[task]]})
        results, predictions = rscript.run_r(R_FIT_BODY % call, folder, timeout)
        return results | {"rmse": _rmse(predictions, test["truth"])}


# ---- the harness -----------------------------------------------------------------------------

def run_once(task: str, anchor: Anchor, n: int, timeout: float) -> dict[str, Any]:
    if anchor.tool == "mgcv":
        if reason := rscript.r_missing():
            return {"error": f"not run: {reason}"}
        try:
            return run_mgcv(task, anchor, n, timeout)
        except rscript.RError as error:
            return {"error": f"error: {error}"}
    command = [sys.executable, __file__, "--child", task, anchor.tool, anchor.setting, str(n)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"error: over {timeout:.0f} s"}
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        return {"error": f"error: {(lines or ['failed'])[-1].strip()[:140]}"}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def measure(task: str, anchor: Anchor, n: int, repeats: int, budget: float,
            previous: dict[str, Any] | None) -> dict[str, Any]:
    if previous and "peak_mb" in previous and previous["peak_mb"] * 10 / 1024 > MEMORY_LIMIT_GB:
        return {"error": f"not run: would need ~{previous['peak_mb'] * 10 / 1024:.0f} GB "
                         "(10x the peak at 10x fewer rows)"}
    # bam's time is mostly the p x p algebra of ~1,150 coefficients, not rows: no 10x rule.
    if (previous and "fit" in previous and previous["fit"] * 10 > budget
            and anchor.tool != "mgcv"):
        return {"error": f"not run: would take ~{previous['fit'] * 10 / 60:.0f} min "
                         f"(10x the fit at 10x fewer rows; budget {budget:.0f} s)"}
    if previous and "error" in previous and previous["error"].startswith("not run"):
        return previous
    runs = []
    for _ in range(repeats):
        runs.append(run_once(task, anchor, n, timeout=max(3 * budget, 60)))
        if "error" in runs[-1] or runs[-1]["fit"] > budget:
            break  # a failure repeats; a slow anchor is not run again
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[0]
    summary = {key: statistics.median(r[key] for r in good) for key in ("fit", "peak_mb", "rmse")}
    befores = [r["before_mb"] for r in good if r.get("before_mb") == r.get("before_mb")]
    return summary | {"before_mb": statistics.median(befores) if befores else None,
                      "n": len(good)}


def print_task(task: str, n: int, results: list[tuple[Anchor, dict[str, Any]]]) -> None:
    ours = results[0][1] if results[0][0].tool == "sagegam" else {"error": "not run"}
    for anchor, result in results:
        head = f"| {task} | {n:,} | {anchor.tool} | `{anchor.label}` |"
        if "error" in result:
            print(f"{head} {result['error']} | | | | |", flush=True)
            continue
        ratio = "—"
        if anchor.tool != "sagegam" and "error" not in ours:
            ratio = " / ".join(f"{result[k] / ours[k]:.2f}x" for k in ("fit", "peak_mb", "rmse"))
        before = f" ({result['before_mb']:.0f})" if result.get("before_mb") else ""
        print(f"{head} {result['fit']:.2f} | {result['peak_mb']:.0f}{before} | "
              f"{result['rmse']:.4f} | {ratio} | {result['n']} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="wage,pair,large")
    parser.add_argument("--sizes", default="100000,1000000", help="rows of the large task")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=600.0,
                        help="seconds an anchor's fit may take (extrapolated in 'large')")
    parser.add_argument("--tools", default="sagegam,mgcv,pygam,ebm",
                        help="which tools to run (sagegam's rows are the ratios' base)")
    parser.add_argument("--quick", action="store_true",
                        help="one repeat, large at 10k and 100k rows, a 120 s budget")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        task, tool, setting, n = args.child
        print(json.dumps(child(task, tool, setting, int(n))))
        return
    repeats = 1 if args.quick else args.repeats
    budget = 120.0 if args.quick else args.budget
    sizes = [10_000, 100_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}; {_versions()}; {os.cpu_count()} cpus; "
          f"load average at start: {_load()}")
    print("| task | n | tool | model | fit s | peak MB (before fit) | RMSE | "
          "fit / memory / RMSE ratio (them/us) | runs |")
    print("|---|---|---|---|---|---|---|---|---|")
    for task in args.tasks.split(","):
        task_sizes = sizes if task == "large" else [_fixed_rows(task)]
        previous: dict[str, dict[str, Any]] = {}
        for n in task_sizes:
            results = []
            for anchor in [a for a in ANCHORS[task] if a.tool in args.tools.split(",")]:
                key = f"{anchor.tool}:{anchor.setting}"
                results.append((anchor, measure(task, anchor, n, repeats, budget,
                                                previous.get(key))))
                previous[key] = results[-1][1]
            print_task(task, n, results)
    print(f"# load average at end: {_load()}")


def _fixed_rows(task: str) -> int:
    return 3000 if task == "wage" else data.PAIR_ROWS


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for name in ("sagegam", "numpy", "scipy", "pandas", "pygam", "interpret"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} absent")
    return ", ".join(parts) + f", {rscript.r_versions()}"


if __name__ == "__main__":
    main()
