"""S3: the default bucket, where each job's data goes, and uploads.

A training job's files live under one root, ``--output-path`` or else
``s3://sagemaker-REGION-ACCOUNT/sagegam`` in the SageMaker SDK's default bucket: its
uploaded inputs under ``ROOT/JOB/input/CHANNEL/``, and SageMaker, given ``ROOT`` as the
output path, writes ``ROOT/JOB/output/model.tar.gz`` itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sagegam.aws.errors import PreflightError, api_errors, error_code
from sagegam.aws.session import Aws

PREFIX = "sagegam"


def split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise PreflightError(f"expected an s3:// URI, got {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def default_root(bucket: str) -> str:
    """sagegam's prefix in a bucket: ``s3://BUCKET/sagegam``."""
    return f"s3://{bucket}/{PREFIX}"


def job_prefix(root: str, job: str) -> str:
    """Where a job's files go below ``root``; SageMaker writes ``ROOT/JOB/output/`` itself."""
    return f"{root.rstrip('/')}/{job}"


def default_bucket(aws: Aws) -> str:
    """sagemaker-<region>-<account>, the SDK's default bucket, created if missing."""
    from botocore.exceptions import ClientError

    s3 = aws.client("s3")
    with api_errors():
        account = aws.client("sts").get_caller_identity()["Account"]
        bucket = f"sagemaker-{aws.region}-{account}"
        try:
            s3.head_bucket(Bucket=bucket)
            return bucket
        except ClientError as error:
            code = error_code(error)
            if code not in ("404", "NoSuchBucket", "NotFound"):
                raise PreflightError(
                    f"HeadBucket on the default bucket {bucket} failed: {code} (another "
                    "account's bucket, or no s3:ListBucket). Remedy: pass an s3:// path in a "
                    "bucket of yours (--output-path for train, --output for transform)."
                ) from error
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if aws.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": aws.region}
        s3.create_bucket(**kwargs)
    return bucket


def upload(aws: Aws, source: str, destination: str) -> str:
    """An s3:// URI for ``source``: passed through if already one, else uploaded below
    ``destination`` (an s3:// prefix); a file keeps its name, a folder its layout."""
    if source.startswith("s3://"):
        return source
    path = Path(source)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    base = path.parent if path.is_file() else path
    bucket, prefix = split_s3(destination)
    s3 = aws.client("s3")
    with api_errors():
        for file in files:
            s3.upload_file(str(file), bucket, f"{prefix}/{file.relative_to(base).as_posix()}")
    return f"{destination}/{path.name}" if path.is_file() else destination
