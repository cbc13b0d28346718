"""The real `serve` command as a subprocess: HTTP, concurrency and SIGTERM."""

from __future__ import annotations

import http.client
import io
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import orjson
import pandas as pd

from tests.serving.conftest import Server, csv_body


def test_ping_is_200_with_an_empty_body_soon_after_start(server):
    response = httpx.get(server.url + "/ping")
    assert response.status_code == 200 and response.content == b""
    assert server.ready_after < 10


def test_invocations_over_http_match_in_process(server, regressor, rows):
    buffer = io.BytesIO()
    np.save(buffer, rows)
    response = httpx.post(server.url + "/invocations", content=buffer.getvalue(),
                          headers={"Content-Type": "application/x-npy",
                                   "Accept": "application/x-npy"})
    assert response.headers["content-type"] == "application/x-npy"
    np.testing.assert_allclose(np.load(io.BytesIO(response.content)), regressor.predict(rows),
                               rtol=1e-12)


def test_execution_parameters_for_batch_transform(server):
    document = httpx.get(server.url + "/execution-parameters").json()
    assert document == {"MaxConcurrentTransforms": 2, "BatchStrategy": "MULTI_RECORD",
                        "MaxPayloadInMB": 6}


def test_unknown_routes_and_methods_are_4xx(server):
    assert httpx.get(server.url + "/nope").status_code == 404
    assert httpx.get(server.url + "/invocations").status_code == 405


def test_a_body_over_six_megabytes_gets_413_and_the_worker_lives(server):
    body = b"0.5,0.5,0.5\n" * 600_000  # 7.2 MB
    response = httpx.post(server.url + "/invocations", content=body,
                          headers={"Content-Type": "text/csv"}, timeout=30)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert httpx.get(server.url + "/ping").status_code == 200


def test_concurrent_load_has_no_failures_and_exact_answers(server, regressor):
    rng = np.random.default_rng(8)
    requests = [rng.uniform(size=(1 + i % 5, 3)) for i in range(2000)]
    expected = [regressor.predict(r) for r in requests]
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    with httpx.Client(base_url=server.url, limits=limits, timeout=30) as client:
        def send(index: int) -> tuple[int, list[float]]:
            response = client.post("/invocations", content=orjson.dumps(requests[index].tolist()),
                                   headers={"Content-Type": "application/json"})
            return response.status_code, response.json()["predictions"]

        with ThreadPoolExecutor(max_workers=64) as pool:
            results = list(pool.map(send, range(len(requests))))
    assert all(status == 200 for status, _ in results)
    for (_, got), want in zip(results, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_sigterm_during_load_drains_and_exits_within_30_seconds(regressor_dir):
    running = Server(regressor_dir, workers=1)
    statuses: list[int] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=running.url, timeout=10) as client:
            while not stop.is_set():
                try:
                    response = client.post("/invocations", content=b"0.1,0.2,0.3\n",
                                           headers={"Content-Type": "text/csv"})
                    statuses.append(response.status_code)
                except httpx.TransportError:
                    return  # the server has closed: expected after SIGTERM

    workers = [threading.Thread(target=load) for _ in range(4)]
    for worker in workers:
        worker.start()
    time.sleep(1.0)
    running.process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    code = running.process.wait(timeout=30)
    stop.set()
    for worker in workers:
        worker.join(timeout=10)
    assert time.monotonic() - started < 30
    assert code == 0  # the supervisor drained its worker and exits cleanly
    assert statuses and set(statuses) == {200}


