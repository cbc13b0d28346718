"""`sagegam local deploy --multi-model`: a folder of models behind one endpoint, each loaded
on its first `invoke --target-model`, as SageMaker loads a TargetModel from its prefix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from sagegam import GAMRegressor, load, save

ROWS = np.array([[0.2, 0.7], [0.9, 0.1]])


def _models(folder: Path) -> dict[str, Path]:
    """Three stores: two as model.tar.gz files, one as an artifact folder."""
    folder.mkdir()
    artifacts = {}
    for index in range(3):
        rng = np.random.default_rng(index)
        X = rng.uniform(size=(150, 2))
        y = (index + 1) * np.sin(5 * X[:, 0]) + X[:, 1] + rng.normal(0, 0.05, 150)
        artifact = folder.parent / f"artifact-{index}"
        save(GAMRegressor(df=8).fit(X, y), artifact)
        artifacts[f"store-{index}"] = artifact
    for name in ("store-0", "store-1"):
        with tarfile.open(folder / f"{name}.tar.gz", "w:gz") as tar:
            for path in artifacts[name].iterdir():
                tar.add(path, arcname=path.name)
    (artifacts["store-2"]).rename(folder / "store-2")
    artifacts["store-2"] = folder / "store-2"
    return artifacts


def _cli(home: Path, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "sagegam", "local", *args], input=stdin,
                          env={**os.environ, "SAGEGAM_HOME": str(home)}, capture_output=True,
                          timeout=120)


@pytest.fixture()
def endpoint(tmp_path: Path):
    home, folder = tmp_path / "home", tmp_path / "stores"
    artifacts = _models(folder)
    deployed = _cli(home, "deploy", "stores", str(folder), "--multi-model", "--workers", "2")
    assert deployed.returncode == 0, deployed.stderr
    yield home, artifacts
    _cli(home, "delete", "stores")


def test_each_target_model_is_loaded_on_first_call_and_answers_as_its_artifact(endpoint):
    home, artifacts = endpoint
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in ROWS).encode()
    for target, artifact in (("store-0.tar.gz", artifacts["store-0"]),
                             ("store-1.tar.gz", artifacts["store-1"]),
                             ("store-2", artifacts["store-2"])):
        for _ in range(2):  # the first call loads, the second finds it loaded
            answer = _cli(home, "invoke", "stores", "--target-model", target, "-a",
                          "application/json", stdin=body)
            assert answer.returncode == 0, answer.stderr
            np.testing.assert_allclose(json.loads(answer.stdout)["predictions"],
                                       load(artifact).predict(ROWS), rtol=1e-12)


@pytest.mark.parametrize(("args", "message"), [
    ([], "is a multi-model endpoint: name the model with --target-model"),
    (["--target-model", "store-9.tar.gz"], "No model 'store-9.tar.gz' in"),
    (["--target-model", "../etc"], "No model '../etc' in"),
])
def test_a_missing_or_unknown_target_is_one_line(endpoint, args, message):
    home, _ = endpoint
    answer = _cli(home, "invoke", "stores", *args, stdin=b"0.5,0.5\n")
    assert answer.returncode == 1
    assert message in answer.stderr.decode()
    assert "Traceback" not in answer.stderr.decode()
