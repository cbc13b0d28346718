"""``sagegam aws``: push, train, deploy, invoke, transform, delete and list on SageMaker."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

region_option = click.option("--region", envvar="AWS_REGION", default=None,
                             help="AWS region; AWS_REGION / AWS_DEFAULT_REGION / your profile.")
role_option = click.option("--role", envvar="SAGEGAM_ROLE", default=None,
                           help="Execution role (name or ARN) SageMaker assumes; $SAGEGAM_ROLE.")
instance_option = click.option("--instance-type", default="ml.m5.large", show_default=True)


def _aws(region: str | None) -> Any:
    from sagegam.aws.preflight import check_credentials
    from sagegam.aws.session import Aws

    aws = Aws(region)
    check_credentials(aws)
    return aws


def _run(action: Any) -> Any:
    from sagegam.aws.session import AwsError

    try:
        return action()
    except AwsError as error:
        raise click.ClickException(str(error)) from None


@click.group()
def aws() -> None:
    """Run the lifecycle on Amazon SageMaker (needs sagegam[aws] and credentials).

    Every command checks credentials, region and role first and says what is missing
    before anything is billed.
    """


@aws.command()
@click.option("--image", default="sagegam:latest", show_default=True, help="Local image.")
@click.option("--repository", default="sagegam", show_default=True, help="ECR repository.")
@click.option("--tag", default="latest", show_default=True)
@click.option("--engine", type=click.Choice(["docker", "podman"]), default=None)
@region_option
def push(image: str, repository: str, tag: str, engine: str | None, region: str | None) -> None:
    """Push the local image to ECR, creating the repository if needed.

    \b
    Example:
      sagegam image build && sagegam aws push --region eu-west-1
    """
    from sagegam.aws import registry
    from sagegam.local.engines import EngineError, find_engine

    try:
        chosen = find_engine(engine)
    except EngineError as error:
        raise click.ClickException(f"push needs a container engine. {error}") from None
    uri = _run(lambda: registry.push(_aws(region), chosen, image, repository, tag))
    click.echo(f"pushed {uri}")


@aws.command()
@click.argument("name")
@click.option("--image", required=True, help="ECR image URI (from `sagegam aws push`).")
@click.option("--train", "train_data", required=True, help="Local path or s3:// URI.")
@click.option("--validation", default=None, help="Local path or s3:// URI.")
@click.option("--hyperparameter", "-p", multiple=True, metavar="KEY=VALUE")
@click.option("--content-type", default=None, help="ContentType of the channels.")
@click.option("--bucket", default=None, help="S3 bucket; sagegam-<account>-<region> by default.")
@click.option("--instance-count", type=int, default=1, show_default=True)
@click.option("--wait/--no-wait", default=True, show_default=True)
@role_option
@region_option
@instance_option
def train(name: str, image: str, train_data: str, validation: str | None,
          hyperparameter: tuple[str, ...], content_type: str | None, bucket: str | None,
          instance_count: int, wait: bool, role: str | None, region: str | None,
          instance_type: str) -> None:
    """Upload data and run training job NAME on SageMaker, following its status.

    \b
    Example:
      sagegam aws train gauss3 --image 123.dkr.ecr.eu-west-1.amazonaws.com/sagegam:latest \\
        --train data/train.csv --role SageMakerRole -p train-file=train.csv -p df=20
    """
    from sagegam.aws import jobs, preflight

    def run() -> dict[str, Any]:
        session = _aws(region)
        role_arn = preflight.check_role(session, role)
        chosen = bucket or jobs.default_bucket(session)
        jobs.ensure_bucket(session, chosen)
        channels = {"train": jobs.upload(session, train_data, chosen, f"{name}/input/train")}
        if validation:
            channels["validation"] = jobs.upload(session, validation, chosen,
                                                 f"{name}/input/validation")
        pairs = dict(p.partition("=")[::2] for p in hyperparameter)
        request = jobs.TrainingRequest(name, image, role_arn, channels,
                                       f"s3://{chosen}/{name}/output", pairs,
                                       {c: content_type for c in channels} if content_type
                                       else {}, instance_type, instance_count)
        jobs.create_training_job(session, request)
        if not wait:
            return {"TrainingJobName": name, "TrainingJobStatus": "InProgress"}
        return jobs.wait_for_training(session, name, on_status=click.echo)

    description = _run(run)
    status = description["TrainingJobStatus"]
    click.echo(f"training job {name}: {status}")
    if "ModelArtifacts" in description:
        click.echo(f"model: {description['ModelArtifacts']['S3ModelArtifacts']}")
    if status in ("Failed", "Stopped"):
        click.echo(f"reason: {description.get('FailureReason', '')}")
        sys.exit(1)


@aws.command()
@click.argument("name")
@click.option("--image", required=True, help="ECR image URI.")
@click.option("--model-data", required=True, help="s3://.../model.tar.gz")
@click.option("--instance-count", type=int, default=1, show_default=True)
@click.option("--wait/--no-wait", default=True, show_default=True)
@role_option
@region_option
@instance_option
def deploy(name: str, image: str, model_data: str, instance_count: int, wait: bool,
           role: str | None, region: str | None, instance_type: str) -> None:
    """Create model, endpoint config and endpoint NAME; wait until InService.

    \b
    Example:
      sagegam aws deploy gauss3 --image URI --model-data s3://b/gauss3/output/model.tar.gz
    """
    from sagegam.aws import hosting, preflight

    def run() -> dict[str, Any]:
        session = _aws(region)
        role_arn = preflight.check_role(session, role)
        hosting.deploy(session, hosting.Deployment(name, image, model_data, role_arn,
                                                   instance_type, instance_count))
        return hosting.wait_in_service(session, name) if wait else {"EndpointStatus":
                                                                    "Creating"}

    description = _run(run)
    click.echo(f"endpoint {name}: {description['EndpointStatus']}")


@aws.command()
@click.argument("name")
@click.argument("body", type=click.File("rb"), default="-")
@click.option("--content-type", "-c", default="text/csv", show_default=True)
@click.option("--accept", "-a", default=None)
@click.option("--explain", is_flag=True, help="Ask for per-feature contributions.")
@region_option
def invoke(name: str, body: Any, content_type: str, accept: str | None, explain: bool,
           region: str | None) -> None:
    """Send BODY (file or stdin) to endpoint NAME with InvokeEndpoint.

    \b
    Example:
      printf '10\\n111.6\\n' | sagegam aws invoke gauss3 -c text/csv
    """
    from sagegam.aws import hosting

    answer, _ = _run(lambda: hosting.invoke(_aws(region), name, body.read(), content_type,
                                            accept, "explain=true" if explain else None))
    click.echo(answer.decode("utf-8", "replace"))


@aws.command()
@click.argument("name")
@click.option("--model", "model_name", required=True, help="SageMaker model name.")
@click.option("--input", "input_uri", required=True, help="s3:// prefix or local path.")
@click.option("--output", "output_uri", required=True, help="s3:// output prefix.")
@click.option("--bucket", default=None, help="Bucket for a local --input.")
@click.option("--content-type", default="text/csv", show_default=True)
@click.option("--accept", default=None)
@click.option("--split-type", type=click.Choice(["Line", "None"]), default="Line")
@click.option("--batch-strategy", type=click.Choice(["MultiRecord", "SingleRecord"]),
              default="MultiRecord")
@click.option("--max-payload", type=int, default=6, show_default=True)
@click.option("--max-concurrent", type=int, default=0)
@click.option("--assemble-with", type=click.Choice(["Line", "None"]), default="Line")
@click.option("--join-source", type=click.Choice(["None", "Input"]), default="None")
@click.option("--input-filter", default=None)
@click.option("--output-filter", default=None)
@region_option
@instance_option
def transform(name: str, model_name: str, input_uri: str, output_uri: str, bucket: str | None,
              content_type: str, accept: str | None, split_type: str, batch_strategy: str,
              max_payload: int, max_concurrent: int, assemble_with: str, join_source: str,
              input_filter: str | None, output_filter: str | None, region: str | None,
              instance_type: str) -> None:
    """Create batch transform job NAME with the local runtime's options.

    \b
    Example:
      sagegam aws transform scores --model gauss3 --input data/ --output s3://b/scores/
    """
    from sagegam.aws import hosting, jobs

    def run() -> dict[str, Any]:
        session = _aws(region)
        source = input_uri
        if not input_uri.startswith("s3://"):
            chosen = bucket or jobs.default_bucket(session)
            jobs.ensure_bucket(session, chosen)
            source = jobs.upload(session, input_uri, chosen, f"{name}/input")
        return hosting.create_transform_job(session, hosting.TransformRequest(
            name, model_name, source, output_uri, content_type, split_type, batch_strategy,
            max_payload, max_concurrent, accept, assemble_with, join_source, input_filter,
            output_filter, instance_type))

    _run(run)
    click.echo(f"transform job {name} created; results go to {output_uri}")


@aws.command()
@click.argument("name")
@region_option
def delete(name: str, region: str | None) -> None:
    """Delete endpoint NAME, its endpoint config and its model (billing stops).

    \b
    Example:
      sagegam aws delete gauss3
    """
    from sagegam.aws import hosting

    deleted = _run(lambda: hosting.delete(_aws(region), name))
    click.echo(f"deleted {', '.join(deleted) or 'nothing (not found)'}: {name}")


@aws.command(name="ls")
@click.option("--json", "as_json", is_flag=True)
@region_option
def list_running(as_json: bool, region: str | None) -> None:
    """Show what runs and bills: endpoints, training and transform jobs in progress.

    \b
    Example:
      sagegam aws ls
    """
    from sagegam.aws import hosting

    found = _run(lambda: hosting.running(_aws(region)))
    if as_json:
        click.echo(json.dumps(found, indent=2, default=str))
        return
    for endpoint in found["endpoints"]:
        click.echo(f"endpoint      {endpoint['EndpointName']:<30} {endpoint['EndpointStatus']}")
    for job in found["training_jobs"]:
        click.echo(f"training job  {job['TrainingJobName']:<30} {job['TrainingJobStatus']}")
    for job in found["transform_jobs"]:
        click.echo(f"transform job {job['TransformJobName']:<30} {job['TransformJobStatus']}")
    if not any(found.values()):
        click.echo("nothing running")
