"""Options ``sagegam local`` and ``sagegam aws`` share: one spelling and one parser each.

``-H KEY=VALUE`` gives hyperparameters to both ``train`` commands, and both ``transform``
commands take the same batch options (CreateTransformJob's fields, with SageMaker's limits),
so a command moves from the laptop to AWS by changing ``local`` to ``aws`` and naming the
data the way each side names it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import click


def key_values(ctx: click.Context, param: click.Parameter,
               pairs: tuple[str, ...]) -> dict[str, str]:
    """``KEY=VALUE`` strings as a dict (a click callback); the value may hold ``=``."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE.", ctx, param)
        if key in parsed:
            raise click.BadParameter(
                f"{key!r} is given twice ({parsed[key]!r} and {value!r}).", ctx, param)
        parsed[key] = value
    return parsed


hyperparameter_option = click.option(
    "-H", "--hyperparameter", "hyperparameters", multiple=True, metavar="KEY=VALUE",
    callback=key_values,
    help="A hyperparameter, sent as a string as SageMaker does (repeatable); the names are "
         "in docs/training.md.")


@dataclass(frozen=True)
class TransformOptions:
    """CreateTransformJob's batch settings, as both transform commands take them."""

    content_type: str
    accept: str | None
    split_type: str
    batch_strategy: str
    max_payload_mb: int
    max_concurrent: int
    assemble_with: str
    join_source: str
    input_filter: str
    output_filter: str

    @property
    def response_type(self) -> str:
        """Accept, defaulting to the input's type: line-oriented, one output line per line."""
        return self.accept or self.content_type


_TRANSFORM_OPTIONS = (
    click.option("--content-type", default="text/csv", show_default=True,
                 help="TransformInput.ContentType: the type of the input records."),
    click.option("--accept", default=None,
                 help="TransformOutput.Accept: the output type; the input's type when unset."),
    click.option("--split-type", type=click.Choice(["Line", "None"]), default="Line",
                 show_default=True,
                 help="Line: one record per line; None: each file whole, one per request."),
    click.option("--batch-strategy", type=click.Choice(["MultiRecord", "SingleRecord"]),
                 default="MultiRecord", show_default=True,
                 help="MultiRecord packs records up to --max-payload-mb into each request; "
                      "SingleRecord sends one record per request."),
    click.option("--max-payload-mb", type=click.IntRange(1, 100), default=6,
                 show_default=True, help="MaxPayloadInMB: the largest request body."),
    click.option("--max-concurrent", type=click.IntRange(min=0), default=0, show_default=True,
                 help="MaxConcurrentTransforms; 0 asks the container's "
                      "/execution-parameters (its worker count)."),
    click.option("--assemble-with", type=click.Choice(["Line", "None"]), default="Line",
                 show_default=True,
                 help="Line: one output line per record; None: outputs run together."),
    click.option("--join-source", type=click.Choice(["None", "Input"]), default="None",
                 show_default=True,
                 help="Input: each output follows its input record (CSV: input,output; "
                      "JSON: a SageMakerOutput key)."),
    click.option("--input-filter", default="$", show_default=True,
                 help="DataProcessing.InputFilter: the columns sent, e.g. '$[1:]'."),
    click.option("--output-filter", default="$", show_default=True,
                 help="DataProcessing.OutputFilter: the columns kept, e.g. '$[0,-1]'."),
)


def check_combination(options: TransformOptions) -> None:
    """The combinations SageMaker refuses, refused here first (for local runs too)."""
    if options.join_source == "Input" and (options.split_type, options.assemble_with) != (
            "Line", "Line"):
        raise click.ClickException(
            "--join-source Input needs --split-type Line and --assemble-with Line (outputs "
            "join their input records one to one).")
    if options.max_concurrent * options.max_payload_mb > 100:
        raise click.ClickException(
            f"--max-concurrent x --max-payload-mb must be at most 100 (MB in flight); got "
            f"{options.max_concurrent} x {options.max_payload_mb}.")


def transform_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the shared transform options; the command receives them as ``transform=``."""
    names = [item.name for item in fields(TransformOptions)]

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        options = TransformOptions(**{name: kwargs.pop(name) for name in names})
        check_combination(options)
        return command(*args, transform=options, **kwargs)

    for option in reversed(_TRANSFORM_OPTIONS):
        run = option(run)
    return run


def uncertainty_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--std`` and ``--interval LEVEL`` for both ``invoke`` commands (docs/serving.md)."""
    command = click.option(
        "--interval", type=click.FloatRange(0, 1, min_open=True, max_open=True),
        default=None, metavar="LEVEL",
        help="Ask for each prediction's pointwise interval at LEVEL (e.g. 0.95), on the "
             "response scale; none when unset.")(command)
    return click.option("--std", is_flag=True, help="Ask for each prediction's standard "
                        "error (response scale) too.")(command)


def custom_attributes(explain: bool = False, labels: bool = False, std: bool = False,
                      interval: float | None = None) -> str | None:
    """The X-Amzn-SageMaker-Custom-Attributes value that asks for these options."""
    flags = [flag for flag, on in (("explain=true", explain), ("output=label", labels),
                                   ("std=true", std)) if on]
    if interval is not None:
        flags.append(f"interval={interval!r}")
    return ",".join(flags) or None
