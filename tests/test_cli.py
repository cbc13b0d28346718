"""The command line, in-process with click's runner."""

from __future__ import annotations

import json
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


def test_fit_reads_text_columns_as_categorical_and_takes_the_jobs_settings(tmp_path: Path):
    rng = np.random.default_rng(1)
    data = tmp_path / "wage.csv"
    levels = ["1. < HS Grad", "2. HS Grad", "3. Some College"]
    rows = [f"{age:.1f},{levels[i % 3]},{30 + age / 2 + 10 * (i % 3) + rng.normal(0, 2):.2f}"
            for i, age in enumerate(rng.uniform(18, 80, 400))]
    data.write_text("age,education,wage\n" + "\n".join(rows) + "\n")
    result = CliRunner().invoke(cli, ["fit", str(data), "-y", "wage", "-H",
                                      "interactions=age:education", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "age:education" in result.output and "2. HS Grad" in result.output
    from sagegam import load

    assert load(tmp_path / "out" / "model").term_names == ("age", "education", "age:education")


def test_fit_refuses_a_setting_given_twice(tmp_path: Path):
    data = tmp_path / "data.csv"
    data.write_text("x,y\n1,2\n2,3\n")
    result = CliRunner().invoke(cli, ["fit", str(data), "--df", "10", "-H", "df=12"])
    assert result.exit_code == 2
    assert "df is given both as --df and as -H" in result.output


def test_demo_fits_gauss3_and_reproduces_the_reference_r2(tmp_path: Path):
    result = CliRunner().invoke(cli, ["demo", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "test R^2 0.9972" in result.output
    assert (tmp_path / "partial-effects.png").stat().st_size > 10_000


# --- options local and aws share ---------------------------------------------------------

def _options(path: tuple[str, ...]) -> dict[str, click.Option]:
    command = cli
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return {param.name: param for param in command.params if isinstance(param, click.Option)}


def test_local_and_aws_transform_take_the_same_batch_options_and_docs_list_them():
    from dataclasses import fields

    from sagegam.cli.options import TransformOptions

    local, aws = _options(("local", "transform")), _options(("aws", "transform"))
    docs = {page: (Path(__file__).parents[1] / "docs" / page).read_text()
            for page in ("local.md", "aws.md")}
    table = [line for line in docs["local.md"].splitlines() if line.startswith("| `--")]
    for name in (item.name for item in fields(TransformOptions)):
        same = [(o.opts, repr(o.type), o.default, o.help) for o in (local[name], aws[name])]
        assert same[0] == same[1], name
        assert any(f"`{local[name].opts[0]}`" in row for row in table), name
    assert "`sagegam local transform`'s options" in docs["aws.md"]


@pytest.mark.parametrize("path", [("local", "train"), ("aws", "train")], ids=" ".join)
def test_both_train_commands_take_hyperparameters_as_dash_h(path):
    option = _options(path)["hyperparameters"]
    assert option.opts == ["-H", "--hyperparameter"] and option.multiple


@pytest.mark.parametrize(("pairs", "message"), [
    (["df"], "Invalid value for '-H' / '--hyperparameter': 'df' is not KEY=VALUE."),
    (["=20"], "'=20' is not KEY=VALUE."),
    (["df=20", "df=25"], "'df' is given twice ('20' and '25')."),
])
def test_key_value_pairs_are_parsed_one_way_for_local_and_aws(tmp_path: Path, pairs, message):
    data = tmp_path / "train.csv"
    data.write_text("x,y\n1,2\n")
    for path in (["local", "train", "job", "--train"], ["aws", "train", "--image", "i",
                                                        "--train"]):
        args = [*path, str(data)] + [token for pair in pairs for token in ("-H", pair)]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2 and message in result.output, result.output


def test_a_key_value_may_hold_an_equals_sign():
    from sagegam.cli.options import key_values

    assert key_values(click.Context(cli), None, ("target=a=b", "df=")) == {  # type: ignore
        "target": "a=b", "df": ""}


@pytest.mark.parametrize(("options", "message"), [
    (["--max-payload-mb", "0"], "'--max-payload-mb': 0 is not in the range 1<=x<=100."),
    (["--max-payload-mb", "2.5"], "'--max-payload-mb': '2.5' is not a valid integer"),
    (["--join-source", "Input", "--split-type", "None"],
     "Error: --join-source Input needs --split-type Line and --assemble-with Line"),
    (["--max-payload-mb", "50", "--max-concurrent", "3"],
     "Error: --max-concurrent x --max-payload-mb must be at most 100 (MB in flight); got "
     "3 x 50."),
])
def test_local_transform_refuses_what_sagemaker_would(tmp_path: Path, monkeypatch, options,
                                                      message):
    monkeypatch.setenv("SAGEGAM_HOME", str(tmp_path))
    (tmp_path / "in.csv").write_text("1\n")
    result = CliRunner().invoke(cli, ["local", "transform", "t", str(tmp_path), str(tmp_path /
                                      "in.csv"), "-o", str(tmp_path / "out"), *options])
    assert result.exit_code in (1, 2) and message in result.output, result.output
    assert not (tmp_path / "out").exists()


def test_local_transform_passes_every_batch_option_to_the_job(tmp_path: Path, monkeypatch):
    from sagegam import GAMRegressor, save
    from sagegam.datasets import gauss3_split

    monkeypatch.setenv("SAGEGAM_HOME", str(tmp_path / "home"))
    X_train, X_test, y_train, _ = gauss3_split()
    model = GAMRegressor(df=10).fit(X_train, y_train)
    save(model, tmp_path / "model")
    rows = np.column_stack([np.arange(len(X_test)), X_test[:, 0]])
    np.savetxt(tmp_path / "rows.csv", rows, delimiter=",", fmt="%g")
    result = CliRunner().invoke(cli, [
        "local", "transform", "batch", str(tmp_path / "model"), str(tmp_path / "rows.csv"),
        "-o", str(tmp_path / "out"), "--max-payload-mb", "1", "--max-concurrent", "2",
        "--batch-strategy", "SingleRecord", "--join-source", "Input", "--input-filter", "$[1]",
        "--output-filter", "$[0,-1]", "--accept", "text/csv", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert (summary["MaxConcurrentTransforms"], summary["BatchStrategy"]) == (2, "SingleRecord")
    lines = (tmp_path / "out" / "rows.csv.out").read_text().splitlines()
    ids, predictions = np.array([[float(v) for v in line.split(",")] for line in lines]).T
    np.testing.assert_array_equal(ids, rows[:, 0])  # joined with its own input, in order
    np.testing.assert_allclose(predictions, model.predict(rows[:, 1:]), rtol=1e-9)
