"""Endpoints: created, or updated in place; on instances, serverless or asynchronous.

A first deploy names the model, the endpoint config and the endpoint alike. Deploying to a
name that already has an endpoint makes a new model and endpoint config (``NAME-TIME``),
points the endpoint at them with ``UpdateEndpoint`` (SageMaker swaps the instances
blue/green, so the endpoint keeps answering), and once it is InService removes the config
it replaced and that config's models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sagegam.aws.errors import PreflightError, api_errors
from sagegam.aws.inventory import CONFIGS, ENDPOINTS, MODELS, exists
from sagegam.aws.sagemaker import unique_name, wait
from sagegam.aws.session import Aws

VARIANT = "AllTraffic"
MULTI_MODEL_VARIABLE = "SAGEMAKER_MULTI_MODEL"  # the image serves /models with it
DEFAULT_MAX_CONCURRENCY = 5
ENDPOINT_DONE = {"InService", "Failed", "OutOfService"}


@dataclass
class Deployment:
    name: str  # of the endpoint; of the model and config too on the first deploy
    image: str
    model_data: str
    role_arn: str
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    environment: Mapping[str, str] = field(default_factory=dict)
    serverless_memory_mb: int | None = None  # set: a serverless variant, no instances
    max_concurrency: int | None = None
    async_output: str | None = None  # set: asynchronous inference, results to this prefix
    multi_model: bool = False  # model_data is an s3:// prefix of model.tar.gz files

    def model(self, model_name: str) -> dict[str, Any]:
        container: dict[str, Any] = {"Image": self.image, "ModelDataUrl": self.model_data,
                                     "Environment": dict(self.environment)}
        if self.multi_model:  # SageMaker loads each TargetModel from below the prefix
            container["Mode"] = "MultiModel"
            container["Environment"] = {MULTI_MODEL_VARIABLE: "true", **container["Environment"]}
        return {"ModelName": model_name, "ExecutionRoleArn": self.role_arn,
                "PrimaryContainer": container}

    def variant(self, model_name: str) -> dict[str, Any]:
        variant: dict[str, Any] = {"VariantName": VARIANT, "ModelName": model_name}
        if self.serverless_memory_mb is not None:
            variant["ServerlessConfig"] = {
                "MemorySizeInMB": self.serverless_memory_mb,
                "MaxConcurrency": self.max_concurrency or DEFAULT_MAX_CONCURRENCY}
            return variant
        return {**variant, "InitialInstanceCount": self.instance_count,
                "InstanceType": self.instance_type, "InitialVariantWeight": 1.0}

    def endpoint_config(self, config_name: str, model_name: str) -> dict[str, Any]:
        config: dict[str, Any] = {"EndpointConfigName": config_name,
                                  "ProductionVariants": [self.variant(model_name)]}
        if self.async_output is not None:
            config["AsyncInferenceConfig"] = {
                "OutputConfig": {"S3OutputPath": self.async_output}}
        return config


def current_config(aws: Aws, name: str) -> str | None:
    """The endpoint config the endpoint ``name`` runs, or None when there is no endpoint."""
    sm = aws.client("sagemaker")
    with api_errors():
        if not exists(sm, ENDPOINTS, name):
            return None
        return str(sm.describe_endpoint(EndpointName=name)["EndpointConfigName"])


def deploy(aws: Aws, request: Deployment, wait_timeout: float = 1800, poll: float = 15,
           on_status: Callable[[str], None] | None = None,
           on_removed: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Create the endpoint, or update it in place; return its description once InService."""
    sm, name = aws.client("sagemaker"), request.name
    previous = current_config(aws, name)
    parts = name if previous is None else unique_name(name)
    with api_errors():
        sm.create_model(**request.model(parts))
        sm.create_endpoint_config(**request.endpoint_config(parts, parts))
        if previous is None:
            sm.create_endpoint(EndpointName=name, EndpointConfigName=parts)
        else:
            sm.update_endpoint(EndpointName=name, EndpointConfigName=parts)
    state = _wait_in_service(aws, name, wait_timeout, poll, on_status)
    if previous is not None and previous != parts:
        for removed in retire(aws, previous):
            if on_removed is not None:
                on_removed(removed)
    return state


