"""What every ``sagegam aws`` command shares: one-line errors, the session, status lines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

ROLE_ENV = "SAGEGAM_ROLE_ARN"


@contextmanager
def one_line_errors() -> Iterator[None]:
    from sagegam.aws.errors import PreflightError, aws_exceptions, describe
    from sagegam.local.engines import EngineError

    try:
        yield
    except (PreflightError, EngineError) as error:
        raise click.ClickException(str(error)) from error
    except aws_exceptions() as error:  # anything a call site did not translate itself
        raise click.ClickException(describe(error)) from error


def connect(ctx: click.Context) -> Any:
    from sagegam.aws.session import connect as open_session

    return open_session(region=ctx.obj.get("region"), profile=ctx.obj.get("profile"))


def status(what: str) -> Callable[[str], None]:
    return lambda status: click.echo(f"{what}: {status}", err=True)


def warn(message: str) -> None:
    click.echo(message, err=True)


def s3_uri(value: str | None) -> str | None:
    """The value if it is an S3 URI (checked against its field), else None (a local path)."""
    return value if value and value.startswith("s3://") else None


role_option = click.option("--role", envvar=ROLE_ENV, default=None,
                           help=f"Execution role ARN [env {ROLE_ENV}]; see docs/aws.md.")
