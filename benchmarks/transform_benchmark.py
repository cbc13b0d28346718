"""Batch transform throughput of the local runtime against in-process prediction.

Writes --rows rows x 10 features as a CSV file and as .npy arrays, trains a GAM on a
sample, then times local batch transforms (subprocess engine) with 1 and 2 concurrent
transforms, and in-process prediction of the same rows (from the array, and from each
file) as the limits:

- CSV: one file, SplitType=Line, MultiRecord, 6 MB mini-batches;
- npy: SplitType=None, each file one request, as SageMaker sends an unsplit object: one
  file of every row with MaxPayloadInMB 100 (1 concurrent), or the rows in two files
  with MaxPayloadInMB 50 (2 concurrent; SageMaker caps concurrent x payload at 100 MB).

Reading each file in-process before predicting is timed too; for CSV with numpy's parser
and with pandas' (the fastest at hand, which the workers use; in-process, pandas is
imported once, where every job's worker imports it again). A transform of an empty file
times what every job pays whatever its size (the temporary endpoint's start and stop,
with 1 or 2 workers); the last rows give each transform's share net of it. Each path
runs once untimed before its timed repeats. Run:
python benchmarks/transform_benchmark.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="sagegam-transform-bench-"))
    os.environ["SAGEGAM_HOME"] = str(folder / "home")

    import sagegam
    from sagegam import GAMRegressor, load, save
    from sagegam.local.transform import TransformSpec, run_transform

    # An installed package (pip, the image) has bytecode; an editable checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would compile sagegam in every server process it starts.
    compileall.compile_dir(Path(sagegam.__file__).parent, quiet=1)
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(args.rows, 10))
    data = folder / "features.csv"
    np.savetxt(data, X, delimiter=",", fmt="%.6f")
    whole = folder / "npy-1" / "features.npy"
    halves = [folder / "npy-2" / f"features-{i}.npy" for i in (1, 2)]
    for path, part in [(whole, X), *zip(halves, np.array_split(X, 2), strict=True)]:
        path.parent.mkdir(exist_ok=True)
        np.save(path, part)
    sample = X[:50_000]
    y = np.sin(sample[:, 0]) + sample[:, 1] ** 2 + rng.normal(0, 0.3, len(sample))
    save(GAMRegressor().fit(sample, y), folder / "model")
    predictor = load(folder / "model")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {args.rows:,} rows x 10 features "
          f"({data.stat().st_size / 2**20:.0f} MB CSV, {whole.stat().st_size / 2**20:.0f} MB "
          f"npy), load average {os.getloadavg()}")

    empty = folder / "empty.csv"
    empty.write_bytes(b"")

    def transform(concurrent: int, source: Path = data, **options: object) -> None:
        spec: dict[str, object] = {"max_payload_mb": 6, **options}
        run_transform(TransformSpec(f"bench-{concurrent}-{time.monotonic_ns()}",
                                    folder / "model", [source], folder / f"out-{concurrent}",
                                    max_concurrent=concurrent, **spec))  # type: ignore[arg-type]

    def npy(concurrent: int) -> None:
        transform(concurrent, whole.parent if concurrent == 1 else halves[0].parent,
                  content_type="application/x-npy", split_type="None",
                  max_payload_mb=100 // concurrent)

    cells: list[tuple[str, Callable[[], object]]] = [
        ("in-process predict (the limit)", lambda: predictor.predict(X)),
        ("in-process np.loadtxt + predict", lambda: predictor.predict(
            np.loadtxt(data, delimiter=","))),
        ("in-process pandas.read_csv + predict", lambda: predictor.predict(
            pd.read_csv(data, header=None, dtype=np.float64, engine="c").to_numpy())),
        ("in-process np.load + predict", lambda: predictor.predict(np.load(whole))),
        ("local transform, 1 concurrent", lambda: transform(1)),
        ("local transform, 2 concurrent", lambda: transform(2)),
        ("local transform of npy, 1 concurrent", lambda: npy(1)),
        ("local transform of npy, 2 concurrent", lambda: npy(2)),
        ("local transform of an empty file, 1 concurrent (start + stop)",
         lambda: transform(1, empty)),
        ("local transform of an empty file, 2 concurrent (start + stop)",
         lambda: transform(2, empty)),
    ]
    medians: dict[str, float] = {}
    print("| path | median s | rows/s | share of the limit |")
    print("|---|---|---|---|")
    for label, call in cells:
        call()  # untimed: the first call of each path pays what later ones do not
        times = []  # (malloc growing its heap, the files' first read, imports)
        for _ in range(args.repeats):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        medians[label] = statistics.median(times)
        _row(label, medians[label], args.rows, medians)
    for kind in ("", "of npy, "):
        for concurrent in (1, 2):
            label = f"local transform, {kind}{concurrent} concurrent".replace(", of", " of")
            fixed = medians[cells[-3 + concurrent][0]]
            _row(f"{label}, net of start + stop", medians[label] - fixed, args.rows, medians)
    _check_outputs(folder, predictor.predict(X), args.rows)


def _check_outputs(folder: Path, expected: np.ndarray, rows: int) -> None:
    out = (folder / "out-2" / "features.csv.out").read_bytes()
    assert out.count(b"\n") == rows, "the CSV transform lost records"
    halves = [np.load(folder / "out-2" / f"features-{i}.npy.out") for i in (1, 2)]
    for answer in [np.load(folder / "out-1" / "features.npy.out"), np.concatenate(halves)]:
        np.testing.assert_allclose(answer, expected, rtol=1e-12, atol=0)


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