def _wait_in_service(aws: Aws, name: str, timeout: float, poll: float,
                     on_status: Callable[[str], None] | None) -> dict[str, Any]:
    sm = aws.client("sagemaker")
    state = wait(lambda: sm.describe_endpoint(EndpointName=name), "EndpointStatus",
                 ENDPOINT_DONE, timeout, poll, on_status)
    if state["EndpointStatus"] != "InService":
        raise PreflightError(
            f"endpoint {name} is {state['EndpointStatus']}: {state.get('FailureReason', '')} "
            f"Remedy: read its log (`sagegam aws logs {name}`), then deploy again or "
            f"`sagegam aws delete --name {name}`.")
    return state


def retire(aws: Aws, config_name: str) -> list[str]:
    """Delete an endpoint config no endpoint runs any more, and the models it named."""
    sm = aws.client("sagemaker")
    with api_errors():
        if not exists(sm, CONFIGS, config_name):  # already gone: nothing of it to remove
            return []
        variants = sm.describe_endpoint_config(
            EndpointConfigName=config_name)["ProductionVariants"]
        sm.delete_endpoint_config(EndpointConfigName=config_name)
        removed = [f"endpoint config {config_name}"]
        for model in sorted({str(variant["ModelName"]) for variant in variants}):
            sm.delete_model(ModelName=model)
            removed.append(f"model {model}")
    return removed


def delete(aws: Aws, name: str) -> list[str]:
    """Delete the endpoint ``name`` with its autoscaling, the config it runs and that
    config's models, and whatever else is named ``name`` (what a half-finished deploy
    left); return what was deleted."""
    from sagegam.aws.autoscaling import deregister

    sm = aws.client("sagemaker")
    deleted: list[str] = []
    config = current_config(aws, name)
    if config is not None:
        if deregister(aws, name):
            deleted.append(f"autoscaling of {name}")
        with api_errors():
            sm.delete_endpoint(EndpointName=name)
        deleted.append(f"endpoint {name}")
        deleted += retire(aws, config)
    deleted += [item for item in retire(aws, name) if item not in deleted]
    with api_errors():
        if f"model {name}" not in deleted and exists(sm, MODELS, name):
            sm.delete_model(ModelName=name)
            deleted.append(f"model {name}")
    return deleted


def check_combination(instance_type: str | None, instance_count: int | None,
                      serverless_memory: int | None, max_concurrency: int | None,
                      async_output: str | None) -> None:
    """The deploy options SageMaker refuses together, refused here first."""
    if serverless_memory is None:
        if max_concurrency is not None:
            raise PreflightError("--max-concurrency applies to serverless endpoints only: "
                                 "add --serverless-memory MB, or drop it.")
        return
    given = [option for option, value in (("--instance-type", instance_type),
                                          ("--instance-count", instance_count),
                                          ("--async-output", async_output)) if value]
    if given:
        raise PreflightError(f"{' and '.join(given)} cannot go with --serverless-memory: a "
                             "serverless endpoint has no instances and answers synchronously.")


def check_model_source(model_data: str | None, multi_model: str | None,
                       serverless_memory: int | None) -> None:
    """One model (--model-data) or a prefix of many (--multi-model), not both or neither."""
    if (model_data is None) == (multi_model is None):
        raise PreflightError("Give --model-data s3://.../model.tar.gz for one model, or "
                             "--multi-model s3://PREFIX/ for a multi-model endpoint.")
    if multi_model is not None and serverless_memory is not None:
        raise PreflightError("--multi-model cannot go with --serverless-memory: SageMaker "
                             "hosts multi-model endpoints on instances only.")
