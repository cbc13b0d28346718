"""A local multi-model endpoint: SageMaker's part of the multi-model contract, on a laptop.

``sagegam local deploy NAME FOLDER --multi-model`` serves the models in FOLDER (each a
``model.tar.gz``, any file name, or an artifact folder), as SageMaker serves the
``model.tar.gz`` files under an S3 prefix. As SageMaker does on ``InvokeEndpoint`` with a
``TargetModel``, an invocation of a model the container has not loaded unpacks it below
the endpoint's ``models/`` folder (the container's ``/opt/ml/models``), asks the server to
load it (``POST /models``), and then sends the request to ``/models/NAME/invoke``.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import urllib.parse
from pathlib import Path
from typing import Any

from sagegam.local import client
from sagegam.local.state import LocalError

CONTAINER_MODELS = "/opt/ml/models"


def prepare(source: Path, folder: Path) -> Path:
    """The endpoint's (empty) models folder, once ``source`` is a folder with models."""
    if not source.is_dir() or not any(source.iterdir()):
        raise LocalError(f"{source} is not a folder of models: a multi-model endpoint serves "
                         "the model.tar.gz files (or artifact folders) in one folder.")
    models = folder / "models"
    models.mkdir()
    return models


def invocation_path(record: dict[str, Any], folder: Path, target: str | None) -> str:
    """Where to send an invocation: the target model's route, loaded first if needed."""
    name = record["EndpointName"]
    if not record.get("MultiModel"):
        raise LocalError(f"Endpoint {name!r} serves one model; --target-model is for "
                         "endpoints deployed with --multi-model.")
    if not target:
        raise LocalError(f"Endpoint {name!r} is a multi-model endpoint: name the model with "
                         "--target-model FILE (a file in the folder it serves).")
    source = Path(record["Model"]) / target
    if "/" in target or target.startswith(".") or not source.exists():
        raise LocalError(f"No model {target!r} in {record['Model']}; name one of its files.")
    unpacked = _unpacked(source, folder / "models" / target)
    in_container = record.get("Engine", "subprocess") != "subprocess"
    url = f"{CONTAINER_MODELS}/{target}/model" if in_container else str(unpacked)
    _load(record, target, url)
    return f"/models/{urllib.parse.quote(target, safe='')}/invoke"


def _unpacked(source: Path, target_dir: Path) -> Path:
    model_dir = target_dir / "model"
    if model_dir.is_dir():
        return model_dir
    scratch = target_dir.with_name(target_dir.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    if source.is_dir():
        shutil.copytree(source, scratch / "model")
    else:
        try:
            with tarfile.open(source) as archive:
                archive.extractall(scratch / "model", filter="data")
        except (tarfile.TarError, OSError, EOFError) as error:
            shutil.rmtree(scratch, ignore_errors=True)
            raise LocalError(f"{source} cannot be unpacked safely: {error}.") from None
    scratch.rename(target_dir)
    return model_dir


def _load(record: dict[str, Any], target: str, url: str) -> None:
    body = json.dumps({"model_name": target, "url": url}).encode()
    answer = client.post(record["Url"], body, "application/json", None, None, 60.0,
                         record.get("EndpointId"), "/models")
    if answer.status not in (200, 409):  # 409: already loaded, by this or another call
        raise LocalError(f"Loading {target!r} failed with HTTP {answer.status}: "
                         f"{answer.body.decode(errors='replace')}")
