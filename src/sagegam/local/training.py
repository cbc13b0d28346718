"""Local training jobs: SageMaker's workspace, the real `train` entry point, its outputs.

A job lives in ``$SAGEGAM_HOME/jobs/<name>/``: ``ml/`` is the ``/opt/ml`` tree the entry
point sees (config files written from the user's settings as strings, channels copied in),
``output/`` receives ``model.tar.gz`` and ``output.tar.gz`` packed as SageMaker packs
them, and ``job.json`` holds the state that :func:`describe` reports in the shape of
``DescribeTrainingJob``.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sagegam.local.state import LocalError, check_name, home, read_record, write_record

DEFAULT_IMAGE = "sagegam:latest"
TERMINAL = ("Completed", "Failed", "Stopped")


@dataclass(frozen=True)
class Engine:
    """``subprocess`` (this Python, no container) or a container engine and its image."""

    name: str = "subprocess"
    image: str = DEFAULT_IMAGE

    @property
    def in_container(self) -> bool:
        return self.name != "subprocess"


@dataclass(frozen=True)
class JobSpec:
    name: str
    channels: Mapping[str, Path]  # channel name -> file or directory
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    content_types: Mapping[str, str] = field(default_factory=dict)
    engine: Engine = field(default_factory=Engine)


def job_dir(name: str) -> Path:
    return home() / "jobs" / name


def create_job(spec: JobSpec) -> Path:
    """Lay out the workspace; refuses an existing name, like SageMaker."""
    check_name(spec.name, "training job")
    folder = job_dir(spec.name)
    if folder.exists():
        raise LocalError(f"Training job {spec.name!r} already exists ({folder}); pick another "
                         "name or delete that folder.")
    if "train" not in spec.channels:
        raise LocalError("A training job needs a 'train' channel.")
    ml = folder / "ml"
    config = ml / "input" / "config"
    config.mkdir(parents=True)
    # SageMaker hands hyperparameters over as strings; so do we.
    hyperparameters = {str(k): str(v) for k, v in spec.hyperparameters.items()}
    write_record(config / "hyperparameters.json", hyperparameters)
    write_record(config / "inputdataconfig.json", {
        name: {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated",
               "RecordWrapperType": "None",
               **({"ContentType": spec.content_types[name]} if name in spec.content_types
                  else {})}
        for name in spec.channels})
    write_record(config / "resourceconfig.json", {"current_host": "algo-1", "hosts": ["algo-1"],
                                                  "network_interface_name": "eth0"})
    for name, source in spec.channels.items():
        _copy_channel(Path(source), ml / "input" / "data" / name)
    for sub in ("model", "output/data"):
        (ml / sub).mkdir(parents=True, exist_ok=True)
    write_record(folder / "job.json", {
        "TrainingJobName": spec.name, "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Starting", "HyperParameters": hyperparameters,
        "Engine": spec.engine.name, "Image": spec.engine.image,
        "Channels": {k: str(v) for k, v in spec.channels.items()},
        "ContentTypes": dict(spec.content_types), "CreationTime": _now()})
    return folder


def _copy_channel(source: Path, target: Path) -> None:
    if not source.exists():
        raise LocalError(f"Channel data {source} does not exist.")
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        target.mkdir(parents=True)
        shutil.copy2(source, target / source.name)


def train_command(name: str, engine: Engine) -> list[str]:
    ml = job_dir(name) / "ml"
    if engine.in_container:
        return [engine.name, "run", "--rm", "--name", f"sagegam-train-{name}", "--network",
                "none", "-v", f"{ml}:/opt/ml", engine.image, "train"]
    return [sys.executable, "-m", "sagegam", "train", "--base-dir", str(ml)]


def run_job(spec: JobSpec, on_line: Callable[[str], None] = print) -> dict[str, Any]:
    """Create and run a job to its end; Ctrl-C stops it (SIGTERM) and marks it Stopped."""
    folder = create_job(spec)
    _update(spec.name, SecondaryStatus="Training", TrainingStartTime=_now())
    process = subprocess.Popen(train_command(spec.name, spec.engine), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1)
    log = (folder / "train.log").open("w", encoding="utf-8")
    stopped = False
    try:
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            on_line(line.rstrip("\n"))
        code = process.wait()
    except KeyboardInterrupt:
        stopped = True
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=130)
    finally:
        log.close()
    return _finish(spec.name, code, stopped)


def _finish(name: str, code: int, stopped: bool) -> dict[str, Any]:
    folder = job_dir(name)
    ml = folder / "ml"
    failure = ml / "output" / "failure"
    output = folder / "output"
    output.mkdir(exist_ok=True)
    _pack(ml / "model", output / "model.tar.gz")
    _pack(ml / "output" / "data", output / "output.tar.gz")
    if code == 0:
        status, reason = "Completed", None
    else:
        status = "Stopped" if stopped or code in (143, -signal.SIGTERM) else "Failed"
        reason = failure.read_text(encoding="utf-8")[:1024] if failure.is_file() else \
            f"The training process exited with code {code} and wrote no failure file."
    _update(name, TrainingJobStatus=status, SecondaryStatus=status, FailureReason=reason,
            ExitCode=code, TrainingEndTime=_now())
    return describe(name)


def _pack(directory: Path, archive: Path) -> None:
    """A gzipped tar of the directory's contents at its root, as SageMaker writes them."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(directory.iterdir()) if directory.is_dir() else []:
            tar.add(path, arcname=path.name)


