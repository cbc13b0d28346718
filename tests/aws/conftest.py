"""A real moto server process on 127.0.0.1, and the environment that points boto3 at it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
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
def moto_url() -> Iterator[str]:
    process, url = _start_moto({})
    yield url
    _stop(process)


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


@pytest.fixture(scope="session")
def restricted_moto_url() -> Iterator[str]:
    """A second emulator that enforces IAM: only its first two calls are unauthenticated."""
    process, url = _start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": "2"})
    yield url
    _stop(process)


@pytest.fixture(scope="session")
def powerless_keys(restricted_moto_url: str) -> dict[str, str]:
    """Access keys of a user with no policy attached, on the IAM-enforcing emulator."""
    iam = boto3.client(
        "iam",
        endpoint_url=restricted_moto_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    iam.create_user(UserName="powerless")
    key = iam.create_access_key(UserName="powerless")["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        "SAGEGAM_AWS_ENDPOINT_URL": restricted_moto_url,
    }
