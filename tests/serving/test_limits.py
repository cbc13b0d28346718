"""The real `serve` under hostile and unlucky conditions: limits, timeouts, deaths, ports."""

from __future__ import annotations

import functools
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from sagegam import load
from tests.serving.conftest import Server, helpers_of, npy_body, server_workers

NPY = "application/x-npy"
FAST_TIMEOUTS = {"SAGEMAKER_MODEL_SERVER_TIMEOUT": "1", "SAGEGAM_KEEP_ALIVE_SECONDS": "1",
                 "SAGEGAM_ENDPOINT_ID": "endpoint-7f3a"}


@pytest.fixture(scope="module")
def strict_server(regressor_dir: Path) -> Iterator[Server]:
    running = Server(regressor_dir, workers=1, env=FAST_TIMEOUTS)
    yield running
    running.stop()


def _raw(server: Server, data: bytes, wait: float = 10.0) -> tuple[bytes, float]:
    """Send ``data`` and read until the server closes; the answer and seconds taken."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as sock:
        started = time.monotonic()
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer, time.monotonic() - started


def test_ping_echoes_the_endpoint_id_the_runtime_chose(strict_server):
    response = httpx.get(strict_server.url + "/ping")
    assert response.status_code == 200
    assert response.headers["x-sagegam-endpoint-id"] == "endpoint-7f3a"


def test_a_huge_header_is_refused_with_431_and_the_worker_lives(strict_server):
    answer, _ = _raw(strict_server, b"POST /invocations HTTP/1.1\r\nHost: x\r\nX-Big: "
                     + b"a" * 2_000_000 + b"\r\nContent-Length: 11\r\n\r\n0.1,0.2,0.3")
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b"SAGEGAM_MAX_HEADER_KB" in answer
    assert httpx.get(strict_server.url + "/ping").status_code == 200


def test_a_header_just_over_the_limit_in_one_packet_is_refused(strict_server):
    response = httpx.post(strict_server.url + "/invocations", content=b"0.1,0.2,0.3",
                          headers={"Content-Type": "text/csv", "X-Big": "a" * 40_000})
    assert response.status_code == 431


def test_a_request_whose_head_never_finishes_gets_408_and_is_closed(strict_server):
    answer, seconds = _raw(strict_server, b"POST /invocations HTTP/1.1\r\nHost: x\r\n")
    assert answer.startswith(b"HTTP/1.1 408 ") and b"SAGEMAKER_MODEL_SERVER_TIMEOUT" in answer
    assert seconds < 5


def test_a_request_whose_body_never_finishes_gets_408_and_is_closed(strict_server):
    answer, seconds = _raw(strict_server, b"POST /invocations HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Type: text/csv\r\nContent-Length: 100\r\n\r\n0.1,")
    assert answer.startswith(b"HTTP/1.1 408 ") and seconds < 5
    assert httpx.get(strict_server.url + "/ping").status_code == 200


def test_a_silent_connection_is_closed_after_the_keep_alive_time(strict_server):
    answer, seconds = _raw(strict_server, b"")
    assert answer == b"" and seconds < 5


def test_a_killed_worker_is_logged_with_its_cause_and_replaced(regressor_dir):
    running = Server(regressor_dir, workers=1)
    try:
        worker = server_workers(running.process.pid)[-1]
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and worker in server_workers(running.process.pid):
            time.sleep(0.1)
        assert running._wait_for_ping(30) > 0  # the replacement answers
    finally:
        running.stop()
    log = running.process.communicate()[0]
    assert f"serve: worker {worker} died (killed by SIGKILL); started worker" in log


def test_a_taken_port_is_refused_in_one_sentence_with_exit_code_2(regressor_dir, server):
    result = subprocess.run([sys.executable, "-m", "sagegam", "serve", "--model-dir",
                             str(regressor_dir), "--host", "127.0.0.1", "--port",
                             str(server.port)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith(f"serve: cannot listen on 127.0.0.1:{server.port}: ")
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.slow
def test_concurrent_large_bodies_are_bounded_in_memory(regressor_dir):
    """16 concurrent 5.9 MB bodies against one worker with one large-request slot: they
    wait before their bodies are read, so the worker and its helper hold about one at a
    time (without the bound 32 of them took one worker to 1.07 GB)."""
    running = Server(regressor_dir, workers=1, env={"SAGEGAM_MAX_LARGE_REQUESTS": "1"})
    rows = np.random.default_rng(1).uniform(size=(230_000, 3))
    body = ("\n".join(",".join(f"{v:.6f}" for v in row) for row in rows) + "\n").encode()
    try:
        worker = server_workers(running.process.pid)[-1]
        with httpx.Client(timeout=120, limits=httpx.Limits(max_connections=16)) as client, \
                ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(lambda _: client.post(
                running.url + "/invocations", content=body,
                headers={"Content-Type": "text/csv", "Accept": "text/csv"}).status_code,
                range(16)))
        helpers = helpers_of(worker)
        peak_kb = _peak_rss_kb(worker) + sum(_peak_rss_kb(helper) for helper in helpers)
    finally:
        running.stop()
    assert statuses == [200] * 16
    assert len(helpers) == 1  # one slot: one helper process
    assert peak_kb < 300_000, f"worker and helper peaked at {peak_kb / 1024:.0f} MB"


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _resealed(source: Path, target: Path, change) -> Path:
    """A copy of the artifact with its metadata changed and its digest recomputed, as
    anyone who can write the files can do (the digests are integrity, not authentication)."""
    import hashlib
    import json
    import shutil

    shutil.copytree(source, target)
    path = target / "sagegam-model.json"
    metadata = json.loads(path.read_text())
    change(metadata)
    content = {k: v for k, v in metadata.items() if k != "digest"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    metadata["digest"] = hashlib.sha256(canonical.encode()).hexdigest()
    path.write_text(json.dumps(metadata))
    return target


@pytest.mark.parametrize("change", [
    lambda m: m.pop("arrays"), lambda m: m.update(arrays="none"),
    lambda m: m.update(arrays={"file": "sagegam-arrays.npz"}),
], ids=["no arrays key", "arrays not an object", "no sha256"])
def test_metadata_without_its_arrays_digest_stops_serve_with_exit_2(regressor_dir, tmp_path,
                                                                   change):
    broken = _resealed(regressor_dir, tmp_path / "model", change)
    result = subprocess.run([sys.executable, "-m", "sagegam", "serve", "--model-dir",
                             str(broken), "--port", "1"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("serve: ") and "no 'arrays' entry" in result.stderr
    assert "Traceback" not in result.stderr


def _large_body() -> bytes:
    rows = np.random.default_rng(4).uniform(size=(20_000, 3))
    return ("\n".join(",".join(f"{v:.6f}" for v in row) for row in rows) + "\n").encode()


def test_a_dead_helper_costs_one_503_and_the_worker_carries_on(regressor_dir):
    running = Server(regressor_dir, workers=1)
    body = _large_body()
    assert len(body) > 64 * 1024
    post = functools.partial(httpx.post, running.url + "/invocations", content=body,
                             headers={"Content-Type": "text/csv"}, timeout=60)
    try:
        assert post().status_code == 200
        worker = server_workers(running.process.pid)[-1]
        (helper,) = helpers_of(worker)
        os.kill(helper, signal.SIGKILL)
        time.sleep(0.5)
        statuses = [post().status_code for _ in range(2)]
        assert statuses in ([503, 200], [200, 200]), statuses
        assert worker in server_workers(running.process.pid)
    finally:
        running.stop()


def test_helpers_leave_with_their_worker(regressor_dir):
    running = Server(regressor_dir, workers=1)
    try:
        post = httpx.post(running.url + "/invocations", content=_large_body(),
                          headers={"Content-Type": "text/csv"}, timeout=60)
        assert post.status_code == 200
        worker = server_workers(running.process.pid)[-1]
        (helper,) = helpers_of(worker)
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{helper}").exists() and \
                b"zombie" not in Path(f"/proc/{helper}/status").read_bytes().lower():
            assert time.monotonic() < deadline, "the helper outlived its worker"
            time.sleep(0.1)
    finally:
        running.stop()


def test_a_batch_worker_answers_large_bodies_itself_and_keeps_its_health_check(
        regressor_dir):
    """SAGEMAKER_BATCH=true: a large body is answered in a thread of its worker, with no
    helper process to move it to, and /ping keeps answering within SageMaker's 2 s while
    the worker predicts a million rows."""
    running = Server(regressor_dir, workers=1, env={"SAGEMAKER_BATCH": "true",
                                                    "SAGEMAKER_MAX_PAYLOAD_IN_MB": "100"})
    rows = np.random.default_rng(5).uniform(size=(1_000_000, 3))
    expected = load(regressor_dir).predict(rows)
    try:
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(running.post, npy_body(rows), NPY, NPY)
            pings = []
            while not answer.done():
                started = time.monotonic()
                status = httpx.get(running.url + "/ping", timeout=2).status_code
                pings.append((status, time.monotonic() - started))
                time.sleep(0.01)
            response = answer.result()
        helpers = helpers_of(server_workers(running.process.pid)[-1])
    finally:
        running.stop()
    assert response.status_code == 200
    # The same arithmetic as in process; rtol allows rounding's order to differ (as the
    # other over-HTTP comparisons do), not a different model.
    np.testing.assert_allclose(np.load(io.BytesIO(response.content)), expected, rtol=1e-12)
    assert helpers == []
    assert pings and all(status == 200 and seconds < 2 for status, seconds in pings), pings
