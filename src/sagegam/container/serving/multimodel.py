"""SageMaker's multi-model contract: many artifacts under ``/opt/ml/models``, loaded on demand.

On a multi-model endpoint SageMaker copies each model's ``model.tar.gz`` below
``/opt/ml/models/``, unpacked, and drives the container over HTTP:

==========================  =======================================================
``POST /models``            load ``{"model_name", "url"}`` (the unpacked directory)
``GET /models``             list what is loaded (``nextPageToken`` pages)
``GET /models/NAME``        describe one
``DELETE /models/NAME``     unload it
``POST /models/NAME/invoke`` answer a request with it, as ``/invocations`` does
==========================  =======================================================

Every uvicorn worker keeps its own predictors, but what is loaded is the container's:
a load is recorded in a directory all workers share, so a worker that has not read a
model yet reads it on its first request. Each worker holds at most ``budget_bytes`` of
artifacts: loading past the budget evicts the least recently used models, and a model
that alone exceeds the budget is refused with 507 (Insufficient Storage), which tells
SageMaker to unload models and retry.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagegam.container.serving.codecs import ClientError
from sagegam.model.artifact import ArtifactError, load
from sagegam.model.predictor import GAMPredictor

BUDGET_VARIABLE = "SAGEGAM_MULTI_MODEL_MEMORY_MB"
REGISTRY_VARIABLE = "SAGEGAM_MULTI_MODEL_REGISTRY"
PAGE_SIZE = 100


@dataclass(frozen=True)
class Loaded:
    url: str
    predictor: GAMPredictor
    size: int  # bytes of the artifact's files: what holding it costs, near enough


def artifact_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def default_budget() -> int:
    """``SAGEGAM_MULTI_MODEL_MEMORY_MB``, else half the memory the container may use."""
    raw = os.environ.get(BUDGET_VARIABLE)
    if raw:
        return int(float(raw) * 2**20)
    limit = Path("/sys/fs/cgroup/memory.max")
    if limit.is_file() and limit.read_text().strip().isdigit():
        return int(limit.read_text()) // 2
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


class Registry:
    """Which models the container has loaded, by name, on disk for every worker."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _entry(self, name: str) -> Path:
        return self.directory / urllib.parse.quote(name, safe="")

    def add(self, name: str, url: str) -> bool:
        """Record a load; False if the name was loaded already (atomically, across workers)."""
        try:
            with self._entry(name).open("x", encoding="utf-8") as entry:
                entry.write(url)
        except FileExistsError:
            return False
        return True

    def url(self, name: str) -> str | None:
        try:
            return self._entry(name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def remove(self, name: str) -> bool:
        try:
            self._entry(name).unlink()
        except FileNotFoundError:
            return False
        return True

    def names(self) -> list[str]:
        return sorted(urllib.parse.unquote(path.name) for path in self.directory.iterdir())


class ModelStore:
    """One worker's predictors, least recently used first, within a byte budget."""

    def __init__(self, registry: Registry, budget_bytes: int) -> None:
        self.registry = registry
        self.budget_bytes = budget_bytes
        self._held: OrderedDict[str, Loaded] = OrderedDict()

    @property
    def held_bytes(self) -> int:
        return sum(item.size for item in self._held.values())

    def load(self, name: str, url: str) -> None:
        """``POST /models``: read the artifact now, and record it for the other workers."""
        if not name or "/" in name:
            raise ClientError(400, "bad_request", f"model_name {name!r} must be a non-empty "
                              "name without '/'.")
        if self.registry.url(name) is not None:
            raise ClientError(409, "conflict", f"Model {name!r} is already loaded.")
        self._read(name, url)
        if not self.registry.add(name, url):  # another worker won the race
            raise ClientError(409, "conflict", f"Model {name!r} is already loaded.")

    def predictor(self, name: str) -> GAMPredictor:
        """The model for ``POST /models/NAME/invoke``: read here first if another worker
        loaded it, refused if any worker unloaded it (the registry decides, not memory)."""
        url = self.registry.url(name)
        held = self._held.get(name)
        if url is None:
            self._held.pop(name, None)
            raise ClientError(404, "model_not_found", f"Model {name!r} is not loaded; load it "
                              "with POST /models first.")
        if held is not None and held.url == url:
            self._held.move_to_end(name)
            return held.predictor
        return self._read(name, url).predictor

    def unload(self, name: str) -> None:
        if not self.registry.remove(name):
            raise ClientError(404, "model_not_found", f"Model {name!r} is not loaded.")
        self._held.pop(name, None)

    def describe(self, name: str) -> dict[str, str]:
        url = self.registry.url(name)
        if url is None:
            raise ClientError(404, "model_not_found", f"Model {name!r} is not loaded.")
        return {"modelName": name, "modelUrl": url}

    def listing(self, token: str | None, page_size: int = PAGE_SIZE) -> dict[str, Any]:
        names = self.registry.names()
        start = int(token) if token and token.isdigit() else 0
        page = [{"modelName": n, "modelUrl": self.registry.url(n) or ""}
                for n in names[start: start + page_size]]
        document: dict[str, Any] = {"models": page}
        if start + page_size < len(names):
            document["nextPageToken"] = str(start + page_size)
        return document

    def _read(self, name: str, url: str) -> Loaded:
        directory = Path(url)
        if not directory.is_dir():
            raise ClientError(404, "model_not_found", f"No model at {url!r} for {name!r}.")
        size = artifact_bytes(directory)
        if size > self.budget_bytes:
            raise ClientError(507, "insufficient_memory", f"Model {name!r} needs {size:,} "
                              f"bytes; this worker holds at most {self.budget_bytes:,} "
                              f"({BUDGET_VARIABLE}).")
        self._evict_for(size)
        try:
            loaded = Loaded(url, load(directory), size)
        except ArtifactError as error:
            raise ClientError(400, "bad_model", f"Model {name!r}: {error}") from None
        self._held[name] = loaded
        return loaded

    def _evict_for(self, size: int) -> None:
        while self._held and self.held_bytes + size > self.budget_bytes:
            self._held.popitem(last=False)


def load_request(body: bytes) -> tuple[str, str]:
    """``{"model_name": ..., "url": ...}`` from a ``POST /models`` body."""
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("model_name"), str) \
            or not isinstance(document.get("url"), str):
        raise ClientError(400, "bad_request", 'POST /models takes {"model_name": NAME, '
                          '"url": DIRECTORY}.')
    return document["model_name"], document["url"]
