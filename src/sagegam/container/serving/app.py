"""A minimal ASGI application over :mod:`sagegam.container.serving.core`.

Three routes need no framework: the app reads the body (refusing it past the payload
limit before it is all in memory), calls the core and writes the response. The model is
loaded in the ASGI lifespan startup, so uvicorn accepts connections, and ``/ping``
answers 200, only once it is in memory.

Large bodies (batch mini-batches) are bounded and kept off the event loop: at most
``large_request_slots`` of them per worker are read and answered at once (the others wait
before their bodies are read, so TCP flow control holds their bytes, not our memory).
A real-time endpoint decodes and predicts them in a helper process (``offload``), so
``/ping`` and small requests keep their few-millisecond latency while a large one is in
flight. A batch transform (``SAGEMAKER_BATCH=true``) answers them in a thread of the
worker instead: its only other request is the health check, whose 2 s limit a thread
keeps by far (p99 tens of milliseconds), and moving an 80 MB body to a helper and its
answer back cost more than predicting its million rows (docs/serving.md).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from sagegam.container.serving import core
from sagegam.container.serving.codecs import ClientError
from sagegam.container.serving.offload import Helpers
from sagegam.model.artifact import load
from sagegam.model.predictor import GAMPredictor

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
MODEL_DIR_VARIABLE = "SAGEGAM_MODEL_DIR"
DEFAULT_MODEL_DIR = "/opt/ml/model"
LARGE_BODY_BYTES = 64 * 1024  # from here a body takes a slot and goes to a helper process


class InferenceApp:
    def __init__(self, model_dir: str | None = None,
                 settings: core.ServerSettings | None = None) -> None:
        self.model_dir = model_dir or os.environ.get(MODEL_DIR_VARIABLE, DEFAULT_MODEL_DIR)
        self.settings = settings or core.ServerSettings.from_environment(
            workers=int(os.environ.get("SAGEGAM_WORKERS", "1")))
        self.predictor: GAMPredictor | None = None
        self._slots: asyncio.Semaphore | None = None
        self._helpers = Helpers(self.model_dir, self.settings)
        self._identity = identity_headers(self.settings)

    def load(self) -> None:
        self.predictor = load(self.model_dir)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            response = await self._route(scope, receive)
            await send_response(send, response, self._identity)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.load()
                except Exception as error:  # the server must not start without a model
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self._helpers.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _route(self, scope: Scope, receive: Receive) -> core.Response:
        path, method = scope["path"], scope["method"]
        if path == "/ping" and method in ("GET", "HEAD"):
            return core.ping() if self.predictor is not None else _unavailable()
        if path == "/execution-parameters" and method == "GET":
            return core.execution_parameters(self.settings)
        if path == "/invocations" and method == "POST":
            return await self._invoke(scope, receive)
        if path in ("/ping", "/execution-parameters", "/invocations"):
            return core.error_response(ClientError(405, "method_not_allowed",
                                                   f"{method} is not allowed on {path}."))
        return core.error_response(ClientError(404, "not_found", f"No route {path}; this "
                                               "server has /ping, /invocations and "
                                               "/execution-parameters."))

    async def _invoke(self, scope: Scope, receive: Receive) -> core.Response:
        if self.predictor is None:
            return _unavailable()
        request = request_headers(scope)
        announced = request.content_length
        if announced.isdigit() and int(announced) < LARGE_BODY_BYTES:
            return await self._read_and_answer(receive, request)
        if announced.isdigit() and int(announced) > self.settings.max_payload_bytes:
            return core.error_response(core.payload_too_large(self.settings))
        async with self._large_request_slots():  # large, or chunked of unknown size
            return await self._read_and_answer(receive, request)

    async def _read_and_answer(self, receive: Receive,
                               request: core.RequestHeaders) -> core.Response:
        try:
            body = await read_body(receive, self.settings)
        except ClientError as error:
            return core.error_response(error)
        assert self.predictor is not None
        if len(body) < LARGE_BODY_BYTES:
            return request.answer(self.predictor, body, self.settings)
        if self.settings.batch:
            return await asyncio.to_thread(request.answer, self.predictor, body, self.settings)
        return await self._helpers.answer(body, request)

    def _large_request_slots(self) -> asyncio.Semaphore:
        if self._slots is None:  # created on the worker's own event loop
            self._slots = asyncio.Semaphore(self.settings.large_request_slots)
        return self._slots


def create_app() -> Any:
    """uvicorn's factory: every worker builds its own app from the environment, for one
    model or, with SAGEMAKER_MULTI_MODEL=true, for many (``multimodel_app``)."""
    from sagegam.container.serving.multimodel_app import MultiModelApp, multi_model

    return MultiModelApp() if multi_model() else InferenceApp()


def _unavailable() -> core.Response:
    return core.error_response(ClientError(503, "not_ready", "The model is not loaded yet."))


def identity_headers(settings: core.ServerSettings) -> list[tuple[bytes, bytes]]:
    """The header every response carries when the runtime named the endpoint."""
    identity = settings.endpoint_id
    return [(core.ENDPOINT_ID_HEADER.encode("latin-1"), identity.encode("latin-1"))] \
        if identity else []


# The request headers /invocations reads, by their field in core.RequestHeaders.
_REQUEST_HEADERS = {b"content-type": "content_type", b"accept": "accept",
                    b"x-amzn-sagemaker-custom-attributes": "custom_attributes",
                    b"content-length": "content_length"}


def request_headers(scope: Scope) -> core.RequestHeaders:
    """Only the headers /invocations reads, decoded (a request carries a dozen more)."""
    found = {}
    for name, value in scope["headers"]:
        key = _REQUEST_HEADERS.get(name.lower())
        if key is not None:
            found[key] = value.decode("latin-1")
    return core.RequestHeaders(**found)


async def read_body(receive: Receive, settings: core.ServerSettings) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientError(400, "disconnected", "The client disconnected mid-request.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > settings.max_payload_bytes:
            raise core.payload_too_large(settings)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_response(send: Send, response: core.Response,
                        extra: list[tuple[bytes, bytes]]) -> None:
    headers = [(b"content-type", response.content_type.encode("latin-1")),
               (b"content-length", b"%d" % len(response.body)), *extra]
    headers += [(k.encode("latin-1"), v.encode("latin-1"))
                for k, v in response.headers.items()]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
