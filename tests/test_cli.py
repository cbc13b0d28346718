"""The command line, in-process with click's runner."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from sagegam.cli import cli


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
    return found


@pytest.mark.parametrize("path", _commands(cli), ids=" ".join)
def test_every_command_has_help_with_an_example_or_subcommands(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    command = cli
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    assert "Example" in result.output or isinstance(command, click.Group)


def test_fit_reports_and_writes_the_model_summary_and_plot(tmp_path: Path):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 3, 300)
    data = tmp_path / "data.csv"
    data.write_text("x,y\n" + "\n".join(f"{a},{np.sin(a) + rng.normal(0, .1)}" for a in x))
    result = CliRunner().invoke(cli, ["fit", str(data), "--target", "y", "-o",
                                      str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "deviance explained" in result.output
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"model", "summary.txt",
                                                            "partial-effects.png"}
    plotted = CliRunner().invoke(cli, ["plot", str(tmp_path / "out" / "model"), "-o",
                                       str(tmp_path / "terms.svg")])
    assert plotted.exit_code == 0 and (tmp_path / "terms.svg").read_text().startswith("<?xml")


def test_user_errors_are_one_line_messages_not_tracebacks(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SAGEGAM_HOME", str(tmp_path))
    result = CliRunner().invoke(cli, ["local", "describe", "nope"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: No local training job named 'nope'")
    assert "Traceback" not in result.output
    data = tmp_path / "bad.csv"
    data.write_text("x,y\n1,2\n3,oops\n")
    result = CliRunner().invoke(cli, ["fit", str(data)])
    assert result.exit_code == 1 and "line 3, column 'y': 'oops' is not a number" in result.output


def test_endpoints_lists_json_for_scripts(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SAGEGAM_HOME", str(tmp_path))
    result = CliRunner().invoke(cli, ["local", "endpoints", "--json"])
    assert result.exit_code == 0 and result.output.strip() == "[]"


def test_demo_fits_gauss3_and_reproduces_the_reference_r2(tmp_path: Path):
    result = CliRunner().invoke(cli, ["demo", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "test R^2 0.9972" in result.output
    assert (tmp_path / "partial-effects.png").stat().st_size > 10_000
