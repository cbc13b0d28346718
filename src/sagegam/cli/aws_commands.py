"""``sagegam aws ...``: push, train, deploy, invoke, transform, delete and ls on AWS.

boto3 is imported only inside the commands (via sagegam.aws), so ``sagegam --help`` works
without the ``aws`` extra.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

ROLE_ENV = "SAGEGAM_ROLE_ARN"


@contextmanager
def _one_line_errors() -> Iterator[None]:
    from sagegam.aws.session import PreflightError

    try:
        yield
    except PreflightError as error:
        raise click.ClickException(str(error)) from error


def _connect(ctx: click.Context) -> Any:
    from sagegam.aws.session import connect

    return connect(region=ctx.obj.get("region"), profile=ctx.obj.get("profile"))


def _status(what: str) -> Callable[[str], None]:
    return lambda status: click.echo(f"{what}: {status}", err=True)


@click.group("aws")
@click.option("--region", default=None, help="AWS region (default: your AWS config).")
@click.option("--profile", default=None, help="AWS profile name.")
@click.pass_context
def aws(ctx: click.Context, region: str | None, profile: str | None) -> None:
    """Push the image and run training, endpoints and batch transform on SageMaker."""
    ctx.obj = {"region": region, "profile": profile}


@aws.command()
@click.option("--image", "local_image", default="sagegam:latest", show_default=True)
@click.option("--repository", default="sagegam", show_default=True)
@click.option("--tag", default="latest", show_default=True)
@click.option("--engine", type=click.Choice(["docker", "podman"]), default=None)
@click.option("--dry-run", is_flag=True, help="Print the engine commands instead of running them.")
@click.pass_context
def push(
    ctx: click.Context,
    local_image: str,
    repository: str,
    tag: str,
    engine: str | None,
    dry_run: bool,
) -> None:
    """Create the ECR repository if needed, log in, tag and push the image.

    \b
    Example:
      sagegam aws push --image sagegam:latest --engine podman
    """
    from sagegam.aws import ecr
    from sagegam.aws.session import container_engine

    with _one_line_errors():
        executable = container_engine(engine)
        session = _connect(ctx)
        uri = ecr.ensure_repository(session, repository)
        login = ecr.registry_login(session)
        remote = f"{uri}:{tag}"
        commands = ecr.push_commands(executable, login, local_image, remote)
        if dry_run:
            for command in commands:
                click.echo(" ".join(command))
        else:
            ecr.run_push(commands, login.password)
    click.echo(remote)


def _parse_hyperparameters(pairs: tuple[str, ...]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="-H")
        parsed[key] = value
    return parsed


@aws.command()
@click.option("--image", required=True, help="ECR image URI (from `sagegam aws push`).")
@click.option("--role", envvar=ROLE_ENV, default=None, help=f"Execution role ARN [env {ROLE_ENV}].")
@click.option("--train", "train_data", required=True, help="Local CSV file/dir or s3:// URI.")
@click.option("--validation", default=None, help="Local CSV file/dir or s3:// URI.")
@click.option("--content-type", default="text/csv", show_default=True)
@click.option("--output-path", default=None, help="s3:// prefix (default: the SDK's bucket).")
@click.option("--instance-type", default="ml.m5.large", show_default=True)
@click.option("--instance-count", default=1, show_default=True, type=int)
@click.option("--max-runtime", default=3600, show_default=True, type=int, help="Seconds.")
@click.option("-H", "--hyperparameter", "hyperparameters", multiple=True, help="KEY=VALUE.")
@click.option("--job-name", default="")
@click.option("--wait/--no-wait", default=True, show_default=True)
@click.option("--poll", default=15.0, show_default=True, help="Seconds between status checks.")
@click.pass_context
def train(
    ctx: click.Context,
    image: str,
    role: str | None,
    train_data: str,
    validation: str | None,
    content_type: str,
    output_path: str | None,
    instance_type: str,
    instance_count: int,
    max_runtime: int,
    hyperparameters: tuple[str, ...],
    job_name: str,
    wait: bool,
    poll: float,
) -> None:
    """Upload data, start a training job, follow it and print the model artifact URI.

    \b
    Example:
      sagegam aws train --image $IMAGE --role $ROLE_ARN --train data/train.csv -H df=20
    """
    from sagegam.aws import sagemaker as sm
    from sagegam.aws.session import check_role

    params = _parse_hyperparameters(hyperparameters)
    with _one_line_errors():
        session = _connect(ctx)
        role_arn = check_role(session, role)
        needs_bucket = output_path is None or not all(
            s.startswith("s3://") for s in (train_data, validation) if s
        )
        bucket = sm.default_bucket(session) if needs_bucket else ""
        name = job_name or sm.unique_name("sagegam")
        channels = {"train": sm.upload(session, train_data, bucket, f"{name}/input/train")}
        if validation:
            channels["validation"] = sm.upload(
                session, validation, bucket, f"{name}/input/validation"
            )
        request = sm.TrainingRequest(
            image=image,
            role_arn=role_arn,
            channels=channels,
            output_path=output_path or f"s3://{bucket}/{name}/output",
            content_type=content_type,
            instance_type=instance_type,
            instance_count=instance_count,
            max_runtime_seconds=max_runtime,
            hyperparameters=params,
            job_name=name,
        )
        sm.create_training_job(session, request)
        click.echo(f"training job {name} created", err=True)
        if not wait:
            click.echo(name)
            return
        state = sm.wait_training(
            session,
            name,
            poll=poll,
            on_status=_status(name),
            on_log=lambda line: click.echo(line, err=True),
        )
    click.echo(state["ModelArtifacts"]["S3ModelArtifacts"])


@aws.command()
@click.option("--name", required=True, help="Name for the model, endpoint config and endpoint.")
@click.option("--image", required=True)
@click.option("--model-data", required=True, help="s3://.../model.tar.gz from `aws train`.")
@click.option("--role", envvar=ROLE_ENV, default=None, help=f"Execution role ARN [env {ROLE_ENV}].")
@click.option("--instance-type", default="ml.m5.large", show_default=True)
@click.option("--instance-count", default=1, show_default=True, type=int)
@click.option("--timeout", default=1800.0, show_default=True, help="Seconds to wait for InService.")
@click.option("--poll", default=15.0, show_default=True)
@click.pass_context
def deploy(
    ctx: click.Context,
    name: str,
    image: str,
    model_data: str,
    role: str | None,
    instance_type: str,
    instance_count: int,
    timeout: float,
    poll: float,
) -> None:
    """Create model, endpoint config and endpoint; wait until InService.

    \b
    Example:
      sagegam aws deploy --name gauss3 --image $IMAGE --model-data s3://b/job/output/model.tar.gz
    """
    from sagegam.aws import sagemaker as sm
    from sagegam.aws.session import check_role

    with _one_line_errors():
        session = _connect(ctx)
        role_arn = check_role(session, role)
        state = sm.deploy(
            session,
            name=name,
            image=image,
            model_data=model_data,
            role_arn=role_arn,
            instance_type=instance_type,
            instance_count=instance_count,
            wait_timeout=timeout,
            poll=poll,
            on_status=_status(name),
        )
    click.echo(state["EndpointArn"])


@aws.command()
@click.option("--name", required=True, help="Endpoint name.")
@click.option(
    "--input",
    "input_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    show_default=True,
    help="Request body file (- for stdin).",
)
@click.option(
    "--content-type",
    type=click.Choice(
        ["application/x-npy", "text/csv", "application/json", "application/jsonlines"]
    ),
    default="text/csv",
    show_default=True,
)
@click.option("--accept", default="application/json", show_default=True)
@click.option("--explain", is_flag=True, help="Ask for per-feature contributions too.")
@click.option("--labels", is_flag=True, help="Classifiers: labels instead of probabilities.")
@click.pass_context
def invoke(
    ctx: click.Context,
    name: str,
    input_path: str,
    content_type: str,
    accept: str,
    explain: bool,
    labels: bool,
) -> None:
    """Send one request body to an endpoint and write the response body to stdout.

    \b
    Example:
      sagegam aws invoke --name gauss3 --content-type text/csv < data/test-features.csv
    """
    from sagegam.aws import sagemaker as sm

    stream = click.open_file(input_path, "rb")
    with stream:
        body = stream.read()
    with _one_line_errors():
        session = _connect(ctx)
        attributes = ",".join(
            flag for flag, on in (("explain=true", explain), ("output=label", labels)) if on
        )
        _, answer = sm.invoke(session, name, body, content_type, accept, attributes)
    sys.stdout.buffer.write(answer)
    sys.stdout.flush()


@aws.command()
@click.option("--model", "model_name", required=True)
@click.option("--input", "input_uri", required=True, help="s3:// prefix or a local file/dir.")
@click.option("--output", "output_uri", default=None, help="s3:// prefix for the .out files.")
@click.option("--content-type", default="text/csv", show_default=True)
@click.option("--accept", default="text/csv", show_default=True)
@click.option(
    "--split-type", type=click.Choice(["None", "Line"]), default="Line", show_default=True
)
@click.option(
    "--batch-strategy",
    type=click.Choice(["SingleRecord", "MultiRecord"]),
    default="MultiRecord",
    show_default=True,
)
@click.option("--max-payload-mb", default=6, show_default=True, type=int)
@click.option("--max-concurrent", default=1, show_default=True, type=int)
@click.option(
    "--assemble-with", type=click.Choice(["None", "Line"]), default="Line", show_default=True
)
@click.option(
    "--join-source", type=click.Choice(["None", "Input"]), default="None", show_default=True
)
@click.option("--input-filter", default="$", show_default=True)
@click.option("--output-filter", default="$", show_default=True)
@click.option("--instance-type", default="ml.m5.large", show_default=True)
@click.option("--instance-count", default=1, show_default=True, type=int)
@click.option("--job-name", default="")
@click.option("--wait/--no-wait", default=True, show_default=True)
@click.option("--poll", default=15.0, show_default=True)
@click.pass_context
def transform(
    ctx: click.Context,
    model_name: str,
    input_uri: str,
    output_uri: str | None,
    content_type: str,
    accept: str,
    split_type: str,
    batch_strategy: str,
    max_payload_mb: int,
    max_concurrent: int,
    assemble_with: str,
    join_source: str,
    input_filter: str,
    output_filter: str,
    instance_type: str,
    instance_count: int,
    job_name: str,
    wait: bool,
    poll: float,
) -> None:
    """Run a batch transform job with the same options as `sagegam local transform`.

    \b
    Example:
      sagegam aws transform --model gauss3 --input data/test-features.csv --split-type Line
    """
    from sagegam.aws import sagemaker as sm

    with _one_line_errors():
        session = _connect(ctx)
        name = job_name or sm.unique_name(model_name)
        local_input = not input_uri.startswith("s3://")
        bucket = sm.default_bucket(session) if local_input or output_uri is None else ""
        request = sm.TransformRequest(
            model_name=model_name,
            input_uri=sm.upload(session, input_uri, bucket, f"{name}/input"),
            output_uri=output_uri or f"s3://{bucket}/{name}/output",
            content_type=content_type,
            accept=accept,
            split_type=split_type,
            batch_strategy=batch_strategy,
            max_payload_mb=max_payload_mb,
            max_concurrent=max_concurrent,
            assemble_with=assemble_with,
            join_source=join_source,
            input_filter=input_filter,
            output_filter=output_filter,
            instance_type=instance_type,
            instance_count=instance_count,
            job_name=name,
        )
        sm.create_transform_job(session, request)
        click.echo(f"transform job {name} created", err=True)
        if wait:
            client = session.client("sagemaker")
            state = sm.wait(
                lambda: client.describe_transform_job(TransformJobName=name),
                "TransformJobStatus",
                {"Completed", "Failed", "Stopped"},
                86400,
                poll,
                _status(name),
            )
            if state["TransformJobStatus"] != "Completed":
                raise click.ClickException(
                    f"transform job {name} {state['TransformJobStatus']}: "
                    f"{state.get('FailureReason', 'no reason given')}"
                )
    click.echo(request.output_uri)


@aws.command()
@click.option("--name", required=True, help="Endpoint, endpoint config and model name.")
@click.pass_context
def delete(ctx: click.Context, name: str) -> None:
    """Delete the endpoint, its endpoint config and its model (stops the billing).

    \b
    Example:
      sagegam aws delete --name gauss3
    """
    from sagegam.aws import sagemaker as sm

    with _one_line_errors():
        deleted = sm.delete(_connect(ctx), name)
    for item in deleted:
        click.echo(f"deleted {item}")
    if not deleted:
        click.echo(f"nothing named {name} to delete")


@aws.command("ls")
@click.option("--json", "as_json", is_flag=True, help="One JSON list, for scripts.")
@click.pass_context
def ls(ctx: click.Context, as_json: bool) -> None:
    """List endpoints and in-progress training/transform jobs (what is billing).

    \b
    Example:
      sagegam aws ls
    """
    from sagegam.aws import sagemaker as sm

    with _one_line_errors():
        rows = sm.running(_connect(ctx))
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("nothing running")
    for row in rows:
        click.echo(f"{row['kind']:<14} {row['status']:<12} {row['name']}")
