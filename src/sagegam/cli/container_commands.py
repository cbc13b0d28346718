"""The container entry points as ``sagegam`` commands: ``train`` and ``serve``."""

from __future__ import annotations

import sys

import click


@click.command(context_settings={"ignore_unknown_options": False})
@click.option("--base-dir", type=click.Path(file_okay=False), envvar="SAGEGAM_BASE_DIR",
              default=None, help="Root of SageMaker's layout; /opt/ml when unset, as in a "
              "real training job.")
def train(base_dir: str | None) -> None:
    """Run a training job from SageMaker's /opt/ml layout (what `docker run IMAGE train` does).

    Reads input/config/*.json and input/data/<channel>/, writes the model to model/, metrics,
    plots and a report to output/data/, and on failure the reason to output/failure.
    Exit codes: 0 done, 1 internal error, 2 user error, 143 stopped.

    \b
    Example:
      sagegam train --base-dir /tmp/job/ml
    """
    from sagegam.container.training import main

    sys.exit(main(["--base-dir", base_dir] if base_dir else []))


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--model-dir", type=click.Path(file_okay=False), default=None,
              help="Artifact directory; $SAGEGAM_MODEL_DIR, else /opt/ml/model.")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=None,
              help="Port; $SAGEMAKER_BIND_TO_PORT, else 8080.")
@click.option("--workers", type=int, default=None,
              help="Worker processes; $SAGEMAKER_MODEL_SERVER_WORKERS, else the CPU count.")
def serve(model_dir: str | None, host: str, port: int | None, workers: int | None) -> None:
    """Serve a model over SageMaker's hosting contract (what `docker run IMAGE serve` does).

    GET /ping, POST /invocations (npy, CSV, JSON, JSON Lines in and out) and
    GET /execution-parameters, under uvicorn. SIGTERM drains in-flight requests.

    \b
    Example:
      sagegam serve --model-dir sagegam-demo/model --port 8080
    """
    from sagegam.container.serving.server import main

    argv = ["--host", host]
    argv += ["--model-dir", model_dir] if model_dir else []
    argv += ["--port", str(port)] if port is not None else []
    argv += ["--workers", str(workers)] if workers is not None else []
    sys.exit(main(argv))
