"""The ASGI adapter in-process (httpx over ASGI): routes, headers and the body reader."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest

from sagegam.container.serving.app import InferenceApp
from sagegam.container.serving.core import ServerSettings


def request(app: InferenceApp, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(send())


@pytest.fixture()
def app(regressor_dir: Path) -> InferenceApp:
    served = InferenceApp(str(regressor_dir), ServerSettings(workers=3))
    served.load()
    return served


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_ping_is_503_until_the_model_is_loaded_then_200_with_an_empty_body(regressor_dir):
    app = InferenceApp(str(regressor_dir), ServerSettings())
    assert request(app, "GET", "/ping").status_code == 503
    app.load()
    response = request(app, "GET", "/ping")
    assert response.status_code == 200 and response.content == b""


def test_invocations_answer_with_the_type_asked_for_and_say_so(app, regressor, rows):
    expected = regressor.predict(rows)
    response = request(app, "POST", "/invocations", content=npy(rows),
                       headers={"Content-Type": "application/x-npy",
                                "Accept": "application/x-npy"})
    assert response.headers["content-type"] == "application/x-npy"
    # what the SDK's NumpyDeserializer does with an application/x-npy answer
    np.testing.assert_allclose(np.load(io.BytesIO(response.content), allow_pickle=False),
                               expected, rtol=1e-12)
    response = request(app, "POST", "/invocations", content=npy(rows),
                       headers={"Content-Type": "application/x-npy", "Accept": "text/csv"})
    assert response.headers["content-type"] == "text/csv"
    np.testing.assert_allclose(np.loadtxt(io.StringIO(response.text)), expected, rtol=1e-12)


def test_custom_attributes_header_asks_for_explanations(app, regressor, rows):
    response = request(app, "POST", "/invocations", content=orjson.dumps(rows.tolist()),
                       headers={"Content-Type": "application/json",
                                "X-Amzn-SageMaker-Custom-Attributes": "explain=true"})
    document = response.json()
    assert response.status_code == 200 and "explanations" in document
    for row, explanation in zip(rows, document["explanations"], strict=True):
        total = explanation["intercept"] + sum(explanation["contributions"].values())
        np.testing.assert_allclose(total, regressor.linear_predictor(row[None, :])[0],
                                   rtol=1e-9)


def test_execution_parameters_report_the_workers_and_payload_limit(app):
    assert request(app, "GET", "/execution-parameters").json() == {
        "MaxConcurrentTransforms": 3, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}


@pytest.mark.parametrize(("environment", "slots"), [
    ({}, 1),  # real time: one large body per worker, in its helper
    ({"SAGEMAKER_BATCH": "true"}, 3),  # what /execution-parameters suggests: the workers
    ({"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "5"}, 5),
    ({"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "0"}, 3),
    ({"SAGEMAKER_BATCH": "true", "SAGEGAM_MAX_LARGE_REQUESTS": "1"}, 1),
])
def test_a_batch_worker_takes_every_mini_batch_the_job_has_in_flight(environment, slots):
    """Connections are not shared out among workers (two that arrive together land on
    one), so in batch transform each worker can answer all the job sends at once."""
    settings = ServerSettings.from_environment(environment, workers=3)
    assert settings.large_request_slots == slots


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/nothing-here", 404), ("GET", "/invocations", 405), ("POST", "/ping", 405),
])
def test_unknown_routes_and_methods_get_a_json_error(app, method, path, status):
    response = request(app, method, path)
    assert response.status_code == status
    assert set(response.json()) == {"error", "message"}


def test_a_body_over_the_configured_limit_gets_413(regressor_dir):
    app = InferenceApp(str(regressor_dir), ServerSettings(max_payload_bytes=1000))
    app.load()
    response = request(app, "POST", "/invocations", content=b"0.5,0.5,0.5\n" * 100,
                       headers={"Content-Type": "text/csv"})
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_a_chunked_body_is_read_whole(app, regressor, rows):
    lines = [",".join(repr(float(v)) for v in row).encode() + b"\n" for row in rows]

    async def chunks() -> Any:
        for line in lines:
            yield line

    response = request(app, "POST", "/invocations", content=chunks(),
                       headers={"Content-Type": "text/csv", "Accept": "application/json"})
    np.testing.assert_allclose(response.json()["predictions"], regressor.predict(rows),
                               rtol=1e-12)


def test_a_tweedie_model_with_a_monotone_feature_is_served_as_fitted(tmp_path, rows):
    from sagegam import GAMRegressor, save

    rng = np.random.default_rng(4)
    X = rng.uniform(0, 1, size=(600, 3))
    mean = np.exp(np.sin(3 * X[:, 0]) + X[:, 1])
    counts = rng.poisson(mean ** 0.5 / 0.5)
    y = np.array([rng.gamma(k, 0.5 * mean_i ** 0.5) if k else 0.0
                  for k, mean_i in zip(counts, mean, strict=True)])
    model = GAMRegressor(family="tweedie", monotonic_cst=[0, 1, 0]).fit(X, y)
    save(model, tmp_path)
    served = InferenceApp(str(tmp_path), ServerSettings(workers=1))
    served.load()
    response = request(served, "POST", "/invocations", content=npy(rows),
                       headers={"Content-Type": "application/x-npy", "Accept": "text/csv"})
    assert response.status_code == 200
    np.testing.assert_allclose(np.loadtxt(io.StringIO(response.text)), model.predict(rows),
                               rtol=1e-12)
