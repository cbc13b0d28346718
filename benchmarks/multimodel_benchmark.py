"""1,000 GAMs behind one multi-model endpoint: the first call to each, and warm calls.

Fits --models small GAMs (one per "store", each on its own data), saves each as SageMaker
unpacks it below /opt/ml/models, and starts the real `serve` with
SAGEMAKER_MULTI_MODEL=true and 2 workers on loopback. Then, as SageMaker drives a
multi-model container:

- first call: for every model, POST /models (load) then POST /models/NAME/invoke, timed
  together from the client, one model at a time;
- warm calls: after a pass that lets each worker read each model, --requests
  invocations of random models over --connections keep-alive connections (threads),
  bounded in count;
- the anchor, side by side in the same run: a single-model `serve` of one of the same
  GAMs, the same warm load on /invocations.

Prints a table with medians and p99, the ratio to the anchor, the date and the load
average. Run: python benchmarks/multimodel_benchmark.py [--models 1000] [--requests 20000]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import numpy as np

from sagegam import GAMRegressor, save
from sagegam.local.endpoints import free_port

ROW = b"0.25,0.75\n"


def fit_models(root: Path, count: int) -> list[str]:
    names = []
    for index in range(count):
        rng = np.random.default_rng(index)
        X = rng.uniform(0, 1, size=(200, 2))
        y = np.sin(6 * X[:, 0]) * (1 + index % 7) + X[:, 1] + rng.normal(0, 0.1, 200)
        name = f"store-{index:04d}"
        save(GAMRegressor(df=8).fit(X, y), root / name / "model")
        names.append(name)
    return names


def start(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "sagegam", "serve", "--host",
                                "127.0.0.1", "--port", str(port), "--workers", "2", *args],
                               env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/ping", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("serve did not answer /ping")


def first_calls(url: str, root: Path, names: list[str]) -> list[float]:
    timings = []
    with httpx.Client(base_url=url) as client:
        for name in names:
            started = time.perf_counter()
            loaded = client.post("/models", json={"model_name": name,
                                                  "url": str(root / name / "model")})
            answer = client.post(f"/models/{name}/invoke", content=ROW,
                                 headers={"Content-Type": "text/csv"})
            timings.append(time.perf_counter() - started)
            if loaded.status_code != 200 or answer.status_code != 200:
                raise SystemExit(f"{name}: {loaded.text} {answer.text}")
    return timings


def warm(url: str, paths: list[str], requests: int, connections: int) -> list[float]:
    timings: list[float] = []
    lock = threading.Lock()
    per_thread = requests // connections

    def worker(seed: int) -> None:
        chooser = random.Random(seed)
        mine = []
        with httpx.Client(base_url=url) as client:
            for _ in range(per_thread):
                path = chooser.choice(paths)
                started = time.perf_counter()
                answer = client.post(path, content=ROW, headers={"Content-Type": "text/csv"})
                mine.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    raise SystemExit(answer.text)
        with lock:
            timings.extend(mine)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return timings


def row(label: str, timings: list[float], anchor: float | None) -> str:
    ms = np.array(timings) * 1000
    p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
    ratio = f"{p99 / anchor:.2f}" if anchor else "1.00"
    return f"| {label} | {len(ms):,} | {p50:.2f} | {p99:.2f} | {ratio} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "models"
        started = time.perf_counter()
        names = fit_models(root, args.models)
        print(f"fitted {len(names)} GAMs in {time.perf_counter() - started:.0f} s", flush=True)
        anchor_process, anchor_url = start({}, "--model-dir", str(root / names[0] / "model"))
        multi_process, multi_url = start({"SAGEMAKER_MULTI_MODEL": "true"})
        try:
            first = first_calls(multi_url, root, names)
            paths = [f"/models/{n}/invoke" for n in names]
            # Each worker reads a model on its own first request; warm means after that.
            warm(multi_url, paths, 8 * len(names), args.connections)
            anchor = warm(anchor_url, ["/invocations"], args.requests, args.connections)
            many = warm(multi_url, paths, args.requests, args.connections)
        finally:
            for process in (anchor_process, multi_process):
                process.terminate()
                process.wait(timeout=30)
    anchor_p99 = float(np.percentile(np.array(anchor) * 1000, 99))
    print(f"\n{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}, 2 workers, "
          f"{args.connections} connections, 1-row CSV\n")
    print("| calls | count | p50 ms | p99 ms | p99 / anchor |\n|---|---|---|---|---|")
    print(row("single-model `/invocations` (anchor), warm", anchor, None))
    print(row(f"multi-model, {len(names)} models, warm, random model", many, anchor_p99))
    print(row("multi-model, first call (load + invoke), one at a time", first, anchor_p99))


if __name__ == "__main__":
    main()
