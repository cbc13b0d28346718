"""The local lifecycle, the same tests against both engines: subprocess and the image."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import orjson
import pytest
from click.testing import CliRunner

from sagegam import load
from sagegam.cli import cli
from sagegam.datasets import gauss3_split
from sagegam.local import endpoints, training, transform
from sagegam.local.state import LocalError
from sagegam.local.training import Engine, JobSpec

ENGINES = ["subprocess", pytest.param("container", marks=pytest.mark.container)]


@pytest.fixture(params=ENGINES)
def runtime(request: pytest.FixtureRequest, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("SAGEGAM_HOME", str(tmp_path / "home"))
    if request.param == "subprocess":
        return Engine()
    return Engine(request.getfixturevalue("engine"), request.getfixturevalue("image"))


@pytest.fixture()
def gauss3_files(tmp_path: Path) -> dict[str, Path]:
    X_train, X_test, y_train, _ = gauss3_split()
    folder = tmp_path / "data"
    folder.mkdir()
    np.savetxt(folder / "train.csv", np.column_stack([X_train, y_train]), delimiter=",")
    np.savetxt(folder / "features.csv", X_test, delimiter=",")
    return {"train": folder / "train.csv", "features": folder / "features.csv"}


def _train(name: str, files: dict[str, Path], runtime: Engine, **hyperparameters: object):
    spec = JobSpec(name, {"train": files["train"]},
                   {"train-file": "train.csv", "df": 20, **hyperparameters},
                   engine=runtime)
    return training.run_job(spec, on_line=lambda _: None)


def test_training_job_completes_with_sagemakers_outputs(runtime, gauss3_files):
    description = _train("gauss3", gauss3_files, runtime)
    assert description["TrainingJobStatus"] == "Completed"
    assert description["HyperParameters"] == {"train-file": "train.csv", "df": "20"}
    metrics = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    assert metrics["train_r2"] >= 0.9967
    archive = Path(description["ModelArtifacts"]["S3ModelArtifacts"])
    import tarfile

    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["sagegam-arrays.npz", "sagegam-model.json"]
    assert (archive.parent / "output.tar.gz").is_file()
    assert training.describe("gauss3") == description


def test_a_failing_job_is_failed_with_the_reason_from_the_failure_file(runtime, gauss3_files):
    description = _train("broken", gauss3_files, runtime, dff=3)
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"].startswith("UserError: Unknown hyperparameter 'dff'")
    assert "ModelArtifacts" not in description


def test_job_names_follow_sagemakers_rule_and_are_unique(runtime, gauss3_files):
    with pytest.raises(LocalError, match="Invalid training job name"):
        _train("no spaces", gauss3_files, runtime)
    _train("once", gauss3_files, runtime)
    with pytest.raises(LocalError, match="already exists"):
        _train("once", gauss3_files, runtime)


@pytest.fixture()
def model_archive(runtime, gauss3_files) -> Path:
    description = _train("model", gauss3_files, runtime)
    return Path(description["ModelArtifacts"]["S3ModelArtifacts"])


def test_deploy_invoke_list_and_delete_an_endpoint(runtime, model_archive, gauss3_files):
    record = endpoints.deploy("gauss3", model_archive, runtime)
    try:
        assert record["EndpointStatus"] == "InService"
        assert [e["EndpointName"] for e in endpoints.list_endpoints()] == ["gauss3"]
        rows = np.loadtxt(gauss3_files["features"], delimiter=",")[:, None]
        expected = load(endpoints.endpoint_dir("gauss3") / "model").predict(rows)
        answer = endpoints.invoke("gauss3", gauss3_files["features"].read_bytes(), "text/csv",
                                  "text/csv")
        np.testing.assert_allclose(np.loadtxt(io.BytesIO(answer.body)), expected, rtol=1e-12)
        as_json = endpoints.invoke("gauss3", orjson.dumps(rows.tolist()), "application/json")
        np.testing.assert_allclose(json.loads(as_json.body)["predictions"], expected,
                                   rtol=1e-12)
        bad = endpoints.invoke("gauss3", b"1,2\n", "text/csv")
        assert bad.status == 400 and b"needs 1 features" in bad.body
        asked = CliRunner().invoke(cli, ["local", "invoke", "gauss3", str(gauss3_files[
            "features"]), "-a", "text/csv", "--std", "--interval", "0.9"])
        assert asked.exit_code == 0, asked.output
        interval = load(endpoints.endpoint_dir("gauss3") / "model").predict_interval(rows, 0.9)
        np.testing.assert_allclose(
            np.loadtxt(io.StringIO(asked.output), delimiter=","),
            np.column_stack([interval.mean, interval.std, interval.lower, interval.upper]),
            rtol=1e-12)
    finally:
        endpoints.delete("gauss3")
    assert endpoints.list_endpoints() == []


def test_a_model_that_cannot_load_fails_deploy_with_the_server_log(runtime, tmp_path):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "sagegam-model.json").write_text("{}")
    with pytest.raises(LocalError, match="not a sagegam model"):
        endpoints.deploy("broken", broken, runtime, timeout=60)
    assert endpoints.list_endpoints() == []


def _spec(name, model, inputs, out, runtime, **options):
    return transform.TransformSpec(name, model, inputs, out, engine=runtime, **options)


def test_multi_record_transform_keeps_every_record_in_order(runtime, model_archive, tmp_path):
    rows = np.random.default_rng(0).uniform(1, 250, size=(3000, 1))
    source = tmp_path / "in"
    source.mkdir()
    np.savetxt(source / "a.csv", rows[:2000], delimiter=",")
    np.savetxt(source / "b.csv", rows[2000:], delimiter=",")
    summary = transform.run_transform(_spec("many", model_archive, [source], tmp_path / "out",
                                            runtime, max_payload_mb=0.01, max_concurrent=2))
    assert summary["MaxConcurrentTransforms"] == 2
    expected = load_model(model_archive, tmp_path).predict(rows)
    got = np.concatenate([np.loadtxt(tmp_path / "out" / "a.csv.out"),
                          np.loadtxt(tmp_path / "out" / "b.csv.out")])
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_single_record_join_source_and_filters(runtime, model_archive, tmp_path):
    source = tmp_path / "ids.csv"
    source.write_text("id-1,10\nid-2,111.6\nid-3,240\n")
    transform.run_transform(_spec("joined", model_archive, [source], tmp_path / "out", runtime,
                                  batch_strategy="SingleRecord", input_filter="$[1:]",
                                  join_source="Input", output_filter="$[0,-1]"))
    lines = (tmp_path / "out" / "ids.csv.out").read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == ["id-1", "id-2", "id-3"]
    expected = load_model(model_archive, tmp_path).predict(np.array([[10], [111.6], [240]]))
    np.testing.assert_allclose([float(line.split(",")[1]) for line in lines], expected)


def test_multi_record_join_of_a_crlf_file_keeps_each_input_line_as_it_was(runtime,
                                                                           model_archive,
                                                                           tmp_path):
    """CRLF line ends, no line break after the last record, trailing blank lines, payloads
    of a few records: every input line comes back once, joined to its own prediction."""
    rows = np.random.default_rng(4).uniform(1, 250, size=(500, 1))
    lines = [f"{value:.4f}" for value in rows[:, 0]]
    source = tmp_path / "crlf.csv"
    source.write_bytes(("\r\n".join(lines) + "\r\n\r\n \r").encode())
    summary = transform.run_transform(_spec("crlf", model_archive, [source], tmp_path / "out",
                                            runtime, max_payload_mb=0.0004, max_concurrent=2,
                                            join_source="Input"))
    assert list(summary["Outputs"].values()) == [500]
    out = (tmp_path / "out" / "crlf.csv.out").read_bytes()
    assert out.endswith(b"\n") and b"\r" not in out
    got = [line.split(",") for line in out.decode().splitlines()]
    assert [cells[0] for cells in got] == lines
    expected = load_model(model_archive, tmp_path).predict(rows.round(4))
    np.testing.assert_allclose([float(cells[1]) for cells in got], expected, rtol=1e-12)


def test_a_failing_mini_batch_fails_the_job_with_the_servers_message(runtime, model_archive,
                                                                      tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text("10\n20\nthirty\n")
    with pytest.raises(LocalError, match=r"HTTP 400.*'thirty' is not a number"):
        transform.run_transform(_spec("bad", model_archive, [source], tmp_path / "out",
                                      runtime))
    assert endpoints.list_endpoints() == []


def load_model(archive: Path, tmp_path: Path):
    import tarfile

    folder = tmp_path / "unpacked"
    if not folder.exists():
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
    return load(folder)
