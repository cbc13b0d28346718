"""Build SageMaker /opt/ml trees in temporary directories and run the real `train`."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class TrainingJob:
    base: Path

    def config(self, hyperparameters: dict, input_data: dict | None = None,
               resources: dict | None = None) -> TrainingJob:
        config = self.base / "input" / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
        channels = input_data or {"train": {"TrainingInputMode": "File"}}
        (config / "inputdataconfig.json").write_text(json.dumps(channels))
        if resources is not None:
            (config / "resourceconfig.json").write_text(json.dumps(resources))
        return self

    def channel(self, name: str) -> Path:
        path = self.base / "input" / "data" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def run(self, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sagegam", "train", "--base-dir",
                               str(self.base)], capture_output=True, text=True,
                              timeout=timeout)

    def start(self) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "sagegam", "train", "--base-dir",
                                 str(self.base)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)

    @property
    def failure(self) -> str:
        return (self.base / "output" / "failure").read_text()

    @property
    def metrics(self) -> dict:
        return json.loads((self.base / "output" / "data" / "metrics.json").read_text())


@pytest.fixture()
def job(tmp_path: Path) -> TrainingJob:
    return TrainingJob(tmp_path / "ml")
