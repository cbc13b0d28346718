"""``sagegam aws ...``: push, train, deploy, invoke, transform, delete and ls on AWS.

Every command checks all its option values first (against botocore's service models and
SageMaker's documented limits, :mod:`sagegam.aws.validation`), before the first upload or
API call, and ends any failure in one line with a remedy. boto3 is imported only inside the
commands, so ``sagegam --help`` works without the ``aws`` extra.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sagegam.cli.aws_endpoint_commands import autoscale, delete, deploy, logs
from sagegam.cli.aws_support import (
    connect,
    one_line_errors,
    role_option,
    s3_uri,
    status,
    warn,
)
from sagegam.cli.options import (
    TransformOptions,
    custom_attributes,
    hyperparameter_option,
    transform_options,
    uncertainty_options,
)

CONTENT_TYPES = ["application/x-npy", "text/csv", "application/json", "application/jsonlines"]


@click.group("aws")
@click.option("--region", default=None, help="AWS region (default: your AWS config).")
@click.option("--profile", default=None, help="AWS profile name.")
@click.pass_context
def aws(ctx: click.Context, region: str | None, profile: str | None) -> None:
    """Push the image and run training, endpoints and batch transform on SageMaker."""
    ctx.obj = {"region": region, "profile": profile}


def _push_engine(preferred: str | None, local_image: str, dry_run: bool) -> tuple[str, bool]:
    """The engine push runs and whether it holds the image; a real push refuses a missing
    image or engine, a dry run names the engine it would use."""
    from sagegam.local.engines import EngineError, find_engine, has_image, require_image

    try:
        engine = find_engine(preferred)
    except EngineError:
        if not dry_run:
            raise
        return preferred or "docker", False
    if not dry_run:
        require_image(engine, local_image)
        return engine, True
    return engine, has_image(engine, local_image)


@aws.command()
@click.option("--image", "local_image", default="sagegam:latest", show_default=True,
              help="Local image to push (`sagegam image build` makes it).")
@click.option("--repository", default="sagegam", show_default=True, help="ECR repository.")
@click.option("--tag", default="latest", show_default=True, help="Tag in the repository.")
@click.option("--engine", type=click.Choice(["docker", "podman"]), default=None,
              help="Container engine; docker if its daemon answers, else podman.")
@click.option("--dry-run", is_flag=True,
              help="Print the image URI and the engine commands; change nothing.")
@click.pass_context
def push(ctx: click.Context, local_image: str, repository: str, tag: str, engine: str | None,
         dry_run: bool) -> None:
    """Push the image to ECR (repository created if needed) as Docker v2 schema 2.

    \b
    Example:
      sagegam aws push --image sagegam:latest --engine podman
    """
    from sagegam.aws import ecr, validation

    with one_line_errors():
        validation.check("push", {"--repository": repository, "--tag": tag})
        executable, image_present = _push_engine(engine, local_image, dry_run)
        session = connect(ctx)
        login = ecr.registry_login(session)
        if dry_run:
            uri = ecr.find_repository(session, repository)
            if uri is None:
                warn(f"note: the push would create the ECR repository {repository!r}.")
                uri = f"{login.registry}/{repository}"
        else:
            uri = ecr.ensure_repository(session, repository)
        remote = f"{uri}:{tag}"
        commands = ecr.push_commands(executable, login, local_image, remote)
        if dry_run:
            for command in commands:
                click.echo(" ".join(command))
            if not image_present:
                warn(f"note: {executable} has no image {local_image!r} yet: run "
                      f"`sagegam image build --tag {local_image}` before pushing.")
        else:
            ecr.run_push(commands, login.password)
            ecr.check_manifest(session, repository, tag)
    click.echo(remote)


@aws.command()
@click.option("--image", required=True, help="ECR image URI (from `sagegam aws push`).")
@role_option
@click.option("--train", "train_data", required=True, help="Local CSV file/dir or s3:// URI.")
@click.option("--validation", default=None, help="Local CSV file/dir or s3:// URI.")
@click.option("--content-type", default="text/csv", show_default=True,
              help="ContentType of the channels.")
@click.option("--output-path", default=None,
              help="s3:// prefix for the job's files (default: s3://sagemaker-REGION-ACCOUNT/"
                   "sagegam); the model lands in PREFIX/JOB/output/model.tar.gz.")
@click.option("--instance-type", default="ml.m5.large", show_default=True)
@click.option("--instance-count", default=1, show_default=True, type=int,
              help="Hosts: from 2 the train channel is sharded by S3 object (each host reads "
                   "its own files) and the first host fits; give a folder of files.")
@click.option("--max-runtime", default=3600, show_default=True, type=int,
              help="Seconds before SageMaker stops the job (at most 28 days).")
@hyperparameter_option
@click.option("--job-name", default="", help="Default: sagegam-TIMESTAMP (to the millisecond).")
@click.option("--wait/--no-wait", default=True, show_default=True)
@click.option("--poll", default=15.0, show_default=True, help="Seconds between status checks.")
@click.pass_context
def train(ctx: click.Context, image: str, role: str | None, train_data: str,
          validation: str | None, content_type: str, output_path: str | None,
          instance_type: str, instance_count: int, max_runtime: int,
          hyperparameters: dict[str, str], job_name: str, wait: bool, poll: float) -> None:
    """Upload data, start a training job, follow it and print the model artifact URI.

    \b
    Example:
      sagegam aws train --image $IMAGE --role $ROLE_ARN --train data/train.csv -H df=20
    """
    from sagegam.aws import s3
    from sagegam.aws import sagemaker as sm
    from sagegam.aws import validation as checks
    from sagegam.aws.roles import check_role

    with one_line_errors():
        name = job_name or sm.unique_name("sagegam")
        sources = {"train": train_data, **({"validation": validation} if validation else {})}
        for channel, source in sources.items():
            checks.check_source(f"--{channel}", source)
        checks.check("train", {
            "--job-name": name, "--image": image, "--role": role, "--train": s3_uri(train_data),
            "--validation": s3_uri(validation), "--content-type": content_type,
            "--output-path": output_path, "--instance-type": instance_type,
            "--instance-count": instance_count, "--max-runtime": max_runtime,
            "-H": hyperparameters})
        checks.check_hyperparameter_names(hyperparameters)
        session = connect(ctx)
        role_arn = check_role(session, role, warn=warn)
        if instance_count > 1 and Path(train_data).is_file():
            warn(f"{train_data} is one file: sharded by S3 object, only one of the "
                 f"{instance_count} hosts gets data. Split it into files (at least one per "
                 "host) in a folder.")
        local_data = any(not source.startswith("s3://") for source in sources.values())
        root = output_path or s3.default_root(s3.default_bucket(session))
        if local_data:
            warn(f"uploading to {s3.job_prefix(root, name)}/input/")
        request = sm.TrainingRequest(
            image=image, role_arn=role_arn, output_path=root, content_type=content_type,
            channels={channel: s3.upload(session, source, f"{s3.job_prefix(root, name)}"
                                         f"/input/{channel}")
                      for channel, source in sources.items()},
            instance_type=instance_type, instance_count=instance_count,
            max_runtime_seconds=max_runtime, hyperparameters=hyperparameters, job_name=name)
        sm.create_training_job(session, request)
        warn(f"training job {name} created")
        if not wait:
            click.echo(name)
            return
        state = sm.wait_training(session, name, poll=poll, on_status=status(name),
                                 on_log=warn)
    click.echo(state["ModelArtifacts"]["S3ModelArtifacts"])


@aws.command()
@click.option("--name", required=True, help="Endpoint name.")
@click.option("--input", "source", type=click.File("rb"), default="-", show_default=True,
              help="Request body file (- for stdin).")
@click.option("--content-type", type=click.Choice(CONTENT_TYPES), default="text/csv",
              show_default=True)
@click.option("--accept", default="application/json", show_default=True)
@click.option("--explain", is_flag=True, help="Ask for per-feature contributions too.")
@click.option("--labels", is_flag=True, help="Classifiers: labels instead of probabilities.")
@uncertainty_options
@click.option("--target-model", default=None, metavar="FILE",
              help="Multi-model endpoints: the model.tar.gz below the endpoint's prefix, e.g. "
                   "store-12.tar.gz.")
@click.pass_context
def invoke(ctx: click.Context, name: str, source: Any, content_type: str, accept: str,
           explain: bool, labels: bool, std: bool, interval: float | None,
           target_model: str | None) -> None:
    """Send one request body (at most 6 MB) to an endpoint and write the answer to stdout.

    \b
    Example:
      sagegam aws invoke --name gauss3 --content-type text/csv < data/test-features.csv
    """
    from sagegam.aws import sagemaker as sm
    from sagegam.aws import validation

    body = source.read()
    with one_line_errors():
        validation.check("invoke", {"--name": name, "--input": body,
                                    "--content-type": content_type, "--accept": accept,
                                    "--target-model": target_model})
        session = connect(ctx)
        attributes = custom_attributes(explain, labels, std, interval) or ""
        _, answer = sm.invoke(session, name, body, content_type, accept, attributes,
                              target_model)
    sys.stdout.buffer.write(answer)
    sys.stdout.flush()


@aws.command()
@click.option("--model", "model_name", required=True, help="SageMaker model (`aws deploy`).")
@click.option("--input", "input_uri", required=True, help="s3:// prefix or a local file/dir.")
@click.option("--output", "output_uri", default=None,
              help="s3:// prefix for the .out files (default: in the SDK's bucket).")
@transform_options
@click.option("--instance-type", default="ml.m5.large", show_default=True)
@click.option("--instance-count", default=1, show_default=True, type=int)
@click.option("--job-name", default="", help="Default: MODEL-TIMESTAMP (to the millisecond).")
@click.option("--wait/--no-wait", default=True, show_default=True)
@click.option("--poll", default=15.0, show_default=True, help="Seconds between status checks.")
@click.pass_context
def transform(ctx: click.Context, model_name: str, input_uri: str, output_uri: str | None,
              instance_type: str, instance_count: int, job_name: str, wait: bool,
              poll: float, transform: TransformOptions) -> None:
    """Run a batch transform job with the same options as `sagegam local transform`.

    \b
    Example:
      sagegam aws transform --model gauss3 --input data/test-features.csv --split-type Line
    """
    from sagegam.aws import s3, validation
    from sagegam.aws import sagemaker as sm

    with one_line_errors():
        name = job_name or sm.unique_name(model_name)
        validation.check_source("--input", input_uri)
        validation.check("transform", {
            "--job-name": name, "--model": model_name, "--input": s3_uri(input_uri),
            "--output": output_uri, "--content-type": transform.content_type,
            "--accept": transform.response_type, "--split-type": transform.split_type,
            "--batch-strategy": transform.batch_strategy,
            "--max-payload-mb": transform.max_payload_mb,
            "--max-concurrent": transform.max_concurrent or None,
            "--assemble-with": transform.assemble_with, "--join-source": transform.join_source,
            "--input-filter": transform.input_filter,
            "--output-filter": transform.output_filter, "--instance-type": instance_type,
            "--instance-count": instance_count})
        session = connect(ctx)
        needs_bucket = s3_uri(input_uri) is None or output_uri is None
        prefix = s3.job_prefix(s3.default_root(s3.default_bucket(session)), name) \
            if needs_bucket else ""
        request = sm.TransformRequest(
            model_name=model_name, input_uri=s3.upload(session, input_uri, f"{prefix}/input"),
            output_uri=output_uri or f"{prefix}/output", content_type=transform.content_type,
            accept=transform.response_type, split_type=transform.split_type,
            batch_strategy=transform.batch_strategy, max_payload_mb=transform.max_payload_mb,
            max_concurrent=transform.max_concurrent, assemble_with=transform.assemble_with,
            join_source=transform.join_source, input_filter=transform.input_filter,
            output_filter=transform.output_filter, instance_type=instance_type,
            instance_count=instance_count, job_name=name)
        sm.create_transform_job(session, request)
        warn(f"transform job {name} created")
        if wait:
            _wait_transform(session, name, poll)
    click.echo(request.output_uri)


def _wait_transform(session: Any, name: str, poll: float) -> None:
    from sagegam.aws import sagemaker as sm
    from sagegam.aws.errors import PreflightError

    client = session.client("sagemaker")
    state = sm.wait(lambda: client.describe_transform_job(TransformJobName=name),
                    "TransformJobStatus", {"Completed", "Failed", "Stopped"}, 86400, poll,
                    status(name))
    if state["TransformJobStatus"] != "Completed":
        raise PreflightError(
            f"transform job {name} {state['TransformJobStatus']}: "
            f"{state.get('FailureReason', 'no reason given')} Remedy: see the job's log in "
            f"CloudWatch (/aws/sagemaker/TransformJobs, streams {name}/...).")


@aws.command("ls")
@click.option("--json", "as_json", is_flag=True, help="One JSON list, for scripts.")
@click.pass_context
def ls(ctx: click.Context, as_json: bool) -> None:
    """List endpoints and running or stopping training/transform jobs (what bills).

    \b
    Example:
      sagegam aws ls
    """
    from sagegam.aws import inventory

    with one_line_errors():
        rows = inventory.running(connect(ctx))
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("nothing running")
    for row in rows:
        click.echo(f"{row['kind']:<14} {row['status']:<12} {row['name']}")


for command in (deploy, autoscale, logs, delete):
    aws.add_command(command)
