"""A headless Chromium for the whole session, and the seeded models' pages."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.explore import models
from tests.explore.browser import Browser, find_chromium


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless; in CI (CI=true) a missing browser is a failure."""
    executable = find_chromium()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("CI must provide chromium (.ci/run installs Debian's package).")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with Browser(executable) as running:
        yield running


@dataclass(frozen=True)
class Page:
    model: Any
    X: Any
    y: Any
    path: Path

    @property
    def url(self) -> str:
        return self.path.as_uri()


@pytest.fixture(scope="session")
def twenty(tmp_path_factory: pytest.TempPathFactory) -> Page:
    """The issue's size goal: 20 terms, 2 pairs, 2 factors, with its training data."""
    model, X, y = models.twenty_terms()
    path = model.explore(tmp_path_factory.mktemp("twenty") / "explorer.html", X, y)
    return Page(model, X, y, path)


@pytest.fixture(scope="session")
def churn(tmp_path_factory: pytest.TempPathFactory) -> Page:
    """A classifier with a factor pair and missing values; training and validation rows."""
    model, X, y = models.churn()
    train = models.CHURN_TRAIN
    path = model.explore(tmp_path_factory.mktemp("churn") / "explorer.html", X[:train],
                         y[:train], X_validation=X[train:], y_validation=y[train:],
                         title="Churn: who leaves, and why")
    return Page(model, X, y, path)


@pytest.fixture(scope="session")
def claims(tmp_path_factory: pytest.TempPathFactory) -> Page:
    """A Poisson rate model with an exposure; training and validation rows."""
    model, X, y = models.claims()
    train = models.CLAIMS_TRAIN
    path = model.explore(tmp_path_factory.mktemp("claims") / "explorer.html", X[:train],
                         y[:train], X_validation=X[train:], y_validation=y[train:])
    return Page(model, X, y, path)
