"""Checks that say what is missing, with the remedy, before anything is billed."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from sagegam.aws.session import Aws, AwsError, explain

SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"


def check_credentials(aws: Aws) -> str:
    """The caller's ARN; an AwsError when there are no usable credentials."""
    if aws.session.get_credentials() is None:
        raise AwsError("No AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                       "or AWS_PROFILE, or run `aws configure` / `aws sso login`.")
    try:
        return str(aws.client("sts").get_caller_identity()["Arn"])
    except Exception as error:
        raise explain(error, "Checking your credentials (sts:GetCallerIdentity)") from None


def check_role(aws: Aws, role: str | None) -> str:
    """The role's ARN, after checking that SageMaker may assume it."""
    if not role:
        raise AwsError("No execution role: pass --role with an IAM role SageMaker can assume "
                       "(trust policy principal sagemaker.amazonaws.com).")
    name = role.rsplit("/", 1)[-1]
    try:
        found = aws.client("iam").get_role(RoleName=name)["Role"]
    except Exception as error:
        if "NoSuchEntity" in str(error):
            raise AwsError(f"Role {name!r} does not exist; create it (docs/aws.md) or pass "
                           "another --role.") from None
        raise explain(error, f"Reading role {name!r} (iam:GetRole)") from None
    if not _trusts_sagemaker(found.get("AssumeRolePolicyDocument", {})):
        raise AwsError(f"Role {name!r} cannot be assumed by SageMaker: add "
                       f"{SAGEMAKER_PRINCIPAL!r} as a Service principal to its trust policy.")
    return str(found["Arn"])


def _trusts_sagemaker(document: Any) -> bool:
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        principal = statement.get("Principal", {})
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        services = [services] if isinstance(services, str) else services
        allows = statement.get("Effect") == "Allow" and "sts:AssumeRole" in str(
            statement.get("Action", ""))
        if allows and SAGEMAKER_PRINCIPAL in services:
            return True
    return False
