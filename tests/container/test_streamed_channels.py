"""Training jobs that stream their channel (Pipe mode, or streaming=true over files) write
the model the in-memory job writes from the same data."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sagegam import load
from tests.container.conftest import TrainingJob

ROWS = 205_000  # past the 200,000 rows a streamed fit gathers into memory


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(31)
    data = pd.DataFrame({"a": rng.uniform(-2, 2, ROWS), "c": rng.choice(["p", "q", "r"], ROWS)})
    data["y"] = np.sin(2 * data.a) + data.c.map({"p": 0, "q": 1, "r": -1}) + rng.normal(
        0, 0.5, ROWS)
    return data


@pytest.fixture(scope="module")
def in_memory(frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory):
    job = TrainingJob(tmp_path_factory.mktemp("memory") / "ml").config(
        {"target": "y", "streaming": "false"})
    frame.to_csv(job.channel("train") / "data.csv", index=False)
    result = job.run(timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return load(job.base / "model"), job.metrics


def _same(ours, theirs):
    scale = np.max(np.abs(theirs.coef))
    np.testing.assert_allclose(ours.coef, theirs.coef, rtol=0, atol=1e-8 * scale)


@pytest.mark.slow
def test_streaming_parquet_files_gives_the_in_memory_model(frame, in_memory, job):
    pytest.importorskip("pyarrow")
    for i, rows in enumerate(np.array_split(np.arange(ROWS), 3)):
        frame.iloc[rows].to_parquet(job.channel("train") / f"part-{i}.parquet", index=False)
    result = job.config({"target": "y", "streaming": "true"}).run(timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "streaming channel train (File mode)" in result.stdout
    _same(load(job.base / "model"), in_memory[0])
    assert job.metrics["train_r2"] == pytest.approx(in_memory[1]["train_r2"], abs=1e-8)


def _feed(fifo_dir: Path, channel: str, payload: bytes, stop: threading.Event) -> None:
    """What SageMaker does in Pipe mode: a new FIFO per pass, written once it is opened."""
    n = 0
    while not stop.is_set():
        path = fifo_dir / f"{channel}_{n}"
        os.mkfifo(path)
        fd = None
        while fd is None and not stop.is_set():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # no reader yet
                stop.wait(0.05)
        if fd is None:
            return
        os.set_blocking(fd, True)
        with os.fdopen(fd, "wb") as pipe, contextlib.suppress(BrokenPipeError):
            pipe.write(payload)
        n += 1


@pytest.mark.slow
def test_pipe_mode_reads_one_fifo_per_pass_and_gives_the_in_memory_model(frame, in_memory,
                                                                         job):
    # Two gzip CSV objects, each with its header, concatenated as Pipe mode delivers them.
    half = ROWS // 2
    objects = [gzip.compress(frame.iloc[rows].to_csv(index=False).encode())
               for rows in (slice(0, half), slice(half, ROWS))]
    config = {"train": {"TrainingInputMode": "Pipe", "ContentType": "text/csv"}}
    job.config({"target": "y"}, input_data=config)
    data_dir = job.base / "input" / "data"
    data_dir.mkdir(parents=True)
    stop = threading.Event()
    feeder = threading.Thread(target=_feed, args=(data_dir, "train", b"".join(objects), stop),
                              daemon=True)
    feeder.start()
    try:
        result = job.run(timeout=600)
    finally:
        stop.set()
        feeder.join(timeout=10)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "streaming channel train (Pipe mode)" in result.stdout
    _same(load(job.base / "model"), in_memory[0])


def test_pipe_mode_refuses_parquet_with_the_remedy(job):
    config = {"train": {"TrainingInputMode": "Pipe",
                        "ContentType": "application/x-parquet"}}
    job.config({"target": "y"}, input_data=config)
    data_dir = job.base / "input" / "data"
    data_dir.mkdir(parents=True)
    os.mkfifo(data_dir / "train_0")
    result = job.run(timeout=120)
    assert result.returncode == 2
    assert "Parquet cannot be read through Pipe mode" in job.failure


def test_a_record_io_channel_is_refused(job):
    shutil.copy(Path(__file__).parent / "test_training.py", job.channel("train") / "x.csv")
    config = {"train": {"TrainingInputMode": "File", "RecordWrapperType": "RecordIO"}}
    result = job.config({}, input_data=config).run()
    assert result.returncode == 2
    assert "RecordWrapperType 'RecordIO'" in job.failure


def test_a_streamed_job_refuses_an_estimated_tweedie_power_before_reading(frame, job):
    frame.iloc[:500].assign(y=np.exp(frame.a.iloc[:500])).to_csv(
        job.channel("train") / "data.csv", index=False)
    result = job.config({"target": "y", "streaming": "true", "family": "tweedie"}).run(
        timeout=300)
    assert result.returncode == 2
    assert "power='auto'" in job.failure and "give power as a number" in job.failure
