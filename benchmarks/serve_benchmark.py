"""Serving throughput and latency: sagegam's `serve` against the stacks users pick instead.

Side by side in one run, each server on loopback with 2 workers, driven by wrk (Debian's
`wrk`) in another process, bounded in time (--seconds per cell) and connections:

- sagegam `serve` (uvicorn workers, numpy-only GAM predictor);
- MLflow's scoring server (`mlflow models serve`, needs a separate venv with mlflow, given
  by --mlflow-python) on an equivalent scikit-learn model: SplineTransformer + Ridge;
- an AWS-style stack: Flask under gunicorn with gevent workers, joblib-loaded scikit-learn
  model, decoding and encoding as the SageMaker scikit-learn container does by default
  (without its nginx in front);
- the floor: a no-op POST route added to sagegam's own app under the same uvicorn
  settings (serve's HTTP protocol included): it reads the body and answers a constant, so
  what separates it from /invocations is our decoding, prediction and encoding;
- the same no-op app under uvicorn's stock httptools protocol, which writes each
  response's head and body in two system calls (serve's protocol writes them in one).

Reports requests/s and p50/p99 latency for 1-row and 100-row bodies (CSV, JSON, npy) at
16 and 64 connections, peak RSS per worker, and time from process start to the first 200
on /ping. Run: python benchmarks/serve_benchmark.py --mlflow-python /path/venv/bin/python
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

N_FEATURES = 10
PROTOCOL = "sagegam.container.serving.protocol:GuardedHttpToolsProtocol"  # serve's
WORKERS = 2
POST_LUA = textwrap.dedent("""
    local f = io.open(os.getenv("BODY_FILE"), "rb")
    wrk.method = "POST"
    wrk.body = f:read("*a")
    f:close()
    wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE")
