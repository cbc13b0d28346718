"""What each ``sagegam aws`` command sends: option -> API field, plus SageMaker's own limits.

:data:`FIELDS` names, for every command, the request field each option's value lands in
(``operation`` and a dotted ``path``; ``[]`` steps into a list). The constraints of those
fields come from botocore's service model (:mod:`sagegam.aws.validation`);
:data:`DOCUMENTED` adds the limits SageMaker documents but the model does not carry.
``tests/aws/test_validation.py`` fails when an option that reaches a request is missing
here, or when a field's value in a recorded request is not the option's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    option: str  # as the user types it, e.g. "--instance-type"
    operation: str  # e.g. "CreateTrainingJob"
    path: str  # e.g. "ResourceConfig.InstanceType"; "InputDataConfig[].ContentType"
    service: str = "sagemaker"


@dataclass(frozen=True)
class Extra:
    """A limit SageMaker documents for a field on top of its service-model shape."""

    minimum: int | None = None
    maximum: int | None = None
    scheme: str | None = None  # the URI scheme sagegam sends, e.g. "s3://"
    pattern: str | None = None
    step: int | None = None  # numbers: a multiple of this
    why: str = ""


_TRAIN, _TRANSFORM = "CreateTrainingJob", "CreateTransformJob"
_S3_INPUT = "InputDataConfig[].DataSource.S3DataSource.S3Uri"
_SERVERLESS = "ProductionVariants[].ServerlessConfig"
_SCALING = "application-autoscaling"
# `aws logs NAME` reads /aws/sagemaker/Endpoints/NAME: NAME is checked as this field.
ENDPOINT_NAME = Field("NAME", "DescribeEndpoint", "EndpointName")

FIELDS: dict[str, tuple[Field, ...]] = {
    "train": (
        Field("--job-name", _TRAIN, "TrainingJobName"),
        Field("--image", _TRAIN, "AlgorithmSpecification.TrainingImage"),
        Field("--role", _TRAIN, "RoleArn"),
        Field("--train", _TRAIN, _S3_INPUT),
        Field("--validation", _TRAIN, _S3_INPUT),
        Field("--content-type", _TRAIN, "InputDataConfig[].ContentType"),
        Field("--output-path", _TRAIN, "OutputDataConfig.S3OutputPath"),
        Field("--instance-type", _TRAIN, "ResourceConfig.InstanceType"),
        Field("--instance-count", _TRAIN, "ResourceConfig.InstanceCount"),
        Field("--max-runtime", _TRAIN, "StoppingCondition.MaxRuntimeInSeconds"),
        Field("-H", _TRAIN, "HyperParameters"),
    ),
    "deploy": (
        Field("--name", "CreateModel", "ModelName"),
        Field("--name", "CreateEndpointConfig", "EndpointConfigName"),
        Field("--name", "CreateEndpoint", "EndpointName"),
        Field("--image", "CreateModel", "PrimaryContainer.Image"),
        Field("--model-data", "CreateModel", "PrimaryContainer.ModelDataUrl"),
        Field("--multi-model", "CreateModel", "PrimaryContainer.ModelDataUrl"),
        Field("--role", "CreateModel", "ExecutionRoleArn"),
        Field("--instance-type", "CreateEndpointConfig", "ProductionVariants[].InstanceType"),
        Field("--instance-count", "CreateEndpointConfig",
              "ProductionVariants[].InitialInstanceCount"),
        Field("--serverless-memory", "CreateEndpointConfig", _SERVERLESS + ".MemorySizeInMB"),
        Field("--max-concurrency", "CreateEndpointConfig", _SERVERLESS + ".MaxConcurrency"),
        Field("--async-output", "CreateEndpointConfig",
              "AsyncInferenceConfig.OutputConfig.S3OutputPath"),
        Field("--env", "CreateModel", "PrimaryContainer.Environment"),
    ),
    "autoscale": (
        Field("NAME", "DescribeEndpoint", "EndpointName"),
        Field("--min", "RegisterScalableTarget", "MinCapacity", _SCALING),
        Field("--max", "RegisterScalableTarget", "MaxCapacity", _SCALING),
        Field("--target-invocations", "PutScalingPolicy",
              "TargetTrackingScalingPolicyConfiguration.TargetValue", _SCALING),
    ),
    "invoke": (
        Field("--name", "InvokeEndpoint", "EndpointName", "sagemaker-runtime"),
        Field("--input", "InvokeEndpoint", "Body", "sagemaker-runtime"),
        Field("--content-type", "InvokeEndpoint", "ContentType", "sagemaker-runtime"),
        Field("--accept", "InvokeEndpoint", "Accept", "sagemaker-runtime"),
        Field("--target-model", "InvokeEndpoint", "TargetModel", "sagemaker-runtime"),
    ),
    "transform": (
        Field("--job-name", _TRANSFORM, "TransformJobName"),
        Field("--model", _TRANSFORM, "ModelName"),
        Field("--input", _TRANSFORM, "TransformInput.DataSource.S3DataSource.S3Uri"),
        Field("--output", _TRANSFORM, "TransformOutput.S3OutputPath"),
        Field("--content-type", _TRANSFORM, "TransformInput.ContentType"),
        Field("--accept", _TRANSFORM, "TransformOutput.Accept"),
        Field("--split-type", _TRANSFORM, "TransformInput.SplitType"),
        Field("--batch-strategy", _TRANSFORM, "BatchStrategy"),
        Field("--max-payload-mb", _TRANSFORM, "MaxPayloadInMB"),
        Field("--max-concurrent", _TRANSFORM, "MaxConcurrentTransforms"),
        Field("--assemble-with", _TRANSFORM, "TransformOutput.AssembleWith"),
        Field("--join-source", _TRANSFORM, "DataProcessing.JoinSource"),
        Field("--input-filter", _TRANSFORM, "DataProcessing.InputFilter"),
        Field("--output-filter", _TRANSFORM, "DataProcessing.OutputFilter"),
        Field("--instance-type", _TRANSFORM, "TransformResources.InstanceType"),
        Field("--instance-count", _TRANSFORM, "TransformResources.InstanceCount"),
    ),
    "delete": (
        Field("--name", "DeleteEndpoint", "EndpointName"),
        Field("--name", "DeleteEndpointConfig", "EndpointConfigName"),
        Field("--name", "DeleteModel", "ModelName"),
    ),
    "push": (
        Field("--repository", "DescribeRepositories", "repositoryNames[]", "ecr"),
        Field("--repository", "CreateRepository", "repositoryName", "ecr"),
        # The tag reaches ECR through the engine's push (PutImage), not through boto3.
        Field("--tag", "PutImage", "imageTag", "ecr"),
    ),
}

_S3 = Extra(scheme="s3://", why="sagegam reads and writes S3 only")
DOCUMENTED: dict[tuple[str, str], Extra] = {
    (_TRAIN, "ResourceConfig.InstanceCount"): Extra(
        minimum=1, why="a training job needs an instance"),
    (_TRAIN, "StoppingCondition.MaxRuntimeInSeconds"): Extra(
        maximum=28 * 24 * 3600, why="28 days is SageMaker's longest training job"),
    (_TRANSFORM, "MaxPayloadInMB"): Extra(
        minimum=1, maximum=100,
        why="100 MB is SageMaker's limit; 0 (chunked bodies) makes the container refuse "
            "every mini-batch"),
    ("CreateEndpointConfig", _SERVERLESS + ".MemorySizeInMB"): Extra(
        step=1024, why="serverless memory comes in steps of 1 GB, 1024 to 6144 MB"),
    ("CreateEndpointConfig", "AsyncInferenceConfig.OutputConfig.S3OutputPath"): _S3,
    ("RegisterScalableTarget", "MinCapacity"): Extra(
        minimum=1, why="an endpoint on instances keeps at least one"),
    (_TRAIN, _S3_INPUT): _S3,
    (_TRAIN, "OutputDataConfig.S3OutputPath"): _S3,
    ("CreateModel", "PrimaryContainer.ModelDataUrl"): _S3,
    (_TRANSFORM, "TransformInput.DataSource.S3DataSource.S3Uri"): _S3,
    (_TRANSFORM, "TransformOutput.S3OutputPath"): _S3,
    ("PutImage", "imageTag"): Extra(
        pattern=r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
        why="Docker's tag grammar: letters, digits, _ . -, not starting with . or -, at most "
            "128 characters"),
}
