"""Large requests to a real-time endpoint, answered in helper processes so the worker's
event loop stays free (a batch transform's worker answers them in a thread: ``app``).

A batch-sized body takes tens to hundreds of milliseconds of CPU to decode, predict and
encode. In a thread of the worker it would share Python's interpreter lock with the event
loop, and ``/ping`` (SageMaker's health check) would wait behind it: measured, a p99 of
13 ms with threads against 5 ms with a helper process (docs/serving.md). So each worker
starts, on its first large request, up to ``large_request_slots`` helper processes that
load the same model; the worker only moves bytes to and from them.

Helpers ignore SIGTERM and SIGINT (a group-wide signal must not cut a request the worker
is draining); they exit when the worker shuts the pool down, or when the worker is gone.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from sagegam.container.serving import core
from sagegam.container.serving.codecs import ClientError
from sagegam.model.artifact import load
from sagegam.model.predictor import GAMPredictor

PARENT_CHECK_SECONDS = 0.05


class Helpers:
    """A worker's helper processes, started on first use."""

    def __init__(self, model_dir: str, settings: core.ServerSettings) -> None:
        self.model_dir, self.settings = model_dir, settings
        self._pool: ProcessPoolExecutor | None = None

    async def answer(self, body: bytes, request: core.RequestHeaders) -> core.Response:
        """``core.invocations`` for ``body`` in a helper; 503 if the helper died meanwhile."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._helpers(), _answer, body, request)
        except BrokenProcessPool:
            self._pool = None  # the next large request starts fresh helpers
            return core.error_response(ClientError(
                503, "helper_died", "The process answering this request died (out of "
                "memory?); send the request again."))

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _helpers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.settings.large_request_slots, multiprocessing.get_context("spawn"),
                initializer=_start, initargs=(self.model_dir, self.settings, os.getpid()))
        return self._pool


_predictor: GAMPredictor | None = None
_settings = core.ServerSettings()


def _start(model_dir: str, settings: core.ServerSettings, worker: int) -> None:
    global _predictor, _settings
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _predictor, _settings = load(model_dir), settings
    threading.Thread(target=_exit_with, args=(worker,), daemon=True).start()


def _exit_with(worker: int) -> None:
    """A helper whose worker was killed outright would wait on its queue forever; and a
    worker that exits does not always send its helpers the pool's stop first. Every stop
    of an endpoint waits for its helpers, so they look often: a getppid() every 50 ms costs
    nothing, a 1 s look cost each stop up to 1 s."""
    while os.getppid() == worker:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _answer(body: bytes, request: core.RequestHeaders) -> core.Response:
    assert _predictor is not None
    return request.answer(_predictor, body, _settings)
