"""Fitting a Dask DataFrame on a local distributed cluster (issue 12) beside the in-memory fit.

Data: N rows x 10 numeric features (benchmarks/scale_benchmark.py's effects), made on the
workers partition by partition (each from its own seed) and persisted there; the in-memory
anchor fits the same rows, made the same way, as one pandas DataFrame in this process.
The cluster is `distributed.LocalCluster` with --workers worker processes of one thread.
Both fits are timed around `fit` only; the table gives medians of --repeats alternating
runs, the ratio of the times, and the largest coefficient difference relative to the
coefficients' scale. The date and the load average are printed.

    python benchmarks/dask_benchmark.py                      # 10M rows, 2 workers, 3 repeats
    python benchmarks/dask_benchmark.py --rows 2000000 --repeats 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timezone

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scale_benchmark

PARTITION_ROWS = 1_000_000


def partition(i: int, n: int) -> pd.DataFrame:
    frame = scale_benchmark.rows(n, seed=5000 + i)
    return frame.astype({name: np.float64 for name in scale_benchmark.FEATURES})


def sizes(rows: int) -> list[int]:
    return [min(PARTITION_ROWS, rows - start) for start in range(0, rows, PARTITION_ROWS)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    from sagegam import GAMRegressor

    features = scale_benchmark.FEATURES
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        parts = sizes(args.rows)
        frame = dd.from_map(partition, range(len(parts)), parts).persist()
        whole = pd.concat([partition(i, n) for i, n in enumerate(parts)], ignore_index=True)
        times: dict[str, list[float]] = {"dask": [], "in-memory": []}
        difference = 0.0
        for _ in range(args.repeats):
            started = time.perf_counter()
            ours = GAMRegressor().fit(frame[features], frame["y"])
            times["dask"].append(time.perf_counter() - started)
            started = time.perf_counter()
            reference = GAMRegressor().fit(whole[features], whole["y"])
            times["in-memory"].append(time.perf_counter() - started)
            scale = np.max(np.abs(reference.coef_))
            difference = max(difference, float(np.max(np.abs(ours.coef_ - reference.coef_))
                                               / scale))
    anchor = statistics.median(times["in-memory"])
    print(f"\n{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores, "
          f"{args.rows:,} rows, {args.workers} worker processes, medians of {args.repeats}")
    print("| fit | fit s | ratio | max coefficient difference / scale |")
    print("|---|---|---|---|")
    for name in ("dask", "in-memory"):
        seconds = statistics.median(times[name])
        print(f"| {name} | {seconds:.1f} | {seconds / anchor:.2f}x | "
              f"{difference:.1e} |" if name == "dask" else
              f"| {name} | {seconds:.1f} | 1.00x | |")


if __name__ == "__main__":
    main()
