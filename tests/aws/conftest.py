"""A real AWS API emulator: moto's server, as a process on a loopback port."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.serving.conftest import free_port

TRUST_SAGEMAKER = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("moto server did not start")
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture()
def emulator(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Fresh emulator state and fake credentials for one test."""
    urllib.request.urlopen(urllib.request.Request(moto_url + "/moto-api/reset",
                                                  method="POST"))
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                       "SAGEGAM_AWS_ENDPOINT_URL": moto_url}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_url


@pytest.fixture()
def role(emulator: str) -> str:
    import boto3

    iam = boto3.client("iam", endpoint_url=emulator)
    return str(iam.create_role(RoleName="SageMakerRole",
                               AssumeRolePolicyDocument=TRUST_SAGEMAKER)["Role"]["Arn"])
