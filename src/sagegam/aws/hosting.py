"""Endpoints and batch transform on SageMaker: create, wait, invoke, delete, list."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sagegam.aws.session import Aws, explain


@dataclass(frozen=True)
class Deployment:
    name: str  # used for the model, the endpoint config and the endpoint
    image: str
    model_data: str  # s3://.../model.tar.gz
    role_arn: str
    instance_type: str = "ml.m5.large"
    instance_count: int = 1


def deploy(aws: Aws, deployment: Deployment) -> None:
    sagemaker = aws.client("sagemaker")
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("Creating model", lambda: sagemaker.create_model(
            ModelName=deployment.name, ExecutionRoleArn=deployment.role_arn,
            PrimaryContainer={"Image": deployment.image,
                              "ModelDataUrl": deployment.model_data})),
        ("Creating endpoint config", lambda: sagemaker.create_endpoint_config(
            EndpointConfigName=deployment.name,
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": deployment.name,
                                 "InitialInstanceCount": deployment.instance_count,
                                 "InstanceType": deployment.instance_type}])),
        ("Creating endpoint", lambda: sagemaker.create_endpoint(
            EndpointName=deployment.name, EndpointConfigName=deployment.name)),
    ]
    for action, call in steps:
        try:
            call()
        except Exception as error:
            raise explain(error, f"{action} {deployment.name!r}") from None


def wait_in_service(aws: Aws, name: str, poll_seconds: float = 15.0,
                    timeout: float = 3600) -> dict[str, Any]:
    sagemaker = aws.client("sagemaker")
    deadline = time.monotonic() + timeout
    while True:
        description = sagemaker.describe_endpoint(EndpointName=name)
        if description["EndpointStatus"] in ("InService", "Failed") or \
                time.monotonic() > deadline:
            return dict(description)
        time.sleep(poll_seconds)


def invoke(aws: Aws, name: str, body: bytes, content_type: str, accept: str | None = None,
           custom_attributes: str | None = None) -> tuple[bytes, str]:
    parameters: dict[str, Any] = {"EndpointName": name, "Body": body,
                                  "ContentType": content_type}
    if accept:
        parameters["Accept"] = accept
    if custom_attributes:
        parameters["CustomAttributes"] = custom_attributes
    try:
        response = aws.client("sagemaker-runtime").invoke_endpoint(**parameters)
    except Exception as error:
        raise explain(error, f"Invoking endpoint {name!r}") from None
    return response["Body"].read(), str(response.get("ContentType", ""))


@dataclass(frozen=True)
class TransformRequest:
    name: str
    model_name: str
    input_uri: str
    output_uri: str
    content_type: str = "text/csv"
    split_type: str = "Line"
    batch_strategy: str = "MultiRecord"
    max_payload_mb: int = 6
    max_concurrent: int = 0
    accept: str | None = None
    assemble_with: str = "Line"
    join_source: str = "None"
    input_filter: str | None = None
    output_filter: str | None = None
    instance_type: str = "ml.m5.large"
    instance_count: int = 1


def create_transform_job(aws: Aws, request: TransformRequest) -> dict[str, Any]:
    processing = {"JoinSource": request.join_source}
    if request.input_filter:
        processing["InputFilter"] = request.input_filter
    if request.output_filter:
        processing["OutputFilter"] = request.output_filter
    parameters: dict[str, Any] = {
        "TransformJobName": request.name, "ModelName": request.model_name,
        "BatchStrategy": request.batch_strategy, "MaxPayloadInMB": request.max_payload_mb,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                           "S3Uri": request.input_uri}},
                           "ContentType": request.content_type,
                           "SplitType": request.split_type},
        "TransformOutput": {"S3OutputPath": request.output_uri,
                            "Accept": request.accept or request.content_type,
                            "AssembleWith": request.assemble_with},
        "TransformResources": {"InstanceType": request.instance_type,
                               "InstanceCount": request.instance_count},
        "DataProcessing": processing,
    }
    if request.max_concurrent:
        parameters["MaxConcurrentTransforms"] = request.max_concurrent
    try:
        aws.client("sagemaker").create_transform_job(**parameters)
    except Exception as error:
        raise explain(error, f"Creating transform job {request.name!r}") from None
    return parameters


def delete(aws: Aws, name: str) -> list[str]:
    """Delete the endpoint, its config and its model; says which existed."""
    sagemaker = aws.client("sagemaker")
    deleted = []
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("endpoint", lambda: sagemaker.delete_endpoint(EndpointName=name)),
        ("endpoint config", lambda: sagemaker.delete_endpoint_config(EndpointConfigName=name)),
        ("model", lambda: sagemaker.delete_model(ModelName=name))]
    for kind, call in steps:
        try:
            call()
            deleted.append(kind)
        except Exception as error:
            if "Could not find" not in str(error) and "ValidationException" not in str(error):
                raise explain(error, f"Deleting {kind} {name!r}") from None
    return deleted


def running(aws: Aws) -> dict[str, list[dict[str, Any]]]:
    """What runs and bills now: endpoints, and training and transform jobs in progress."""
    sagemaker = aws.client("sagemaker")
    return {
        "endpoints": sagemaker.list_endpoints()["Endpoints"],
        "training_jobs": sagemaker.list_training_jobs(StatusEquals="InProgress")
        ["TrainingJobSummaries"],
        "transform_jobs": sagemaker.list_transform_jobs(StatusEquals="InProgress")
        ["TransformJobSummaries"],
    }
