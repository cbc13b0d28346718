"""One line with a remedy for every way an AWS call can fail.

botocore raises ``ClientError`` for answers from AWS (matched here on the API's error
*code*, never its message text), ``BotoCoreError`` subclasses for everything that happens
before an answer (no credentials, an unreachable endpoint, a bad region), and boto3 wraps
failed S3 uploads in ``S3UploadFailedError``. :func:`api_errors` turns all three into a
:class:`PreflightError` whose text is one line ending in a remedy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

DOCS = "docs/aws.md"
_PERMISSION = (
    "grant this identity the action named above (least-privilege policy: "
    f"{DOCS}#a-least-privilege-policy)."
)
_CREDENTIALS = "refresh your credentials (`aws sso login`, or `aws configure`)."
_NOT_FOUND = "check the name and the region (`sagegam aws ls` lists what exists)."
_QUOTA = (
    "delete what you no longer need (`sagegam aws ls`) or ask for a higher quota in the "
    "Service Quotas console."
)
_RETRY = "wait a minute and run the command again."
PERMISSION_CODES = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                    "NotAuthorized", "Forbidden", "AuthorizationError")

# Error codes AWS APIs answer with, grouped by what the user can do about them.
REMEDIES: dict[str, str] = {
    **dict.fromkeys(PERMISSION_CODES, _PERMISSION),
    **dict.fromkeys(
        ("InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
         "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "InvalidToken"),
        _CREDENTIALS,
    ),
    **dict.fromkeys(
        ("RequestExpired", "RequestTimeTooSkewed"),
        "set this machine's clock right (requests are signed with the time).",
    ),
    **dict.fromkeys(
        ("ThrottlingException", "Throttling", "TooManyRequestsException", "SlowDown",
         "RequestLimitExceeded", "ProvisionedThroughputExceededException"),
        "the account is being throttled; " + _RETRY,
    ),
    **dict.fromkeys(
        ("ResourceLimitExceeded", "LimitExceededException", "ServiceQuotaExceededException"),
        _QUOTA,
    ),
    **dict.fromkeys(
        ("ResourceInUse", "ResourceInUseException", "ConflictException",
         "RepositoryAlreadyExistsException"),
        "the name is taken: pick another one, or delete the existing resource first.",
    ),
    **dict.fromkeys(
        ("ResourceNotFound", "ResourceNotFoundException", "NoSuchBucket", "NoSuchKey",
         "RepositoryNotFoundException", "ImageNotFoundException", "NoSuchEntity",
         "NotFound", "404"),
        _NOT_FOUND,
    ),
    **dict.fromkeys(
        ("BucketAlreadyExists",),
        "that bucket name belongs to another account: pass an s3:// path in a bucket of yours.",
    ),
    **dict.fromkeys(
        ("ValidationException", "ValidationError", "InvalidParameterException",
         "InvalidParameterValue", "InvalidRequest"),
        "change the option behind the field named above (`sagegam aws COMMAND --help`).",
    ),
    **dict.fromkeys(
        ("ModelError", "ModelNotReadyException", "ModelStreamError"),
        "the container refused the request: check the body and its content type, and the "
        "endpoint's log in CloudWatch (/aws/sagemaker/Endpoints/NAME).",
    ),
    **dict.fromkeys(
        ("InternalFailure", "InternalServerError", "InternalFailureException",
         "ServiceUnavailable", "ServiceUnavailableException", "InternalError", "500", "503"),
        "a fault on AWS's side; " + _RETRY,
    ),
}
DEFAULT_REMEDY = f"see the message above and {DOCS}."


class PreflightError(Exception):
    """Something is wrong before or during a call; the message is one line with a remedy."""


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def _xml_field(text: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.DOTALL)
    return match.group(1).strip() if match else None


def error_code(error: Any) -> str:
    """A botocore ClientError's code ('' for anything else)."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def explain(error: Exception) -> str:
    """A ClientError as ``Operation failed: Code: message. Remedy: ...``."""
    response = getattr(error, "response", None) or {}
    details = response.get("Error", {})
    code = str(details.get("Code") or type(error).__name__)
    message = str(details.get("Message") or error)
    # Some front ends (proxies, emulators) answer a JSON API with an XML error body that
    # botocore cannot parse; recover the real code and message from it.
    code = _xml_field(message, "Code") or code
    message = _xml_field(message, "Message") or message
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    remedy = REMEDIES.get(code) or (_PERMISSION if status == 403 else DEFAULT_REMEDY)
    operation = getattr(error, "operation_name", "the AWS call")
    return one_line(f"{operation} failed: {code}: {message.strip()} Remedy: {remedy}")


def _endpoint_hint() -> str:
    override = os.environ.get("SAGEGAM_AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
    if override:
        return f"; SAGEGAM_AWS_ENDPOINT_URL/AWS_ENDPOINT_URL sends every call to {override}"
    return ""


def _botocore_line(error: Exception) -> str:
    from botocore import exceptions as bc

    text = one_line(str(error))
    if isinstance(error, (bc.NoCredentialsError, bc.PartialCredentialsError,
                          bc.CredentialRetrievalError)):
        return (f"{text}. Remedy: run `aws configure`, set AWS_PROFILE, or export "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.")
    if isinstance(error, (bc.SSOError, bc.TokenRetrievalError)):
        return f"{text}. Remedy: log in again (`aws sso login`)."
    if isinstance(error, (bc.NoRegionError, bc.InvalidRegionError, bc.UnknownRegionError)):
        return (f"{text}. Remedy: pass --region (e.g. us-east-1), export AWS_DEFAULT_REGION, "
                "or set `region` in ~/.aws/config.")
    if isinstance(error, bc.ProfileNotFound):
        return f"{text}. Remedy: pass a profile from ~/.aws/config (`aws configure list-profiles`)."
    if isinstance(error, (bc.ReadTimeoutError, bc.ConnectionClosedError)):
        return f"{text}. Remedy: the network or AWS is slow; " + _RETRY
    if isinstance(error, bc.ConnectionError):
        return (f"AWS is unreachable: {text}. Remedy: check the network connection and the "
                f"region{_endpoint_hint()}.")
    if isinstance(error, bc.ParamValidationError):
        return (f"{text}. Remedy: change the option behind that parameter (sagegam should "
                "have refused it first; please report it).")
    return f"{type(error).__name__}: {text}. Remedy: {DEFAULT_REMEDY}"


def describe(error: Exception) -> str:
    """One line with a remedy for any botocore, boto3 or preflight error."""
    from botocore.exceptions import ClientError

    if isinstance(error, PreflightError):
        return str(error)
    if isinstance(error, ClientError):
        return explain(error)
    cause = error.__cause__ or error.__context__
    if type(error).__name__ == "S3UploadFailedError" and isinstance(cause, ClientError):
        where = one_line(str(error)).split(": An error occurred")[0]
        return f"{where}: {explain(cause)}"
    if type(error).__module__.startswith("botocore"):
        return _botocore_line(error)
    return f"{type(error).__name__}: {one_line(str(error))}. Remedy: {DEFAULT_REMEDY}"


def aws_exceptions() -> tuple[type[Exception], ...]:
    """The exception types :func:`api_errors` translates (boto3 imported only when asked)."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError, Boto3Error)


@contextmanager
def api_errors() -> Iterator[None]:
    """Turn any botocore/boto3 failure inside the block into a one-line PreflightError."""
    try:
        yield
    except aws_exceptions() as error:
        raise PreflightError(describe(error)) from error
