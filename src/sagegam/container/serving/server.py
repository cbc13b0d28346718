"""The ``serve`` entry point: SageMaker's hosting contract under uvicorn.

uvicorn (uvloop + httptools) with one process per CPU, measured in docs/serving.md against
the stacks users would pick instead, each forked from the supervisor once it has imported
the server and checked the model. A small request is answered inline on the event loop; a
large one in a helper process or, in batch transform, a thread (see ``app``). Every worker
runs under the supervisor, even a single one, so a worker that dies is logged and replaced
while the others (or, with one worker, the restarted one) keep the endpoint up.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import os
import select
import signal
import socket
import sys
import threading
from typing import Any, NoReturn

from sagegam.container.serving.app import DEFAULT_MODEL_DIR, MODEL_DIR_VARIABLE
from sagegam.model.artifact import ArtifactError, load

GRACEFUL_SHUTDOWN_SECONDS = 20  # SageMaker and `docker stop` allow 30 before SIGKILL
HEALTH_CHECK_SECONDS = 5  # a worker that does not answer its supervisor's ping is replaced
APP = "sagegam.container.serving.app:create_app"
PROTOCOL = "sagegam.container.serving.protocol:GuardedHttpToolsProtocol"
EXIT_OK, EXIT_WORKERS_FAILED, EXIT_USAGE = 0, 1, 2
# What a worker imports as it starts that `serve` has not imported already.
WORKER_MODULES = ("httptools", "uvloop", "uvicorn.lifespan.on",
                  "uvicorn.protocols.http.httptools_impl",
                  "sagegam.container.serving.multimodel_app", "sagegam.container.serving.protocol")


def serve(model_dir: str | None = None, host: str = "0.0.0.0", port: int | None = None,
          workers: int | None = None) -> int:
    """Check the settings and the model, bind, and serve until SIGTERM; the exit code."""
    try:
        options = _configuration(model_dir, host, port, workers)
        listener = _listen(host, options["port"])
    except ValueError as error:
        print(f"serve: {error}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    import uvicorn

    config = uvicorn.Config(APP, factory=True, **options)
    supervisor = _supervisor_class()(config, sockets=[listener])
    supervisor.run()
    return EXIT_WORKERS_FAILED if supervisor.failed_to_start else EXIT_OK


def exit_at_once(code: int) -> NoReturn:
    """End ``serve``'s process once its workers are joined and its socket closed.

    Nothing is left to release, and the interpreter's teardown of the modules it imported
    (numpy, asyncio, uvicorn, the model's code) took 50-90 ms of every stop.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _configuration(model_dir: str | None, host: str, port: int | None,
                   workers: int | None) -> dict[str, Any]:
    chosen_dir = model_dir or os.environ.get(MODEL_DIR_VARIABLE, DEFAULT_MODEL_DIR)
    from sagegam.container.serving.multimodel_app import multi_model, shared_registry

    if multi_model():  # SageMaker loads the models later, through POST /models
        serving = f"multi-model (loads shared through {shared_registry()})"
    else:
        _check_model(chosen_dir)
        os.environ[MODEL_DIR_VARIABLE] = str(chosen_dir)  # workers read it
        serving = f"model {chosen_dir}"
    port = port if port is not None else _integer("SAGEMAKER_BIND_TO_PORT", 8080)
    workers = workers or _integer("SAGEMAKER_MODEL_SERVER_WORKERS", os.cpu_count() or 1)
    from sagegam.container.serving.core import ServerSettings

    settings = ServerSettings.from_environment()  # refuse any bad setting now
    os.environ["SAGEGAM_WORKERS"] = str(workers)  # workers build from the environment
    print(f"serve: {serving}, http://{host}:{port}, {workers} worker(s)", flush=True)
    return {"host": host, "port": port, "workers": workers, "loop": "uvloop",
            "http": PROTOCOL, "lifespan": "on", "access_log": False, "proxy_headers": False,
            "log_level": "warning", "timeout_keep_alive": settings.keep_alive,
            "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS}


def _check_model(model_dir: str) -> None:
    try:
        load(model_dir)  # fail before binding, with the artifact's own message
    except ArtifactError as error:
        raise ValueError(str(error)) from None
    except Exception as error:  # a file crafted past its digests: still one sentence
        raise ValueError(f"The model in {model_dir} cannot be loaded: "
                         f"{type(error).__name__}: {error}") from None


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a taken port is one sentence, not a trace."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ValueError(f"cannot listen on {host}:{port}: {error.strerror}. Another server "
                         "may hold the port; choose another with --port or "
                         "SAGEMAKER_BIND_TO_PORT.") from None
    sock.set_inheritable(True)
    return sock


