"""SageMaker: training jobs, models, endpoint configs, endpoints, invocations, transforms.

Each function makes the documented API calls and returns plain dicts/strings so the CLI and
the tests can read back exactly what was requested.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagegam.aws.session import Aws, PreflightError, api_errors, explain
from sagegam.container.training import METRIC_NAMES, METRIC_REGEX

# The training container prints one line per metric, ``metric: train_r2=0.996717;``, and
# owns the names and the regex; SageMaker publishes each regex's first capture group.
METRIC_DEFINITIONS: tuple[dict[str, str], ...] = tuple(
    {"Name": name, "Regex": METRIC_REGEX.format(name=name)} for name in METRIC_NAMES
)

CONTENT_TYPES = ("application/x-npy", "text/csv", "application/json", "application/jsonlines")
TERMINAL_TRAINING = {"Completed", "Failed", "Stopped"}


def unique_name(prefix: str) -> str:
    """Name within SageMaker's 63 characters, unique per second like the SDK's."""
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())
    return f"{prefix[: 63 - len(stamp) - 1]}-{stamp}"


def split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise PreflightError(f"expected an s3:// URI, got {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def default_bucket(aws: Aws) -> str:
    """sagemaker-<region>-<account>, the SDK's default bucket, created if missing."""
    with api_errors():
        account = aws.client("sts").get_caller_identity()["Account"]
        bucket = f"sagemaker-{aws.region}-{account}"
        s3 = aws.client("s3")
        names = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if bucket not in names:
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if aws.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": aws.region}
            s3.create_bucket(**kwargs)
    return bucket


def upload(aws: Aws, source: str, bucket: str, prefix: str) -> str:
    """Return an s3:// URI for ``source``: passed through if already one, else uploaded."""
    if source.startswith("s3://"):
        return source
    path = Path(source)
    if not path.exists():
        raise PreflightError(f"data path {source!r} does not exist")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    base = path.parent if path.is_file() else path
    s3 = aws.client("s3")
    with api_errors():
        for file in files:
            s3.upload_file(str(file), bucket, f"{prefix}/{file.relative_to(base).as_posix()}")
    key = f"{prefix}/{path.name}" if path.is_file() else prefix
    return f"s3://{bucket}/{key}"


