"""Training on several hosts: every host reads its shard, the first one fits.

With more than one host in ``resourceconfig.json`` the hosts form a Dask cluster: the
first host of ``hosts`` runs the scheduler (port 8786) and every host, the first one
included, a worker named after it (``dask worker``, separate processes). The first host
then fits as on one machine, through a chunk source whose pieces are the channel's files
on the hosts that hold them: each pass runs one task per file on its host's worker, and
only the statistics travel (:mod:`~sagegam.model.streaming`). So the model is the one a
single host would fit on all the files.

Which host reads which file: with ``ShardedByS3Key`` each host has its own files and reads
them; with ``FullyReplicated`` every host has every file and the files, sorted by path,
are dealt to the hosts in turn (file ``i`` to host ``i mod n``): give such a channel at
least as many files as hosts. The first host saves the model, then sets a Dask ``Event``;
the other hosts wait for it (and for the outcome the first host publishes) before they
stop their worker and exit, so no host exits before the model exists.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sagegam.container.channels import Channel
from sagegam.container.errors import UserError
from sagegam.container.paths import MLPaths
from sagegam.container.stopping import StopOnSigterm
from sagegam.container.streams import STREAM_ROWS, file_chunks
from sagegam.container.tabular import ReadOptions, channel_files
from sagegam.model.allocator import task_allocator
from sagegam.model.chunks import Task

T = TypeVar("T")
SCHEDULER_PORT = 8786
ADDRESS_VARIABLE = "SAGEGAM_SCHEDULER_ADDRESS"  # the local runtime's hosts share a machine
JOIN_SECONDS = 600.0  # for every host's worker to join (instances boot at their own pace)
DONE = "sagegam-model-saved"
OUTCOME = "sagegam-outcome"
Log = Callable[[str], None]


@dataclass(frozen=True)
class Cluster:
    hosts: tuple[str, ...]
    current: str

    @classmethod
    def of(cls, config: dict[str, Any]) -> Cluster:
        hosts = tuple(str(h) for h in config.get("hosts") or [])
        return cls(hosts, str(config.get("current_host") or (hosts[0] if hosts else "")))

    @property
    def size(self) -> int:
        return len(self.hosts)

    @property
    def leader(self) -> str:
        return self.hosts[0] if self.hosts else self.current

    @property
    def is_leader(self) -> bool:
        return self.size <= 1 or self.current == self.leader

    @property
    def address(self) -> str:
        return os.environ.get(ADDRESS_VARIABLE) or f"tcp://{self.leader}:{SCHEDULER_PORT}"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise UserError("Training on several hosts needs Dask's distributed scheduler: use "
                        "the sagegam image, or install 'sagegam[dask]'.") from None
    return distributed


def _start(arguments: list[str], base: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SAGEGAM_BASE_DIR": str(base),
           "DASK_LOGGING__DISTRIBUTED": "warning", "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    return subprocess.Popen([sys.executable, "-m", *arguments], env=env)


def _worker(cluster: Cluster, base: Path) -> subprocess.Popen[bytes]:
    return _start(["distributed.cli.dask_worker", cluster.address, "--name", cluster.current,
                   "--nworkers", "1", "--no-dashboard", "--death-timeout",
                   str(int(JOIN_SECONDS))], base)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _client(cluster: Cluster, stopper: StopOnSigterm) -> Any:
    """A client of the scheduler, retried while the first host starts it."""
    distributed = _distributed()
    deadline = time.monotonic() + JOIN_SECONDS
    while True:
        try:
            return distributed.Client(cluster.address, timeout=10)
        except (OSError, TimeoutError):
            if time.monotonic() > deadline:
                raise UserError(f"Cannot reach the scheduler at {cluster.address} (on the "
                                f"first host, {cluster.leader}) within {JOIN_SECONDS:.0f} s."
                                ) from None
            time.sleep(1.0)


def work(paths: MLPaths, cluster: Cluster, stopper: StopOnSigterm, log: Log) -> None:
    """A host other than the first: serve its shard until the model is saved."""
    log(f"host {cluster.current} of {cluster.size}: a worker for the first host, "
        f"{cluster.leader}, which fits and saves the model")
    distributed = _distributed()
    worker = _worker(cluster, paths.base)
    try:
        client = _client(cluster, stopper)
        try:
            done = distributed.Event(DONE, client=client)
            while not done.wait(timeout=5):
                if worker.poll() is not None:
                    raise UserError(f"The first host, {cluster.leader}, ended before saving "
                                    "a model (this host's worker lost its scheduler); see "
                                    "its log.")
            outcome = distributed.Variable(OUTCOME, client=client).get(timeout=30)
        except OSError:
            raise UserError(f"The first host, {cluster.leader}, ended before saving a model; "
                            "see its log.") from None
        finally:
            client.close()
    finally:
        _stop([worker])
    if outcome != "saved":
        raise UserError(f"The first host, {cluster.leader}, failed: {outcome}")
    log(f"the first host saved the model; host {cluster.current} is done")


@contextmanager
def leading(paths: MLPaths, cluster: Cluster, config: dict[str, Any], stopper: StopOnSigterm,
            log: Log) -> Iterator[Shards | None]:
    """The cluster, for the body to fit and save the model; None on a single host."""
    if cluster.size <= 1:
        yield None
        return
    distributed = _distributed()
    port = cluster.address.rsplit(":", 1)[-1]
    host = "127.0.0.1" if os.environ.get(ADDRESS_VARIABLE) else "0.0.0.0"
    processes = [_start(["distributed.cli.dask_scheduler", "--host", host, "--port", port,
                         "--no-dashboard"], paths.base)]
    try:
        processes.append(_worker(cluster, paths.base))
        client = _client(cluster, stopper)
        outcome = "ended without saving the model"
        try:
            log(f"waiting for the workers of {cluster.size} hosts")
            client.wait_for_workers(cluster.size, timeout=JOIN_SECONDS)
            yield Shards(client, cluster, config)
            outcome = "saved"
        except Exception as error:
            outcome = str(error) or type(error).__name__
            raise
        finally:
            _announce(distributed, client, cluster, outcome)
    finally:
        _stop(processes)


def _announce(distributed: Any, client: Any, cluster: Cluster, outcome: str) -> None:
    """Publish the outcome, then give the other hosts time to read it and leave."""
    try:
        distributed.Variable(OUTCOME, client=client).set(outcome)
        distributed.Event(DONE, client=client).set()
        deadline = time.monotonic() + 60
        while len(client.scheduler_info()["workers"]) > 1 and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        client.close()


@dataclass
class Shards:
    """The channels of every host, as chunk sources for the first host's fit."""

    client: Any
    cluster: Cluster
    config: dict[str, Any]

    def workers(self) -> dict[str, str]:
        """Each host's worker address."""
        info = self.client.scheduler_info()["workers"]
        return {str(worker["name"]): address for address, worker in info.items()}

    def source(self, channel: Channel, options: ReadOptions,
               only_file: str | None) -> ClusterSource:
        if channel.mode == "Pipe":
            raise UserError("Pipe mode is for a single host; with several hosts use "
                            "TrainingInputMode File or FastFile (S3DataDistributionType "
                            "ShardedByS3Key gives each host its part).")
        workers = self.workers()
        listed = {host: self.client.run(list_files, channel.name, only_file,
                                        workers=[workers[host]])[workers[host]]
                  for host in self.cluster.hosts}
        pieces = _deal(listed, self.cluster.hosts, channel.distribution)
        if not pieces:
            raise UserError(f"Channel {channel.name} has no data files on any host.")
        first_host = pieces[0][1]
        names = self.client.submit(first_columns, channel.name, pieces[0][0],
                                   channel.content_type, options,
                                   workers=[workers[first_host]], pure=False).result()
        return ClusterSource(self.client, workers, channel.name, channel.content_type,
                             options, tuple(pieces), tuple(names))


