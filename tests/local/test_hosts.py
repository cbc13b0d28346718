"""`sagegam local train --instance-count 2`: hosts as processes and as containers on one
network write the model a single host writes, and the job waits for every host."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sagegam import load
from sagegam.local import training
from sagegam.local.training import Engine, JobSpec

ENGINES = ["subprocess", pytest.param("container", marks=pytest.mark.container)]
# Few rows: the first host gathers them from both hosts and fits in memory, which tests
# the runtime's hosts quickly; tests/container/test_hosts.py streams 240,000 rows.
ROWS = 30_000


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory):
    rng = np.random.default_rng(21)
    frame = pd.DataFrame({"a": rng.uniform(-2, 2, ROWS), "b": rng.uniform(0, 3, ROWS).round(2)})
    frame["y"] = np.sin(2 * frame.a) + np.cos(frame.b) + rng.normal(0, 0.5, ROWS)
    folder = tmp_path_factory.mktemp("parts")
    for i, rows in enumerate(np.array_split(np.arange(ROWS), 4)):
        frame.iloc[rows].to_csv(folder / f"part-{i}.csv", index=False)
    return folder


@pytest.fixture(params=ENGINES)
def runtime(request, tmp_path, monkeypatch) -> Engine:
    monkeypatch.setenv("SAGEGAM_HOME", str(tmp_path / "home"))
    if request.param == "subprocess":
        return Engine()
    return Engine(request.getfixturevalue("engine"), request.getfixturevalue("image"))


def _model(description, tmp_path, name):
    import tarfile

    folder = tmp_path / name
    with tarfile.open(description["ModelArtifacts"]["S3ModelArtifacts"]) as archive:
        archive.extractall(folder, filter="data")
    return load(folder)


@pytest.mark.slow
def test_two_hosts_write_the_single_host_model(runtime, parts, tmp_path):
    single = training.run_job(JobSpec("one", {"train": parts}, {"target": "y"}, engine=runtime),
                              on_line=lambda _: None)
    lines: list[str] = []
    spec = JobSpec("two", {"train": parts}, {"target": "y"}, engine=runtime, instance_count=2)
    double = training.run_job(spec, on_line=lines.append)
    assert double["TrainingJobStatus"] == "Completed", double.get("FailureReason")
    assert double["ResourceConfig"]["InstanceCount"] == 2
    assert any(line.startswith("[algo-2]") and "saved the model" in line for line in lines)
    ours, theirs = _model(double, tmp_path, "two"), _model(single, tmp_path, "one")
    scale = np.max(np.abs(theirs.coef))
    np.testing.assert_allclose(ours.coef, theirs.coef, rtol=0, atol=1e-8 * scale)


@pytest.fixture()
def gauss3_archive(tmp_path):
    import tarfile

    from sagegam import GAMRegressor, save
    from sagegam.datasets import gauss3_split

    X_train, _, y_train, _ = gauss3_split()
    save(GAMRegressor(df=20).fit(X_train, y_train), tmp_path / "model")
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted((tmp_path / "model").iterdir()):
            tar.add(path, arcname=path.name)
    return archive


def test_a_transform_on_two_instances_deals_whole_files_and_matches_one(runtime,
                                                                        gauss3_archive,
                                                                        tmp_path):
    from sagegam.local import transform

    rows = np.random.default_rng(3).uniform(1, 250, size=(900, 1))
    source = tmp_path / "in"
    source.mkdir()
    for i, part in enumerate(np.array_split(rows, 3)):
        np.savetxt(source / f"part-{i}.csv", part, delimiter=",")
    outputs = {}
    for count in (1, 2):
        spec = transform.TransformSpec(f"scores-{count}", gauss3_archive, [source],
                                       tmp_path / f"out-{count}", engine=runtime,
                                       max_concurrent=1, instance_count=count)
        summary = transform.run_transform(spec)
        assert summary["InstanceCount"] == count
        outputs[count] = [np.loadtxt(tmp_path / f"out-{count}" / f"part-{i}.csv.out")
                          for i in range(3)]
    for one, two in zip(outputs[1], outputs[2], strict=True):
        np.testing.assert_array_equal(one, two)
