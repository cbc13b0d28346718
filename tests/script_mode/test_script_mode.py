"""Script mode in AWS's scikit-learn image, driven by the real ``sagemaker-training`` toolkit.

The source directory is docs/script-mode.md's own (``entry.py`` and the network-isolated
``requirements.txt``) plus the wheels; the toolkit installs sagegam from them with no
index, runs the entry point with its arguments and ``SM_*`` variables, and reports the
outcome. The serving handlers are then called in the framework's order with its content
types, and must answer what the artifact predicts.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import orjson
import pytest

from sagegam import load
from sagegam.datasets import gauss3_split
from tests.script_mode.conftest import documented_file

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent
REQUEST_ROWS = np.array([[10.0], [111.6], [147.7], [240.0]])


def _source_dir(tmp_path: Path, wheels: Path) -> Path:
    source = tmp_path / "src"
    source.mkdir()
    (source / "entry.py").write_text(documented_file("entry.py"))
    (source / "requirements.txt").write_text(
        documented_file("requirements.txt (network isolated)"))
    shutil.copytree(wheels, source / "wheels")
    return source


def _layout(tmp_path: Path, source: Path, train_csv: str) -> Path:
    base = tmp_path / "ml"
    config = base / "input" / "config"
    config.mkdir(parents=True)
    # The SDK sends every hyperparameter JSON-encoded; the toolkit decodes them.
    hyperparameters = {"sagemaker_program": "entry.py",
                       "sagemaker_submit_directory": str(source), "df": 20,
                       "train-file": "train.csv"}
    (config / "hyperparameters.json").write_text(
        json.dumps({key: json.dumps(value) for key, value in hyperparameters.items()}))
    (config / "inputdataconfig.json").write_text(json.dumps(
        {"train": {"ContentType": "text/csv", "TrainingInputMode": "File"}}))
    # The toolkit waits until every host name resolves; on SageMaker they are algo-N.
    (config / "resourceconfig.json").write_text(json.dumps(
        {"current_host": "localhost", "hosts": ["localhost"]}))
    (base / "input" / "data" / "train").mkdir(parents=True)
    (base / "input" / "data" / "train" / "train.csv").write_text(train_csv)
    return base


def _toolkit_train(python: str, base: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SM_", "SAGEMAKER_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(SAGEMAKER_BASE_DIR=str(base), PYTHONPATH=str(HERE),
               SAGEMAKER_TRAINING_MODULE="framework_training:main", PIP_NO_INDEX="1")
    return subprocess.run([python, "-m", "sagemaker_training.cli.train"], env=env,
                          capture_output=True, text=True, timeout=600)


def _gauss3_csv() -> str:
    X, _, y, _ = gauss3_split()
    buffer = io.StringIO()
    np.savetxt(buffer, np.column_stack([X, y]), delimiter=",")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def trained(framework_python: str, wheels: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("script-mode")
    base = _layout(tmp_path, _source_dir(tmp_path, wheels), _gauss3_csv())
    done = _toolkit_train(framework_python, base)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    return base


def test_the_toolkit_installs_sagegam_from_the_wheels_and_trains_through_the_entry_point(
        trained):
    metrics = json.loads((trained / "output" / "data" / "metrics.json").read_text())
    assert metrics["train_r2"] >= 0.9967  # the reference notebook's R^2 at df=20
    assert load(trained / "model").feature_names == ("x0",)
    assert (trained / "output" / "success").is_file()  # the toolkit's own verdict


def test_bad_data_ends_the_job_with_the_root_cause_in_the_failure_file(
        framework_python, wheels, tmp_path):
    base = _layout(tmp_path, _source_dir(tmp_path, wheels), "1.0,2.0\n3.0,oops\n")
    done = _toolkit_train(framework_python, base)
    assert done.returncode != 0
    # The entry point's own root cause, not the toolkit's summary of the process.
    assert (base / "output" / "failure").read_text().startswith(
        "UserError: train.csv, line 2, column 'x1': 'oops' is not a number.")
    assert not (base / "model" / "sagegam-model.json").exists()


def _serve(python: str, base: Path, cases: list[dict]) -> list[dict]:
    for case in cases:
        case["body"] = base64.b64encode(case["body"]).decode()
    path = base.parent / "cases.json"
    path.write_text(json.dumps(cases))
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SAGEMAKER_", "PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run([python, str(HERE / "framework_serving.py"), str(base / "code"),
                           "entry", str(base / "model"), str(path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)


def _npy(rows: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, rows)
    return buffer.getvalue()


def test_the_handlers_answer_each_content_type_as_the_artifact_predicts(
        framework_python, trained):
    expected = load(trained / "model").predict(REQUEST_ROWS)
    csv = "\n".join(repr(float(row[0])) for row in REQUEST_ROWS).encode()
    answers = _serve(framework_python, trained, [
        {"body": _npy(REQUEST_ROWS), "content_type": "application/x-npy",
         "accept": "application/x-npy"},
        {"body": csv, "content_type": "text/csv", "accept": "text/csv"},
        {"body": orjson.dumps(REQUEST_ROWS.tolist()), "content_type": "application/json",
         "accept": "*/*"},
        {"body": b"x0\n10\n111.6\n147.7\n240\n", "content_type": "text/csv",
         "accept": "application/json; explain=true"},
        {"body": csv, "content_type": "text/csv", "accept": "text/csv; std=true; interval=0.9"},
    ])
    assert [a["status"] for a in answers] == [200] * 5
    bodies = [base64.b64decode(a["body"]) for a in answers]
    assert [a["content_type"] for a in answers] == [
        "application/x-npy", "text/csv", "application/json", "application/json", "text/csv"]
    np.testing.assert_allclose(np.load(io.BytesIO(bodies[0])).ravel(), expected, rtol=1e-12)
    np.testing.assert_allclose(np.loadtxt(io.StringIO(bodies[1].decode())), expected,
                               rtol=1e-12)
    np.testing.assert_allclose(json.loads(bodies[2])["predictions"], expected, rtol=1e-12)
    explained = json.loads(bodies[3])
    np.testing.assert_allclose(explained["predictions"], expected, rtol=1e-12)
    # Gaussian identity link: intercept plus the contributions is the prediction.
    totals = [row["intercept"] + row["contributions"]["x0"] for row in explained["explanations"]]
    np.testing.assert_allclose(totals, expected, rtol=1e-9)
    interval = load(trained / "model").predict_interval(REQUEST_ROWS, 0.9)
    np.testing.assert_allclose(
        np.loadtxt(io.StringIO(bodies[4].decode()), delimiter=","),
        np.column_stack([interval.mean, interval.std, interval.lower, interval.upper]),
        rtol=1e-12)


def test_bad_requests_are_refused_as_sagegams_own_server_refuses_them(
        framework_python, trained):
    from sagegam.container.serving import core

    cases = [
        {"body": b"10\nabc\n", "content_type": "text/csv", "accept": "application/json"},
        {"body": b"10\n", "content_type": "text/html", "accept": "application/json"},
        {"body": b"10\n", "content_type": "text/csv", "accept": "image/png"},
        {"body": b"", "content_type": "text/csv", "accept": "application/json"},
    ]
    predictor = load(trained / "model")
    expected = []
    for case in cases:
        answer = core.invocations(predictor, case["body"], case["content_type"],
                                  case["accept"], None, core.ServerSettings())
        expected.append((answer.status, json.loads(answer.body)["message"]))
    answers = _serve(framework_python, trained, cases)
    assert [(a["status"], a["message"]) for a in answers] == expected
    assert [status for status, _ in expected] == [400, 415, 406, 400]
