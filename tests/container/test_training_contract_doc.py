"""docs/training.md lists everything the `train` entry point reads and writes."""

from pathlib import Path

import pytest

from sagegam.container import metrics, training
from sagegam.container.hyperparameters import SETTINGS
from sagegam.container.paths import BASE_DIR_VARIABLE, MLPaths

PAGE = (Path(__file__).parents[2] / "docs" / "training.md").read_text()
LAYOUT = MLPaths(Path("/opt/ml"))
FILES = [LAYOUT.hyperparameters, LAYOUT.input_data_config, LAYOUT.resource_config,
         LAYOUT.channel("train"), LAYOUT.failure_file, LAYOUT.output_data_dir / "metrics.json",
         LAYOUT.output_data_dir / "report.html", LAYOUT.output_data_dir / "partial-effects.png"]


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_hyperparameter_is_documented(setting):
    assert f"| `{setting.name}` |" in PAGE


@pytest.mark.parametrize("path", FILES, ids=str)
def test_every_file_is_documented(path):
    assert str(path.relative_to("/opt/ml")) in PAGE


@pytest.mark.parametrize("name", metrics.METRIC_NAMES)
def test_every_metric_and_its_regex_is_documented(name):
    assert f"`{metrics.METRIC_REGEX.format(name=name)}`" in PAGE


@pytest.mark.parametrize("code", [0, training.EXIT_INTERNAL, training.EXIT_USER,
                                  training.EXIT_STOPPED])
def test_every_exit_code_is_documented(code):
    assert f"| `{code}` |" in PAGE


def test_the_environment_variable_is_documented():
    assert f"`{BASE_DIR_VARIABLE}`" in PAGE
