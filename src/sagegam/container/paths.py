"""SageMaker's ``/opt/ml`` layout, rooted anywhere (tests and the local runtime)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BASE_DIR = "/opt/ml"
BASE_DIR_VARIABLE = "SAGEGAM_BASE_DIR"


@dataclass(frozen=True)
class MLPaths:
    base: Path

    @classmethod
    def resolve(cls, base_dir: str | Path | None = None) -> MLPaths:
        """The flag, else ``$SAGEGAM_BASE_DIR``, else ``/opt/ml``."""
        chosen = base_dir or os.environ.get(BASE_DIR_VARIABLE) or DEFAULT_BASE_DIR
        return cls(Path(chosen))

    @property
    def config_dir(self) -> Path:
        return self.base / "input" / "config"

    @property
    def hyperparameters(self) -> Path:
        return self.config_dir / "hyperparameters.json"

    @property
    def input_data_config(self) -> Path:
        return self.config_dir / "inputdataconfig.json"

    @property
    def resource_config(self) -> Path:
        return self.config_dir / "resourceconfig.json"

    @property
    def data_dir(self) -> Path:
        return self.base / "input" / "data"

    def channel(self, name: str) -> Path:
        return self.data_dir / name

    @property
    def model_dir(self) -> Path:
        return self.base / "model"

    @property
    def output_dir(self) -> Path:
        return self.base / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.output_dir / "data"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"