""")


def training_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(5000, N_FEATURES))
    return X, np.sin(X[:, 0]) + X[:, 1] ** 2 + 0.5 * X[:, 2] + rng.normal(0, 0.3, 5000)


def bodies(folder: Path) -> dict[str, tuple[Path, str]]:
    """Request bodies per scenario, for our server and the AWS-style one."""
    rows = np.random.default_rng(1).uniform(-2, 2, size=(100, N_FEATURES))
    found = {}
    for n in (1, 100):
        part = rows[:n]
        csv = "\n".join(",".join(f"{v:.6f}" for v in r) for r in part) + "\n"
        found[f"csv{n}"] = (_write(folder / f"csv{n}", csv.encode()), "text/csv")
        found[f"json{n}"] = (_write(folder / f"json{n}", json.dumps(part.tolist()).encode()),
                             "application/json")
        buffer = io.BytesIO()
        np.save(buffer, part)
        found[f"npy{n}"] = (_write(folder / f"npy{n}", buffer.getvalue()), "application/x-npy")
        columns = [f"x{i}" for i in range(N_FEATURES)]
        split = {"dataframe_split": {"columns": columns, "data": part.tolist()}}
        found[f"mlflow-json{n}"] = (_write(folder / f"mlflow-json{n}",
                                           json.dumps(split).encode()), "application/json")
        found[f"mlflow-csv{n}"] = (_write(folder / f"mlflow-csv{n}",
                                          (",".join(columns) + "\n" + csv).encode()), "text/csv")
    return found


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


AWS_STYLE_APP = textwrap.dedent('''
    import io, json, os
    import joblib, numpy as np
    from flask import Flask, Response, request

    app = Flask(__name__)
    model = joblib.load(os.environ["MODEL_PATH"])

    def input_fn(body, content_type):  # the sklearn container's default decoders
        if content_type == "application/json":
            return np.array(json.loads(body), dtype=np.float32)
        if content_type == "text/csv":
            return np.genfromtxt(io.StringIO(body.decode()), delimiter=",", ndmin=2)
        if content_type == "application/x-npy":
            return np.load(io.BytesIO(body), allow_pickle=True)
        raise ValueError(content_type)

    @app.route("/ping")
    def ping():
        return Response(status=200)

    @app.route("/invocations", methods=["POST"])
    def invocations():
        data = input_fn(request.get_data(), request.content_type)
        prediction = model.predict(data)
        return Response(json.dumps(prediction.tolist()), mimetype="application/json")
''')


MLFLOW_SAVE = textwrap.dedent('''
    import sys
    import mlflow.sklearn, numpy as np
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer

    data = np.load(sys.argv[1])
    model = make_pipeline(SplineTransformer(n_knots=20, degree=3), Ridge(alpha=1.0))
    model.fit(data["X"], data["y"])
    # cloudpickle: MLflow's default skops format refuses scipy's BSpline
    mlflow.sklearn.save_model(model, sys.argv[2], serialization_format="cloudpickle")
''')

NOOP_APP = textwrap.dedent('''
    from sagegam.container.serving.app import create_app

    inner = create_app()

    async def app(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/noop":
            more = True
            while more:
                more = (await receive()).get("more_body", False)
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"application/json"), (b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"[]"})
            return
        await inner(scope, receive, send)
''')


def prepare(folder: Path, mlflow_python: str | None) -> dict[str, list[str]]:
    """Fit and save the models; return each stack's server command."""
    import joblib
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer

    from sagegam import GAMRegressor, save

    X, y = training_data()
    save(GAMRegressor().fit(X, y), folder / "gam")
    sklearn_model = make_pipeline(SplineTransformer(n_knots=20, degree=3), Ridge(alpha=1.0))
    sklearn_model.fit(X, y)
    joblib.dump(sklearn_model, folder / "sklearn.joblib")
    (folder / "aws_style_app.py").write_text(AWS_STYLE_APP)
    (folder / "noop_app.py").write_text(NOOP_APP)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    commands = {
        "sagegam": [sys.executable, "-m", "sagegam", "serve", "--model-dir",
                    str(folder / "gam"), "--host", "127.0.0.1", "--port", "{port}",
                    "--workers", str(WORKERS)],
        "no-op floor (sagegam app + no-op route)": _uvicorn_noop(folder, PROTOCOL),
        "uvicorn-httptools no-op (stock protocol)": _uvicorn_noop(folder, "httptools"),
        "aws-style (flask+gunicorn/gevent)": [
            gunicorn, "-k", "gevent", "-w", str(WORKERS), "-b", "127.0.0.1:{port}",
            "--chdir", str(folder), "--log-level", "warning", "aws_style_app:app"],
    }
    if mlflow_python:
        # Fit inside MLflow's venv: a pickle only loads under the scikit-learn/scipy
        # versions that wrote it.
        np.savez(folder / "train.npz", X=X, y=y)
        subprocess.run([mlflow_python, "-c", MLFLOW_SAVE, str(folder / "train.npz"),
                        str(folder / "mlflow-model")], check=True, capture_output=True)
        mlflow = str(Path(mlflow_python).with_name("mlflow"))
        # mlflow starts `uvicorn` through the shell, so its venv must come first on PATH
        path = f"PATH={Path(mlflow_python).parent}:{os.environ.get('PATH', '')}"
        commands["mlflow models serve"] = ["env", path, mlflow, "models", "serve", "-m",
                                           str(folder / "mlflow-model"), "--env-manager",
                                           "local", "-h", "127.0.0.1", "-p", "{port}", "-w",
                                           str(WORKERS)]
    return commands


def _uvicorn_noop(folder: Path, protocol: str) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "--app-dir", str(folder), "noop_app:app",
            "--host", "127.0.0.1", "--port", "{port}", "--workers", str(WORKERS),
            "--loop", "uvloop", "--http", protocol, "--no-access-log", "--log-level",
            "warning"]