def _update(name: str, **changes: Any) -> None:
    path = job_dir(name) / "job.json"
    write_record(path, {**read_record(path), **changes})


def describe(name: str) -> dict[str, Any]:
    """The job in the shape of SageMaker's DescribeTrainingJob (the fields that apply)."""
    folder = job_dir(name)
    if not (folder / "job.json").is_file():
        raise LocalError(f"No local training job named {name!r} (looked in {folder}).")
    record = read_record(folder / "job.json")
    description: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:local:000000000000:training-job/{name}",
        "TrainingJobStatus": record["TrainingJobStatus"],
        "SecondaryStatus": record["SecondaryStatus"],
        "HyperParameters": record["HyperParameters"],
        "AlgorithmSpecification": {"TrainingImage": record["Image"] if record["Engine"] !=
                                   "subprocess" else "sagegam (local subprocess)",
                                   "TrainingInputMode": "File"},
        "InputDataConfig": [
            {"ChannelName": channel, "DataSource": {"FileDataSource": {"FileUri": uri}},
             **({"ContentType": record["ContentTypes"][channel]}
                if channel in record["ContentTypes"] else {})}
            for channel, uri in record["Channels"].items()],
        "OutputDataConfig": {"S3OutputPath": str(folder / "output")},
        "ResourceConfig": {"InstanceType": "local", "InstanceCount": 1},
        "CreationTime": record["CreationTime"],
    }
    for key in ("TrainingStartTime", "TrainingEndTime", "FailureReason"):
        if record.get(key):
            description[key] = record[key]
    if record["TrainingJobStatus"] == "Completed":
        description["ModelArtifacts"] = {"S3ModelArtifacts": str(folder / "output" /
                                                                 "model.tar.gz")}
        description["FinalMetricDataList"] = _metrics(folder)
    return description


def _metrics(folder: Path) -> list[dict[str, Any]]:
    path = folder / "ml" / "output" / "data" / "metrics.json"
    if not path.is_file():
        return []
    return [{"MetricName": k, "Value": v} for k, v in read_record(path).items()]


def list_jobs() -> list[dict[str, Any]]:
    root = home() / "jobs"
    return [describe(p.name) for p in sorted(root.iterdir())
            if (p / "job.json").is_file()] if root.is_dir() else []


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
