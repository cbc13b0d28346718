"""ECR: create the repository, decode the login token, and the engine commands to push."""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass

from sagegam.aws.session import Aws, PreflightError, api_errors


@dataclass(frozen=True)
class RegistryLogin:
    registry: str  # host name, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com
    username: str
    password: str


def ensure_repository(aws: Aws, name: str) -> str:
    """Return the repository URI, creating the repository if it does not exist."""
    ecr = aws.client("ecr")
    from botocore.exceptions import ClientError

    with api_errors():
        try:
            found = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "RepositoryNotFoundException":
                raise
            found = ecr.create_repository(
                repositoryName=name, imageScanningConfiguration={"scanOnPush": True}
            )["repository"]
    return str(found["repositoryUri"])


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
    return [
        [engine, "login", "--username", login.username, "--password-stdin", login.registry],
        [engine, "tag", local_image, remote],
        [engine, "push", remote],
    ]


def run_push(commands: list[list[str]], password: str) -> None:
    """Run the login, tag and push commands, stopping at the first failure with its output."""
    for index, command in enumerate(commands):
        stdin = password if index == 0 else None
        done = subprocess.run(command, input=stdin, text=True, capture_output=True, check=False)
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise PreflightError(
                f"`{' '.join(command[:2])}` failed: {detail[-1] if detail else done.returncode}"
            )
