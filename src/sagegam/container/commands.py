"""The container's two entry points as click commands: ``train`` and ``serve``.

The same command objects are the console scripts ``train`` and ``serve``, the image's
ENTRYPOINT arguments (``IMAGE train``, ``IMAGE serve``) and ``sagegam train`` /
``sagegam serve``. Each exits with the code its runner returns (docs/training.md and
docs/serving.md list them); click's own usage errors exit 2, as the contract's user errors
do. Only click is imported here, so ``--help`` stays fast.
"""

from __future__ import annotations

import sys

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.command("train", context_settings=CONTEXT)
@click.option("--base-dir", type=click.Path(file_okay=False), envvar="SAGEGAM_BASE_DIR",
              default=None, help="Root of SageMaker's layout; $SAGEGAM_BASE_DIR, else /opt/ml, "
              "as in a real training job.")
def train(base_dir: str | None) -> None:
    """Run a training job from SageMaker's /opt/ml layout (what `docker run IMAGE train` does).

    Reads input/config/*.json and input/data/<channel>/, writes the model to model/, metrics,
    plots and a report to output/data/, and on failure the reason to output/failure.
    Exit codes: 0 done, 1 internal error, 2 user error, 143 stopped.

    \b
    Example:
      sagegam train --base-dir /tmp/job/ml
    """
    from sagegam.container.training import train as run

    sys.exit(run(base_dir))


@click.command("serve", context_settings=CONTEXT)
@click.option("--model-dir", type=click.Path(file_okay=False), default=None,
              help="Artifact directory; $SAGEGAM_MODEL_DIR, else /opt/ml/model.")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port; $SAGEMAKER_BIND_TO_PORT, else 8080.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes; $SAGEMAKER_MODEL_SERVER_WORKERS, else the CPU count.")
def serve(model_dir: str | None, host: str, port: int | None, workers: int | None) -> None:
    """Serve a model over SageMaker's hosting contract (what `docker run IMAGE serve` does).

    GET /ping, POST /invocations (npy, CSV, JSON, JSON Lines in and out) and
    GET /execution-parameters, under uvicorn. SIGTERM drains in-flight requests.
    Exit codes: 0 stopped, 1 a worker could not start, 2 bad setting, model or port.

    \b
    Example:
      sagegam serve --model-dir sagegam-demo/model --port 8080
    """
    from sagegam.container.serving.server import EXIT_USAGE, exit_at_once
    from sagegam.container.serving.server import serve as run

    code = run(model_dir, host, port, workers)
    if code == EXIT_USAGE:
        sys.exit(code)  # refused before serving: an ordinary exit
    exit_at_once(code)


@click.group("IMAGE", context_settings=CONTEXT)
def entrypoint() -> None:
    """SageMaker runs `IMAGE train` for training jobs and `IMAGE serve` for endpoints and
    batch transform."""


entrypoint.add_command(train)
entrypoint.add_command(serve)
