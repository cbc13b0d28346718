"""Batch transform of whole binary arrays: ``application/x-npy`` files with SplitType=None.

SageMaker sends an unsplit object as one request, so an .npy file is one body and its
answer one array. These run the real local transform (subprocess engine, a real server
and its helper processes) and compare with the in-process prediction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sagegam import GAMRegressor, load, save
from sagegam.cli import cli
from sagegam.local import endpoints
from sagegam.local.state import LocalError
from sagegam.local.transform import TransformSpec, run_transform

NPY = "application/x-npy"


@pytest.fixture()
def model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SAGEGAM_HOME", str(tmp_path / "home"))
    rng = np.random.default_rng(3)
    X = rng.uniform(-2, 2, size=(2_000, 3))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2 - X[:, 2] + rng.normal(0, 0.2, len(X))
    save(GAMRegressor().fit(X, y), tmp_path / "model")
    return tmp_path / "model"


def _features(path: Path, rows: int, seed: int) -> np.ndarray:
    X = np.random.default_rng(seed).uniform(-2, 2, size=(rows, 3))
    np.save(path, X)
    return X


def _spec(name: str, model: Path, inputs: list[Path], output: Path,
          **options: object) -> TransformSpec:
    settings: dict[str, object] = {"content_type": NPY, "split_type": "None",
                                   "max_payload_mb": 50, "max_concurrent": 1}
    return TransformSpec(name, model, inputs, output, **{**settings, **options})  # type: ignore[arg-type]


def test_npy_files_are_sent_whole_and_answered_with_the_in_process_predictions(
        model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "server-tmp"  # where the worker hands large bodies to its helper
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    inputs = tmp_path / "in"
    inputs.mkdir()
    # 60,000 x 3 doubles: 1.4 MB, a body the worker hands over through a file
    arrays = {name: _features(inputs / name, rows, seed)
              for name, rows, seed in [("a.npy", 60_000, 1), ("b.npy", 7, 2)]}
    summary = run_transform(_spec("npy-whole", model_dir, [inputs], tmp_path / "out",
                                  max_concurrent=2, assemble_with="None"))
    predictor = load(model_dir)
    for name, X in arrays.items():
        out = tmp_path / "out" / f"{name}.out"
        assert summary["Outputs"][str(out)] == 1  # one record: the file
        np.testing.assert_allclose(np.load(out), predictor.predict(X), rtol=1e-12, atol=0)
    assert list(scratch.iterdir()) == []  # the hand-over files are gone
    assert endpoints.list_endpoints() == []


def test_assemble_with_line_adds_one_line_break_after_the_array(model_dir: Path,
                                                                tmp_path: Path) -> None:
    X = _features(tmp_path / "x.npy", 500, 4)
    run_transform(_spec("npy-line", model_dir, [tmp_path / "x.npy"], tmp_path / "out"))
    written = (tmp_path / "out" / "x.npy.out").read_bytes()
    assert written.endswith(b"\n")
    np.testing.assert_allclose(np.load(tmp_path / "out" / "x.npy.out"),
                               load(model_dir).predict(X), rtol=1e-12, atol=0)
    as_csv = run_transform(_spec("npy-to-csv", model_dir, [tmp_path / "x.npy"],
                                 tmp_path / "csv", accept="text/csv"))
    assert as_csv["Outputs"][str(tmp_path / "csv" / "x.npy.out")] == 500  # CSV lines
    np.testing.assert_allclose(np.loadtxt(tmp_path / "csv" / "x.npy.out"),
                               load(model_dir).predict(X), rtol=1e-12, atol=0)


def test_a_file_over_max_payload_is_refused_before_any_server_starts(model_dir: Path,
                                                                      tmp_path: Path) -> None:
    _features(tmp_path / "big.npy", 50_000, 5)  # 1.2 MB
    with pytest.raises(LocalError, match=r"big\.npy is 1\.1 MB, more than MaxPayloadInMB "
                                         r"\(1 MB\) allows"):
        run_transform(_spec("too-big", model_dir, [tmp_path / "big.npy"], tmp_path / "out",
                            max_payload_mb=1))
    assert not (tmp_path / "home" / "endpoints").exists()  # nothing was started
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("options", "message"), [
    ({"split_type": "Line"}, "ContentType application/x-npy is one binary array per file"),
    ({"content_type": "text/csv", "accept": NPY, "split_type": "Line"},
     "Accept application/x-npy answers binary arrays"),
    ({"input_filter": "$[0:1]"}, "cannot read application/x-npy arrays"),
    ({"max_concurrent": 2, "max_payload_mb": 60},
     r"MaxConcurrentTransforms x MaxPayloadInMB must be at most 100 .* got 2 x 60"),
])
def test_what_sagemaker_cannot_do_with_npy_is_refused_in_one_sentence(
        model_dir: Path, tmp_path: Path, options: dict[str, object], message: str) -> None:
    _features(tmp_path / "x.npy", 10, 6)
    with pytest.raises(LocalError, match=message):
        run_transform(_spec("refused", model_dir, [tmp_path / "x.npy"], tmp_path / "out",
                            **options))
    assert not (tmp_path / "home" / "endpoints").exists()


def test_a_binary_file_sent_whole_as_csv_is_refused_with_its_name(model_dir: Path,
                                                                  tmp_path: Path) -> None:
    _features(tmp_path / "x.npy", 10, 7)
    with pytest.raises(LocalError, match=r"x\.npy is not UTF-8 text .* application/x-npy"):
        run_transform(_spec("as-csv", model_dir, [tmp_path / "x.npy"], tmp_path / "out",
                            content_type="text/csv"))


def test_the_cli_transforms_an_npy_file(model_dir: Path, tmp_path: Path) -> None:
    X = _features(tmp_path / "x.npy", 1_000, 8)
    result = CliRunner().invoke(cli, [
        "local", "transform", "cli-npy", str(model_dir), str(tmp_path / "x.npy"), "-o",
        str(tmp_path / "out"), "--content-type", NPY, "--split-type", "None",
        "--max-payload-mb", "100", "--max-concurrent", "1", "--assemble-with", "None"])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load(tmp_path / "out" / "x.npy.out"),
                               load(model_dir).predict(X), rtol=1e-12, atol=0)
