"""Local endpoints: a real `serve` process (or container) per endpoint, in the background.

``deploy`` unpacks a ``model.tar.gz`` the way SageMaker does, starts the server on a free
loopback port, detached from the CLI so it outlives it, and waits for ``/ping`` like
SageMaker's health check. State lives in ``$SAGEGAM_HOME/endpoints/<name>/``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagegam.local.state import LocalError, check_name, home, read_record, write_record
from sagegam.local.training import Engine

PING_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str


def endpoint_dir(name: str) -> Path:
    return home() / "endpoints" / name


SUBPROCESS = Engine()


def deploy(name: str, model: Path, engine: Engine = SUBPROCESS, workers: int = 1,
           port: int | None = None, timeout: float = PING_TIMEOUT_SECONDS) -> dict[str, Any]:
    """Start an endpoint serving ``model`` (a model.tar.gz or an artifact directory)."""
    check_name(name, "endpoint")
    folder = endpoint_dir(name)
    if (folder / "endpoint.json").is_file():
        raise LocalError(f"Endpoint {name!r} exists; delete it first "
                         f"(sagegam local delete {name}).")
    model_dir = folder / "model"
    _unpack(Path(model), model_dir)
    chosen = port or free_port()
    log = folder / "server.log"
    with log.open("w") as handle:
        process = subprocess.Popen(_serve_command(name, model_dir, engine, workers, chosen),
                                   stdout=handle, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # survives the CLI
    record = {"EndpointName": name, "Port": chosen, "Pid": process.pid,
              "Engine": engine.name, "Image": engine.image, "Workers": workers,
              "Model": str(Path(model).resolve()), "Url": f"http://127.0.0.1:{chosen}"}
    write_record(folder / "endpoint.json", record)
    try:
        _wait_healthy(record, process, log, timeout)
    except LocalError:
        _stop(record)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return describe(name)


def _unpack(model: Path, target: Path) -> None:
    if model.is_dir():
        shutil.copytree(model, target)
        return
    if not tarfile.is_tarfile(model):
        raise LocalError(f"{model} is neither a model.tar.gz nor an artifact directory.")
    target.mkdir(parents=True)
    with tarfile.open(model) as archive:
        archive.extractall(target, filter="data")


def _serve_command(name: str, model_dir: Path, engine: Engine, workers: int,
                   port: int) -> list[str]:
    if engine.in_container:
        return [engine.name, "run", "--rm", "--name", container_name(name), "-p",
                f"127.0.0.1:{port}:8080", "-v", f"{model_dir}:/opt/ml/model:ro", "-e",
                f"SAGEMAKER_MODEL_SERVER_WORKERS={workers}", engine.image, "serve"]
    return [sys.executable, "-m", "sagegam", "serve", "--model-dir", str(model_dir), "--host",
            "127.0.0.1", "--port", str(port), "--workers", str(workers)]


def container_name(endpoint: str) -> str:
    return f"sagegam-endpoint-{endpoint}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(record: dict[str, Any], process: subprocess.Popen[bytes], log: Path,
                  timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalError(f"The server of endpoint {record['EndpointName']!r} exited with "
                             f"code {process.returncode}. Its log:\n{_tail(log)}")
        if _ping(record["Url"]):
            return
        time.sleep(0.05)
    raise LocalError(f"Endpoint {record['EndpointName']!r} did not answer /ping within "
                     f"{timeout:g} s. Its log:\n{_tail(log)}")


def _ping(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/ping", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _tail(log: Path, lines: int = 20) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def describe(name: str) -> dict[str, Any]:
    path = endpoint_dir(name) / "endpoint.json"
    if not path.is_file():
        raise LocalError(f"No local endpoint named {name!r}; `sagegam local endpoints` lists "
                         "them.")
    record = read_record(path)
    healthy = _ping(record["Url"])
    return {**record, "EndpointStatus": "InService" if healthy else "Failed"}


def list_endpoints() -> list[dict[str, Any]]:
    root = home() / "endpoints"
    if not root.is_dir():
        return []
    return [describe(p.name) for p in sorted(root.iterdir()) if (p / "endpoint.json").is_file()]


def invoke(name: str, body: bytes, content_type: str, accept: str | None = None,
           custom_attributes: str | None = None, timeout: float = 60.0) -> Answer:
    record = describe(name)
    return post(record["Url"], body, content_type, accept, custom_attributes, timeout)


def post(url: str, body: bytes, content_type: str, accept: str | None = None,
         custom_attributes: str | None = None, timeout: float = 60.0) -> Answer:
    headers = {"Content-Type": content_type}
    if accept:
        headers["Accept"] = accept
    if custom_attributes:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = custom_attributes
    request = urllib.request.Request(url + "/invocations", data=body, headers=headers,
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, response.read(),
                          response.headers.get("Content-Type", ""))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read(), error.headers.get("Content-Type", ""))
    except (urllib.error.URLError, OSError) as error:
        raise LocalError(f"Could not reach the endpoint at {url}: {error}") from None


def delete(name: str) -> None:
    path = endpoint_dir(name) / "endpoint.json"
    if not path.is_file():
        raise LocalError(f"No local endpoint named {name!r}.")
    _stop(read_record(path))
    shutil.rmtree(endpoint_dir(name), ignore_errors=True)


def _stop(record: dict[str, Any]) -> None:
    """SIGTERM (the server drains), then SIGKILL after 30 s, as `docker stop` does."""
    if record["Engine"] != "subprocess":
        subprocess.run([record["Engine"], "stop", "-t", "30", container_name(
            record["EndpointName"])], capture_output=True)
    pid = int(record["Pid"])
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        _reap(pid)
        time.sleep(0.05)
    os.killpg(pid, signal.SIGKILL)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # our own child when deployed by this process
