"""Streaming a fit from Parquet files larger than memory (issue 12), beside the in-memory fit.

Data: N rows x 10 numeric features, y = sum_j f_j(x_j) + N(0, 1) with f_j smooth and
varied (sines, a bump, a step, linear), written as Parquet files (float32 features,
1M-row row groups) into a temporary folder that is deleted afterwards. Held out: 1M rows
drawn the same way.

- streamed: `GAMRegressor().fit(FileSource(...))` over all N rows, in a fresh process;
- in-memory anchor: `GAMRegressor().fit(X, y)` on the first --subset rows (read from the
  same files), in a fresh process: the fit a machine of this size can hold.

Each row reports the fit's wall time and CPU time (on a busy machine the first is well above
the second over the cores), the process's peak RSS (the data read included) and the
held-out R^2. Medians of --repeats runs; the date and the load average are printed.

    python benchmarks/scale_benchmark.py                       # 100M streamed, 10M in memory
    python benchmarks/scale_benchmark.py --rows 10000000 --subset 2000000 --repeats 1
    python benchmarks/scale_benchmark.py --data /tmp/scale  # write once, keep, reuse

With --data the files are written into that folder (when it has none) and kept, so a
second run fits the same files without writing them again; delete the folder after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = [f"x{j}" for j in range(10)]
FILE_ROWS = 5_000_000


def truth(X: np.ndarray) -> np.ndarray:
    """Ten smooth effects of different shapes, one per feature on [0, 1]."""
    effects = [np.sin(6 * X[:, 0]), np.cos(4 * X[:, 1]), 2 * np.exp(-30 * (X[:, 2] - .5) ** 2),
               np.tanh(20 * (X[:, 3] - 0.4)), X[:, 4] ** 2, np.sin(12 * X[:, 5]) * 0.5,
               np.log1p(5 * X[:, 6]), 0.8 * X[:, 7], np.sqrt(X[:, 8]), np.cos(9 * X[:, 9])]
    return np.sum(effects, axis=0)


def rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.random((n, len(FEATURES)))
    frame = pd.DataFrame(X.astype(np.float32), columns=FEATURES)
    frame["y"] = truth(X.astype(np.float32).astype(np.float64)) + rng.normal(0, 1, n)
    return frame


def write(folder: Path, n: int) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = []
    for i, start in enumerate(range(0, n, FILE_ROWS)):
        frame = rows(min(FILE_ROWS, n - start), seed=1000 + i)
        path = folder / f"part-{i:04d}.parquet"
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path,
                       row_group_size=1_000_000)
        paths.append(path)
    return paths


def child(mode: str, folder: str, subset: int) -> dict[str, float]:
    """One fit in this (fresh) process."""
    from sagegam import GAMRegressor
    from sagegam.container.streams import FileSource
    from sagegam.container.tabular import ReadOptions

    files = sorted(Path(folder).glob("part-*.parquet"))
    started, cpu = time.perf_counter(), time.process_time()
    if mode == "streamed":
        model = GAMRegressor().fit(FileSource.open(files, None, ReadOptions(target="y")))
    else:
        frames, total = [], 0
        for path in files:
            frames.append(pd.read_parquet(path))
            total += len(frames[-1])
            if total >= subset:
                break
        frame = pd.concat(frames, ignore_index=True).iloc[:subset]
        # the fit only; reading is not the anchor's fault
        started, cpu = time.perf_counter(), time.process_time()
        model = GAMRegressor().fit(frame[FEATURES].astype(np.float64), frame["y"])
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    held = rows(1_000_000, seed=7)
    predicted = model.predict(held[FEATURES].astype(np.float64))
    y = held["y"].to_numpy()
    r2 = 1 - np.sum((y - predicted) ** 2) / np.sum((y - y.mean()) ** 2)
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak_rss_mb(), "r2": float(r2),
            "passes": float(model.predictor_.info.get("passes", 0))}


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM starts afresh at exec; ru_maxrss would
    count the parent's pages at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(mode: str, folder: Path, subset: int) -> dict[str, float]:
    result = subprocess.run([sys.executable, __file__, "--child", mode, str(folder),
                             str(subset)], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--subset", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, help="a folder to keep the Parquet files in")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], int(args.child[2]))))
        return
    folder = args.data or Path(tempfile.mkdtemp(prefix="sagegam-scale-"))
    try:
        prepare(folder, args.rows)
        results: dict[str, list[dict[str, float]]] = {"streamed": [], "in-memory": []}
        for _ in range(args.repeats):  # alternate, so load changes hit both alike
            for mode, n in (("streamed", args.rows), ("in-memory", args.subset)):
                results[mode].append(run(mode, folder, n))
                print(f"{mode}: {results[mode][-1]} (load {os.getloadavg()[0]:.2f})",
                      flush=True)
    finally:
        if args.data is None:
            shutil.rmtree(folder, ignore_errors=True)
    report(args, results)


def prepare(folder: Path, n: int) -> list[Path]:
    """The folder's Parquet files, written first unless it holds ``n`` rows already."""
    import pyarrow.parquet as pq

    files = sorted(folder.glob("part-*.parquet"))
    if files and sum(pq.ParquetFile(p).metadata.num_rows for p in files) == n:
        print(f"reusing {n:,} rows in {len(files)} Parquet files in {folder}")
        return files
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        path.unlink()
    started = time.perf_counter()
    files = write(folder, n)
    size = sum(p.stat().st_size for p in files) / 1e9
    print(f"wrote {n:,} rows in {len(files)} Parquet files ({size:.1f} GB) in "
          f"{time.perf_counter() - started:.0f} s")
    return files


def report(args: argparse.Namespace, results: dict[str, list[dict[str, float]]]) -> None:
    print(f"\n{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores, "
          f"medians of {args.repeats}")
    print("| fit | rows | fit s | CPU s | peak MB | held-out R^2 | passes |")
    print("|---|---|---|---|---|---|---|")
    anchor = statistics.median(r["seconds"] for r in results["in-memory"])
    for mode, n in (("streamed", args.rows), ("in-memory", args.subset)):
        runs = results[mode]
        seconds = statistics.median(r["seconds"] for r in runs)
        print(f"| {mode} | {n:,} | {seconds:.0f} ({seconds / anchor:.2f}x) | "
              f"{statistics.median(r['cpu_seconds'] for r in runs):.0f} | "
              f"{statistics.median(r['peak_mb'] for r in runs):,.0f} | "
              f"{statistics.median(r['r2'] for r in runs):.5f} | "
              f"{statistics.median(r['passes'] for r in runs):.0f} |")


if __name__ == "__main__":
    main()
