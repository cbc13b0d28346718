"""The image's ENTRYPOINT: SageMaker runs ``IMAGE train`` or ``IMAGE serve``.

Started with no command at all (the SageMaker Python SDK 3's local container mode does
this for training), the image reads the layout it was given: a training job's
configuration under ``/opt/ml/input/config`` means ``train``. Anything else prints the
usage and exits 2, since guessing ``serve`` for an empty layout would only fail later with
a less helpful message.
"""

from __future__ import annotations

import sys

import click

from sagegam.container.commands import entrypoint
from sagegam.container.paths import MLPaths

# The files SageMaker (and every SDK local mode) writes before a training container starts.
TRAINING_CONFIG_FILES = ("hyperparameters.json", "inputdataconfig.json", "resourceconfig.json")


def implied_command(paths: MLPaths) -> str | None:
    """``train`` when the layout holds a training job's configuration, else None."""
    if any((paths.config_dir / name).is_file() for name in TRAINING_CONFIG_FILES):
        return "train"
    return None


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        paths = MLPaths.resolve()
        command = implied_command(paths)
        if command is None:
            with click.Context(entrypoint, info_name="IMAGE") as ctx:
                click.echo(f"no command given and no training configuration in "
                           f"{paths.config_dir}\n\n{ctx.get_help()}", err=True)
            sys.exit(2)
        args = [command]
    entrypoint(args=args, prog_name="IMAGE")


if __name__ == "__main__":
    main()
