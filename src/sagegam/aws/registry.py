"""Pushing the image to ECR with docker or podman."""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass

from sagegam.aws.session import Aws, AwsError, explain


@dataclass(frozen=True)
class Login:
    registry: str  # host, without https://
    username: str
    password: str


def ensure_repository(aws: Aws, name: str) -> str:
    """The repository's URI, creating the repository when it does not exist."""
    ecr = aws.client("ecr")
    try:
        found = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except Exception as error:
        if "RepositoryNotFoundException" not in str(error):
            raise explain(error, f"Looking up ECR repository {name!r}") from None
        try:
            found = ecr.create_repository(repositoryName=name,
                                          imageScanningConfiguration={"scanOnPush": True}
                                          )["repository"]
        except Exception as create_error:
            raise explain(create_error, f"Creating ECR repository {name!r}") from None
    return str(found["repositoryUri"])


def login(aws: Aws) -> Login:
    """Credentials for `docker login`, from ecr:GetAuthorizationToken (not the deprecated
    `aws ecr get-login`)."""
    try:
        data = aws.client("ecr").get_authorization_token()["authorizationData"][0]
    except Exception as error:
        raise explain(error, "Getting an ECR login token") from None
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return Login(data["proxyEndpoint"].removeprefix("https://"), username, password)


def push_commands(engine: str, local_image: str, repository_uri: str,
                  tag: str, credentials: Login) -> list[list[str]]:
    """The engine commands `push` runs, in order (the password goes through stdin)."""
    target = f"{repository_uri}:{tag}"
    return [[engine, "login", "--username", credentials.username, "--password-stdin",
             credentials.registry],
            [engine, "tag", local_image, target],
            [engine, "push", target]]


def push(aws: Aws, engine: str, local_image: str, repository: str, tag: str) -> str:
    uri = ensure_repository(aws, repository)
    credentials = login(aws)
    for command in push_commands(engine, local_image, uri, tag, credentials):
        stdin = credentials.password if "--password-stdin" in command else None
        result = subprocess.run(command, input=stdin, text=True, capture_output=True)
        if result.returncode != 0:
            raise AwsError(f"`{' '.join(command[:3])} ...` failed: "
                           f"{(result.stderr or result.stdout).strip()[:400]}")
    return f"{uri}:{tag}"
