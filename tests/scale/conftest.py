"""A real Dask cluster for the tests: a scheduler and two workers, separate processes."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[str]:
    """The scheduler's address; `dask scheduler` and two `dask worker` processes."""
    import distributed
    address = f"tcp://127.0.0.1:{_free_port()}"
    common = ["--no-dashboard"]
    processes = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                                   "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                                   *common])]
    processes += [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                    "--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1",
                                    *common]) for _ in range(2)]
    try:
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