def _deal(listed: dict[str, list[str]], hosts: tuple[str, ...],
          distribution: str) -> list[tuple[str, str]]:
    """(file, host) in the files' sorted order: each host's own files when sharded,
    else the sorted files dealt to the hosts in turn."""
    if distribution == "ShardedByS3Key":
        return sorted((path, host) for host, paths in listed.items() for path in paths)
    files = listed[hosts[0]]
    return [(path, hosts[i % len(hosts)]) for i, path in enumerate(sorted(files))]


def list_files(channel: str, only_file: str | None) -> list[str]:
    """On a worker: its host's files of ``channel``, relative to the channel's folder."""
    directory = MLPaths.resolve().channel(channel)
    if not directory.is_dir():
        return []
    return [str(p.relative_to(directory)) for p in channel_files(directory, only_file)]


def first_columns(channel: str, relative: str, content_type: str | None,
                  options: ReadOptions) -> list[str]:
    chunk = next(file_chunks(MLPaths.resolve().channel(channel) / relative, content_type,
                             options, None, 2))
    return [str(c) for c in chunk.X.columns]


def run_file(task: Task[T], piece: int, channel: str, relative: str,
             content_type: str | None, options: ReadOptions, names: tuple[str, ...]) -> T:
    """On a worker: ``task`` over one of its host's files."""
    path = MLPaths.resolve().channel(channel) / relative
    with task_allocator():  # the worker's nanny detunes malloc: see model.allocator
        return task(piece, file_chunks(path, content_type, options, names, STREAM_ROWS))


@dataclass(frozen=True)
class ClusterSource:
    """A channel spread over the hosts: one piece per file, each read on its host."""

    client: Any
    workers: dict[str, str]
    channel: str
    content_type: str | None
    options: ReadOptions
    pieces: tuple[tuple[str, str], ...]  # (file, host), in the files' sorted order
    names: tuple[str, ...]

    @property
    def feature_names(self) -> list[str]:
        return list(self.names)

    @property
    def n_features(self) -> int:
        return len(self.names)

    def map(self, task: Task[T]) -> list[T]:
        futures = [self.client.submit(run_file, task, i, self.channel, path,
                                      self.content_type, self.options, self.names,
                                      workers=[self.workers[host]], allow_other_workers=False,
                                      pure=False)
                   for i, (path, host) in enumerate(self.pieces)]
        try:
            return list(self.client.gather(futures))
        except (OSError, TimeoutError) as error:
            raise UserError(f"A host left the cluster during the fit: {error}") from None
