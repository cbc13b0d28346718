"""uvicorn's httptools protocol with the two limits it lacks: request head size and time.

uvicorn bounds nothing before a request reaches the app: a client may send a 100 MB
header (httptools gathers it all, at quadratic cost) or trickle one byte at a time and
hold the connection forever (its keep-alive timer only runs between requests, and not at
all before the first). This protocol counts the bytes of each request head and refuses
one larger than ``SAGEGAM_MAX_HEADER_KB`` with 431, gives every request
``SAGEMAKER_MODEL_SERVER_TIMEOUT`` seconds from its first byte to its last (then 408, and
the connection is closed), and arms the idle timer on a new connection too.

It also sends each response in one piece: uvicorn writes a response's head as soon as
the app starts it and the body after, two ``send()`` calls and two TCP segments for every
small answer, and on loopback those two system calls were half of a worker's time.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from sagegam.container.serving.core import ServerSettings

LINGER_SECONDS = 2.0


@functools.cache
def _settings() -> ServerSettings:
    """Read once per worker; ``serve`` has already refused a bad environment."""
    return ServerSettings.from_environment()


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = _settings()
        self.max_head_bytes = settings.max_header_bytes
        self.request_timeout = settings.request_timeout
        self.head_bytes = 0  # raw bytes received while the head is incomplete
        self.head_size = 0  # the head's exact size: URL and header names and values
        self.reading_head = True
        self.refused = False
        self.request_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn arms its idle timer only after a response; a silent new connection
        # would otherwise stay open forever.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_request_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        if self.reading_head:
            self.head_bytes += len(data)
        super().data_received(data)
        # A head that is still incomplete after this many bytes is refused at once, so a
        # huge one is never gathered; a complete one is measured exactly below.
        if self.reading_head and self.head_bytes > self.max_head_bytes:
            self._refuse_head()

    def on_message_begin(self) -> None:
        if self.refused:
            return
        super().on_message_begin()
        self._stop_request_timer()
        self.request_timer = self.loop.call_later(self.request_timeout, self._timed_out)

    def on_url(self, url: bytes) -> None:
        if not self.refused:
            self.head_size += len(url)
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.refused:
            self.head_size += len(name) + len(value) + 4
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self.refused:
            return
        if self.head_size > self.max_head_bytes:
            self._refuse_head()  # before a request cycle (and the app) ever starts
            return
        self.reading_head = False
        super().on_headers_complete()
        _hold_head(self.cycle)  # its task is created, not yet run

    def on_body(self, body: bytes) -> None:
        if not self.refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self.refused:
            return
        super().on_message_complete()
        self._stop_request_timer()
        self.reading_head, self.head_bytes, self.head_size = True, 0, 0

    def _stop_request_timer(self) -> None:
        if self.request_timer is not None:
            self.request_timer.cancel()
            self.request_timer = None

    def _refuse_head(self) -> None:
        self._refuse(431, "headers_too_large", f"The request headers exceed "
                     f"{self.max_head_bytes // 1024:g} KB (SAGEGAM_MAX_HEADER_KB).")

    def _timed_out(self) -> None:
        self.request_timer = None
        self._refuse(408, "request_timeout", f"The request did not arrive whole within "
                     f"{self.request_timeout:g} s (SAGEMAKER_MODEL_SERVER_TIMEOUT).")

    def _refuse(self, status: int, error: str, message: str) -> None:
        """Answer ``status`` if no response has started, then close the connection."""
        if self.refused or self.transport.is_closing():
            return
        self.refused = True
        self._stop_request_timer()
        current = None if self.reading_head else self.cycle  # else: the last request's
        if current is not None and not current.response_complete:
            current.disconnected = True  # the app's receive() now sees http.disconnect
            current.message_event.set()
        if current is None or not current.response_started:
            body = orjson.dumps({"error": error, "message": message})
            self.transport.write(b"".join([
                STATUS_LINE[status], b"content-type: application/json\r\n",
                b"content-length: %d\r\n" % len(body), b"connection: close\r\n\r\n", body]))
        # Closing with the client's bytes unread would reset the connection, and the
        # client could lose the answer: stop writing, drop what still arrives for a
        # moment, then close (a "lingering close").
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()


class _HeldHeadTransport:
    """The request cycle's view of the connection: the response head (the first write
    after the response starts) waits for the first body bytes and leaves with them."""

    def __init__(self, transport: asyncio.Transport, cycle: RequestResponseCycle) -> None:
        self._transport = transport
        self._cycle = cycle
        self._head_seen = False
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        if not self._head_seen and self._cycle.response_started:
            self._head_seen = True
            self._held = bytes(data)
            return
        if self._held is not None:
            data, self._held = self._held + data, None
        self._transport.write(data)

    def flush(self) -> None:
        """Send a head still held (a response without body bytes, such as HEAD's)."""
        if self._held is not None:
            held, self._held = self._held, None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, ...
        return getattr(self._transport, name)


def _hold_head(cycle: RequestResponseCycle) -> None:
    transport = _HeldHeadTransport(cycle.transport, cycle)
    finished = cycle.on_response

    def on_response() -> None:
        transport.flush()
        finished()

    cycle.transport = transport  # type: ignore[assignment]  # a proxy: what it lacks, it forwards
    cycle.on_response = on_response