class Running:
    def __init__(self, command: list[str], port: int, env: dict[str, str]) -> None:
        started = time.monotonic()
        self.process = subprocess.Popen([c.replace("{port}", str(port)) for c in command],
                                        env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        self.url = f"http://127.0.0.1:{port}"
        self.startup = self._wait(started)
        self.peak_rss: dict[int, int] = {}
        self._sampling = True
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _wait(self, started: float) -> float:
        while time.monotonic() - started < 120:
            try:
                with urllib.request.urlopen(self.url + "/ping", timeout=1) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.02)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        raise RuntimeError(f"{self.url} never answered /ping")

    def _sample(self) -> None:
        import psutil

        while self._sampling:
            try:
                parent = psutil.Process(self.process.pid)
                for proc in [parent, *parent.children(recursive=True)]:
                    rss = proc.memory_info().rss
                    self.peak_rss[proc.pid] = max(self.peak_rss.get(proc.pid, 0), rss)
            except psutil.Error:
                pass
            time.sleep(0.5)

    def stop(self) -> None:
        self._sampling = False
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)

    def worker_peak_mb(self) -> float:
        """The largest process of the tree (a worker; the master is smaller)."""
        return max(self.peak_rss.values(), default=0) / 2**20


def wrk(url: str, body: Path | None, content_type: str, connections: int, seconds: int,
        lua: Path) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency"]
    env = dict(os.environ)
    if body is not None:
        command += ["-s", str(lua)]
        env |= {"BODY_FILE": str(body), "CONTENT_TYPE": content_type}
    result = subprocess.run([*command, url], capture_output=True, text=True, env=env,
                            timeout=seconds + 30)
    text = result.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"rps": rate, "p50": _latency(text, "50%"), "p99": _latency(text, "99%"),
            "errors": float(non_2xx.group(1)) if non_2xx else 0.0}


def _latency(text: str, label: str) -> float:
    match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", text)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mlflow-python", help="python of a venv with mlflow installed")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", default="16,64")
    parser.add_argument("--stacks", default="sagegam,no-op,uvicorn-httptools,aws-style,mlflow",
                        help="first words of the stack names to run")
    parser.add_argument("--paired-rounds", type=int, default=5,
                        help="rounds of the paired floor comparison (0: none)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    folder = Path(tempfile.mkdtemp(prefix="sagegam-serve-bench-"))
    commands = prepare(folder, args.mlflow_python)
    payloads = bodies(folder)
    lua = _write(folder / "post.lua", POST_LUA.encode())
    env = {**os.environ, "MODEL_PATH": str(folder / "sklearn.joblib"),
           "SAGEGAM_MODEL_DIR": str(folder / "gam")}
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()}, "
          f"{WORKERS} workers per server, {args.seconds} s per cell")
    print("| server | body | conns | req/s | p50 ms | p99 ms | non-2xx |")
    print("|---|---|---|---|---|---|---|")
    summary = []
    rates: dict[tuple[str, str, int], float] = {}
    wanted = set(args.stacks.split(","))
    for port, (name, command) in enumerate(commands.items(), start=18400):
        if name.split()[0] not in wanted:
            continue
        try:
            running = Running(command, port, env)
        except RuntimeError as error:  # report the stack as missing, measure the others
            print(f"| {name} | did not start: {error} | | | | | |", flush=True)
            continue
        try:
            scenarios = _scenarios(name, payloads)
            # One unrecorded second first: /ping answers once one worker is up, and the
            # first cell would otherwise measure the others still starting.
            body, content_type = next(iter(scenarios.values()))
            warm_route = "/noop" if "no-op" in name else "/invocations"
            wrk(running.url + warm_route, body, content_type, 16, 1, lua)
            for connections in map(int, args.connections.split(",")):
                for label, (body, content_type) in scenarios.items():
                    route = "/ping" if body is None else "/invocations"
                    if "no-op" in name:
                        route = "/noop"
                    cell = wrk(running.url + route, body, content_type, connections,
                               args.seconds, lua)
                    rates[(name.split()[0], label.split()[0], connections)] = cell["rps"]
                    print(f"| {name} | {label} | {connections} | {cell['rps']:.0f} | "
                          f"{cell['p50']:.2f} | {cell['p99']:.2f} | {cell['errors']:.0f} |",
                          flush=True)
        finally:
            running.stop()
        summary.append((name, running.startup, running.worker_peak_mb()))
    print("\n| server | start to first /ping 200 (s) | peak RSS of a worker (MB) |")
    print("|---|---|---|")
    for name, startup, peak in summary:
        print(f"| {name} | {startup:.2f} | {peak:.0f} |")
    _print_ratios(rates, [int(c) for c in args.connections.split(",")])
    if args.paired_rounds:
        _paired_floor(commands, payloads, lua, env, args.paired_rounds, args.seconds)
    shutil.rmtree(folder, ignore_errors=True)


