"""Fixtures shared across test folders: a container engine and the image built from source."""

from __future__ import annotations

import os

import pytest

from sagegam.local.engines import EngineError, find_engine
from sagegam.local.image import build_image

# Overridable so that checkouts testing side by side do not rebuild one another's image.
TEST_IMAGE = os.environ.get("SAGEGAM_TEST_IMAGE", "sagegam:ci-test")


@pytest.fixture(scope="session")
def engine() -> str:
    """podman or docker; in CI (CI=true) a missing engine is a failure, not a skip."""
    try:
        return find_engine(os.environ.get("SAGEGAM_TEST_ENGINE"))
    except EngineError as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide a container engine: {error}")
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def image(engine: str) -> str:
    """The image, built once per session from this checkout's Dockerfile."""
    base = os.environ.get("SAGEGAM_TEST_BASE_IMAGE")
    return build_image(TEST_IMAGE, base_image=base, offline=True, engine=engine,
                       log=lambda _: None)
