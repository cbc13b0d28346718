"""Local training jobs on several hosts: one `train` per host, as SageMaker starts them.

Host ``algo-1`` keeps the job's ``ml/`` folder (the model and outputs are packed from
it); ``algo-2`` ... get ``hosts/algo-N/ml/``, each with its own config
(``current_host``) and channels: every file for ``FullyReplicated``, the sorted files dealt
in turn for ``ShardedByS3Key`` (SageMaker gives each S3 object to one host). With the
``subprocess`` engine the hosts are processes of this machine and find the scheduler at
``SAGEGAM_SCHEDULER_ADDRESS`` (a free local port); with a container engine they are
containers on a network of their own, named ``algo-1`` ... as on SageMaker, and find it at
``algo-1:8786``. The job's exit code is the first host's, or a failing host's.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from sagegam.local.state import LocalError

DISTRIBUTIONS = ("FullyReplicated", "ShardedByS3Key")


def host_names(count: int) -> list[str]:
    return [f"algo-{i + 1}" for i in range(count)]


def host_dir(folder: Path, host: str) -> Path:
    """A host's /opt/ml: the job's ``ml/`` for the first host."""
    return folder / "ml" if host == "algo-1" else folder / "hosts" / host / "ml"


def shard(source: Path, hosts: list[str], distribution: str) -> dict[str, list[Path]]:
    """The files of a channel each host receives."""
    files = [source] if not source.is_dir() else sorted(
        p for p in source.rglob("*") if p.is_file())
    if distribution == "FullyReplicated":
        return {host: files for host in hosts}
    return {host: files[i::len(hosts)] for i, host in enumerate(hosts)}


def copy_files(files: list[Path], source: Path, target: Path) -> None:
    """Files of a channel into a host's channel folder, at their paths in the channel
    (hard links where the file system allows: the same bytes, no copy)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in files:
        relative = Path(path.name) if not source.is_dir() else path.relative_to(source)
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, destination)
        except OSError:
            shutil.copy2(path, destination)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_hosts(name: str, folder: Path, hosts: list[str], engine: str, image: str,
              emit: Callable[[str], None]) -> int:
    """Start every host's `train`, stream their output, and wait for all of them."""
    network = f"sagegam-train-{name}"
    env = dict(os.environ)
    if engine == "subprocess":
        env["SAGEGAM_SCHEDULER_ADDRESS"] = f"tcp://127.0.0.1:{_free_port()}"
    else:
        _engine(engine, "network", "create", network)
    processes: dict[str, subprocess.Popen[str]] = {}
    try:
        for host in hosts:
            command = [sys.executable, "-m", "sagegam", "train", "--base-dir",
                       str(host_dir(folder, host))] if engine == "subprocess" else [
                engine, "run", "--rm", "--name", f"sagegam-train-{name}-{host}", "--hostname",
                host, "--network", network, "--network-alias", host, "-v",
                f"{host_dir(folder, host)}:/opt/ml", image, "train"]
            processes[host] = subprocess.Popen(command, stdout=subprocess.PIPE,
                                               stderr=subprocess.STDOUT, text=True, bufsize=1,
                                               env=env)
        readers = [threading.Thread(target=_relay, args=(host, process, emit), daemon=True)
                   for host, process in processes.items()]
        for reader in readers:
            reader.start()
        codes = {host: process.wait() for host, process in processes.items()}
        for reader in readers:
            reader.join(timeout=10)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
                process.wait()
        if engine != "subprocess":
            _engine(engine, "network", "rm", "--force", network, check=False)
    failing = [code for code in codes.values() if code != 0]
    return codes[hosts[0]] if codes[hosts[0]] != 0 or not failing else failing[0]


def _relay(host: str, process: subprocess.Popen[str], emit: Callable[[str], None]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        emit(line if host == "algo-1" else f"[{host}] {line}")


def _engine(engine: str, *arguments: str, check: bool = True) -> None:
    result = subprocess.run([engine, *arguments], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise LocalError(f"`{engine} {' '.join(arguments)}` failed: "
                         f"{(result.stderr or result.stdout).strip()}")
