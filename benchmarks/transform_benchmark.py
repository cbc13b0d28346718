"""Batch transform throughput of the local runtime against in-process prediction.

Writes a CSV of --rows rows x 10 features, trains a GAM on a sample, then times a local
batch transform (subprocess engine, MultiRecord, 6 MB payloads) with 1 and 2 concurrent
transforms, and in-process prediction of the same rows (from the parsed array, and from
the CSV file) as the limits. Run: python benchmarks/transform_benchmark.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="sagegam-transform-bench-"))
    os.environ["SAGEGAM_HOME"] = str(folder / "home")

    from sagegam import GAMRegressor, load, save
    from sagegam.local.transform import TransformSpec, run_transform

    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(args.rows, 10))
    data = folder / "features.csv"
    np.savetxt(data, X, delimiter=",", fmt="%.6f")
    sample = X[:50_000]
    y = np.sin(sample[:, 0]) + sample[:, 1] ** 2 + rng.normal(0, 0.3, len(sample))
    save(GAMRegressor().fit(sample, y), folder / "model")
    predictor = load(folder / "model")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {args.rows:,} rows x 10 features "
          f"({data.stat().st_size / 2**20:.0f} MB CSV), load average {os.getloadavg()}")

    def in_process() -> None:
        predictor.predict(X)

    def in_process_from_csv() -> None:
        predictor.predict(np.loadtxt(data, delimiter=","))

    def transform(concurrent: int) -> None:
        run_transform(TransformSpec(f"bench-{concurrent}-{time.monotonic_ns()}",
                                    folder / "model", [data], folder / f"out-{concurrent}",
                                    max_payload_mb=6, max_concurrent=concurrent))

    cells = [("in-process predict (the limit)", in_process),
             ("in-process np.loadtxt + predict", in_process_from_csv),
             ("local transform, 1 concurrent", lambda: transform(1)),
             ("local transform, 2 concurrent", lambda: transform(2))]
    limit = None
    print("| path | median s | rows/s | share of the limit |")
    print("|---|---|---|---|")
    for label, call in cells:
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        rate = args.rows / median
        limit = limit or rate
        print(f"| {label} | {median:.2f} | {rate:,.0f} | {rate / limit:.0%} |", flush=True)
    out = (folder / "out-2" / "features.csv.out").read_text().splitlines()
    assert len(out) == args.rows, "the transform lost records"


if __name__ == "__main__":
    main()
