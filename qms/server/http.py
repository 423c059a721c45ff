"""uvicorn's HTTP/1.1 protocol (httptools) with a deadline for each request to arrive
and a limit on its request line and headers.

uvicorn (0.55) times out only an idle kept-alive connection: a connection that
never sends a byte, or sends its headers one byte every few seconds, or declares
a body it never finishes, is held open for ever (issue 12: 300 of them held for
90 s). `TimedHttpToolsProtocol` gives each request `QMS_REQUEST_TIMEOUT` seconds
(10 by default) from the connection's start, or from the first byte of a
kept-alive connection's next request, until its last byte has arrived;
otherwise it closes the connection (answering 408 when part of a request had
come and nothing was answered yet; silently when nothing came at all). Once a
request is complete the app takes as long as it takes, and a websocket upgrade
leaves the deadline behind with the HTTP protocol.

uvicorn's httptools protocol has no limit of its own on the request line and
headers (its h11 protocol has one): past `MAX_HEADER_BYTES` the request is
answered 400 and the connection closed, as h11 does. httptools gathers a header
line whole before it calls back, so the bytes that arrive while a head is
incomplete are counted too: past `MAX_HEAD_BUFFER` the same 400, rather than a
header line that keeps growing in memory until the request's deadline.

httptools (llhttp, in C) rather than h11 (pure Python): it parses a request in
a fraction of h11's time, which the single process of the embedded default
spends on every officer's press (bench/results/2026-12-06-performance-history.md).

A public hall still belongs behind a reverse proxy (docs/deploy.md), which
buffers requests and limits connections; this keeps a directly exposed server
from being held open by a handful of slow clients.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from qms.server.access_log import fast_access_logger
from qms.server.config import Config

DEFAULT_REQUEST_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5  # an idle kept-alive connection is closed after this (uvicorn's default)
# Requests are small JSON (64 KiB at most, errors.py) with a cookie or a token:
# 16 KiB of request line and headers is plenty (h11's default in uvicorn).
MAX_HEADER_BYTES = 16 * 1024
# Bytes of the reads after which a request's head was still incomplete. Such a read
# may also hold earlier pipelined requests (asyncio reads up to 256 KiB at once),
# hence the slack over MAX_HEADER_BYTES: a bound on memory, never met by a real head.
MAX_HEAD_BUFFER = 512 * 1024
_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 16\r\n\r\nrequest timeout\n"
)


class HeadersTooLarge(ValueError):
    """The request line and headers passed MAX_HEADER_BYTES (answered 400)."""


@functools.cache
def request_timeout() -> float:
    """Seconds a request may take to arrive (QMS_REQUEST_TIMEOUT; read once per process)."""
    value = Config.from_env().request_timeout
    return value if value > 0 else DEFAULT_REQUEST_TIMEOUT_S


class TimedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.access_log:  # the same line, without the logging machinery (access_log.py)
            self.access_logger = fast_access_logger(self.access_logger)  # type: ignore[assignment]
        self._deadline: asyncio.TimerHandle | None = None
        self._arriving = False  # a request is awaited or on its way (not yet complete)
        self._started = False  # a byte of the current request has come
        self._head_bytes = 0  # of the current request's line and headers
        self._in_head = True  # the next bytes belong to a request line or headers
        self._head_received = 0  # bytes received while `_in_head`

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # also a connection that never sends anything

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and not self._arriving:
            self._arm()  # the first byte of the next request on a kept-alive connection
        self._started = True
        super().data_received(data)  # a parser error answers 400 and closes
        if self._in_head and not self.transport.is_closing():
            self._head_received += len(data)  # a head still incomplete after this read
            if self._head_received > MAX_HEAD_BUFFER:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")  # and closes
                return
        if not self._arriving:
            self._disarm()
            self._started = False

    # -- parser callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._arriving = True
        self._head_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._arriving = False
        self._in_head, self._head_received = True, 0  # the next request's head
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._arriving = False
        self._disarm()
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    # -- the deadline ------------------------------------------------------------------

    def _count_head(self, n: int) -> None:
        self._head_bytes += n
        if self._head_bytes > MAX_HEADER_BYTES:
            # The parser turns this into an HttpParserError: uvicorn answers 400, closes.
            raise HeadersTooLarge(f"request line and headers over {MAX_HEADER_BYTES} bytes")

    def _arm(self) -> None:
        self._disarm()
        self._arriving = True
        self._deadline = self.loop.call_later(request_timeout(), self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or not self._arriving:
            return
        if self._started and (self.cycle is None or not self.cycle.response_started):
            self.transport.write(_REQUEST_TIMEOUT)  # part of a request came, nothing answered
        # A connection on which nothing came is closed without a word: a browser's
        # spare (preconnected) socket must not find a stray 408 on it later.
        self.transport.close()  # the app, if it waits for the body, hears a disconnect
