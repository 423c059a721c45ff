"""uvicorn's HTTP/1.1 protocol with a deadline for each request to arrive.

uvicorn (0.55, h11) times out only an idle kept-alive connection: a connection
that never sends a byte, or sends its headers one byte every few seconds, or
declares a body it never finishes, is held open for ever (issue 12: 300 of them
held for 90 s). `TimedH11Protocol` gives each request `QMS_REQUEST_TIMEOUT`
seconds (10 by default) from the connection's start, or from the first byte of
a kept-alive connection's next request, until its last byte has arrived;
otherwise it closes the connection (answering 408 when part of a request had
come and nothing was answered yet; silently when nothing came at all). Once a
request is complete the app takes as long as it takes, and a websocket upgrade
leaves the deadline behind with the HTTP protocol.

A public hall still belongs behind a reverse proxy (docs/deploy.md), which
buffers requests and limits connections; this keeps a directly exposed server
from being held open by a handful of slow clients.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from qms.server.config import Config

DEFAULT_REQUEST_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5  # an idle kept-alive connection is closed after this (uvicorn's default)
# Requests are small JSON (64 KiB at most, errors.py) with a cookie or a token:
# 16 KiB of request line and headers is plenty (uvicorn's default, set explicitly).
MAX_HEADER_BYTES = 16 * 1024
_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 16\r\n\r\nrequest timeout\n"
)
_ARRIVING = (h11.IDLE, h11.SEND_BODY)  # the client's states while a request is on its way


@functools.cache
def request_timeout() -> float:
    """Seconds a request may take to arrive (QMS_REQUEST_TIMEOUT; read once per process)."""
    value = Config.from_env().request_timeout
    return value if value > 0 else DEFAULT_REQUEST_TIMEOUT_S


class TimedH11Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._started = False  # a byte of the current request has come

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # also a connection that never sends anything

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self.conn.their_state is h11.IDLE:
            self._arm()  # the first byte of the next request on a kept-alive connection
        self._started = True
        super().data_received(data)
        if self.conn.their_state not in _ARRIVING:
            self._disarm()
            self._started = False

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._disarm()
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(request_timeout(), self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.conn.their_state not in _ARRIVING:
            return
        if self._started and (self.cycle is None or not self.cycle.response_started):
            self.transport.write(_REQUEST_TIMEOUT)  # part of a request came, nothing answered
        # A connection on which nothing came is closed without a word: a browser's
        # spare (preconnected) socket must not find a stray 408 on it later.
        self.transport.close()  # the app, if it waits for the body, hears a disconnect
