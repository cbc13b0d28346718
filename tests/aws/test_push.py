"""`sagegam aws push` against a real moto server (and real podman where the engine matters)."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import uuid

import pytest

from sagegam.aws.ecr import DOCKER_V2S2, RegistryLogin, check_manifest, registry_login, run_push
from sagegam.aws.errors import PreflightError
from sagegam.aws.session import connect


def _one_line_error(result):
    assert result.returncode == 1, result.stdout
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_dry_run_prints_the_uri_and_podmans_v2s2_push_and_creates_nothing(
    run_cli, aws_env, client
):
    first = run_cli(aws_env, "push", "--engine", "podman", "--dry-run", "--image", "sagegam:1")
    second = run_cli(aws_env, "push", "--engine", "podman", "--dry-run", "--tag", "v2")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert client("ecr").describe_repositories()["repositories"] == []
    assert "would create the ECR repository 'sagegam'" in first.stderr.decode()

    # The URI a dry run prints is the one the repository gets.
    uri = client("ecr").create_repository(repositoryName="sagegam")["repository"]["repositoryUri"]
    registry = uri.split("/")[0]
    lines = first.stdout.decode().splitlines()
    assert lines[0].endswith(f"podman login --username AWS --password-stdin {registry}")
    assert lines[1].endswith(f"podman tag sagegam:1 {uri}:latest")
    # podman's default is an OCI manifest, which SageMaker refuses.
    assert lines[2].endswith(f"podman push --format v2s2 {uri}:latest")
    assert lines[3] == f"{uri}:latest"
    assert second.stdout.decode().splitlines()[-1] == f"{uri}:v2"


def test_a_dry_run_needs_no_container_engine(run_cli, aws_env, tmp_path):
    result = run_cli({**aws_env, "PATH": str(tmp_path)}, "push", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("docker login --username AWS --password-stdin ")
    assert lines[2].startswith("docker push ")  # docker pushes what it built: checked after
    assert lines[3].endswith("/sagegam:latest")


def test_a_push_without_a_container_engine_is_refused_before_any_call(
    run_cli, aws_env, client, tmp_path
):
    line = _one_line_error(run_cli({**aws_env, "PATH": str(tmp_path)}, "push"))
    assert line.startswith("Error: No container engine answers `info` (looked for docker, "
                           "podman). Remedy: install Docker")
    assert client("ecr").describe_repositories()["repositories"] == []


@pytest.mark.container
def test_a_push_of_an_image_not_built_says_to_build_it_first(run_cli, aws_env, client, engine):
    missing = f"sagegam:not-built-{uuid.uuid4().hex[:8]}"
    line = _one_line_error(run_cli(aws_env, "push", "--engine", engine, "--image", missing))
    assert line == (f"Error: Image {missing!r} is not among {engine}'s images. Remedy: build "
                    f"it first: `sagegam image build --engine {engine} --tag {missing}`.")
    assert client("ecr").describe_repositories()["repositories"] == []


def test_push_logs_in_with_the_decoded_authorization_token(aws_env, client, monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(key, aws_env[key])
    monkeypatch.setenv("SAGEGAM_AWS_ENDPOINT_URL", aws_env["SAGEGAM_AWS_ENDPOINT_URL"])
    login = registry_login(connect())
    token = client("ecr").get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    assert (login.username, login.password) == (user, password)
    assert not login.registry.startswith("http")
    assert login.registry in token["proxyEndpoint"]


def _manifest(media_type: str) -> str:
    layer = {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 2,
             "digest": "sha256:" + "1" * 64}
    config = {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
              "digest": "sha256:" + "0" * 64}
    return json.dumps({"schemaVersion": 2, "mediaType": media_type, "config": config,
                       "layers": [layer]})


def test_a_pushed_manifest_sagemaker_cannot_run_is_reported_with_the_remedy(
    aws_env, client, monkeypatch
):
    # What docker pushes from a containerd image store with attestations: an OCI index.
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
                "SAGEGAM_AWS_ENDPOINT_URL"):
        monkeypatch.setenv(key, aws_env[key])
    ecr = client("ecr")
    ecr.create_repository(repositoryName="sagegam")
    ecr.put_image(repositoryName="sagegam", imageTag="oci",
                  imageManifest=_manifest("application/vnd.oci.image.index.v1+json"))
    ecr.put_image(repositoryName="sagegam", imageTag="v2s2", imageManifest=_manifest(DOCKER_V2S2))
    aws = connect()
    check_manifest(aws, "sagegam", "v2s2")
    with pytest.raises(PreflightError) as refused:
        check_manifest(aws, "sagegam", "oci")
    message = str(refused.value)
    assert message.startswith("ECR holds sagegam:oci as application/vnd.oci.image.index.v1+json;"
                              " SageMaker runs only Docker v2 schema 2 images")
    assert "--engine podman" in message and "--provenance=false" in message


@pytest.mark.container
def test_push_reports_a_registry_that_refuses_the_engine_login_in_one_line():
    # A real engine run: podman itself fails to reach a registry on a closed loopback port.
    engine = shutil.which("podman") or shutil.which("docker")
    assert engine is not None, ".ci/run provides podman"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    login = RegistryLogin(registry=f"127.0.0.1:{port}", username="AWS", password="secret")
    commands = [[engine, "login", "--username", "AWS", "--password-stdin", login.registry]]
    with pytest.raises(PreflightError, match=r"login` failed: .*127\.0\.0\.1.*Remedy: "):
        run_push(commands, login.password)
