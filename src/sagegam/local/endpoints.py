"""Local endpoints: a real `serve` process (or container) per endpoint, in the background.

``deploy`` claims the endpoint's folder atomically (two deploys of one name cannot both
win), unpacks a ``model.tar.gz`` the way SageMaker does (into a scratch folder first, so a
refused archive leaves nothing behind), starts the server on a free loopback port with an
id of its own, detached from the CLI so it outlives it, and waits for ``/ping`` to answer
with that id, like SageMaker's health check but unfooled by another server on the port.
State lives in ``$SAGEGAM_HOME/endpoints/<name>/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sagegam.container.serving import MALLOC_TUNABLES
from sagegam.local import client
from sagegam.local.client import Answer
from sagegam.local.processes import alive, stop_group
from sagegam.local.state import LocalError, check_name, home, read_record, write_record
from sagegam.local.training import Engine

PING_TIMEOUT_SECONDS = 60.0
CLAIM_FILE = "deploying.json"
CLAIM_GRACE_SECONDS = 10.0  # a folder with no record and no claim yet may be a new deploy


def endpoint_dir(name: str) -> Path:
    """The endpoint's folder; the name is checked first, so it is always a child folder."""
    return home() / "endpoints" / check_name(name, "endpoint")


SUBPROCESS = Engine()


def deploy(name: str, model: Path, engine: Engine = SUBPROCESS, workers: int = 1,
           port: int | None = None, timeout: float = PING_TIMEOUT_SECONDS,
           environment: Mapping[str, str] | None = None,
           multi_model: bool = False) -> dict[str, Any]:
    """Start an endpoint serving ``model`` (a model.tar.gz or an artifact directory), or,
    ``multi_model``, the models in the folder ``model`` (``multimodel``)."""
    check_name(name, "endpoint")
    if port is not None and not 1 <= port <= 65535:
        raise LocalError(f"Port {port} is not a TCP port; use 1-65535, or leave it out.")
    if port is not None:
        _check_port(port)
    folder = _claim(name)
    record: dict[str, Any] | None = None
    try:
        if multi_model:
            from sagegam.local.multimodel import prepare

            model_dir, extra = prepare(Path(model), folder), {"SAGEMAKER_MULTI_MODEL": "true"}
        else:
            model_dir, extra = _unpack(Path(model), folder), {}
            _check_loads(model, model_dir)
        chosen = port or free_port()
        record = {"EndpointName": name, "EndpointId": uuid.uuid4().hex, "Port": chosen,
                  "Engine": engine.name, "Image": engine.image, "Workers": workers,
                  "Model": str(Path(model).resolve()), "Url": f"http://127.0.0.1:{chosen}",
                  "MultiModel": multi_model}
        env = {**(environment or {}), **extra, "SAGEGAM_ENDPOINT_ID": record["EndpointId"]}
        log = folder / "server.log"
        with log.open("w") as handle:
            process = subprocess.Popen(_serve_command(name, model_dir, engine, workers, chosen,
                                                      env),
                                       stdout=handle, stderr=subprocess.STDOUT,
                                       env=_server_environment(env),
                                       start_new_session=True)  # survives the CLI
        record["Pid"] = process.pid
        write_record(folder / "endpoint.json", record)
        _wait_healthy(record, process, log, timeout)
        (folder / CLAIM_FILE).unlink()
    except BaseException:  # Ctrl-C included: nothing half-made stays behind
        if record is not None and "Pid" in record:
            _stop(record)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return describe(name)


def _server_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """A subprocess server's environment: ours, the endpoint's, and malloc's huge pages
    as the image sets them (``MALLOC_TUNABLES``), unless GLIBC_TUNABLES is set already."""
    return {"GLIBC_TUNABLES": MALLOC_TUNABLES, **os.environ, **extra}


