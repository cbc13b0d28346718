"""Training jobs on several hosts (processes here, each with its own /opt/ml), against the
single-host job on the same files: the same model, and no host exits before it exists."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sagegam import load
from tests.container.conftest import TrainingJob

ROWS = 240_000  # past the 200,000 rows that a streamed fit gathers into memory
FILES = 4


def _files(folder: Path) -> list[Path]:
    rng = np.random.default_rng(12)
    frame = pd.DataFrame({"a": rng.uniform(-2, 2, ROWS), "b": rng.uniform(0, 3, ROWS).round(2),
                          "c": rng.choice(["p", "q", "r"], ROWS)})
    frame["y"] = (np.sin(2 * frame.a) + np.cos(frame.b) + frame.c.map({"p": 0, "q": 1, "r": -1})
                  + rng.normal(0, 0.5, ROWS))
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, rows in enumerate(np.array_split(np.arange(ROWS), FILES)):
        paths.append(folder / f"part-{i}.csv")
        frame.iloc[rows].to_csv(paths[-1], index=False)
    return paths


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _host_job(root: Path, host: str, hosts: list[str], distribution: str) -> TrainingJob:
    job = TrainingJob(root / host / "ml")
    channel = {"TrainingInputMode": "File", "S3DistributionType": distribution,
               "ContentType": "text/csv"}
    return job.config({"target": "y"}, input_data={"train": channel},
                      resources={"current_host": host, "hosts": hosts})


def _start(job: TrainingJob, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "SAGEGAM_SCHEDULER_ADDRESS": f"tcp://127.0.0.1:{port}"}
    return subprocess.Popen([sys.executable, "-m", "sagegam", "train", "--base-dir",
                             str(job.base)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)


@pytest.fixture(scope="module")
def single_host(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    root = tmp_path_factory.mktemp("single")
    files = _files(root / "data")
    job = TrainingJob(root / "ml").config({"target": "y"})
    for path in files:
        shutil.copy(path, job.channel("train"))
    result = job.run(timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return files, job.base / "model"


@pytest.mark.slow
@pytest.mark.parametrize("distribution", ["ShardedByS3Key"])  # replicated: tests/local
def test_two_hosts_write_the_single_host_model_and_wait_for_it(single_host, tmp_path,
                                                               distribution):
    files, single_model = single_host
    hosts = ["algo-1", "algo-2"]
    jobs = {host: _host_job(tmp_path, host, hosts, distribution) for host in hosts}
    for i, path in enumerate(files):
        # ShardedByS3Key: each host gets every other object; replicated: every host all.
        owners = [hosts[i % 2]] if distribution == "ShardedByS3Key" else hosts
        for host in owners:
            shutil.copy(path, jobs[host].channel("train"))
    port = _free_port()
    processes = {host: _start(job, port) for host, job in jobs.items()}
    worker_output, _ = processes["algo-2"].communicate(timeout=600)
    # The worker host has exited: by then the leader's model must be complete.
    model = jobs["algo-1"].base / "model"
    assert (model / "sagegam-model.json").is_file(), worker_output
    assert load(model) is not None
    leader_output, _ = processes["algo-1"].communicate(timeout=300)
    assert processes["algo-1"].returncode == 0, leader_output
    assert processes["algo-2"].returncode == 0, worker_output
    assert not (jobs["algo-2"].base / "model" / "sagegam-model.json").exists()
    ours, theirs = load(model), load(single_model)
    scale = np.max(np.abs(theirs.coef))
    np.testing.assert_allclose(ours.coef, theirs.coef, rtol=0, atol=1e-8 * scale)
    metrics = json.loads((jobs["algo-1"].base / "output" / "data" / "metrics.json").read_text())
    assert metrics["train_r2"] == pytest.approx(theirs.info["train_r2"], abs=1e-8)


@pytest.mark.slow
def test_a_worker_host_reports_the_leaders_failure(tmp_path):
    hosts = ["algo-1", "algo-2"]
    jobs = {host: _host_job(tmp_path, host, hosts, "ShardedByS3Key") for host in hosts}
    (jobs["algo-1"].channel("train") / "a.csv").write_text("a,y\n1,2\n2,oops\n")
    (jobs["algo-2"].channel("train") / "b.csv").write_text("a,y\n3,4\n4,5\n")
    port = _free_port()
    processes = {host: _start(job, port) for host, job in jobs.items()}
    outputs = {host: p.communicate(timeout=300)[0] for host, p in processes.items()}
    assert processes["algo-1"].returncode == 2, outputs["algo-1"]
    assert "line 3, column 'y'" in jobs["algo-1"].failure
    assert processes["algo-2"].returncode == 2, outputs["algo-2"]
    assert jobs["algo-2"].failure.startswith("UserError: The first host, algo-1, failed")