def _integer(variable: str, default: int) -> int:
    raw = os.environ.get(variable)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{variable}={raw!r} is not an integer.") from None
    if value < 1:
        raise ValueError(f"{variable}={raw!r} must be at least 1.")
    return value


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _supervisor_class() -> Any:
    """uvicorn's worker supervisor, forking its workers (``ForkedWorker``) and telling
    why one was replaced (uvicorn says only "died", below the level a server logs at)."""
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors.multiprocess import Multiprocess, Process

    prompt_server = _prompt_server_class()

    class ForkedWorker(Process):  # type: ignore[misc]
        """A worker forked from the supervisor rather than spawned.

        The supervisor has imported the server, numpy and the model's code, and a spawned
        worker started a fresh interpreter and imported them all again: 0.28 s of every
        start (2 workers to the first /ping: 0.59 s spawned, 0.31 s forked, on the 2-core
        VM), which every batch transform and local endpoint pays.
        """

        def __init__(self, config: Any, sockets: list[socket.socket]) -> None:
            super().__init__(config, sockets)  # a spawn process, replaced before it starts
            # uvicorn annotates it as a spawn process; a fork process has the same methods
            self.process = multiprocessing.get_context("fork").Process(  # type: ignore[assignment]
                target=_forked_worker, args=(config, self.target, sockets))
            self._prompt_server = prompt_server(config)

        @property
        def server(self) -> Any:  # what uvicorn's worker runs and reports as started
            return self._prompt_server

    class WorkerSupervisor(Multiprocess):  # type: ignore[misc]
        failed_to_start = False

        def __init__(self, config: Any, sockets: list[socket.socket]) -> None:
            super().__init__(config, sockets)
            self.should_exit = _WokenBySignals()

        def init_processes(self) -> None:
            _import_what_workers_run()
            self.processes = [self._started() for _ in range(self.processes_num)]

        def keep_subprocess_alive(self) -> None:
            if self.should_exit.is_set():
                return
            for index, worker in enumerate(self.processes):
                if worker.is_alive(timeout=HEALTH_CHECK_SECONDS):
                    continue
                worker.kill()  # when it is hung rather than dead
                worker.join()
                if worker.exitcode == STARTUP_FAILURE:  # it would fail the same way again
                    self.failed_to_start = True
                    print(f"serve: worker {worker.pid} could not start; stopping",
                          file=sys.stderr, flush=True)
                    self.should_exit.set()
                    return
                if self.should_exit.is_set():
                    return
                self.processes[index] = self._started()
                print(f"serve: worker {worker.pid} died ({describe_exit(worker.exitcode)}); "
                      f"started worker {self.processes[index].pid} in its place",
                      file=sys.stderr, flush=True)

        def _started(self) -> Any:
            worker = ForkedWorker(self.config, self.sockets)
            worker.start()
            return worker

    return WorkerSupervisor


def _prompt_server_class() -> Any:
    """uvicorn's server, stopping as soon as SIGTERM comes and its connections are done.

    uvicorn looks at its exit flag every 0.1 s, and once set waits 0.1 s before it looks at
    the connections, then every 0.1 s until they are closed: a worker took 0.17-0.19 s to
    stop with nothing in flight, which every batch transform and local endpoint pays. This
    one wakes on the signal and polls its connections every few milliseconds; a request in
    flight is still answered, within the same graceful timeout.
    """
    import asyncio

    import uvicorn

    class PromptServer(uvicorn.Server):  # type: ignore[misc]
        _told_to_exit: asyncio.Event | None = None
        _loop: asyncio.AbstractEventLoop | None = None

        async def main_loop(self) -> None:
            self._loop, self._told_to_exit = asyncio.get_running_loop(), asyncio.Event()
            if self.should_exit:  # a signal before the loop ran
                self._told_to_exit.set()
            counter = 0
            while not await self.on_tick(counter):  # the Date header, max requests
                counter = (counter + 1) % 864_000
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._told_to_exit.wait(), timeout=0.1)

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            if self._loop is not None and self._told_to_exit is not None:
                # a signal handler runs between any two bytecodes of the loop's own code
                self._loop.call_soon_threadsafe(self._told_to_exit.set)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            for server in self.servers:
                server.close()  # accept nothing new
            for sock in sockets or []:
                sock.close()
            for connection in list(self.server_state.connections):
                connection.shutdown()  # idle ones close now, busy ones after their answer
            try:
                await asyncio.wait_for(self._drained(),
                                       timeout=self.config.timeout_graceful_shutdown)
            except asyncio.TimeoutError:
                print(f"serve: worker {os.getpid()} cancels {len(self.server_state.tasks)} "
                      "request(s) still running after the graceful shutdown timeout",
                      file=sys.stderr, flush=True)
                for task in self.server_state.tasks:
                    task.cancel()
            if not self.force_exit:
                await self.lifespan.shutdown()

        async def _drained(self) -> None:
            state = self.server_state
            while (state.connections or state.tasks) and not self.force_exit:
                await asyncio.sleep(0.005)
            for server in self.servers:
                await server.wait_closed()

    return PromptServer


def _import_what_workers_run() -> None:
    """Import, once in the supervisor, what every forked worker would import as it starts."""
    for module in WORKER_MODULES:
        importlib.import_module(module)


def _forked_worker(config: Any, target: Any, sockets: list[socket.socket]) -> None:
    """A forked worker's start: what it inherited from the supervisor and must not keep.

    The supervisor's signal handlers only queue a signal for the supervisor's loop, which
    the worker does not run: a SIGTERM arriving before uvicorn installs its own handlers
    would be lost, and the worker would never stop. Its signal wakeup pipe is the
    supervisor's too.
    """
    signal.set_wakeup_fd(-1)
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    config.configure_logging()
    target(sockets=sockets)


class _WokenBySignals(threading.Event):
    """The supervisor's stop flag, whose wait also ends when a signal arrives.

    uvicorn's supervisor queues signals and looks at them between waits of 0.5 s, so a
    SIGTERM stopped the endpoint up to 0.5 s late (every batch transform stops one).
    ``signal.set_wakeup_fd`` makes the interpreter write a byte to a pipe for each signal;
    waiting on that pipe returns as soon as one comes, and the supervisor handles it.
    """

    def __init__(self) -> None:
        super().__init__()
        self._signals, written = os.pipe()
        for end in (self._signals, written):
            os.set_blocking(end, False)
        signal.set_wakeup_fd(written)

    def wait(self, timeout: float | None = None) -> bool:
        if not self.is_set():
            select.select([self._signals], [], [], timeout)
            with contextlib.suppress(BlockingIOError):
                os.read(self._signals, 4096)
        return self.is_set()
