"""/ping latency while large requests are in flight: sagegam now against a baseline.

SageMaker's health check gives /ping 2 s; issue #13 measured a 359 ms median and 928 ms
maximum under 8 concurrent 5.9 MB CSV bodies when decoding ran on the event loop. This
script starts `sagegam serve` (2 workers) from this checkout and, as the anchor, from a
baseline git revision (default: the commit before the serving limits), then for each:
C clients post 5.9 MB CSV bodies back to back for S seconds (in a separate process) while
this process opens a new connection for GET /ping every 20 ms. It prints /ping's
percentiles, the large requests answered, non-2xx counts, and the ratio to the baseline,
with the date and the load average. Bounded: S seconds per server (default 10).
With --batch both servers run as a batch transform's (SAGEMAKER_BATCH=true), where
large bodies are answered in a thread of the worker rather than in a helper process.

    PYTHONPATH=src python benchmarks/ping_under_load.py --seconds 10 --concurrency 8
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "b43c50a"  # main before issue #13's serving limits
LOAD_SCRIPT = """
import json, sys, threading, time, urllib.request
url, seconds, concurrency, path = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
body = open(path, "rb").read()
deadline = time.monotonic() + seconds
counts = {"ok": 0, "other": 0}
lock = threading.Lock()
def client():
    while time.monotonic() < deadline:
        request = urllib.request.Request(url + "/invocations", data=body, method="POST",
                                         headers={"Content-Type": "text/csv",
                                                  "Accept": "text/csv"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                response.read()
                key = "ok" if response.status == 200 else "other"
        except Exception:
            key = "other"
        with lock:
            counts[key] += 1
threads = [threading.Thread(target=client) for _ in range(concurrency)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(counts))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the anchor")
    parser.add_argument("--repeat", type=int, default=3, help="runs per server, alternating")
    parser.add_argument("--batch", action="store_true",
                        help="serve as a batch transform does (SAGEMAKER_BATCH=true)")
    args = parser.parse_args()
    environment = {"SAGEMAKER_BATCH": "true"} if args.batch else {}
    work = Path(tempfile.mkdtemp(prefix="sagegam-ping-"))
    model, body = _model(work), _body(work)
    print(f"# /ping under {args.concurrency} concurrent {body.stat().st_size / 2**20:.1f} MB "
          f"CSV bodies, {args.seconds:g} s per server, 2 workers each"
          f"{', SAGEMAKER_BATCH=true' if args.batch else ''}")
    print(f"# {datetime.datetime.now():%Y-%m-%d %H:%M}, load average {os.getloadavg()}")
    servers = ((f"baseline {args.baseline}", _checkout(args.baseline, work)),
               ("sagegam (this checkout)", ROOT / "src"))
    rows = []
    for run in range(1, args.repeat + 1):
        for label, src in servers:
            rows.append((f"{label}, run {run}",
                         *_measure(src, model, body, args.seconds, args.concurrency,
                                  environment)))
            print(f"# after {label}, run {run}: load average {os.getloadavg()}", flush=True)
    _table(rows)
    _medians(rows, [label for label, _ in servers])


def _model(work: Path) -> Path:
    from sagegam import GAMRegressor, save

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(size=(2000, 3)), columns=["a", "b", "c"])
    save(GAMRegressor().fit(X, np.sin(3 * X["a"]) + X["b"] ** 2), work / "model")
    return work / "model"


def _body(work: Path) -> Path:
    rows = np.random.default_rng(1).uniform(size=(230_000, 3))
    path = work / "body.csv"
    np.savetxt(path, rows, delimiter=",", fmt="%.6f")
    return path


def _checkout(revision: str, work: Path) -> Path:
    archive = work / "baseline.tar"
    with archive.open("wb") as handle:
        subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src"], stdout=handle,
                       check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(work / "baseline", filter="data")
    return work / "baseline" / "src"


def _measure(src: Path, model: Path, body: Path, seconds: float, concurrency: int,
             environment: dict[str, str]) -> tuple[list[float], dict[str, int]]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "sagegam", "serve", "--model-dir", str(model), "--host",
         "127.0.0.1", "--port", str(port), "--workers", "2"],
        env={**os.environ, **environment, "PYTHONPATH": str(src)}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for_ping(port)
        load = subprocess.Popen([sys.executable, "-c", LOAD_SCRIPT, f"http://127.0.0.1:{port}",
                                 str(seconds), str(concurrency), str(body)],
                                stdout=subprocess.PIPE, text=True)
        time.sleep(min(1.0, seconds / 5))  # let the large requests get in flight
        latencies = []
        while load.poll() is None:
            latencies.append(_ping(port))
            time.sleep(0.02)
        counts = json.loads(load.communicate()[0])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    return latencies, counts


def _ping(port: int) -> float:
    """Milliseconds for a new connection, GET /ping and its whole answer."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed if answer.startswith(b"HTTP/1.1 200") else float("inf")


def _wait_for_ping(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if _ping(port) < float("inf"):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the server never answered /ping")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Row = tuple[str, list[float], dict[str, int]]


def _table(rows: list[Row]) -> None:
    print("\n| server | pings | p50 ms | p90 ms | p99 ms | max ms | failed pings "
          "| large answered | large non-2xx |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, latencies, counts in rows:
        finite = np.array([v for v in latencies if v < float("inf")])
        p50, p90, p99 = np.percentile(finite, [50, 90, 99])
        print(f"| {label} | {len(latencies)} | {p50:.2f} | {p90:.2f} | {p99:.2f} | "
              f"{finite.max():.2f} | {len(latencies) - len(finite)} | {counts['ok']} | "
              f"{counts['other']} |")


def _medians(rows: list[Row], labels: list[str]) -> None:
    """Per server, the median over runs of each run's percentiles, and the ratio."""
    print("\n| server (median of runs) | p50 ms | p99 ms | max ms | large answered "
          "| p99 / baseline p99 |")
    print("|---|---|---|---|---|---|")
    base = None
    for label in labels:
        runs = [(np.percentile(lat, 50), np.percentile(lat, 99), max(lat), counts["ok"])
                for name, lat, counts in rows if name.startswith(label + ",")]
        p50, p99, worst, answered = (float(np.median(column)) for column in zip(*runs, strict=True))
        base = base or p99
        print(f"| {label} | {p50:.2f} | {p99:.2f} | {worst:.2f} | {answered:.0f} | "
              f"{p99 / base:.3f} |")


if __name__ == "__main__":
    main()
