"""The local runtime under unlucky conditions: each fault a sentence, never a wrong answer."""

from __future__ import annotations

import http.server
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sagegam import GAMRegressor, load, save
from sagegam.container.serving import MALLOC_TUNABLES
from sagegam.local import endpoints, training, transform
from sagegam.local.state import LocalError
from tests.serving.conftest import server_workers


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SAGEGAM_HOME", str(tmp_path / "home"))
    yield tmp_path / "home"
    for endpoint in endpoints.list_endpoints():  # whatever a failing test left running
        endpoints.delete(endpoint["EndpointName"])


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 300)
    path = tmp_path_factory.mktemp("model")
    save(GAMRegressor(df=8).fit(x[:, None], np.sin(x) + 2000), path)
    return path


def _archive(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


class _Impostor(http.server.BaseHTTPRequestHandler):
    """Some other server that answers anything with 200."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    do_POST = do_GET  # noqa: N815 - the stdlib's name

    def log_message(self, *args: object) -> None:
        pass


def test_a_port_held_by_another_endpoint_is_refused(home, model_dir):
    first = endpoints.deploy("first", model_dir)
    try:
        with pytest.raises(LocalError, match=rf"Port {first['Port']} is already in use by "
                                             "endpoint 'first'"):
            endpoints.deploy("second", model_dir, port=first["Port"])
        assert [e["EndpointName"] for e in endpoints.list_endpoints()] == ["first"]
    finally:
        endpoints.delete("first")


def test_another_server_on_an_endpoints_port_is_not_taken_for_it(home, model_dir):
    record = endpoints.deploy("gone", model_dir)
    os.killpg(record["Pid"], signal.SIGKILL)  # the endpoint's server dies ...
    deadline = time.monotonic() + 10
    while endpoints.describe("gone")["EndpointStatus"] == "InService":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    impostor = http.server.HTTPServer(("127.0.0.1", record["Port"]), _Impostor)
    threading.Thread(target=impostor.serve_forever, daemon=True).start()
    try:  # ... and another server takes its port, answering /ping with 200
        described = endpoints.describe("gone")
        assert described["EndpointStatus"] == "Failed"
        assert "answers /ping as this endpoint" in described["FailureReason"]
        assert endpoints.list_endpoints()[0]["EndpointStatus"] == "Failed"
        with pytest.raises(LocalError, match="is not in service"):
            endpoints.invoke("gone", b"5\n", "text/csv")
    finally:
        impostor.shutdown()
        impostor.server_close()
        endpoints.delete("gone")


def test_a_refused_archive_leaves_nothing_and_the_name_stays_usable(home, model_dir, tmp_path):
    files = {p.name: p.read_bytes() for p in model_dir.iterdir()}
    evil = _archive(tmp_path / "evil.tar.gz", {**files, "../../escaped.txt": b"x"})
    with pytest.raises(LocalError, match="cannot be unpacked safely"):
        endpoints.deploy("model", evil)
    assert not endpoints.endpoint_dir("model").exists()
    assert not (home / "escaped.txt").exists() and not (home.parent / "escaped.txt").exists()
    with pytest.raises(LocalError, match="No local endpoint named 'model'"):
        endpoints.delete("model")
    good = _archive(tmp_path / "model.tar.gz", files)
    assert endpoints.deploy("model", good)["EndpointStatus"] == "InService"
    endpoints.delete("model")


def test_two_deploys_of_one_name_race_to_one_endpoint_and_one_sentence(home, model_dir):
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def deploy() -> None:
        barrier.wait()
        try:
            outcomes.append(endpoints.deploy("raced", model_dir)["EndpointStatus"])
        except Exception as error:  # the test records whatever escapes
            outcomes.append(error)

    threads = [threading.Thread(target=deploy) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert "InService" in outcomes, outcomes
        refused = [o for o in outcomes if o != "InService"]
        assert len(refused) == 1 and isinstance(refused[0], LocalError), outcomes
        assert "raced" in str(refused[0])
    finally:
        endpoints.delete("raced")


def test_the_remains_of_a_killed_deploy_are_cleared(home, model_dir):
    folder = endpoints.endpoint_dir("leftover")
    (folder / "model.partial").mkdir(parents=True)
    (folder / "deploying.json").write_text(json.dumps({"Pid": 2**22 + 1}))  # no such process
    assert endpoints.list_endpoints() == []
    assert endpoints.deploy("leftover", model_dir)["EndpointStatus"] == "InService"
    endpoints.delete("leftover")
    (folder / "model.partial").mkdir(parents=True)
    (folder / "deploying.json").write_text(json.dumps({"Pid": 2**22 + 1}))
    endpoints.delete("leftover")
    assert not folder.exists()


def _features(path: Path, rows: np.ndarray) -> Path:
    np.savetxt(path, rows, delimiter=",", fmt="%.6f")
    return path


def test_a_header_is_decided_once_per_file_and_refused_before_a_server_starts(home, model_dir,
                                                                             tmp_path):
    data = tmp_path / "with-header.csv"
    data.write_text("x0\n1.5\n2.5\n")
    with pytest.raises(LocalError, match=r"with-header.csv starts with a header row \('x0'\)"):
        transform.run_transform(transform.TransformSpec("hdr", model_dir, [data],
                                                        tmp_path / "out"))
    assert not (home / "endpoints").exists() or endpoints.list_endpoints() == []


def test_a_bad_record_is_named_by_its_line_in_the_file(home, model_dir, tmp_path):
    rows = np.random.default_rng(1).uniform(0, 10, size=(3000, 1))
    data = _features(tmp_path / "big.csv", rows)
    lines = data.read_text().splitlines()
    lines[2499] = "ten"
    data.write_text("\n".join(lines) + "\n")
    spec = transform.TransformSpec("rows", model_dir, [data], tmp_path / "out",
                                   max_payload_mb=0.01, max_concurrent=2)
    with pytest.raises(LocalError) as caught:
        transform.run_transform(spec)
    message = str(caught.value)
    assert message.startswith("big.csv, line 2500: HTTP 400: ")
    assert "'ten' is not a number" in message


def test_endpoint_workers_run_with_huge_pages_advised_unless_the_user_set_glibc_tunables(
        home, model_dir, monkeypatch):
    """As the image's environment sets them (MALLOC_TUNABLES); a user's own are kept."""
    found = []
    for own in (None, "glibc.malloc.arena_max=2"):
        if own is not None:
            monkeypatch.setenv("GLIBC_TUNABLES", own)
        else:
            monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
        endpoints.deploy("tunables", model_dir)
        try:
            (worker,) = server_workers(endpoints.describe("tunables")["Pid"])
            environ = Path(f"/proc/{worker}/environ").read_bytes().split(b"\0")
            found.append([v for v in environ if v.startswith(b"GLIBC_TUNABLES=")])
        finally:
            endpoints.delete("tunables")
    assert found == [[f"GLIBC_TUNABLES={MALLOC_TUNABLES}".encode()],
                     [b"GLIBC_TUNABLES=glibc.malloc.arena_max=2"]]


def test_a_worker_killed_mid_transform_costs_a_retry_not_the_job(home, model_dir, tmp_path):
    rows = np.random.default_rng(2).uniform(0, 10, size=(60_000, 1))
    data = _features(tmp_path / "many.csv", rows)
    killed: list[int] = []

    def kill_a_worker(_: int) -> None:
        if killed:
            return
        server = endpoints.describe("transform-killed")["Pid"]
        workers = server_workers(server)
        os.kill(workers[0], signal.SIGKILL)
        killed.append(workers[0])

    spec = transform.TransformSpec("killed", model_dir, [data], tmp_path / "out",
                                   max_payload_mb=0.02, max_concurrent=2)
    transform.run_transform(spec, progress=kill_a_worker)
    assert killed
    got = np.loadtxt(tmp_path / "out" / "many.csv.out")
    np.testing.assert_allclose(got, load(model_dir).predict(np.round(rows, 6)), rtol=1e-12)


def test_a_second_ctrl_c_still_leaves_the_job_stopped(home, tmp_path):
    rng = np.random.default_rng(3)
    np.savetxt(tmp_path / "big.csv", rng.uniform(size=(400_000, 5)), delimiter=",",
               fmt="%.6f")
    cli = subprocess.Popen([sys.executable, "-m", "sagegam", "local", "train", "twice",
                            "--train", str(tmp_path / "big.csv")],
                           env={**os.environ, "SAGEGAM_HOME": str(home)},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert cli.stdout is not None
    for line in cli.stdout:
        if "reading channel" in line:
            break
    cli.send_signal(signal.SIGINT)
    time.sleep(0.005)
    cli.send_signal(signal.SIGINT)
    output = line + cli.stdout.read()
    assert cli.wait(timeout=150) == 1
    assert "Traceback" not in output
    description = training.describe("twice")
    assert description["TrainingJobStatus"] == "Stopped", description


def test_a_channel_link_out_of_the_folder_is_refused_and_no_job_is_left(home, tmp_path):
    channel = tmp_path / "channel"
    channel.mkdir()
    (channel / "data.csv").write_text("1,2\n3,4\n5,6\n")
    (channel / "passwd.csv").symlink_to("/etc/passwd")
    spec = training.JobSpec("linked", {"train": channel})
    with pytest.raises(LocalError, match="links to /etc/passwd, outside the channel folder"):
        training.run_job(spec, on_line=lambda _: None)
    assert not training.job_dir("linked").exists()


@pytest.mark.parametrize("name", ["../..", "..", "a/../../b", "ok\n", ""])
def test_names_that_are_not_sagemaker_names_touch_nothing(home, name):
    (home / "endpoints").mkdir(parents=True)
    keep = home / "keep.txt"
    keep.write_text("still here")
    for call in (endpoints.delete, endpoints.describe, training.describe):
        with pytest.raises(LocalError, match="Invalid"):
            call(name)
    assert keep.read_text() == "still here"


def test_a_63_character_transform_job_name_gets_a_valid_endpoint(home, model_dir, tmp_path):
    data = _features(tmp_path / "x.csv", np.array([[1.0], [2.0]]))
    name = "j" * 63
    summary = transform.run_transform(transform.TransformSpec(name, model_dir, [data],
                                                              tmp_path / "out"))
    assert summary["TransformJobStatus"] == "Completed"