def _check_port(port: int) -> None:
    """Refuse a port something already listens on (another endpoint, or any program)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            return
        except OSError:
            pass
    holders = [r["EndpointName"] for r in _records() if r.get("Port") == port]
    by = f"endpoint {holders[0]!r}" if holders else "another program"
    raise LocalError(f"Port {port} is already in use by {by}; choose another --port, or leave "
                     "it out to get a free one.")


def _claim(name: str) -> Path:
    """Create the endpoint's folder, atomically; a dead deploy's leftovers are cleared."""
    folder = endpoint_dir(name)
    folder.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            folder.mkdir()
        except FileExistsError:
            if _state(folder) != "abandoned":
                raise _exists(name, folder) from None
            shutil.rmtree(folder, ignore_errors=True)
            continue
        write_record(folder / CLAIM_FILE, {"Pid": os.getpid()})
        return folder
    raise _exists(name, folder)


def _state(folder: Path) -> str:
    """``deployed``, ``deploying`` (a live process is at it) or ``abandoned``."""
    if (folder / "endpoint.json").is_file() and not (folder / CLAIM_FILE).is_file():
        return "deployed"
    claim = folder / CLAIM_FILE
    if claim.is_file():
        try:
            return "deploying" if alive(int(read_record(claim)["Pid"])) else "abandoned"
        except (LocalError, KeyError, ValueError):
            return "abandoned"
    try:
        young = time.time() - folder.stat().st_mtime < CLAIM_GRACE_SECONDS
    except FileNotFoundError:
        return "abandoned"
    return "deploying" if young else "abandoned"


def _exists(name: str, folder: Path) -> LocalError:
    if _state(folder) == "deploying":
        return LocalError(f"Endpoint {name!r} is being deployed by another command right now; "
                          "wait for it, or pick another name.")
    return LocalError(f"Endpoint {name!r} exists; delete it first (sagegam local delete "
                      f"{name}).")


def _unpack(model: Path, folder: Path) -> Path:
    """The artifact in ``folder/model``, whole, or a LocalError and nothing there."""
    scratch = folder / "model.partial"
    if model.is_dir():
        shutil.copytree(model, scratch, symlinks=True)
    elif tarfile.is_tarfile(model):
        scratch.mkdir()
        try:
            with tarfile.open(model) as archive:
                archive.extractall(scratch, filter="data")
        except (tarfile.TarError, OSError, EOFError) as error:
            raise LocalError(f"{model} cannot be unpacked safely: {error}. SageMaker would "
                             "refuse it too; repack it with the artifact's files at the "
                             "archive's root.") from None
    else:
        raise LocalError(f"{model} is neither a model.tar.gz nor an artifact directory.")
    target = folder / "model"
    scratch.rename(target)
    return target


def _check_loads(model: Path, model_dir: Path) -> None:
    """Refuse a model the server could not load, before a server is started for it."""
    from sagegam.model.artifact import ArtifactError, load

    try:
        load(model_dir)
    except ArtifactError as error:
        raise LocalError(f"{model} does not hold a model sagegam can serve: {error}") from None


def _serve_command(name: str, model_dir: Path, engine: Engine, workers: int, port: int,
                   environment: Mapping[str, str]) -> list[str]:
    if engine.in_container:
        variables = {**environment, "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers)}
        flags = [part for key, value in variables.items() for part in ("-e", f"{key}={value}")]
        mount = "/opt/ml/models" if environment.get("SAGEMAKER_MULTI_MODEL") else "/opt/ml/model"
        return [engine.name, "run", "--rm", "--name", container_name(name), "-p",
                f"127.0.0.1:{port}:8080", "-v", f"{model_dir}:{mount}:ro", *flags,
                engine.image, "serve"]
    # The image's own entry point (the same `serve` command as `sagegam serve`) without
    # the whole CLI's imports: 40 ms less on every endpoint's, and transform's, start.
    return [sys.executable, "-m", "sagegam.container.entrypoint", "serve", "--model-dir",
            str(model_dir), "--host", "127.0.0.1", "--port", str(port), "--workers",
            str(workers)]


def container_name(endpoint: str) -> str:
    return f"sagegam-endpoint-{endpoint}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(record: dict[str, Any], process: subprocess.Popen[bytes], log: Path,
                  timeout: float) -> None:
    deadline = time.monotonic() + timeout
    impostor = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalError(f"The server of endpoint {record['EndpointName']!r} exited with "
                             f"code {process.returncode}; its log ends: {_tail(log)}")
        answer = client.ping(record["Url"])
        if answer is not None and answer.status == 200:
            if answer.endpoint_id == record["EndpointId"]:
                return
            impostor = answer.endpoint_id or "a server that is not a sagegam endpoint"
        time.sleep(0.01)  # the server binds after its imports; a ping then waits for a worker
    extra = f" Port {record['Port']} is answered by {impostor}." if impostor else ""
    raise LocalError(f"Endpoint {record['EndpointName']!r} did not answer /ping within "
                     f"{timeout:g} s.{extra} Its log ends: {_tail(log)}")


def _tail(log: Path, lines: int = 3) -> str:
    """The log's last lines on one line (the folder holding it is removed after a failure)."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    return " / ".join(line.strip() for line in text.splitlines()[-lines:]) or "(nothing)"


