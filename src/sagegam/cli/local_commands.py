"""``sagegam local``: SageMaker's training jobs, endpoints and batch transform, locally."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sagegam.cli.options import (
    TransformOptions,
    custom_attributes,
    hyperparameter_option,
    transform_options,
    uncertainty_options,
)

ENGINE_HELP = ("subprocess (default: this Python, no container), or docker/podman to run the "
               "same steps in the image.")


def _engine(name: str, image: str) -> Any:
    from sagegam.local.training import Engine

    if name != "subprocess":
        from sagegam.local.engines import EngineError, find_engine

        try:
            find_engine(name)
        except EngineError as error:
            raise click.ClickException(f"{error} Or run with --engine subprocess, which "
                                       "needs neither.") from None
    return Engine(name, image)


def _emit(document: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(document, indent=2, default=str) if as_json else text)


engine_option = click.option("--engine", type=click.Choice(["subprocess", "docker", "podman"]),
                             default="subprocess", show_default=True, help=ENGINE_HELP)
image_option = click.option("--image", default="sagegam:latest", show_default=True,
                            help="Image for --engine docker/podman (`sagegam image build`).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


class _OneSentenceGroup(click.Group):
    """Every way a `local` command fails ends in one sentence (exit 1), never a traceback:
    the runtime's own errors, and the file system's (a full disk, a file that is not
    text, a folder without permission)."""

    def invoke(self, ctx: click.Context) -> Any:
        from sagegam.local.engines import EngineError
        from sagegam.local.state import LocalError

        try:
            return super().invoke(ctx)
        except (LocalError, EngineError) as error:
            raise click.ClickException(str(error)) from None
        except UnicodeDecodeError as error:
            raise click.ClickException(f"The input is not UTF-8 text: {error}.") from None
        except OSError as error:
            where = f"{error.filename}: " if error.filename else ""
            raise click.ClickException(f"{where}{error.strerror or error}.") from None


@click.group(cls=_OneSentenceGroup)
def local() -> None:
    """Run SageMaker's lifecycle on this machine: train, deploy, invoke, transform, delete.

    State lives in $SAGEGAM_HOME (default ~/.sagegam/local), so endpoints outlive the
    command that started them.
    """


@local.command()
@click.argument("name")
@click.option("--train", "train_data", required=True, type=click.Path(exists=True,
              path_type=Path), help="File or folder for the 'train' channel.")
@click.option("--validation", type=click.Path(exists=True, path_type=Path),
              help="File or folder for the 'validation' channel.")
@hyperparameter_option
@click.option("--content-type", default=None, help="ContentType of the channels, e.g. "
              "text/csv; by file extension when unset.")
@click.option("--instance-count", default=1, show_default=True, type=click.IntRange(1, 16),
              help="Hosts of the job: from 2, every host reads its part of the channels and "
                   "the first fits (processes, or containers on one network).")
@click.option("--distribution", type=click.Choice(["FullyReplicated", "ShardedByS3Key"]),
              default="FullyReplicated", show_default=True,
              help="S3DistributionType of the channels: every host gets every file, or the "
                   "files are dealt to the hosts.")
@engine_option
@image_option
@json_option
def train(name: str, train_data: Path, validation: Path | None, hyperparameters: dict[str, str],
          content_type: str | None, instance_count: int, distribution: str, engine: str,
          image: str, as_json: bool) -> None:
    """Run training job NAME to its end and report it (Ctrl-C stops it).

    \b
    Example:
      sagegam local train gauss3 --train data/train.csv -H train-file=train.csv -H df=20
      sagegam local train big --train parts/ --instance-count 2 --distribution ShardedByS3Key
    """
    from sagegam.local.state import LocalError
    from sagegam.local.training import JobSpec, run_job

    channels = {"train": train_data} | ({"validation": validation} if validation else {})
    types = {c: content_type for c in channels} if content_type else {}
    spec = JobSpec(name, channels, hyperparameters, types, _engine(engine, image),
                   instance_count, distribution)
    try:
        description = run_job(spec, on_line=(lambda _: None) if as_json else click.echo)
    except LocalError as error:
        raise click.ClickException(str(error)) from None
    status = description["TrainingJobStatus"]
    text = f"training job {name}: {status}"
    if status == "Completed":
        text += f"\nmodel: {description['ModelArtifacts']['S3ModelArtifacts']}"
    else:
        text += f"\nreason: {description.get('FailureReason', '')}"
    _emit(description, as_json, text)
    if status != "Completed":
        sys.exit(1)


@local.command()
@click.argument("name")
def describe(name: str) -> None:
    """Print training job NAME as SageMaker's DescribeTrainingJob would (JSON).

    \b
    Example:
      sagegam local describe gauss3
    """
    from sagegam.local.state import LocalError
    from sagegam.local.training import describe as describe_job

    try:
        click.echo(json.dumps(describe_job(name), indent=2))
    except LocalError as error:
        raise click.ClickException(str(error)) from None


@local.command()
@click.argument("name")
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.option("--workers", type=int, default=1, show_default=True,
              help="Server worker processes.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Loopback port; a free one when unset. A port in use is refused.")
@click.option("--multi-model", is_flag=True,
              help="MODEL is a folder of models (model.tar.gz files or artifact folders), "
                   "each loaded on its first `invoke --target-model FILE`.")
@engine_option
@image_option
@json_option
def deploy(name: str, model: Path, workers: int, port: int | None, multi_model: bool,
           engine: str, image: str, as_json: bool) -> None:
    """Start endpoint NAME serving MODEL (a model.tar.gz or an artifact folder).

    Waits for /ping like SageMaker; if the server never gets healthy, shows its log.

    \b
    Example:
      sagegam local deploy gauss3 ~/.sagegam/local/jobs/gauss3/output/model.tar.gz
    """
    from sagegam.local.endpoints import deploy as start
    from sagegam.local.state import LocalError

    try:
        record = start(name, model, _engine(engine, image), workers=workers, port=port,
                       multi_model=multi_model)
    except LocalError as error:
        raise click.ClickException(str(error)) from None
    _emit(record, as_json, f"endpoint {name}: InService at {record['Url']}")


@local.command()
@click.argument("name")
@click.argument("body", type=click.File("rb"), default="-")
@click.option("--content-type", "-c", default="text/csv", show_default=True,
              help="application/x-npy, text/csv, application/json or application/jsonlines.")
@click.option("--accept", "-a", default=None, help="Response type; the server's default "
              "(application/json) when unset.")
@click.option("--explain", is_flag=True, help="Ask for per-feature contributions.")
@uncertainty_options
@click.option("--output", "-o", type=click.File("wb"), default="-", help="Where the answer "
              "goes (stdout by default).")
@click.option("--target-model", default=None, metavar="FILE",
              help="Multi-model endpoints: the model (a file in the endpoint's folder).")
def invoke(name: str, body: Any, content_type: str, accept: str | None, explain: bool,
           std: bool, interval: float | None, output: Any, target_model: str | None) -> None:
    """Send BODY (a file, or stdin) to endpoint NAME and print the answer.

    \b
    Example:
      printf '10\\n111.6\\n' | sagegam local invoke gauss3 -c text/csv -a text/csv
    """
    from sagegam.local.endpoints import invoke as send
    from sagegam.local.state import LocalError

    try:
        answer = send(name, body.read(), content_type, accept,
                      custom_attributes(explain, std=std, interval=interval),
                      target_model=target_model)
    except LocalError as error:
        raise click.ClickException(str(error)) from None
    if answer.status != 200:
        raise click.ClickException(f"HTTP {answer.status}: {answer.body.decode(errors='replace')}")
    output.write(answer.body)
    if answer.content_type.startswith(("application/json", "text/")) and \
            not answer.body.endswith(b"\n"):
        output.write(b"\n")


@local.command()
@json_option
def endpoints(as_json: bool) -> None:
    """List local endpoints and whether they answer /ping.

    \b
    Example:
      sagegam local endpoints --json
    """
    from sagegam.local.endpoints import list_endpoints

    records = list_endpoints()
    lines = [f"{r['EndpointName']:<24} {r['EndpointStatus']:<10} {r['Url']:<24} "
             f"{r['Engine']}" for r in records] or ["no local endpoints"]
    _emit(records, as_json, "\n".join(lines))


@local.command()
@click.argument("name")
def delete(name: str) -> None:
    """Stop endpoint NAME (SIGTERM, drained) and remove it.

    \b
    Example:
      sagegam local delete gauss3
    """
    from sagegam.local.endpoints import delete as stop
    from sagegam.local.state import LocalError

    try:
        stop(name)
    except LocalError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"deleted endpoint {name}")


@local.command()
@click.argument("name")
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--output", "-o", "output_dir", required=True, type=click.Path(path_type=Path),
              help="Folder for the <file>.out results.")
@transform_options
@click.option("--instance-count", default=1, show_default=True, type=click.IntRange(1, 16),
              help="Instances, each an endpoint of its own scoring whole files dealt to it in "
                   "turn, as SageMaker does; the outputs do not depend on it.")
@engine_option
@image_option
@json_option
def transform(name: str, model: Path, inputs: tuple[Path, ...], output_dir: Path,
              instance_count: int, engine: str, image: str, as_json: bool,
              transform: TransformOptions) -> None:
    """Batch-transform INPUTS (files or folders) with MODEL into OUTPUT/<file>.out.

    \b
    Example:
      sagegam local transform scores model.tar.gz data/test.csv -o out/ --max-concurrent 2
    """
    from sagegam.local.state import LocalError
    from sagegam.local.transform import TransformSpec, run_transform

    spec = TransformSpec(
        name, model, list(inputs), output_dir, transform.content_type, transform.split_type,
        transform.batch_strategy, transform.max_payload_mb, transform.max_concurrent,
        transform.response_type, transform.assemble_with, transform.join_source,
        transform.input_filter, transform.output_filter, _engine(engine, image),
        instance_count)
    try:
        with click.progressbar(length=1, label="transforming", file=sys.stderr,
                               show_pos=True) as bar:

            def counted(records: int) -> None:  # known once the job has read its files
                bar.length = max(records, 1)

            summary = run_transform(spec, progress=bar.update, counted=counted)
    except LocalError as error:
        raise click.ClickException(str(error)) from None
    lines = [f"{path}: {count:,} lines" for path, count in summary["Outputs"].items()]
    _emit(summary, as_json, "\n".join(lines))
