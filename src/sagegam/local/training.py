"""Local training jobs: SageMaker's workspace, the real `train` entry point, its outputs.

A job lives in ``$SAGEGAM_HOME/jobs/<name>/``: ``ml/`` is the ``/opt/ml`` tree the entry
point sees (config files written from the user's settings as strings, channels copied in),
``output/`` receives ``model.tar.gz`` and ``output.tar.gz`` packed as SageMaker packs
them, and ``job.json`` holds the state that :func:`describe` reports in the shape of
``DescribeTrainingJob``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sagegam.local.hosts import DISTRIBUTIONS, copy_files, host_dir, host_names, run_hosts, shard
from sagegam.local.processes import alive
from sagegam.local.state import LocalError, check_name, home, read_record, write_record

DEFAULT_IMAGE = "sagegam:latest"
TERMINAL = ("Completed", "Failed", "Stopped")
STOP_GRACE_SECONDS = 130  # SageMaker gives a stopped job 120 s before it kills it


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
    instance_count: int = 1
    distribution: str = "FullyReplicated"  # S3DistributionType of every channel


def job_dir(name: str) -> Path:
    """The job's folder; the name is checked first, so it is always a child folder."""
    return home() / "jobs" / check_name(name, "training job")


def create_job(spec: JobSpec) -> Path:
    """Lay out the workspace; refuses an existing name, like SageMaker."""
    check_name(spec.name, "training job")
    if "train" not in spec.channels:
        raise LocalError("A training job needs a 'train' channel.")
    folder = job_dir(spec.name)
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir()  # atomic: of two jobs with one name, one wins
    except FileExistsError:
        raise LocalError(f"Training job {spec.name!r} already exists ({folder}); pick another "
                         "name or delete that folder.") from None
    try:
        _lay_out(spec, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # a refused channel leaves no half-job
        raise
    return folder


def _lay_out(spec: JobSpec, folder: Path) -> None:
    if spec.instance_count < 1 or spec.distribution not in DISTRIBUTIONS:
        raise LocalError(f"A job needs an instance count of at least 1 and a distribution "
                         f"of {' or '.join(DISTRIBUTIONS)}.")
    hosts = host_names(spec.instance_count)
    # SageMaker hands hyperparameters over as strings; so do we.
    hyperparameters = {str(k): str(v) for k, v in spec.hyperparameters.items()}
    for source in spec.channels.values():
        if not Path(source).exists():
            raise LocalError(f"Channel data {source} does not exist.")
    shards = {name: shard(Path(source), hosts, spec.distribution)
              for name, source in spec.channels.items()}
    for host in hosts:
        ml = host_dir(folder, host)
        _write_config(spec, ml, hyperparameters, host, hosts)
        for name, source in spec.channels.items():
            if spec.instance_count == 1:
                _copy_channel(Path(source), ml / "input" / "data" / name)
            else:
                _check_links(Path(source))
                copy_files(shards[name][host], Path(source), ml / "input" / "data" / name)
        for sub in ("model", "output/data"):
            (ml / sub).mkdir(parents=True, exist_ok=True)
    write_record(folder / "job.json", {
        "TrainingJobName": spec.name, "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Starting", "HyperParameters": hyperparameters,
        "Engine": spec.engine.name, "Image": spec.engine.image,
        "Channels": {k: str(v) for k, v in spec.channels.items()},
        "ContentTypes": dict(spec.content_types), "CreationTime": _now(),
        "InstanceCount": spec.instance_count, "Distribution": spec.distribution,
        "RunnerPid": os.getpid()})


def _write_config(spec: JobSpec, ml: Path, hyperparameters: dict[str, str], host: str,
                  hosts: list[str]) -> None:
    config = ml / "input" / "config"
    config.mkdir(parents=True)
    write_record(config / "hyperparameters.json", hyperparameters)
    write_record(config / "inputdataconfig.json", {
        name: {"TrainingInputMode": "File", "S3DistributionType": spec.distribution,
               "RecordWrapperType": "None",
               **({"ContentType": spec.content_types[name]} if name in spec.content_types
                  else {})}
        for name in spec.channels})
    write_record(config / "resourceconfig.json", {"current_host": host, "hosts": hosts,
                                                  "network_interface_name": "eth0"})


def _check_links(source: Path) -> None:
    if not source.is_dir():
        return
    root = source.resolve()
    for path in source.rglob("*"):
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            raise LocalError(f"{path} links to {path.resolve()}, outside the channel folder "
                             f"{source}; copy the file into the folder instead.")


def _copy_channel(source: Path, target: Path) -> None:
    """Copy a channel as SageMaker downloads one: files only, and no link followed out of
    the channel (a link to /etc/passwd is refused, not read)."""
    if not source.exists():
        raise LocalError(f"Channel data {source} does not exist.")
    if not source.is_dir():
        target.mkdir(parents=True)
        shutil.copy2(source, target / source.name)  # the file the user named
        return
    root = source.resolve()
    for path in source.rglob("*"):
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            raise LocalError(f"{path} links to {path.resolve()}, outside the channel folder "
                             f"{source}; copy the file into the folder instead.")
    try:
        shutil.copytree(source, target)
    except shutil.Error as error:
        raise LocalError(f"Channel {source} could not be copied: {error}") from None


def train_command(name: str, engine: Engine) -> list[str]:
    ml = job_dir(name) / "ml"
    if engine.in_container:
        return [engine.name, "run", "--rm", "--name", f"sagegam-train-{name}", "--network",
                "none", "-v", f"{ml}:/opt/ml", engine.image, "train"]
    return [sys.executable, "-m", "sagegam", "train", "--base-dir", str(ml)]


def run_job(spec: JobSpec, on_line: Callable[[str], None] = print) -> dict[str, Any]:
    """Create and run a job to its end. Ctrl-C stops it with SIGTERM, as StopTrainingJob
    does; a second Ctrl-C (or 130 s without an exit) kills it. Either way the job ends
    Stopped, never InProgress."""
    folder = create_job(spec)
    _update(spec.name, SecondaryStatus="Training", TrainingStartTime=_now())
    if spec.instance_count > 1:
        return _run_hosts(spec, folder, on_line)
    # Same process group: a terminal's Ctrl-C (or its closing) reaches the job too, and
    # `train` stops on SIGINT as on SIGTERM, so no job outlives its terminal.
    process = subprocess.Popen(train_command(spec.name, spec.engine), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1)
    stopped = False
    with (folder / "train.log").open("w", encoding="utf-8") as log:
        def emit(line: str) -> None:
            log.write(line)
            on_line(line.rstrip("\n"))

        try:
            assert process.stdout is not None
            for line in process.stdout:
                emit(line)
            code = process.wait()
        except KeyboardInterrupt:
            stopped = True
            code = _stop(process, emit)
        finally:
            if process.poll() is None:  # any other way out: no orphan keeps training
                process.kill()
                process.wait()
    with _no_interrupts():
        return _finish(spec.name, code, stopped)


def _run_hosts(spec: JobSpec, folder: Path, on_line: Callable[[str], None]) -> dict[str, Any]:
    stopped = False
    with (folder / "train.log").open("w", encoding="utf-8") as log:
        lock = threading.Lock()

        def emit(line: str) -> None:
            with lock:
                log.write(line)
                on_line(line.rstrip("\n"))

        try:
            code = run_hosts(spec.name, folder, host_names(spec.instance_count),
                             spec.engine.name, spec.engine.image, emit)
        except KeyboardInterrupt:
            stopped, code = True, 143
    with _no_interrupts():
        return _finish(spec.name, code, stopped)


def _stop(process: subprocess.Popen[str], emit: Callable[[str], None]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        rest, _ = process.communicate(timeout=STOP_GRACE_SECONDS)
    except (KeyboardInterrupt, subprocess.TimeoutExpired):
        process.kill()
        rest, _ = process.communicate()
    for line in (rest or "").splitlines(keepends=True):
        emit(line)
    return process.returncode


@contextmanager
def _no_interrupts() -> Iterator[None]:
    """Ctrl-C waits while the job's final record is written (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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
    record = _abandoned(read_record(folder / "job.json"))
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
        "ResourceConfig": {"InstanceType": "local",
                           "InstanceCount": record.get("InstanceCount", 1)},
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


def _abandoned(record: dict[str, Any]) -> dict[str, Any]:
    """An InProgress job whose runner is gone (killed, machine restarted) has failed."""
    pid = record.get("RunnerPid")
    if record["TrainingJobStatus"] != "InProgress" or pid is None or alive(int(pid)):
        return record
    return {**record, "TrainingJobStatus": "Failed", "SecondaryStatus": "Failed",
            "FailureReason": "The command running this job ended before the job did (it was "
                             "killed); run the job again under a new name."}


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
