"""ECR: the repository, the login token, the engine commands that push, and the manifest check.

SageMaker runs only images whose manifest is Docker Image Manifest V2, Schema 2; an OCI
manifest or index is refused when the model or job is created ("Unsupported manifest
media type"). podman pushes OCI unless told otherwise, so it is told (``--format v2s2``);
docker pushes what it built, so the pushed manifest is read back from ECR and checked.
"""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sagegam.aws.errors import PreflightError, api_errors, error_code
from sagegam.aws.session import Aws

DOCKER_V2S2 = "application/vnd.docker.distribution.manifest.v2+json"


@dataclass(frozen=True)
class RegistryLogin:
    registry: str  # host name, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com
    username: str
    password: str


def find_repository(aws: Aws, name: str) -> str | None:
    """The repository's URI, or None if it does not exist."""
    from botocore.exceptions import ClientError

    with api_errors():
        try:
            found = aws.client("ecr").describe_repositories(repositoryNames=[name])
        except ClientError as error:
            if error_code(error) != "RepositoryNotFoundException":
                raise
            return None
    return str(found["repositories"][0]["repositoryUri"])


def ensure_repository(aws: Aws, name: str) -> str:
    """Return the repository URI, creating the repository if it does not exist."""
    uri = find_repository(aws, name)
    if uri is None:
        with api_errors():
            uri = str(aws.client("ecr").create_repository(
                repositoryName=name, imageScanningConfiguration={"scanOnPush": True}
            )["repository"]["repositoryUri"])
    return uri


def registry_login(aws: Aws) -> RegistryLogin:
    """Decode get_authorization_token's base64 ``user:password`` (replaces `aws ecr get-login`)."""
    with api_errors():
        data = aws.client("ecr").get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    registry = str(data["proxyEndpoint"]).removeprefix("https://").removeprefix("http://")
    return RegistryLogin(registry=registry, username=user, password=password)


def push_commands(
    engine: str, login: RegistryLogin, local_image: str, remote: str
) -> list[list[str]]:
    """The engine command lines push runs, in order; the password goes on stdin, not argv."""
    # podman's default is an OCI manifest, which SageMaker refuses.
    manifest = ["--format", "v2s2"] if Path(engine).name == "podman" else []
    return [
        [engine, "login", "--username", login.username, "--password-stdin", login.registry],
        [engine, "tag", local_image, remote],
        [engine, "push", *manifest, remote],
    ]


def run_push(commands: list[list[str]], password: str) -> None:
    """Run the login, tag and push commands, stopping at the first failure with its output."""
    for index, command in enumerate(commands):
        stdin = password if index == 0 else None
        done = subprocess.run(command, input=stdin, text=True, capture_output=True, check=False)
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise PreflightError(
                f"`{' '.join(command[:2])}` failed: {detail[-1] if detail else done.returncode}. "
                "Remedy: fix what the engine reports, then run `sagegam aws push` again."
            )


def check_manifest(aws: Aws, repository: str, tag: str) -> None:
    """Refuse a pushed image SageMaker cannot run (anything but Docker v2 schema 2)."""
    with api_errors():
        details = aws.client("ecr").describe_images(
            repositoryName=repository, imageIds=[{"imageTag": tag}]
        )["imageDetails"]
    media_type = details[0].get("imageManifestMediaType", "") if details else ""
    if media_type != DOCKER_V2S2:
        raise PreflightError(
            f"ECR holds {repository}:{tag} as {media_type or 'an unknown manifest type'}; "
            f"SageMaker runs only Docker v2 schema 2 images ({DOCKER_V2S2}). Remedy: push with "
            "`--engine podman` (which converts), or rebuild with docker's attestations off and "
            "Docker media types (`docker buildx build --provenance=false --sbom=false "
            "--output type=docker ...`) and push again."
        )
