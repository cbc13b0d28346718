"""The ASGI application of a multi-model endpoint (:mod:`sagegam.container.serving.multimodel`).

The routes are SageMaker's multi-model contract; an invocation is answered by
:func:`core.invocations` with the named model, so content types, explanations and errors
are those of a single-model endpoint.
"""

from __future__ import annotations

import os
import tempfile
import urllib.parse
from pathlib import Path

import orjson

from sagegam.container.serving import core
from sagegam.container.serving.app import (
    Receive,
    Scope,
    Send,
    identity_headers,
    read_body,
    request_headers,
    send_response,
)
from sagegam.container.serving.codecs import JSON, ClientError
from sagegam.container.serving.multimodel import (
    REGISTRY_VARIABLE,
    ModelStore,
    Registry,
    default_budget,
    load_request,
)

MULTI_MODEL_VARIABLE = "SAGEMAKER_MULTI_MODEL"


def multi_model() -> bool:
    """Whether this container serves a multi-model endpoint (``aws deploy --multi-model``
    and ``local deploy --multi-model`` set SAGEMAKER_MULTI_MODEL=true)."""
    return os.environ.get(MULTI_MODEL_VARIABLE, "").strip().lower() in ("true", "1")


def shared_registry() -> Path:
    """The directory the workers share for what is loaded, made once by the server."""
    existing = os.environ.get(REGISTRY_VARIABLE)
    if existing:
        return Path(existing)
    made = tempfile.mkdtemp(prefix="sagegam-models-")
    os.environ[REGISTRY_VARIABLE] = made
    return Path(made)


class MultiModelApp:
    def __init__(self, store: ModelStore | None = None,
                 settings: core.ServerSettings | None = None) -> None:
        self.store = store or ModelStore(Registry(shared_registry()), default_budget())
        self.settings = settings or core.ServerSettings.from_environment(
            workers=int(os.environ.get("SAGEGAM_WORKERS", "1")))
        # the local runtime's proof of who answers
        self._identity = identity_headers(self.settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        elif scope["type"] == "http":
            try:
                response = await self._route(scope, receive)
            except ClientError as error:
                response = core.error_response(error)
            await send_response(send, response, self._identity)

    async def _route(self, scope: Scope, receive: Receive) -> core.Response:
        method = scope["method"]
        parts = [urllib.parse.unquote(p) for p in scope["path"].strip("/").split("/")]
        if parts == ["ping"] and method in ("GET", "HEAD"):
            return core.ping()
        if parts == ["execution-parameters"] and method == "GET":
            return core.execution_parameters(self.settings)
        if parts[0] == "models" and len(parts) <= 3:
            return await self._models(method, parts[1:], scope, receive)
        raise ClientError(404, "not_found", f"No route {scope['path']}; a multi-model "
                          "endpoint has /ping, /models, /models/NAME and /models/NAME/invoke.")

    async def _models(self, method: str, rest: list[str], scope: Scope,
                      receive: Receive) -> core.Response:
        if not rest and method == "GET":
            query = urllib.parse.parse_qs(scope.get("query_string", b"").decode())
            token = (query.get("next_page_token") or query.get("nextPageToken") or [None])[0]
            return _json(self.store.listing(token))
        if not rest and method == "POST":
            name, url = load_request(await read_body(receive, self.settings))
            self.store.load(name, url)
            return _json({"status": f"Model {name} loaded"})
        if len(rest) == 1 and method == "GET":
            return _json([self.store.describe(rest[0])])
        if len(rest) == 1 and method == "DELETE":
            self.store.unload(rest[0])
            return _json({"status": f"Model {rest[0]} unloaded"})
        if len(rest) == 2 and rest[1] == "invoke" and method == "POST":
            return await self._invoke(rest[0], scope, receive)
        raise ClientError(405, "method_not_allowed",
                          f"{method} is not allowed on {scope['path']}.")

    async def _invoke(self, name: str, scope: Scope, receive: Receive) -> core.Response:
        predictor = self.store.predictor(name)
        headers = request_headers(scope)
        body = await read_body(receive, self.settings)
        return headers.answer(predictor, body, self.settings)


def _json(document: object) -> core.Response:
    return core.Response(200, orjson.dumps(document), JSON)
