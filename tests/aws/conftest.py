"""A real moto server process on 127.0.0.1, and the environment that points boto3 at it."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

REGION = "us-east-1"
SRC = str(Path(__file__).resolve().parents[2] / "src")
SAGEMAKER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_moto(extra_env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, **extra_env}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            return process, url
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # moto's recorder logs every request it serves (when started) to this file.
    recording = tmp_path_factory.mktemp("moto") / "recording.jsonl"
    process, url = _start_moto({"MOTO_RECORDER_FILEPATH": str(recording)})
    yield url
    _stop(process)


def _moto_api(url: str, path: str) -> bytes:
    request = urllib.request.Request(f"{url}/moto-api/{path}", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


@dataclass(frozen=True)
class Recorded:
    """One request moto served: the operation and its parameters, where they are JSON."""

    service: str  # sagemaker, sagemaker-runtime, ecr, s3, iam, sts, logs
    operation: str
    params: dict[str, Any]


_TARGETS = {"SageMaker": "sagemaker", "AmazonEC2ContainerRegistry_V20150921": "ecr",
            "Logs_20140328": "logs", "AnyScaleFrontendService": "application-autoscaling"}


def _parse(entry: dict[str, Any]) -> Recorded:
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    body = base64.b64decode(entry["body"]) if entry.get("body_encoded") else \
        (entry.get("body") or "").encode()
    target = headers.get("x-amz-target", "")
    if target:
        prefix, _, operation = target.partition(".")
        return Recorded(_TARGETS.get(prefix, prefix), operation,
                        json.loads(body) if body else {})
    invocation = re.search(r"/endpoints/([^/?]+)/invocations", entry["url"])
    if invocation:
        params = {"EndpointName": urllib.parse.unquote(invocation.group(1)), "Body": body,
                  "ContentType": headers.get("content-type"), "Accept": headers.get("accept"),
                  "CustomAttributes": headers.get("x-amzn-sagemaker-custom-attributes"),
                  "TargetModel": headers.get("x-amzn-sagemaker-target-model")}
        return Recorded("sagemaker-runtime", "InvokeEndpoint",
                        {k: v for k, v in params.items() if v is not None})
    action = re.search(rb"Action=(\w+)", body)
    if action:  # query protocol: IAM, STS
        return Recorded("query", action.group(1).decode(), {})
    return Recorded("s3", f"{entry['method']} {entry['url']}", {})


class Recorder:
    """moto's request recorder: what a command sent, read back after it ran."""

    def __init__(self, url: str) -> None:
        self.url = url

    def start(self) -> None:
        _moto_api(self.url, "recorder/reset-recording")
        _moto_api(self.url, "recorder/start-recording")

    def stop(self) -> list[Recorded]:
        _moto_api(self.url, "recorder/stop-recording")
        text = _moto_api(self.url, "recorder/download-recording").decode()
        return [_parse(json.loads(line)) for line in text.splitlines() if line.strip()]


@pytest.fixture
def recorder(moto_url: str) -> Iterator[Recorder]:
    recording = Recorder(moto_url)
    yield recording
    _moto_api(moto_url, "recorder/stop-recording")


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """The test process's environment minus any real AWS configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.pop("SAGEGAM_AWS_ENDPOINT_URL", None)
    env.pop("SAGEGAM_ROLE_ARN", None)
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=SRC + os.pathsep + env.get("PYTHONPATH", ""),
    )
    return env


@pytest.fixture
def bare_env(tmp_path: Path) -> dict[str, str]:
    """No credentials and no region: what a fresh machine looks like."""
    return _clean_env(tmp_path)


@pytest.fixture
def aws_env(moto_url: str, tmp_path: Path) -> dict[str, str]:
    """Fake credentials, a region and the emulator's URL; the emulator's state reset."""
    urllib.request.urlopen(
        urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=10
    ).close()
    env = _clean_env(tmp_path)
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        SAGEGAM_AWS_ENDPOINT_URL=moto_url,
    )
    return env


@pytest.fixture
def client(aws_env: dict[str, str]) -> Callable[[str], Any]:
    """boto3 clients on the emulator, to read back what the commands did."""

    def make(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=aws_env["SAGEGAM_AWS_ENDPOINT_URL"],
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return make


@pytest.fixture
def role_arn(client: Callable[[str], Any]) -> str:
    role = client("iam").create_role(
        RoleName="SageMakerExecution", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST)
    )
    return str(role["Role"]["Arn"])


def _run_cli(env: dict[str, str], *args: str) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "sagegam", "aws", *args],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def run_cli() -> Callable[..., Any]:
    """Run ``python -m sagegam aws ARGS`` in a given environment, as a user would."""
    return _run_cli


ALLOW_ALL = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def _iam(url: str, keys: dict[str, str] | None = None) -> Any:
    keys = keys or {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    return boto3.client("iam", endpoint_url=url, region_name=REGION,
                        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"])


def _user_keys(iam: Any, name: str, policy: dict[str, Any] | None) -> dict[str, str]:
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


@pytest.fixture(scope="session")
def restricted_moto_url() -> Iterator[str]:
    """A second emulator that enforces IAM: only the first three calls (which make an
    administrator, see ``admin_keys``) are unauthenticated."""
    process, url = _start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": "3"})
    yield url
    _stop(process)


@pytest.fixture(scope="session")
def admin_keys(restricted_moto_url: str) -> dict[str, str]:
    """A user allowed everything on the IAM-enforcing emulator, who sets up the others."""
    return _user_keys(_iam(restricted_moto_url), "admin", ALLOW_ALL)


def allow_all_but(denied: list[str]) -> dict[str, Any]:
    return {**ALLOW_ALL, "Statement": [
        *ALLOW_ALL["Statement"], {"Effect": "Deny", "Action": denied, "Resource": "*"}]}


@pytest.fixture(scope="session")
def restricted_user(
    restricted_moto_url: str, admin_keys: dict[str, str]
) -> Callable[[str, dict[str, Any] | None], dict[str, str]]:
    """Environment of a new user holding ``policy`` (none if None) on the IAM-enforcing
    emulator."""

    def make(name: str, policy: dict[str, Any] | None) -> dict[str, str]:
        keys = _user_keys(_iam(restricted_moto_url, admin_keys), name, policy)
        return {**keys, "SAGEGAM_AWS_ENDPOINT_URL": restricted_moto_url}

    return make


@pytest.fixture(scope="session")
def powerless_keys(
    restricted_user: Callable[[str, dict[str, Any] | None], dict[str, str]],
) -> dict[str, str]:
    """Access keys of a user with no policy attached, on the IAM-enforcing emulator."""
    return restricted_user("powerless", None)


@pytest.fixture
def run_in_process(aws_env: dict[str, str]) -> Callable[..., Any]:
    """``sagegam aws ARGS`` in this process (click's runner), in a given environment:
    fast enough to try hundreds of bad values."""
    from click.testing import CliRunner

    from sagegam.cli import cli

    def run(*args: str, env: dict[str, str] | None = None) -> Any:
        # Keys missing from the given environment are removed for the call.
        unset: dict[str, str | None] = {
            k: None for k in os.environ if k.startswith(("AWS_", "SAGEGAM_"))
        }
        return CliRunner().invoke(cli, ["aws", *args], env={**unset, **(env or aws_env)})

    return run
