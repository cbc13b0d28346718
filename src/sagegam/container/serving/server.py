"""The ``serve`` entry point: SageMaker's hosting contract under uvicorn.

uvicorn (uvloop + httptools) with one process per CPU: measured in docs/serving.md
against the stacks users would pick instead. Predictions cost microseconds, so they run
inline on the event loop; a request never waits on a thread pool.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from sagegam.container.serving.app import DEFAULT_MODEL_DIR, MODEL_DIR_VARIABLE
from sagegam.model.artifact import ArtifactError, load

GRACEFUL_SHUTDOWN_SECONDS = 20  # SageMaker and `docker stop` allow 30 before SIGKILL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="serve", description="Serve a sagegam model under "
                                     "SageMaker's hosting contract.")
    parser.add_argument("--model-dir", help=f"Artifact directory (default: "
                        f"${MODEL_DIR_VARIABLE}, else {DEFAULT_MODEL_DIR}).")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, help="Default: $SAGEMAKER_BIND_TO_PORT, else 8080.")
    parser.add_argument("--workers", type=int, help="Default: "
                        "$SAGEMAKER_MODEL_SERVER_WORKERS, else the CPU count.")
    args = parser.parse_args(argv)
    try:
        config = _configuration(args)
    except ValueError as error:
        print(f"serve: {error}", file=sys.stderr)
        return 2
    import uvicorn

    uvicorn.run("sagegam.container.serving.app:create_app", factory=True, **config)
    return 0


def console_main() -> None:
    sys.exit(main())


def _configuration(args: argparse.Namespace) -> dict[str, Any]:
    model_dir = args.model_dir or os.environ.get(MODEL_DIR_VARIABLE, DEFAULT_MODEL_DIR)
    try:
        load(model_dir)  # fail before binding, with the artifact's own message
    except ArtifactError as error:
        raise ValueError(str(error)) from None
    port = args.port if args.port is not None else _integer("SAGEMAKER_BIND_TO_PORT", 8080)
    workers = args.workers or _integer("SAGEMAKER_MODEL_SERVER_WORKERS", os.cpu_count() or 1)
    timeout = _integer("SAGEMAKER_MODEL_SERVER_TIMEOUT", 60)
    from sagegam.container.serving.core import ServerSettings

    ServerSettings.from_environment()  # refuse bad payload or accept settings now
    # Spawned workers build their app from the environment.
    os.environ[MODEL_DIR_VARIABLE] = str(model_dir)
    os.environ["SAGEGAM_WORKERS"] = str(workers)
    print(f"serve: model {model_dir}, http://{args.host}:{port}, {workers} worker(s)",
          flush=True)
    return {"host": args.host, "port": port, "workers": workers, "loop": "uvloop",
            "http": "httptools", "lifespan": "on", "access_log": False,
            "log_level": "warning", "timeout_keep_alive": timeout,
            "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS}


def _integer(variable: str, default: int) -> int:
    raw = os.environ.get(variable)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{variable}={raw!r} is not an integer.") from None
    if value < 1:
        raise ValueError(f"{variable}={raw!r} must be at least 1.")
    return value
