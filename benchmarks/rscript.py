"""R's mgcv as a benchmark anchor: data out as CSV in a temp dir, `Rscript`, results back.

The R side of every benchmark is a short script that reads ``train.csv`` (and
``test.csv``) from the folder given as its first argument, times only the fitting call,
writes its predictions to ``predictions.csv`` and prints ``RESULT key=value`` lines. The
peak memory it reports is the R process's high-water mark (``VmHWM``) right after the fit,
data included, as the Python side's ``ru_maxrss`` after fitting.

Debian: ``apt-get install -y r-base-core r-cran-mgcv``. Without them :func:`r_missing`
says why, and the benchmarks print that instead of the anchor's row.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

# Loaded first by every script: the timer and the memory probe the results rely on.
PRELUDE = r"""
suppressMessages(library(mgcv))
args <- commandArgs(trailingOnly = TRUE)
folder <- args[1]
peak_mb <- function() {
  line <- grep("^VmHWM:", readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", line)) / 1024
}
read_frame <- function(name) {
  d <- read.csv(file.path(folder, name), stringsAsFactors = TRUE)
  d
}
timed <- function(expr) {
  started <- proc.time()[["elapsed"]]
  value <- expr  # forced here: the fit runs inside the timer
  list(value = value, seconds = proc.time()[["elapsed"]] - started)
}
report <- function(...) {
  values <- list(...)
  for (key in names(values)) cat("RESULT ", key, "=", format(values[[key]], digits = 10), "\n",
                                 sep = "")
}
write_predictions <- function(p) {
  write.csv(data.frame(p = as.numeric(p)), file.path(folder, "predictions.csv"),
            row.names = FALSE)
}
"""


@cache
def r_missing() -> str | None:
    """Why mgcv cannot run here, or None when it can."""
    if shutil.which("Rscript") is None:
        return "R is not installed (apt-get install -y r-base-core r-cran-mgcv)"
    probe = subprocess.run(["Rscript", "-e", "cat(as.character(packageVersion('mgcv')))"],
                           capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        return "R's mgcv is not installed (apt-get install -y r-cran-mgcv)"
    return None


@cache
def r_versions() -> str:
    if r_missing():
        return "R absent"
    # R's BLAS matters as much as its version: Debian's default is the reference BLAS
    # (.../blas/libblas.so.3), OpenBLAS shows as .../openblas-pthread/libblas.so.3.
    code = ("cat(R.version$major, '.', R.version$minor, ' ', "
            "as.character(packageVersion('mgcv')), ' ', "
            "extSoftVersion()[['BLAS']], sep = '')")
    out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True,
                         timeout=120).stdout.split()
    blas = "/".join(Path(out[2]).parts[-2:]) if len(out) > 2 else "unknown"
    return f"R {out[0]}, mgcv {out[1]} (BLAS {blas})"


class RError(RuntimeError):
    """The R script failed; the message is its last line of output."""


def write_frames(folder: Path, frames: Mapping[str, pd.DataFrame]) -> None:
    for name, frame in frames.items():
        # repr-exact floats: R reads the same doubles the Python tools fit.
        frame.to_csv(folder / name, index=False, float_format="%.17g")


def run_r(body: str, folder: Path, timeout: float) -> tuple[dict[str, float], np.ndarray]:
    """Runs PRELUDE + body on the CSV files in ``folder``; returns RESULTs and predictions."""
    script = folder / "script.R"
    script.write_text(PRELUDE + body)
    predictions = folder / "predictions.csv"
    predictions.unlink(missing_ok=True)
    try:
        done = subprocess.run(["Rscript", str(script), str(folder)], capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        raise RError(f"over {timeout:.0f} s") from error
    if done.returncode != 0:
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        raise RError((lines or ["Rscript failed"])[-1].strip()[:120])
    results = {}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            key, value = line[len("RESULT "):].split("=", 1)
            results[key] = float(value)
    return results, pd.read_csv(predictions)["p"].to_numpy()


@contextmanager
def scratch_folder() -> Iterator[Path]:
    """A temp dir for the CSV files and the script, removed however the run ends."""
    with tempfile.TemporaryDirectory(prefix="sagegam-bench-r-") as folder:
        yield Path(folder)
