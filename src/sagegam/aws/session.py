"""boto3 clients with the checks every command needs first."""

from __future__ import annotations

import os
from typing import Any

ENDPOINT_VARIABLE = "SAGEGAM_AWS_ENDPOINT_URL"


class AwsError(RuntimeError):
    """An AWS problem with its remedy, for a one-line CLI error."""


def boto3_module() -> Any:
    try:
        import boto3
    except ImportError:
        raise AwsError("The AWS commands need boto3: pip install 'sagegam[aws]'.") from None
    return boto3


class Aws:
    """Clients for one region; ``$SAGEGAM_AWS_ENDPOINT_URL`` points them at an emulator."""

    def __init__(self, region: str | None = None, endpoint_url: str | None = None) -> None:
        boto3 = boto3_module()
        self.session = boto3.session.Session(region_name=region)
        self.region = self.session.region_name
        if not self.region:
            raise AwsError("No AWS region: pass --region, set AWS_REGION (or "
                           "AWS_DEFAULT_REGION), or run `aws configure`.")
        self.endpoint_url = endpoint_url or os.environ.get(ENDPOINT_VARIABLE)

    def client(self, service: str) -> Any:
        return self.session.client(service, region_name=self.region,
                                   endpoint_url=self.endpoint_url)


def explain(error: Exception, action: str) -> AwsError:
    """A botocore ClientError as one line: what failed, AWS's code and message, a remedy."""
    response = getattr(error, "response", None) or {}
    code = response.get("Error", {}).get("Code", type(error).__name__)
    message = response.get("Error", {}).get("Message", str(error))
    remedy = ""
    if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
        remedy = " Grant the calling identity this permission (see docs/aws.md, IAM policy)."
    elif code in ("ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId"):
        remedy = " Refresh your credentials (`aws sso login` or new access keys)."
    return AwsError(f"{action} failed: {code}: {message}.{remedy}")
