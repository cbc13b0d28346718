"""SageMaker's multi-model contract in-process (httpx over ASGI): load, list, describe,
invoke, unload, the byte budget with its evictions and 507, and workers sharing loads."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import httpx
import numpy as np
import orjson
import pytest

from sagegam import load
from sagegam.container.serving.core import ServerSettings
from sagegam.container.serving.multimodel import ModelStore, Registry, artifact_bytes
from sagegam.container.serving.multimodel_app import MultiModelApp
from tests.serving.test_app import request


@pytest.fixture()
def models(tmp_path: Path, regressor_dir: Path, classifier_dir: Path) -> Path:
    """/opt/ml/models as SageMaker lays it out: one unpacked artifact per model."""
    root = tmp_path / "models"
    for name, source in (("store-1", regressor_dir), ("store-2", regressor_dir),
                         ("churn", classifier_dir)):
        shutil.copytree(source, root / name / "model")
    return root


def _app(tmp_path: Path, budget: int = 10**9) -> MultiModelApp:
    return MultiModelApp(ModelStore(Registry(tmp_path / "registry"), budget), ServerSettings())


def _load(app: MultiModelApp, name: str, url: Path) -> httpx.Response:
    return request(app, "POST", "/models", json={"model_name": name, "url": str(url)})


def _npy(rows: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, rows)
    return buffer.getvalue()


def _invoke(app: MultiModelApp, name: str, rows: np.ndarray) -> httpx.Response:
    return request(app, "POST", f"/models/{name}/invoke", content=_npy(rows),
                   headers={"Content-Type": "application/x-npy", "Accept": "application/json"})


def test_load_list_describe_invoke_and_unload_follow_sagemakers_contract(tmp_path, models,
                                                                        rows, regressor):
    app = _app(tmp_path)
    assert request(app, "GET", "/ping").status_code == 200  # no model needed to start
    for name in ("store-1", "churn"):
        assert _load(app, name, models / name / "model").status_code == 200
    listed = request(app, "GET", "/models").json()
    assert listed == {"models": [
        {"modelName": "churn", "modelUrl": str(models / "churn" / "model")},
        {"modelName": "store-1", "modelUrl": str(models / "store-1" / "model")}]}
    assert request(app, "GET", "/models/store-1").json() == [
        {"modelName": "store-1", "modelUrl": str(models / "store-1" / "model")}]
    answer = _invoke(app, "store-1", rows)
    assert answer.status_code == 200
    np.testing.assert_allclose(answer.json()["predictions"], regressor.predict(rows),
                               rtol=1e-12)
    assert request(app, "DELETE", "/models/store-1").status_code == 200
    assert _invoke(app, "store-1", rows).status_code == 404
    assert request(app, "GET", "/models/store-1").status_code == 404
    assert _load(app, "store-1", models / "store-1" / "model").status_code == 200


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"model_name": "churn", "url": "MODELS/churn/model"}, 409, "already loaded"),
    ({"model_name": "ghost", "url": "/nowhere/model"}, 404, "No model at"),
    ({"model_name": "x"}, 400, 'POST /models takes {"model_name"'),
])
def test_bad_loads_are_refused_with_the_contracts_statuses(tmp_path, models, body, status,
                                                           words):
    app = _app(tmp_path)
    assert _load(app, "churn", models / "churn" / "model").status_code == 200
    if "url" in body:
        body = {**body, "url": body["url"].replace("MODELS", str(models))}
    answer = request(app, "POST", "/models", json=body)
    assert answer.status_code == status
    assert words in answer.json()["message"]


def test_a_worker_evicts_the_least_recently_used_within_its_budget_and_refuses_507(
        tmp_path, models, rows, regressor):
    size = artifact_bytes(models / "store-1" / "model")
    app = _app(tmp_path, budget=int(2.5 * size))
    for name in ("store-1", "store-2"):
        assert _load(app, name, models / name / "model").status_code == 200
    assert _invoke(app, "store-1", rows).status_code == 200  # store-2 is now the oldest
    churn = _load(app, "churn", models / "churn" / "model")
    assert churn.status_code == 200
    assert app.store.held_bytes <= app.store.budget_bytes
    assert list(app.store._held) == ["store-1", "churn"]
    # Evicted from memory, still loaded for the container: read again on its next call.
    answer = _invoke(app, "store-2", rows)
    assert answer.status_code == 200
    np.testing.assert_allclose(answer.json()["predictions"], regressor.predict(rows),
                               rtol=1e-12)
    small = _app(tmp_path / "small", budget=size // 2)
    refused = _load(small, "store-1", models / "store-1" / "model")
    assert refused.status_code == 507
    assert "SAGEGAM_MULTI_MODEL_MEMORY_MB" in refused.json()["message"]


def test_workers_share_what_is_loaded(tmp_path, models, rows):
    first, second = _app(tmp_path), _app(tmp_path)  # two workers, one registry
    assert _load(first, "churn", models / "churn" / "model").status_code == 200
    answer = request(second, "POST", "/models/churn/invoke", content=b"0.5,0.5,0.5\n",
                     headers={"Content-Type": "text/csv", "Accept": "application/json"})
    assert answer.status_code == 200
    expected = load(models / "churn" / "model").predict_proba(np.full((1, 3), 0.5))[:, 1]
    np.testing.assert_allclose(orjson.loads(answer.content)["predictions"], expected,
                               rtol=1e-12)
    assert _load(second, "churn", models / "churn" / "model").status_code == 409
    assert request(second, "DELETE", "/models/churn").status_code == 200
    assert _invoke(first, "churn", rows).status_code == 404


def test_model_names_with_dots_and_dashes_travel_url_encoded(tmp_path, models, rows):
    app = _app(tmp_path)
    name = "store-1.tar.gz"
    assert _load(app, name, models / "store-1" / "model").status_code == 200
    assert _invoke(app, "store-1.tar.gz", rows).status_code == 200
    assert request(app, "GET", "/models").json()["models"][0]["modelName"] == name


def test_a_real_multi_model_server_answers_from_every_worker(tmp_path, models, rows,
                                                             regressor):
    from tests.serving.conftest import Server

    # Started as SageMaker starts a multi-model container: `serve`, no model, the variable.
    server = Server(tmp_path / "no-model-here", workers=2,
                    env={"SAGEMAKER_MULTI_MODEL": "true"})
    try:
        with httpx.Client(base_url=server.url) as client:
            loaded = client.post("/models", json={"model_name": "store-1",
                                                  "url": str(models / "store-1" / "model")})
            assert loaded.status_code == 200, loaded.text
            for _ in range(20):  # new connections land on both workers
                answer = httpx.post(f"{server.url}/models/store-1/invoke", content=_npy(rows),
                                    headers={"Content-Type": "application/x-npy"})
                assert answer.status_code == 200, answer.text
                np.testing.assert_allclose(answer.json()["predictions"],
                                           regressor.predict(rows), rtol=1e-12)
    finally:
        server.stop()
