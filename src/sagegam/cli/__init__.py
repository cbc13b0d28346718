"""The ``sagegam`` command line: one group, one module of commands per layer.

The CLI is the top of the import graph (cli -> aws / local -> container -> model); each
command module imports its layer lazily so ``sagegam --help`` stays fast.
"""

from __future__ import annotations

import click

from sagegam import __version__
from sagegam.cli.aws_commands import aws
from sagegam.cli.container_commands import serve, train
from sagegam.cli.explore_commands import explore
from sagegam.cli.image_commands import image
from sagegam.cli.local_commands import local
from sagegam.cli.model_commands import datasets, demo, fit, plot


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="sagegam")
def cli() -> None:
    """Interpretable GAMs from a CSV file to a SageMaker endpoint, locally or on AWS."""


cli.add_command(demo)
cli.add_command(fit)
cli.add_command(plot)
cli.add_command(explore)
cli.add_command(datasets)
cli.add_command(local)
cli.add_command(train)
cli.add_command(serve)
cli.add_command(image)
cli.add_command(aws)


def main() -> None:
    cli(prog_name="sagegam")
