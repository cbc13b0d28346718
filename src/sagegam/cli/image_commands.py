"""``sagegam image``: build the container image."""

from __future__ import annotations

import click


@click.group()
def image() -> None:
    """Build the sagegam container image (needs docker or podman)."""


@image.command()
@click.option("--tag", "-t", default="sagegam:latest", show_default=True,
              help="Name and tag of the image.")
@click.option("--base-image", default=None,
              help="BASE_IMAGE build argument; python:3.11-slim when unset.")
@click.option("--offline", is_flag=True,
              help="Build wheels on this machine first and install only from them, so the "
              "build itself needs no network.")
@click.option("--engine", type=click.Choice(["docker", "podman"]), default=None,
              help="Container engine; docker if its daemon answers, else podman.")
def build(tag: str, base_image: str | None, offline: bool, engine: str | None) -> None:
    """Build the image from this checkout's Dockerfile.

    \b
    Examples:
      sagegam image build
      sagegam image build --engine podman --offline --base-image localhost/debian-python:bookworm
    """
    from sagegam.local.engines import EngineError
    from sagegam.local.image import build_image

    try:
        built = build_image(tag, base_image, offline, engine, log=click.echo)
    except EngineError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"built {built}")
