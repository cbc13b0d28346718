"""What the SDK flows need: a Docker API (podman's), an SDK interpreter per major version,
the image, an AWS emulator for the calls the SDKs make even in local mode, and port 8080.

.ci/run provides all of them: ``setup-docker-api.sh`` exports ``DOCKER_HOST`` and
installs docker-compose, and each SDK major lives in its own virtualenv (``sagemaker`` 2
and 3 are one package name), named by ``SAGEGAM_SDK2_PYTHON`` / ``SAGEGAM_SDK3_PYTHON``.
Outside CI a missing piece skips; in CI (``CI=true``) it fails.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.aws.conftest import SAGEMAKER_TRUST, _start_moto, _stop

ROLE_NAME = "SageGamExecution"
BUCKET = "sagegam-sdk-tests"


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_host() -> str:
    """The Docker API the SDKs talk to (podman's, through DOCKER_HOST)."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host.startswith("unix://"):
        _missing("DOCKER_HOST is not set to a Docker API socket; run "
                 "`eval \"$(bash ../shared/container/setup-docker-api.sh)\"`")
    try:
        with socket.socket(socket.AF_UNIX) as probe:
            probe.connect(host.removeprefix("unix://"))
    except OSError as error:
        _missing(f"the Docker API at {host} does not answer: {error}")
    return host


def sdk_python(major: int) -> str:
    python = os.environ.get(f"SAGEGAM_SDK{major}_PYTHON", "")
    if not python or not Path(python).is_file():
        _missing(f"SAGEGAM_SDK{major}_PYTHON names no interpreter with sagemaker {major}.x "
                 "(.ci/run creates one)")
    return python


@pytest.fixture(scope="session")
def sdk_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """An emulator for the AWS calls the SDKs make in local mode (the role, the default
    bucket), and the environment that sends them there."""
    process, url = _start_moto({})
    env = {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path_factory.mktemp("aws") / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path_factory.mktemp("aws") / "credentials"),
           # The SDK 3 role check calls iam:SimulatePrincipalPolicy, which moto lacks.
           "SAGEMAKER_VALIDATE_ROLE": "false"}
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    role = iam.create_role(RoleName=ROLE_NAME,
                           AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))
    env["ROLE_ARN"] = role["Role"]["Arn"]
    yield env
    _stop(process)


def _port_8080_free() -> bool:
    try:
        urllib.request.urlopen("http://127.0.0.1:8080/ping", timeout=1).close()
    except OSError:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", 8080)) != 0
    return False


@pytest.fixture
def port_8080() -> None:
    """Both SDKs publish the serving container on host port 8080, fixed."""
    if not _port_8080_free():
        pytest.fail("port 8080 is taken; the SDKs' local modes always serve on it")


def image_reference(image: str) -> str:
    """The image's full local name: unqualified names would send the SDKs' pull to a public
    registry, and podman's filters match only the full name."""
    return image if "/" in image.split(":")[0] else f"localhost/{image}"


def _containers(engine: str, image: str) -> set[str]:
    listed = subprocess.run([engine, "ps", "-a", "-q", "--filter",
                             f"ancestor={image_reference(image)}"],
                            capture_output=True, text=True, check=True)
    return set(listed.stdout.split())


@pytest.fixture
def sdk_containers(engine: str, image: str) -> Iterator[None]:
    """Remove what an SDK run leaves behind from this test image (docker-compose keeps
    exited containers, and a container that never started would hold port 8080)."""
    before = _containers(engine, image)
    yield
    left = _containers(engine, image) - before
    if left:
        subprocess.run([engine, "rm", "-f", *left], capture_output=True)