@dataclass
class TrainingRequest:
    image: str
    role_arn: str
    channels: Mapping[str, str]  # channel name -> s3:// URI
    output_path: str
    content_type: str = "text/csv"
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    volume_gb: int = 10
    max_runtime_seconds: int = 3600
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    job_name: str = ""

    def to_api(self) -> dict[str, Any]:
        return {
            "TrainingJobName": self.job_name or unique_name("sagegam"),
            "AlgorithmSpecification": {
                "TrainingImage": self.image,
                "TrainingInputMode": "File",
                "MetricDefinitions": [dict(d) for d in METRIC_DEFINITIONS],
            },
            "RoleArn": self.role_arn,
            # SageMaker only accepts strings; JSON keeps lists/bools readable for the container.
            "HyperParameters": {
                k: v if isinstance(v, str) else json.dumps(v)
                for k, v in self.hyperparameters.items()
            },
            "InputDataConfig": [
                {
                    "ChannelName": name,
                    "ContentType": self.content_type,
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": uri,
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
                for name, uri in self.channels.items()
            ],
            "OutputDataConfig": {"S3OutputPath": self.output_path},
            "ResourceConfig": {
                "InstanceType": self.instance_type,
                "InstanceCount": self.instance_count,
                "VolumeSizeInGB": self.volume_gb,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": self.max_runtime_seconds},
        }


def create_training_job(aws: Aws, request: TrainingRequest) -> str:
    body = request.to_api()
    with api_errors():
        aws.client("sagemaker").create_training_job(**body)
    return str(body["TrainingJobName"])


def wait(
    describe: Callable[[], dict[str, Any]],
    status_key: str,
    done: set[str],
    timeout: float,
    poll: float,
    on_status: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Poll ``describe`` until its status is in ``done``; report every change of status."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        with api_errors():
            state = describe()
        status = str(state[status_key])
        if status != last and on_status is not None:
            on_status(status)
        last = status
        if status in done:
            return state
        if time.monotonic() > deadline:
            raise PreflightError(f"still {status} after {timeout:.0f}s; it keeps running on AWS")
        time.sleep(poll)


class LogFollower:
    """New CloudWatch lines of a training job's streams on each call (like `aws logs tail`)."""

    GROUP = "/aws/sagemaker/TrainingJobs"

    def __init__(self, aws: Aws, job_name: str) -> None:
        self._logs = aws.client("logs")
        self._prefix = f"{job_name}/"
        self._tokens: dict[str, str] = {}

    def new_lines(self) -> list[str]:
        from botocore.exceptions import ClientError

        lines: list[str] = []
        try:
            streams = self._logs.describe_log_streams(
                logGroupName=self.GROUP, logStreamNamePrefix=self._prefix
            ).get("logStreams", [])
            for stream in streams:
                name = str(stream["logStreamName"])
                kwargs: dict[str, Any] = {"startFromHead": True}
                if name in self._tokens:
                    kwargs["nextToken"] = self._tokens[name]
                page = self._logs.get_log_events(
                    logGroupName=self.GROUP, logStreamName=name, **kwargs
                )
                lines.extend(str(event["message"]) for event in page.get("events", []))
                self._tokens[name] = str(page["nextForwardToken"])
        except ClientError as error:
            # The group and streams appear only once the instances start; not an error.
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise PreflightError(explain(error)) from error
        return lines


def wait_training(
    aws: Aws,
    job_name: str,
    timeout: float = 86400,
    poll: float = 15,
    on_status: Callable[[str], None] | None = None,
    on_log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Follow a training job's status and log until it ends; raise unless Completed."""
    sm = aws.client("sagemaker")
    follower = LogFollower(aws, job_name)

    def describe() -> dict[str, Any]:
        state: dict[str, Any] = sm.describe_training_job(TrainingJobName=job_name)
        if on_log is not None:
            for line in follower.new_lines():
                on_log(line)
        return state

    state = wait(describe, "TrainingJobStatus", TERMINAL_TRAINING, timeout, poll, on_status)
    if on_log is not None:  # lines flushed after the final status
        for line in follower.new_lines():
            on_log(line)
    if state["TrainingJobStatus"] != "Completed":
        reason = state.get("FailureReason", "no reason given")
        raise PreflightError(f"training job {job_name} {state['TrainingJobStatus']}: {reason}")
    return state


def deploy(
    aws: Aws,
    *,
    name: str,
    image: str,
    model_data: str,
    role_arn: str,
    instance_type: str = "ml.m5.large",
    instance_count: int = 1,
    environment: Mapping[str, str] | None = None,
    wait_timeout: float = 1800,
    poll: float = 15,
    on_status: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Create model, endpoint config and endpoint (all named ``name``); wait for InService."""
    sm = aws.client("sagemaker")
    with api_errors():
        sm.create_model(
            ModelName=name,
            PrimaryContainer={
                "Image": image,
                "ModelDataUrl": model_data,
                "Environment": dict(environment or {}),
            },
            ExecutionRoleArn=role_arn,
        )
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": name,
                    "InitialInstanceCount": instance_count,
                    "InstanceType": instance_type,
                    "InitialVariantWeight": 1.0,
                }
            ],
        )
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    state = wait(
        lambda: sm.describe_endpoint(EndpointName=name),
        "EndpointStatus",
        {"InService", "Failed", "OutOfService"},
        wait_timeout,
        poll,
        on_status,
    )
    if state["EndpointStatus"] != "InService":
        raise PreflightError(
            f"endpoint {name} is {state['EndpointStatus']}: {state.get('FailureReason', '')}"
        )
    return state


def encode(rows: Sequence[Sequence[float]], content_type: str) -> bytes:
    """Serialize a 2-D batch the way the SageMaker SDK's serializers do for each type."""
    import numpy as np

    if content_type == "application/x-npy":
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(rows, dtype=float), allow_pickle=False)
        return buffer.getvalue()
    if content_type == "text/csv":
        return "\n".join(",".join(repr(float(v)) for v in row) for row in rows).encode()
    if content_type == "application/json":
        return json.dumps([list(map(float, row)) for row in rows]).encode()
    if content_type == "application/jsonlines":
        return "\n".join(json.dumps(list(map(float, row))) for row in rows).encode()
    raise PreflightError(f"content type {content_type!r} is not one of {', '.join(CONTENT_TYPES)}")


def invoke(
    aws: Aws, endpoint: str, body: bytes, content_type: str, accept: str, attributes: str = ""
) -> tuple[str, bytes]:
    """InvokeEndpoint; returns (response content type, body)."""
    with api_errors():
        answer = aws.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=endpoint,
            Body=body,
            ContentType=content_type,
            Accept=accept,
            # The serving container reads explain=/output= from this header (docs/serving.md).
            **({"CustomAttributes": attributes} if attributes else {}),
        )
    return str(answer.get("ContentType", "")), bytes(answer["Body"].read())


@dataclass
class TransformRequest:
    model_name: str
    input_uri: str
    output_uri: str
    content_type: str = "text/csv"
    accept: str = "text/csv"
    split_type: str = "Line"
    batch_strategy: str = "MultiRecord"
    max_payload_mb: int = 6
    max_concurrent: int = 1
    assemble_with: str = "Line"
    join_source: str = "None"
    input_filter: str = "$"
    output_filter: str = "$"
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    job_name: str = ""

    def check(self) -> None:
        """The limits SageMaker rejects, reported before the call (contract §4.3/4.4)."""
        if not 0 <= self.max_payload_mb <= 100:
            raise PreflightError("--max-payload-mb must be between 0 and 100")
        if self.max_concurrent * self.max_payload_mb > 100:
            raise PreflightError(
                "--max-concurrent x --max-payload-mb must be at most 100 "
                f"(got {self.max_concurrent} x {self.max_payload_mb})"
            )
        if self.split_type == "None" and self.batch_strategy == "MultiRecord":
            raise PreflightError("--batch-strategy MultiRecord needs --split-type Line")
        if self.join_source == "Input" and (self.split_type, self.assemble_with) != (
            "Line",
            "Line",
        ):
            raise PreflightError(
                "--join-source Input needs --split-type Line and --assemble-with Line"
            )

    def to_api(self) -> dict[str, Any]:
        self.check()
        return {
            "TransformJobName": self.job_name or unique_name(self.model_name),
            "ModelName": self.model_name,
            "MaxConcurrentTransforms": self.max_concurrent,
            "MaxPayloadInMB": self.max_payload_mb,
            "BatchStrategy": self.batch_strategy,
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": self.input_uri}},
                "ContentType": self.content_type,
                "SplitType": self.split_type,
            },
            "TransformOutput": {
                "S3OutputPath": self.output_uri,
                "Accept": self.accept,
                "AssembleWith": self.assemble_with,
            },
            "TransformResources": {
                "InstanceType": self.instance_type,
                "InstanceCount": self.instance_count,
            },
            "DataProcessing": {
                "InputFilter": self.input_filter,
                "OutputFilter": self.output_filter,
                "JoinSource": self.join_source,
            },
        }


def create_transform_job(aws: Aws, request: TransformRequest) -> str:
    body = request.to_api()
    with api_errors():
        aws.client("sagemaker").create_transform_job(**body)
    return str(body["TransformJobName"])


def delete(aws: Aws, name: str) -> list[str]:
    """Delete endpoint, endpoint config and model called ``name``; return what was deleted."""
    sm = aws.client("sagemaker")
    from botocore.exceptions import ClientError

    deleted: list[str] = []
    calls: tuple[tuple[str, Callable[[], Any]], ...] = (
        ("endpoint", lambda: sm.delete_endpoint(EndpointName=name)),
        ("endpoint config", lambda: sm.delete_endpoint_config(EndpointConfigName=name)),
        ("model", lambda: sm.delete_model(ModelName=name)),
    )
    for kind, call in calls:
        try:
            call()
            deleted.append(f"{kind} {name}")
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            message = error.response.get("Error", {}).get("Message", "")
            # Missing pieces are fine (a half-finished deploy); anything else is reported.
            missing = code in ("ValidationException", "ResourceNotFound") and (
                "not exist" in message
                or "not found" in message.lower()
                or "could not find" in message.lower()
            )
            if not missing:
                raise PreflightError(explain(error)) from error
    return deleted


def running(aws: Aws) -> list[dict[str, str]]:
    """What bills: endpoints, in-progress training and transform jobs, with their status."""
    sm = aws.client("sagemaker")
    rows: list[dict[str, str]] = []
    with api_errors():
        for e in sm.list_endpoints()["Endpoints"]:
            rows.append(
                {"kind": "endpoint", "name": e["EndpointName"], "status": e["EndpointStatus"]}
            )
        for t in sm.list_training_jobs(StatusEquals="InProgress")["TrainingJobSummaries"]:
            rows.append(
                {
                    "kind": "training job",
                    "name": t["TrainingJobName"],
                    "status": t["TrainingJobStatus"],
                }
            )
        for t in sm.list_transform_jobs(StatusEquals="InProgress")["TransformJobSummaries"]:
            rows.append(
                {
                    "kind": "transform job",
                    "name": t["TransformJobName"],
                    "status": t["TransformJobStatus"],
                }
            )
    return rows
