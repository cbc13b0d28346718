"""Fitted models saved to disk, and a real `serve` process on a free port."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from sagegam import GAMClassifier, GAMRegressor, load, save
from sagegam.local.endpoints import free_port
from sagegam.model.predictor import GAMPredictor

FEATURES = ["age", "dose", "weight"]


def feature_frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.uniform(0, 1, size=(rows, 3)), columns=FEATURES)


@pytest.fixture(scope="session")
def regressor_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    X = feature_frame(500, 1)
    y = np.sin(3 * X["age"]) + X["dose"] ** 2 + np.random.default_rng(2).normal(0, .1, 500)
    path = tmp_path_factory.mktemp("regressor")
    save(GAMRegressor().fit(X, y), path)
    return path


@pytest.fixture(scope="session")
def classifier_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    X = feature_frame(800, 3)
    p = 1 / (1 + np.exp(-4 * (X["age"] - 0.5)))
    y = np.where(np.random.default_rng(4).random(800) < p, "churn", "stay")
    path = tmp_path_factory.mktemp("classifier")
    save(GAMClassifier().fit(X, y), path)
    return path


@pytest.fixture(scope="session")
def regressor(regressor_dir: Path) -> GAMPredictor:
    return load(regressor_dir)


@pytest.fixture(scope="session")
def classifier(classifier_dir: Path) -> GAMPredictor:
    return load(classifier_dir)


@pytest.fixture()
def rows() -> np.ndarray:
    return feature_frame(7, 9).to_numpy()


class Server:
    def __init__(self, model_dir: Path, workers: int = 2, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sagegam", "serve", "--model-dir", str(model_dir),
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)],
            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        self.ready_after = self._wait_for_ping()

    def _wait_for_ping(self, timeout: float = 20.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/ping", timeout=1).status_code == 200:
                    return time.monotonic() - self.started
            except httpx.TransportError:
                time.sleep(0.02)
        self.process.kill()
        raise RuntimeError(f"serve never answered /ping: {self.process.communicate()[0]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def post(self, body: bytes, content_type: str, accept: str = "application/json",
             attributes: str | None = None) -> httpx.Response:
        """POST /invocations; ``attributes``: SageMaker's custom attributes header."""
        headers = {"Content-Type": content_type, "Accept": accept}
        if attributes is not None:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = attributes
        return httpx.post(self.url + "/invocations", content=body, headers=headers, timeout=30)


def csv_body(frame: pd.DataFrame) -> bytes:
    """A frame's rows as CSV lines, every number as Python writes it (exact round trip)."""
    return "".join(",".join(map(repr, row)) + "\n"
                   for row in frame.to_numpy().tolist()).encode()


def server_workers(pid: int) -> list[int]:
    """The workers of the `serve` process ``pid``: forked, they share its command line;
    multiprocessing's resource tracker, if it runs, is not one."""
    return [child for child, command in _children(pid) if b"resource_tracker" not in command]


def helpers_of(worker: int) -> list[int]:
    """The helper processes a worker spawned (its resource tracker aside)."""
    return [child for child, command in _children(worker) if b"spawn_main" in command]


def _children(pid: int) -> list[tuple[int, bytes]]:
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            found.append((int(child), Path(f"/proc/{child}/cmdline").read_bytes()))
        except FileNotFoundError:  # it exited meanwhile
            continue
    return found


def npy_body(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(regressor_dir: Path) -> Iterator[Server]:
    running = Server(regressor_dir)
    yield running
    running.stop()
