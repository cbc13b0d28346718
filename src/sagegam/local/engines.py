"""Finding a container engine: docker when its daemon answers, else podman."""

from __future__ import annotations

import shutil
import subprocess

ENGINES = ("docker", "podman")
INSTALL_HINT = ("No container engine found: install Docker (https://docs.docker.com/get-docker/) "
                "or podman (Debian/Ubuntu: `apt-get install podman`), or use the default "
                "subprocess engine, which needs neither.")


class EngineError(RuntimeError):
    """No usable container engine, or the engine failed."""


def find_engine(preferred: str | None = None) -> str:
    """The engine to use: ``preferred`` if it works, else the first of docker, podman."""
    candidates = [preferred] if preferred else list(ENGINES)
    for name in candidates:
        if name not in ENGINES:
            raise EngineError(f"Unknown container engine {name!r}; use docker or podman.")
        if shutil.which(name) and _answers(name):
            return name
    if preferred:
        raise EngineError(f"{preferred} is not usable here (not installed, or its daemon does "
                          f"not answer `{preferred} info`). {INSTALL_HINT}")
    raise EngineError(INSTALL_HINT)


def _answers(engine: str) -> bool:
    try:
        result = subprocess.run([engine, "info"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0