def describe(name: str) -> dict[str, Any]:
    folder = endpoint_dir(name)
    if not folder.is_dir() or _state(folder) != "deployed":
        raise LocalError(f"No local endpoint named {name!r}; `sagegam local endpoints` lists "
                         "them.")
    record = read_record(folder / "endpoint.json")
    if client.healthy(record["Url"], record.get("EndpointId")):
        return {**record, "EndpointStatus": "InService"}
    return {**record, "EndpointStatus": "Failed",
            "FailureReason": f"Nothing at {record['Url']} answers /ping as this endpoint; its "
                             f"server has stopped (log: {folder / 'server.log'}). Delete it "
                             "and deploy again."}


def _records() -> list[dict[str, Any]]:
    root = home() / "endpoints"
    if not root.is_dir():
        return []
    return [read_record(p / "endpoint.json") for p in sorted(root.iterdir())
            if _state(p) == "deployed"]


def list_endpoints() -> list[dict[str, Any]]:
    return [describe(record["EndpointName"]) for record in _records()]


def invoke(name: str, body: bytes, content_type: str, accept: str | None = None,
           custom_attributes: str | None = None, timeout: float = 60.0,
           target_model: str | None = None) -> Answer:
    record = describe(name)
    if record["EndpointStatus"] != "InService":
        raise LocalError(f"Endpoint {name!r} is not in service: {record['FailureReason']}")
    path = "/invocations"
    if record.get("MultiModel") or target_model is not None:
        from sagegam.local.multimodel import invocation_path

        path = invocation_path(record, endpoint_dir(name), target_model)
    return client.post(record["Url"], body, content_type, accept, custom_attributes, timeout,
                       record.get("EndpointId"), path)


def delete(name: str) -> None:
    folder = endpoint_dir(name)
    state = _state(folder) if folder.is_dir() else "missing"
    if state == "missing":
        raise LocalError(f"No local endpoint named {name!r}.")
    if state == "deploying":
        raise _exists(name, folder)
    if state == "deployed":
        _stop(read_record(folder / "endpoint.json"))
    shutil.rmtree(folder, ignore_errors=True)  # an abandoned deploy's remains go too


def _stop(record: dict[str, Any]) -> None:
    """SIGTERM (the server drains), then SIGKILL after 30 s, as `docker stop` does."""
    if record["Engine"] != "subprocess":
        subprocess.run([record["Engine"], "stop", "-t", "30", container_name(
            record["EndpointName"])], capture_output=True)
    stop_group(int(record["Pid"]), grace=30.0)
