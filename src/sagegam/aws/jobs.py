"""Training on SageMaker: data to S3, CreateTrainingJob, following it to the end."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagegam.aws.session import Aws, AwsError, explain
from sagegam.container.training import METRIC_NAMES, METRIC_REGEX

TERMINAL = ("Completed", "Failed", "Stopped")


def metric_definitions() -> list[dict[str, str]]:
    """The regexes matching the metric lines `train` prints (docs/training.md)."""
    return [{"Name": name, "Regex": METRIC_REGEX.format(name=name)} for name in METRIC_NAMES]


def default_bucket(aws: Aws) -> str:
    account = aws.client("sts").get_caller_identity()["Account"]
    return f"sagegam-{account}-{aws.region}"


def ensure_bucket(aws: Aws, bucket: str) -> None:
    s3 = aws.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except Exception:
        pass
    try:
        if aws.region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket,
                             CreateBucketConfiguration={"LocationConstraint": aws.region})
    except Exception as error:
        raise explain(error, f"Creating bucket {bucket!r}") from None


def upload(aws: Aws, source: str, bucket: str, prefix: str) -> str:
    """An s3:// URI stays as it is; a local file or folder is uploaded under the prefix."""
    if source.startswith("s3://"):
        return source
    path = Path(source)
    if not path.exists():
        raise AwsError(f"{source} is neither an s3:// URI nor an existing path.")
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    s3 = aws.client("s3")
    for file in files:
        key = f"{prefix}/{file.relative_to(path) if path.is_dir() else file.name}"
        try:
            s3.upload_file(str(file), bucket, key)
        except Exception as error:
            raise explain(error, f"Uploading {file} to s3://{bucket}/{key}") from None
    return f"s3://{bucket}/{prefix}/"


@dataclass(frozen=True)
class TrainingRequest:
    name: str
    image: str
    role_arn: str
    channels: Mapping[str, str]  # channel -> s3 URI
    output_path: str
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    content_types: Mapping[str, str] = field(default_factory=dict)
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    max_runtime_seconds: int = 3600


def create_training_job(aws: Aws, request: TrainingRequest) -> dict[str, Any]:
    parameters = {
        "TrainingJobName": request.name,
        "AlgorithmSpecification": {"TrainingImage": request.image, "TrainingInputMode": "File",
                                   "MetricDefinitions": metric_definitions()},
        "RoleArn": request.role_arn,
        # SageMaker takes hyperparameters as strings, and so does `train`.
        "HyperParameters": {str(k): str(v) for k, v in request.hyperparameters.items()},
        "InputDataConfig": [
            {"ChannelName": channel,
             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri,
                                             "S3DataDistributionType": "FullyReplicated"}},
             **({"ContentType": request.content_types[channel]}
                if channel in request.content_types else {})}
            for channel, uri in request.channels.items()],
        "OutputDataConfig": {"S3OutputPath": request.output_path},
        "ResourceConfig": {"InstanceType": request.instance_type,
                           "InstanceCount": request.instance_count, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": request.max_runtime_seconds},
    }
    try:
        aws.client("sagemaker").create_training_job(**parameters)
    except Exception as error:
        raise explain(error, f"Creating training job {request.name!r}") from None
    return parameters


def wait_for_training(aws: Aws, name: str, on_status: Callable[[str], None] = print,
                      poll_seconds: float = 15.0, timeout: float = 86_400) -> dict[str, Any]:
    sagemaker = aws.client("sagemaker")
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        description = sagemaker.describe_training_job(TrainingJobName=name)
        status = f"{description['TrainingJobStatus']} ({description.get('SecondaryStatus', '')})"
        if status != last:
            on_status(status)
            last = status
        if description["TrainingJobStatus"] in TERMINAL or time.monotonic() > deadline:
            return dict(description)
        time.sleep(poll_seconds)
