"""The one container-engine detector: docker when its daemon answers, else podman.

Used by the local runtime, ``sagegam image build`` and ``sagegam aws push`` alike.
"""

from __future__ import annotations

import shutil
import subprocess

ENGINES = ("docker", "podman")
INSTALL_HINT = ("install Docker (https://docs.docker.com/get-docker/) or podman "
                "(Debian/Ubuntu: `apt-get install podman`)")


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
        raise EngineError(f"{preferred} is not usable here (not installed, or `{preferred} "
                          f"info` fails, e.g. no daemon). Remedy: {INSTALL_HINT}, or start "
                          "its daemon.")
    # A docker CLI without a daemon is common (and is the case on podman-only machines).
    raise EngineError("No container engine answers `info` (looked for docker, podman). "
                      f"Remedy: {INSTALL_HINT}, or start the docker daemon.")


def _answers(engine: str) -> bool:
    try:
        result = subprocess.run([engine, "info"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def has_image(engine: str, image: str) -> bool:
    """Whether ``image`` is in the engine's local image store."""
    result = subprocess.run([engine, "image", "inspect", image], capture_output=True,
                            timeout=60)
    return result.returncode == 0


def require_image(engine: str, image: str) -> None:
    if not has_image(engine, image):
        raise EngineError(f"Image {image!r} is not among {engine}'s images. Remedy: build it "
                          f"first: `sagegam image build --engine {engine} --tag {image}`.")
