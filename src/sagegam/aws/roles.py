"""The execution-role preflight: does the role exist, and may SageMaker assume it?

Reading the role takes ``iam:GetRole``, which many SageMaker users do not have (they have
``sagemaker:*`` and ``iam:PassRole``); when it is denied the check warns and lets the
request go on, and SageMaker checks the role itself.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any

from sagegam.aws.errors import PERMISSION_CODES, PreflightError, error_code, explain
from sagegam.aws.session import Aws

SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"


def _trust_policy(document: Any) -> dict[str, Any]:
    # IAM returns the document URL-encoded; boto3 usually decodes it, emulators may not.
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    return dict(document)


def _as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value or [])


def trusts_sagemaker(document: Any) -> bool:
    """True if a role trust policy lets sagemaker.amazonaws.com call sts:AssumeRole."""
    statements = _trust_policy(document).get("Statement", [])
    for statement in [statements] if isinstance(statements, dict) else statements:
        actions = _as_list(statement.get("Action"))
        services = _as_list(statement.get("Principal", {}).get("Service"))
        if (
            statement.get("Effect") == "Allow"
            and any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions)
            and SAGEMAKER_PRINCIPAL in services
        ):
            return True
    return False


def check_role(aws: Aws, role: str | None, warn: Callable[[str], None]) -> str:
    """Return the role ARN after checking it exists and SageMaker may assume it."""
    if not role:
        raise PreflightError(
            "No execution role given. Remedy: pass --role ARN or export SAGEGAM_ROLE_ARN with "
            "a role whose trust policy allows sagemaker.amazonaws.com (see docs/aws.md)."
        )
    name = role.rsplit("/", 1)[-1]
    from botocore.exceptions import ClientError

    try:
        found = aws.client("iam").get_role(RoleName=name)["Role"]
    except ClientError as error:
        code = error_code(error)
        if code == "NoSuchEntity":
            raise PreflightError(
                f"IAM role {name!r} does not exist. Remedy: create it with a trust policy for "
                f"{SAGEMAKER_PRINCIPAL} (see docs/aws.md#an-execution-role)."
            ) from error
        if code in PERMISSION_CODES:
            warn(f"warning: could not read IAM role {name!r} ({code} for iam:GetRole); going "
                 "on, and SageMaker will check the role when the request starts.")
            return role
        raise PreflightError(explain(error)) from error
    if not trusts_sagemaker(found.get("AssumeRolePolicyDocument", {})):
        raise PreflightError(
            f"IAM role {name!r} cannot be assumed by SageMaker: its trust policy has no Allow "
            f"of sts:AssumeRole for {SAGEMAKER_PRINCIPAL}. Remedy: `aws iam "
            f"update-assume-role-policy --role-name {name} --policy-document file://trust.json`."
        )
    return str(found["Arn"])
