"""``sagegam aws deploy / autoscale / logs / delete``: an endpoint's life on SageMaker."""

from __future__ import annotations

import click

from sagegam.aws.endpoints import DEFAULT_MAX_CONCURRENCY
from sagegam.cli.aws_support import connect, one_line_errors, role_option, status, warn
from sagegam.cli.options import key_values


@click.command()
@click.option("--name", required=True,
              help="Endpoint name; a first deploy names the model and endpoint config alike.")
@click.option("--image", required=True, help="ECR image URI (from `sagegam aws push`).")
@click.option("--model-data", default=None, help="s3://.../model.tar.gz from `aws train`.")
@click.option("--multi-model", default=None, metavar="S3_PREFIX",
              help="A multi-model endpoint instead: s3:// prefix whose model.tar.gz files are "
                   "loaded on demand (`invoke --target-model FILE`).")
@role_option
@click.option("--instance-type", default=None,
              help="Hosting instance type [default: ml.m5.large; none when serverless].")
@click.option("--instance-count", default=None, type=int,
              help="Instances [default: 1; none when serverless].")
@click.option("--serverless-memory", type=int, default=None, metavar="MB",
              help="Serverless Inference with this much memory (1024 to 6144, in steps of "
                   "1024): no instances, billed per request.")
@click.option("--max-concurrency", type=int, default=None,
              help=f"Serverless: concurrent requests before throttling "
                   f"[default: {DEFAULT_MAX_CONCURRENCY}].")
@click.option("--async-output", default=None, metavar="S3_URI",
              help="Asynchronous inference: requests queue, results land under this s3:// "
                   "prefix (bodies up to 1 GB).")
@click.option("--env", "environment", multiple=True, metavar="KEY=VALUE", callback=key_values,
              help="An environment variable of the serving container (repeatable), e.g. "
                   "SAGEMAKER_MAX_PAYLOAD_IN_MB=20.")
@click.option("--timeout", default=1800.0, show_default=True, help="Seconds to wait for InService.")
@click.option("--poll", default=15.0, show_default=True, help="Seconds between status checks.")
@click.pass_context
def deploy(ctx: click.Context, name: str, image: str, model_data: str | None,
           multi_model: str | None, role: str | None,
           instance_type: str | None, instance_count: int | None,
           serverless_memory: int | None, max_concurrency: int | None,
           async_output: str | None, environment: dict[str, str], timeout: float,
           poll: float) -> None:
    """Create the endpoint, or update an existing one in place; wait until InService.

    An existing endpoint gets a new model and endpoint config (NAME-TIMESTAMP) through
    UpdateEndpoint, and keeps answering while SageMaker swaps the instances; the config
    it ran before is deleted, with its model, once the new one is InService.

    \b
    Examples:
      sagegam aws deploy --name gauss3 --image $IMAGE --model-data s3://b/job/output/model.tar.gz
      sagegam aws deploy --name gauss3 --image $IMAGE --model-data $MODEL --serverless-memory 2048
      sagegam aws deploy --name stores --image $IMAGE --multi-model s3://b/store-models/
    """
    from sagegam.aws import endpoints, validation
    from sagegam.aws.roles import check_role

    with one_line_errors():
        endpoints.check_combination(instance_type, instance_count, serverless_memory,
                                    max_concurrency, async_output)
        endpoints.check_model_source(model_data, multi_model, serverless_memory)
        validation.check("deploy", {
            "--name": name, "--image": image, "--model-data": model_data,
            "--multi-model": multi_model, "--role": role,
            "--instance-type": instance_type, "--instance-count": instance_count,
            "--serverless-memory": serverless_memory, "--max-concurrency": max_concurrency,
            "--async-output": async_output, "--env": environment or None})
        session = connect(ctx)
        request = endpoints.Deployment(
            name=name, image=image, model_data=str(model_data or multi_model),
            multi_model=multi_model is not None,
            role_arn=check_role(session, role, warn=warn),
            instance_type=instance_type or "ml.m5.large", instance_count=instance_count or 1,
            environment=environment, serverless_memory_mb=serverless_memory,
            max_concurrency=max_concurrency, async_output=async_output)
        state = endpoints.deploy(session, request, wait_timeout=timeout, poll=poll,
                                 on_status=status(name),
                                 on_removed=lambda item: warn(f"deleted {item}"))
    click.echo(state["EndpointArn"])


@click.command()
@click.argument("name")
@click.option("--min", "minimum", required=True, type=int, help="Fewest instances.")
@click.option("--max", "maximum", required=True, type=int, help="Most instances.")
@click.option("--target-invocations", required=True, type=float,
              help="Invocations per instance per minute to hold (target tracking on "
                   "SageMakerVariantInvocationsPerInstance).")
@click.pass_context
def autoscale(ctx: click.Context, name: str, minimum: int, maximum: int,
              target_invocations: float) -> None:
    """Scale an endpoint's instances with its traffic (Application Auto Scaling).

    \b
    Example:
      sagegam aws autoscale gauss3 --min 1 --max 4 --target-invocations 1000
    """
    from sagegam.aws import autoscaling, validation

    with one_line_errors():
        validation.check("autoscale", {"NAME": name, "--min": minimum, "--max": maximum,
                                       "--target-invocations": target_invocations})
        arn = autoscaling.autoscale(connect(ctx), name, minimum, maximum, target_invocations)
    click.echo(arn)


@click.command()
@click.argument("name")
@click.pass_context
def logs(ctx: click.Context, name: str) -> None:
    """Print an endpoint's CloudWatch log (/aws/sagemaker/Endpoints/NAME), every stream.

    \b
    Example:
      sagegam aws logs gauss3
    """
    from sagegam.aws import validation
    from sagegam.aws.fields import ENDPOINT_NAME
    from sagegam.aws.sagemaker import ENDPOINT_LOGS, endpoint_log

    with one_line_errors():
        validation.check_one(ENDPOINT_NAME, name)
        lines = endpoint_log(connect(ctx), name)
    if lines is None:
        raise click.ClickException(
            f"No log group {ENDPOINT_LOGS.format(name=name)}: the endpoint never started a "
            f"container in this region. Remedy: check the name and --region "
            f"(`sagegam aws ls`).")
    for line in lines:
        click.echo(line)


@click.command()
@click.option("--name", required=True, help="Endpoint, endpoint config and model name.")
@click.pass_context
def delete(ctx: click.Context, name: str) -> None:
    """Delete the endpoint, its autoscaling, its endpoint config and model (stops billing).

    \b
    Example:
      sagegam aws delete --name gauss3
    """
    from sagegam.aws import endpoints, validation

    with one_line_errors():
        validation.check("delete", {"--name": name})
        deleted = endpoints.delete(connect(ctx), name)
    for item in deleted:
        click.echo(f"deleted {item}")
    if not deleted:
        click.echo(f"nothing named {name} to delete")
