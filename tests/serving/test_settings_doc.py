"""docs/serving.md names every environment variable the server reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import sagegam.container.serving as serving

PAGE = (Path(__file__).parents[2] / "docs" / "serving.md").read_text()
SOURCES = sorted(Path(serving.__file__).parent.glob("*.py"))
VARIABLES = sorted({name for path in SOURCES for name in re.findall(
    r'"((?:SAGEMAKER|SAGEGAM)_[A-Z_]+)"', path.read_text())})


def test_the_server_reads_the_variables_we_think_it_does():
    assert {"SAGEMAKER_MODEL_SERVER_TIMEOUT", "SAGEGAM_MAX_HEADER_KB", "SAGEMAKER_BATCH"} \
        <= set(VARIABLES)


@pytest.mark.parametrize("variable", VARIABLES)
def test_every_variable_is_documented(variable):
    assert f"`{variable}`" in PAGE
