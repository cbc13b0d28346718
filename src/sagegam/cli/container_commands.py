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
