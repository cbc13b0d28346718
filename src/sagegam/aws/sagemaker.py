"""SageMaker: training jobs, invocations and transforms (endpoints: :mod:`sagegam.aws.endpoints`).

Each function makes the documented API calls and returns plain dicts/strings so the CLI and
the tests can read back exactly what was requested. Option values are checked before any
of these run (:mod:`sagegam.aws.validation`).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sagegam.aws.errors import PreflightError, api_errors, error_code, explain
from sagegam.aws.session import Aws
from sagegam.container.metrics import METRIC_NAMES, METRIC_REGEX

# The training container prints one line per metric, ``metric: train_r2=0.996717;``, and
# owns the names and the regex; SageMaker publishes each regex's first capture group.
METRIC_DEFINITIONS: tuple[dict[str, str], ...] = tuple(
    {"Name": name, "Regex": METRIC_REGEX.format(name=name)} for name in METRIC_NAMES
)

CONTENT_TYPES = ("application/x-npy", "text/csv", "application/json", "application/jsonlines")
TERMINAL_TRAINING = {"Completed", "Failed", "Stopped"}
NAME_LIMIT = 63


def unique_name(prefix: str) -> str:
    """``PREFIX-YYYY-MM-DD-HH-MM-SS-mmm`` within SageMaker's 63 characters, unique per
    millisecond like the SDK's names."""
    now = datetime.now(timezone.utc)
    stamp = now.strftime("%Y-%m-%d-%H-%M-%S-") + f"{now.microsecond // 1000:03d}"
    return f"{prefix[: NAME_LIMIT - len(stamp) - 1].rstrip('-')}-{stamp}"


@dataclass
class TrainingRequest:
    image: str
    role_arn: str
    channels: Mapping[str, str]  # channel name -> s3:// URI
    output_path: str  # SageMaker writes OUTPUT_PATH/JOB/output/model.tar.gz
    content_type: str = "text/csv"
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    volume_gb: int = 10
    max_runtime_seconds: int = 3600
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    job_name: str = ""

    def distribution(self, channel: str) -> str:
        """Several hosts share the train channel's objects (each host reads its own, see
        docs/training.md); other channels, and one host, get every object."""
        return "ShardedByS3Key" if channel == "train" and self.instance_count > 1 else \
            "FullyReplicated"

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
                            "S3DataDistributionType": self.distribution(name),
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
            raise PreflightError(
                f"still {status} after {timeout:.0f}s; it keeps running (and billing) on AWS. "
                "Remedy: wait with a longer --timeout, or stop it (`sagegam aws ls`)."
            )
        time.sleep(poll)


TRAINING_LOGS = "/aws/sagemaker/TrainingJobs"  # streams JOB/algo-N-TIME
ENDPOINT_LOGS = "/aws/sagemaker/Endpoints/{name}"  # streams VARIANT/INSTANCE


class LogFollower:
    """New CloudWatch lines of a log group's streams on each call (like `aws logs tail`)."""

    def __init__(self, aws: Aws, group: str, prefix: str = "") -> None:
        self._logs = aws.client("logs")
        self._group = group
        self._prefix = prefix
        self._tokens: dict[str, str] = {}

    def _streams(self) -> list[str]:
        prefix = {"logStreamNamePrefix": self._prefix} if self._prefix else {}
        pages = self._logs.get_paginator("describe_log_streams").paginate(
            logGroupName=self._group, **prefix)
        return [str(s["logStreamName"]) for page in pages for s in page.get("logStreams", [])]

    def _stream_lines(self, name: str) -> list[str]:
        lines: list[str] = []
        while True:  # a page may hold only part of what is there; read until the end
            kwargs: dict[str, Any] = {"startFromHead": True}
            if name in self._tokens:
                kwargs["nextToken"] = self._tokens[name]
            page = self._logs.get_log_events(logGroupName=self._group, logStreamName=name,
                                             **kwargs)
            events = page.get("events", [])
            lines.extend(str(event["message"]) for event in events)
            # At the end of a stream the service hands back the token it was given.
            ended = not events or page["nextForwardToken"] == self._tokens.get(name)
            self._tokens[name] = str(page["nextForwardToken"])
            if ended:
                return lines

    def read(self) -> list[str]:
        """New lines since the last call; botocore's ClientError if there is no group."""
        return [line for stream in self._streams() for line in self._stream_lines(stream)]

    def new_lines(self) -> list[str]:
        from botocore.exceptions import ClientError

        try:
            return self.read()
        except ClientError as error:
            # The group and streams appear only once the instances start; not an error.
            if error_code(error) != "ResourceNotFoundException":
                raise PreflightError(explain(error)) from error
        return []


def endpoint_log(aws: Aws, name: str) -> list[str] | None:
    """Every line of the endpoint's log group, stream by stream; None without the group."""
    from botocore.exceptions import ClientError

    follower = LogFollower(aws, ENDPOINT_LOGS.format(name=name))
    try:
        return follower.read()
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None
        raise PreflightError(explain(error)) from error


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
    follower = LogFollower(aws, TRAINING_LOGS, f"{job_name}/")

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
        raise PreflightError(
            f"training job {job_name} {state['TrainingJobStatus']}: {reason} Remedy: the "
            "reason above is the container's; see docs/training.md for its errors."
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
    aws: Aws, endpoint: str, body: bytes, content_type: str, accept: str, attributes: str = "",
    target_model: str | None = None,
) -> tuple[str, bytes]:
    """InvokeEndpoint (of ``target_model`` on a multi-model endpoint); returns (response
    content type, body)."""
    runtime = aws.client("sagemaker-runtime")
    with api_errors():
        answer = runtime.invoke_endpoint(
            EndpointName=endpoint,
            Body=body,
            ContentType=content_type,
            Accept=accept,
            # The serving container reads explain=/output=/std=/interval= from this header
            # (docs/serving.md).
            **({"CustomAttributes": attributes} if attributes else {}),
            **({"TargetModel": target_model} if target_model else {}),
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
    max_concurrent: int = 0  # 0: SageMaker asks the container (/execution-parameters)
    assemble_with: str = "Line"
    join_source: str = "None"
    input_filter: str = "$"
    output_filter: str = "$"
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    job_name: str = ""

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "TransformJobName": self.job_name or unique_name(self.model_name),
            "ModelName": self.model_name,
            "MaxPayloadInMB": self.max_payload_mb,
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
        # A batch strategy applies only to split input; unsplit files go one per request.
        if self.split_type != "None":
            body["BatchStrategy"] = self.batch_strategy
        if self.max_concurrent:
            body["MaxConcurrentTransforms"] = self.max_concurrent
        return body


def create_transform_job(aws: Aws, request: TransformRequest) -> str:
    body = request.to_api()
    with api_errors():
        aws.client("sagemaker").create_transform_job(**body)
    return str(body["TransformJobName"])
