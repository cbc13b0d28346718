"""Building the sagegam image with docker or podman."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from sagegam.local.engines import EngineError, find_engine

DEFAULT_TAG = "sagegam:latest"
# podman and docker read the host's CA bundle this way when pip needs the network.
CA_BUNDLE = Path("/etc/ssl/certs")


def project_root() -> Path:
    """The checkout holding the Dockerfile (the image is built from source)."""
    root = Path(__file__).resolve().parents[3]
    if not (root / "Dockerfile").is_file():
        raise EngineError(f"No Dockerfile at {root}: build the image from a sagegam checkout.")
    return root


def build_wheels(root: Path, log: Callable[[str], None]) -> None:
    """Wheels of sagegam and its dependencies into docker/wheels, using the host's pip."""
    target = root / "docker" / "wheels"
    log(f"building wheels into {target}")
    # setuptools and wheel too: the build installs sagegam from source with no index.
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", f"{root}[plot,cluster]",
               "setuptools>=77", "wheel", "-w", str(target)]
    if subprocess.run(command).returncode != 0:
        raise EngineError("pip could not build the wheels; see its output above.")


def build_command(engine: str, root: Path, tag: str, base_image: str | None,
                  offline: bool) -> list[str]:
    command = [engine, "build", "-t", tag, "-f", str(root / "Dockerfile")]
    if base_image:
        command += ["--build-arg", f"BASE_IMAGE={base_image}"]
    if offline:
        command += ["--build-arg", "PIP_OPTIONS=--no-index --find-links /wheels"]
    elif engine == "podman" and CA_BUNDLE.is_dir():
        command += ["--network", "host", "-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"]
    return [*command, str(root)]


def build_image(tag: str = DEFAULT_TAG, base_image: str | None = None, offline: bool = False,
                engine: str | None = None, log: Callable[[str], None] = print) -> str:
    """Build the image; returns its tag. Raises EngineError with the remedy on failure."""
    chosen = find_engine(engine)
    root = project_root()
    if offline:
        build_wheels(root, log)
    command = build_command(chosen, root, tag, base_image, offline)
    log("running: " + " ".join(command))
    if subprocess.run(command).returncode != 0:
        raise EngineError(f"{chosen} build failed; see its output above.")
    return tag