def test_sigterm_mid_request_still_answers_it_then_exits(regressor_dir, regressor, rows):
    running = Server(regressor_dir, workers=1)
    body = csv_body(pd.DataFrame(rows))
    half = len(body) // 2
    connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
    connection.putrequest("POST", "/invocations")
    for name, value in [("Content-Type", "text/csv"), ("Accept", "application/json"),
                        ("Content-Length", str(len(body)))]:
        connection.putheader(name, value)
    connection.endheaders(message_body=body[:half])
    time.sleep(0.5)  # the worker has the request's headers: the request is in flight
    running.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)  # and the worker is shutting down
    connection.send(body[half:])
    response = connection.getresponse()
    answer = orjson.loads(response.read())
    assert response.status == 200 and response.getheader("connection") == "close"
    np.testing.assert_allclose(answer["predictions"], regressor.predict(rows), rtol=1e-12)
    assert running.process.wait(timeout=30) == 0
    assert "cancels" not in running.process.communicate()[0]


def _bodies(rows: np.ndarray) -> dict[str, bytes]:
    buffer = io.BytesIO()
    np.save(buffer, rows)
    return {
        "application/x-npy": buffer.getvalue(),
        "text/csv": "\n".join(",".join(repr(float(v)) for v in r) for r in rows).encode(),
        "application/json": orjson.dumps({"instances": rows.tolist()}),
        "application/jsonlines": b"\n".join(orjson.dumps(r) for r in rows.tolist()),
    }


def _decoded(response: httpx.Response) -> np.ndarray:
    kind = response.headers["content-type"]
    if kind == "application/x-npy":
        return np.load(io.BytesIO(response.content), allow_pickle=False)
    if kind == "text/csv":
        return np.loadtxt(io.StringIO(response.text), ndmin=1)
    if kind == "application/jsonlines":
        return np.array([orjson.loads(line)["prediction"] for line in response.text.split()])
    return np.asarray(response.json()["predictions"])


def test_every_content_type_and_accept_over_http(server, regressor, rows):
    accepts = {"application/x-npy": "application/x-npy", "text/csv": "text/csv",
               "application/json": "application/json",
               "application/jsonlines": "application/jsonlines",
               "*/*": "application/json", None: "application/json"}
    with httpx.Client(base_url=server.url) as client:
        for content_type, body in _bodies(rows).items():
            for accept, answered in accepts.items():
                headers = {"Content-Type": content_type}
                if accept is not None:
                    headers["Accept"] = accept
                response = client.post("/invocations", content=body, headers=headers)
                assert response.status_code == 200, (content_type, accept, response.text)
                assert response.headers["content-type"] == answered
                np.testing.assert_allclose(_decoded(response), regressor.predict(rows),
                                           rtol=1e-12, err_msg=f"{content_type} {accept}")


def test_client_errors_over_http_are_4xx_with_json_and_the_worker_lives(server):
    cases = [
        ("text/csv", "application/xml", b"0.1,0.2,0.3", 406),
        ("application/xml", None, b"<rows/>", 415),
        ("text/csv", None, b"0.1,0.2,0.3\n0.1,oops,0.3", 400),
        ("text/csv", None, b"0.1,0.2", 400),
        ("text/csv", None, b"0.1,nan,0.3", 400),
        ("application/json", None, b"[[0.1, 0.2", 400),
        ("application/x-npy", None, b"\x93NUMPY garbage", 400),
    ]
    with httpx.Client(base_url=server.url) as client:
        for content_type, accept, body, status in cases:
            headers = {"Content-Type": content_type} | ({"Accept": accept} if accept else {})
            response = client.post("/invocations", content=body, headers=headers)
            assert response.status_code == status, (content_type, body, response.text)
            assert {"error", "message"} <= set(response.json()) <= {"error", "message", "row"}
        bad_cell = client.post("/invocations", content=b"0.1,0.2,0.3\n0.1,oops,0.3",
                               headers={"Content-Type": "text/csv"}).json()["message"]
        assert "Row 2, column 2 (dose)" in bad_cell
        assert client.get("/ping").status_code == 200


def test_the_serving_path_imports_numpy_but_not_scikit_learn_scipy_or_pandas(regressor_dir):
    script = ("import sys; import sagegam.cli; from sagegam.container.serving import app; "
              "app.InferenceApp(sys.argv[1]).load(); "
              "print(sorted(m for m in ('sklearn', 'scipy', 'pandas') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script, str(regressor_dir)],
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"

