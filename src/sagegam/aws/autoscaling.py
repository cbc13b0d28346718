"""Application Auto Scaling of an endpoint's instances, by invocations per instance.

SageMaker publishes ``SageMakerVariantInvocationsPerInstance`` each minute; a target
tracking policy adds instances when it stays above the target and removes them when it
stays below, between the registered minimum and maximum. Serverless endpoints scale by
themselves (``--max-concurrency``) and cannot be registered.
"""

from __future__ import annotations

from typing import Any

from sagegam.aws.endpoints import VARIANT, current_config
from sagegam.aws.errors import PreflightError, api_errors
from sagegam.aws.session import Aws

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"
SCALE_IN_COOLDOWN = 300  # seconds: remove instances slowly, a burst may come back
SCALE_OUT_COOLDOWN = 60


def resource_id(name: str) -> str:
    return f"endpoint/{name}/variant/{VARIANT}"


def policy_name(name: str) -> str:
    return f"{name}-invocations-per-instance"


def _check_scalable(aws: Aws, name: str) -> None:
    config = current_config(aws, name)
    if config is None:
        raise PreflightError(f"There is no endpoint {name!r} to autoscale. Remedy: deploy it "
                             "first (`sagegam aws deploy`), or check the name and region.")
    with api_errors():
        variants = aws.client("sagemaker").describe_endpoint_config(
            EndpointConfigName=config)["ProductionVariants"]
    if any("ServerlessConfig" in variant for variant in variants):
        raise PreflightError(f"Endpoint {name!r} is serverless: it scales by itself up to "
                             "its --max-concurrency. Remedy: deploy it with --max-concurrency "
                             "instead, or on instances to autoscale them.")


def autoscale(aws: Aws, name: str, minimum: int, maximum: int, target: float) -> str:
    """Register the variant's instance count between ``minimum`` and ``maximum`` and track
    ``target`` invocations per instance per minute; return the policy's ARN."""
    if minimum > maximum:
        raise PreflightError(f"--min {minimum} is above --max {maximum}; the minimum "
                             "instance count must be at most the maximum.")
    _check_scalable(aws, name)
    scaling = aws.client("application-autoscaling")
    target_of: dict[str, Any] = {"ServiceNamespace": NAMESPACE,
                                 "ResourceId": resource_id(name), "ScalableDimension": DIMENSION}
    with api_errors():
        scaling.register_scalable_target(**target_of, MinCapacity=minimum, MaxCapacity=maximum)
        policy = scaling.put_scaling_policy(
            **target_of, PolicyName=policy_name(name), PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": float(target),
                "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC},
                "ScaleInCooldown": SCALE_IN_COOLDOWN, "ScaleOutCooldown": SCALE_OUT_COOLDOWN})
    return str(policy["PolicyARN"])


def deregister(aws: Aws, name: str) -> bool:
    """Remove the endpoint's scalable target (and with it its policies), if it has one."""
    scaling = aws.client("application-autoscaling")
    with api_errors():
        found = scaling.describe_scalable_targets(
            ServiceNamespace=NAMESPACE, ResourceIds=[resource_id(name)],
            ScalableDimension=DIMENSION)["ScalableTargets"]
        if not found:
            return False
        scaling.deregister_scalable_target(ServiceNamespace=NAMESPACE,
                                           ResourceId=resource_id(name),
                                           ScalableDimension=DIMENSION)
    return True
