"""The image's entry point, started the ways SageMaker and its SDKs start it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from sagegam.datasets import gauss3_split


def _entrypoint(base, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"SAGEGAM_BASE_DIR": str(base), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "sagegam.container.entrypoint", *args],
                          capture_output=True, text=True, timeout=120, env=env)


def _gauss3(job) -> None:
    X, _, y, _ = gauss3_split()
    np.savetxt(job.channel("train") / "train.csv", np.column_stack([X, y]), delimiter=",")


def test_no_command_in_a_training_layout_trains_like_sdk3_local_container_mode(job):
    # SDK 3's ModelTrainer(training_mode=Mode.LOCAL_CONTAINER) writes the job's config and
    # starts the image with no command; SageMaker itself passes `train`.
    job.config({"df": "20"}, resources={"current_host": "algo-1", "hosts": ["algo-1"]})
    _gauss3(job)
    result = _entrypoint(job.base)
    assert result.returncode == 0, result.stdout + result.stderr
    assert job.metrics["train_r2"] >= 0.9967
    assert (job.base / "model" / "sagegam-model.json").is_file()


def test_no_command_and_no_training_config_prints_the_usage_and_exits_2(tmp_path):
    result = _entrypoint(tmp_path / "ml")
    assert result.returncode == 2
    assert f"no command given and no training configuration in {tmp_path}/ml/input/config" \
        in result.stderr
    assert "Usage: IMAGE [OPTIONS] COMMAND [ARGS]..." in result.stderr


def test_an_unknown_command_is_named(tmp_path):
    result = _entrypoint(tmp_path / "ml", "fit")
    assert result.returncode == 2
    assert "Error: No such command 'fit'." in result.stderr
