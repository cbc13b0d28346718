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
import contextlib
import multiprocessing
import os
import signal
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from sagegam.container.serving import core
from sagegam.container.serving.codecs import ClientError
from sagegam.model.artifact import load
from sagegam.model.predictor import GAMPredictor

PARENT_CHECK_SECONDS = 0.05
PARCEL_BYTES = 1024 * 1024  # from here a body reaches its helper through a file


@dataclass(frozen=True)
class Parcel:
    """A large body handed to a helper as a file rather than through the pool's pipe.

    The pipe pickles the body and reads it back 64 KB at a time into a growing buffer:
    0.4-0.6 s for an 80 MB npy body on the 2-core VM, longer than predicting its million
    rows; written to a file and read back whole it took 0.09-0.18 s. The file lives only
    between the two (the helper removes it once read; the worker, if the helper died).
    """

    path: str

    @classmethod
    def of(cls, body: bytes) -> Parcel | None:
        """The body in a file; None (the pipe will do) when no file can be written."""
        try:
            handle, path = tempfile.mkstemp(prefix="sagegam-body-")
        except OSError:
            return None
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(body)
        except OSError:  # a full or read-only temporary folder
            cls(path).discard()
            return None
        return cls(path)

    def open(self) -> bytes:
        with open(self.path, "rb") as file:
            body = file.read()
        self.discard()
        return body

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class Helpers:
    """A worker's helper processes, started on first use."""

    def __init__(self, model_dir: str, settings: core.ServerSettings) -> None:
        self.model_dir, self.settings = model_dir, settings
        self._pool: ProcessPoolExecutor | None = None

    async def answer(self, body: bytes, request: core.RequestHeaders) -> core.Response:
        """``core.invocations`` for ``body`` in a helper; 503 if the helper died meanwhile."""
        loop = asyncio.get_running_loop()
        parcel = await asyncio.to_thread(Parcel.of, body) if len(body) >= PARCEL_BYTES \
            else None
        try:
            return await loop.run_in_executor(self._helpers(), _answer, parcel or body,
                                              request)
        except BrokenProcessPool:
            self._pool = None  # the next large request starts fresh helpers
            return core.error_response(ClientError(
                503, "helper_died", "The process answering this request died (out of "
                "memory?); send the request again."))
        finally:
            if parcel is not None:
                parcel.discard()  # the helper removed it, unless it died first

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
    of an endpoint (a batch transform's included) waits for the helpers, so they look
    often: a getppid() every 50 ms costs nothing, a 1 s look cost each stop up to 1 s."""
    while os.getppid() == worker:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _answer(body: bytes | Parcel, request: core.RequestHeaders) -> core.Response:
    assert _predictor is not None
    return request.answer(_predictor, body.open() if isinstance(body, Parcel) else body,
                          _settings)
