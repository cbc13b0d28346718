"""A stand-in for AWS's scikit-learn image: a virtualenv with the real ``sagemaker-training``
toolkit and the scientific stack the image ships, but no sagegam (the toolkit installs it
from the source directory). ``.ci/run`` creates it from ``requirements-framework.txt`` and
names its interpreter in ``SAGEGAM_FRAMEWORK_PYTHON``; outside CI a missing one skips."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "script-mode.md"


@pytest.fixture(scope="session")
def framework_python() -> str:
    python = os.environ.get("SAGEGAM_FRAMEWORK_PYTHON", "")
    if not python or not Path(python).is_file():
        reason = "SAGEGAM_FRAMEWORK_PYTHON names no interpreter with sagemaker-training"
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide this: {reason}")
        pytest.skip(reason)
    # Every run installs sagegam afresh through the toolkit, as a new container would.
    subprocess.run([python, "-m", "pip", "uninstall", "--yes", "--quiet", "sagegam"],
                   capture_output=True, check=False)
    return python


def documented_file(label: str) -> str:
    """The fenced block that follows ``<!-- file: LABEL -->`` in docs/script-mode.md."""
    text = DOC.read_text()
    match = re.search(rf"<!-- file: {re.escape(label)} -->\n```\w*\n(.*?)```", text, re.S)
    assert match, f"docs/script-mode.md has no block for {label}"
    return match.group(1)


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sagegam's wheel and its dependencies' (pip's cache makes this quick)."""
    target = tmp_path_factory.mktemp("wheels")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", str(ROOT), "-w",
                    str(target)], check=True, timeout=600)
    return target
