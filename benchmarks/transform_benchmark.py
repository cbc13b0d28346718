"""Batch transform throughput of the local runtime against in-process prediction.

Writes a CSV of --rows rows x 10 features, trains a GAM on a sample, then times a local
batch transform (subprocess engine, MultiRecord, 6 MB payloads) with 1 and 2 concurrent
transforms, and in-process prediction of the same rows (from the parsed array, and from
the CSV file) as the limits. A transform of an empty file times what every job pays
whatever its size (the temporary endpoint's start and stop); the last rows give the
transforms' shares net of it. Run: python benchmarks/transform_benchmark.py [--rows 1000000]
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

    empty = folder / "empty.csv"
    empty.write_bytes(b"")

    def transform(concurrent: int, source: Path = data) -> None:
        run_transform(TransformSpec(f"bench-{concurrent}-{time.monotonic_ns()}",
                                    folder / "model", [source], folder / f"out-{concurrent}",
                                    max_payload_mb=6, max_concurrent=concurrent))

    cells = [("in-process predict (the limit)", in_process),
             ("in-process np.loadtxt + predict", in_process_from_csv),
             ("local transform, 1 concurrent", lambda: transform(1)),
             ("local transform, 2 concurrent", lambda: transform(2)),
             ("local transform of an empty file (start + stop)", lambda: transform(2, empty))]
    medians: dict[str, float] = {}
    print("| path | median s | rows/s | share of the limit |")
    print("|---|---|---|---|")
    for label, call in cells:
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        medians[label] = statistics.median(times)
        _row(label, medians[label], args.rows, medians)
    fixed = medians[cells[-1][0]]
    for concurrent in (1, 2):
        label = f"local transform, {concurrent} concurrent"
        _row(f"{label}, net of start + stop", medians[label] - fixed, args.rows, medians)
    out = (folder / "out-2" / "features.csv.out").read_bytes()
    assert out.count(b"\n") == args.rows, "the transform lost records"


def _row(label: str, seconds: float, rows: int, medians: dict[str, float]) -> None:
    limit = rows / next(iter(medians.values()))
    if "empty" in label:
        print(f"| {label} | {seconds:.2f} | - | - |", flush=True)
        return
    if seconds <= 0:
        print(f"| {label} | - | - | - (the start varied more than the transform took) |")
        return
    rate = rows / seconds
    print(f"| {label} | {seconds:.2f} | {rate:,.0f} | {rate / limit:.0%} |", flush=True)


if __name__ == "__main__":
    main()