def _paired_floor(commands: dict[str, list[str]], payloads: dict[str, tuple[Path, str]],
                  lua: Path, env: dict[str, str], rounds: int, seconds: int) -> None:
    """Each 1-row body's share of the no-op floor, cell against cell: both servers up,
    each round the two cells back to back (in alternating order), so that this machine's
    drift over a run, which moves the floor by 20% between the table's far-apart cells,
    falls on both sides of each ratio. Medians over the rounds."""
    floor_name = next(name for name in commands if name.startswith("no-op"))
    ours = Running(commands["sagegam"], 18500, env)
    floor = Running(commands[floor_name], 18501, env)
    try:
        routes = {"ours": ours.url + "/invocations", "floor": floor.url + "/noop"}
        for route in routes.values():
            wrk(route, *payloads["json1"], 16, 1, lua)
        found: dict[str, list[tuple[float, float]]] = {}
        for round_ in range(rounds):
            for label in ("csv1", "json1", "npy1"):
                order = ("ours", "floor") if round_ % 2 == 0 else ("floor", "ours")
                cells = {side: wrk(routes[side], *payloads[label], 16, seconds, lua)
                         for side in order}
                found.setdefault(label, []).append(
                    (cells["ours"]["rps"] / cells["floor"]["rps"], cells["ours"]["p99"]))
    finally:
        ours.stop()
        floor.stop()
    print(f"\n# paired with the no-op floor: {rounds} rounds, {seconds} s per cell, 16 "
          f"connections, load average {os.getloadavg()}")
    print("| 1-row body | median % of no-op floor | range | median p99 ms |")
    print("|---|---|---|---|")
    for label, pairs in found.items():
        shares = [100 * share for share, _ in pairs]
        print(f"| {label} | {statistics.median(shares):.0f}% | {min(shares):.0f}-"
              f"{max(shares):.0f}% | {statistics.median(p for _, p in pairs):.2f} |")


def _print_ratios(rates: dict[tuple[str, str, int], float], connections: list[int]) -> None:
    """sagegam's 1-row req/s over each other stack's, and as a share of the no-op floors."""
    print("\n| 1-row body | conns | x mlflow | x aws-style | % of no-op floor | "
          "% of stock-uvicorn no-op |")
    print("|---|---|---|---|---|---|")
    for label in ("csv1", "json1", "npy1"):
        for conns in connections:
            ours = rates.get(("sagegam", label, conns), float("nan"))
            cells = [ours / rates.get((other, label, conns), float("nan"))
                     for other in ("mlflow", "aws-style")]
            shares = []
            for floor_name in ("no-op", "uvicorn-httptools"):
                floor = rates.get((floor_name, label, conns),
                                  rates.get((floor_name, "json1", conns)))
                shares.append(100 * ours / floor if floor else float("nan"))
            print(f"| {label} | {conns} | {cells[0]:.1f} | {cells[1]:.1f} | "
                  f"{shares[0]:.0f}% | {shares[1]:.0f}% |")


def _scenarios(name: str, payloads: dict[str, tuple[Path, str]]) -> dict[str, Any]:
    if name.startswith("mlflow"):
        return {key.removeprefix("mlflow-"): payloads[key] for key in payloads
                if key.startswith("mlflow-")}
    chosen = {key: payloads[key] for key in payloads if not key.startswith("mlflow-")}
    if name == "sagegam":
        chosen["GET /ping"] = (None, "")
    if "no-op" in name:
        return {"json1 (no-op)": payloads["json1"], "csv1 (no-op)": payloads["csv1"]}
    return chosen


if __name__ == "__main__":
    main()
