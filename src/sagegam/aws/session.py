"""boto3 sessions, endpoint overrides, preflight checks and one-line API errors.

Every client goes through :func:`client` so the emulator override (``SAGEGAM_AWS_ENDPOINT_URL``
or boto3's own ``AWS_ENDPOINT_URL``) and the error translation apply everywhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

ENDPOINT_ENV = "SAGEGAM_AWS_ENDPOINT_URL"
SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"


class PreflightError(Exception):
    """Something is missing before any call is billed; the message carries the remedy."""


def _boto3() -> Any:
    try:
        import boto3
    except ImportError as error:
        raise PreflightError(
            "boto3 is not installed. Remedy: pip install 'sagegam[aws]'"
        ) from error
    return boto3


@dataclass
class Aws:
    """A boto3 session plus the endpoint override, handing out clients."""

    session: Any
    endpoint_url: str | None

    @property
    def region(self) -> str:
        return str(self.session.region_name)

    def client(self, service: str) -> Any:
        kwargs: dict[str, Any] = {}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        return self.session.client(service, **kwargs)


def connect(region: str | None = None, profile: str | None = None) -> Aws:
    """Open a session and check credentials and region, with a remedy for each."""
    boto3 = _boto3()
    session = boto3.session.Session(region_name=region, profile_name=profile)
    if session.get_credentials() is None:
        raise PreflightError(
            "No AWS credentials found. Remedy: run `aws configure`, set AWS_PROFILE, or "
            "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
        )
    if not session.region_name:
        raise PreflightError(
            "No AWS region configured. Remedy: pass --region, export AWS_DEFAULT_REGION, "
            "or set `region` in ~/.aws/config."
        )
    endpoint = os.environ.get(ENDPOINT_ENV) or os.environ.get("AWS_ENDPOINT_URL")
    return Aws(session=session, endpoint_url=endpoint)


# Error codes whose remedy is about permissions or credentials rather than the request.
_PERMISSION_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "NotAuthorized",
}
_CREDENTIAL_CODES = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidAccessKeyId",
}


def _xml_field(text: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.DOTALL)
    return match.group(1).strip() if match else None


def explain(error: Exception) -> str:
    """One line for a botocore ClientError: the API's own code and message plus a remedy."""
    response = getattr(error, "response", None) or {}
    details = response.get("Error", {})
    code = str(details.get("Code", type(error).__name__))
    message = str(details.get("Message", error)).strip()
    # Some front ends (proxies, emulators) answer a JSON API with an XML error body that
    # botocore cannot parse; recover the real code and message from it.
    code = _xml_field(message, "Code") or code
    message = _xml_field(message, "Message") or message
    message = message.splitlines()[0] if message else ""
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    operation = getattr(error, "operation_name", "the AWS call")
    line = f"{operation} failed: {code}: {message}"
    if code in _PERMISSION_CODES or (status == 403 and code not in _CREDENTIAL_CODES):
        return line + (
            " Remedy: grant this identity the action named above (e.g. attach "
            "AmazonSageMakerFullAccess, AmazonEC2ContainerRegistryPowerUser, S3 access)."
        )
    if code in _CREDENTIAL_CODES:
        return line + " Remedy: refresh your credentials (`aws sso login` or `aws configure`)."
    return line


@contextmanager
def api_errors() -> Iterator[None]:
    """Turn botocore's ClientError/NoCredentialsError into PreflightError with a remedy."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except NoCredentialsError as error:
        raise PreflightError(
            "No AWS credentials found. Remedy: run `aws configure` or export AWS_ACCESS_KEY_ID."
        ) from error
    except ClientError as error:
        raise PreflightError(explain(error)) from error
    except BotoCoreError as error:
        raise PreflightError(f"AWS call failed: {error}") from error


def _trust_policy(document: Any) -> dict[str, Any]:
    # IAM returns the document URL-encoded; boto3 usually decodes it, emulators may not.
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    return dict(document)


def trusts_sagemaker(document: Any) -> bool:
    """True if a role trust policy lets sagemaker.amazonaws.com call sts:AssumeRole."""
    statements = _trust_policy(document).get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        services = statement.get("Principal", {}).get("Service", [])
        services = [services] if isinstance(services, str) else services
        if SAGEMAKER_PRINCIPAL in services:
            return True
    return False


def check_role(aws: Aws, role: str | None) -> str:
    """Return the role ARN after checking it exists and SageMaker may assume it."""
    if not role:
        raise PreflightError(
            "No execution role given. Remedy: pass --role ARN or export SAGEGAM_ROLE_ARN with "
            "a role whose trust policy allows sagemaker.amazonaws.com (see docs/aws.md)."
        )
    name = role.rsplit("/", 1)[-1]
    iam = aws.client("iam")
    from botocore.exceptions import ClientError

    try:
        found = iam.get_role(RoleName=name)["Role"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchEntity":
            raise PreflightError(
                f"IAM role {name!r} does not exist. Remedy: create it with a trust policy for "
                f"{SAGEMAKER_PRINCIPAL} and AmazonSageMakerFullAccess (see docs/aws.md)."
            ) from error
        raise PreflightError(explain(error)) from error
    if not trusts_sagemaker(found.get("AssumeRolePolicyDocument", {})):
        raise PreflightError(
            f"IAM role {name!r} cannot be assumed by SageMaker: its trust policy has no Allow "
            f"of sts:AssumeRole for {SAGEMAKER_PRINCIPAL}. Remedy: `aws iam "
            f"update-assume-role-policy --role-name {name} --policy-document file://trust.json`."
        )
    return str(found["Arn"])


def _answers(executable: str) -> bool:
    # A docker CLI without a daemon is common (and is the case on podman-only machines).
    try:
        done = subprocess.run([executable, "info"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def container_engine(preferred: str | None = None) -> str:
    """The first docker or podman whose ``info`` answers, or a PreflightError with the remedy."""
    candidates = [preferred] if preferred else ["docker", "podman"]
    for name in candidates:
        path = shutil.which(name)
        if path and _answers(path):
            return path
    raise PreflightError(
        f"No working container engine (looked for {', '.join(candidates)} answering "
        "`info`). Remedy: install docker or podman (or start the docker daemon), or push the "
        "image from a machine that has one."
    )
