"""Where the local runtime keeps jobs and endpoints, so they outlive the CLI process."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

HOME_VARIABLE = "SAGEGAM_HOME"
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # SageMaker's resource names


class LocalError(RuntimeError):
    """A local-runtime failure with a message the user can act on."""


def home() -> Path:
    """``$SAGEGAM_HOME``, else ``~/.sagegam/local``."""
    root = os.environ.get(HOME_VARIABLE)
    return Path(root) if root else Path.home() / ".sagegam" / "local"


def check_name(name: str, kind: str) -> str:
    if not NAME_PATTERN.fullmatch(name):  # match() would let a trailing newline by
        raise LocalError(f"Invalid {kind} name {name!r}: use 1-63 letters, digits and hyphens, "
                         "starting with a letter or digit (SageMaker's rule).")
    return name


def read_record(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise LocalError(f"No record at {path}.") from None


def write_record(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    temporary.replace(path)  # atomic: a reader never sees half a record
