"""A lean Redis connection for the hot paths: an asyncio Protocol that hiredis parses for.

Why not redis-py here: on this project's 2-core machines every wake-up of a
process costs real CPU, and redis-py's asyncio stack (stream reader, connection
pool, retry wrapper, a coroutine per layer) costs 2-3x what the socket itself
does. With four processes following one site, each event wakes every one of
them (`bench/relay_floor.py` measures bare connections against qms;
docs/performance.md).

Only what the event log's reader and the relay need: commands answered in order
(`call`), and Pub/Sub messages handed to a callback as they arrive (no task, no
queue). Errors are redis-py's exceptions (callers already handle those): a
connection that breaks fails every waiting call with `ConnectionError` and is
not reused (its owner makes a new one).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
from collections.abc import Callable
from typing import Any

import hiredis
from redis import exceptions as rx
from redis.asyncio.connection import RedisSSLContext, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError

OnMessage = Callable[[bytes, bytes], None]  # channel, data


# A Redis error reply's first word, as the redis-py exception its own connections
# raise (what the callers catch: an outage, a missing script); our own small table
# rather than redis-py's private parser.
ERROR_CLASSES: dict[str, type[rx.RedisError]] = {
    "LOADING": rx.BusyLoadingError,  # a restarted server loading its data: an outage
    "READONLY": rx.ReadOnlyError,  # a replica that was the primary: an outage
    "MASTERDOWN": rx.MasterDownError,
    "TRYAGAIN": rx.TryAgainError,
    "CLUSTERDOWN": rx.ClusterDownError,
    "NOSCRIPT": rx.NoScriptError,  # EVALSHA of a script the server does not hold
    "NOAUTH": rx.AuthenticationError,
    "WRONGPASS": rx.AuthenticationError,
    "NOPERM": rx.NoPermissionError,
    "EXECABORT": rx.ExecAbortError,
    "OOM": rx.OutOfMemoryError,
}
# The ssl_* options of a rediss:// URL that redis-py's connections take.
TLS_OPTIONS = (
    "keyfile",
    "certfile",
    "cert_reqs",
    "ca_certs",
    "ca_data",
    "ca_path",
    "check_hostname",
    "min_version",
    "ciphers",
    "password",
)


def _error(message: str) -> Exception:
    code, _, rest = message.partition(" ")
    kind = ERROR_CLASSES.get(code)
    return kind(rest) if kind is not None else rx.ResponseError(message)


def tls_context(options: dict[str, Any]) -> ssl.SSLContext:
    """The TLS settings redis-py uses for the same `rediss://` URL (its `ssl_*` query
    arguments: ssl_ca_certs, ssl_cert_reqs, ssl_check_hostname, ssl_certfile...), so
    that the lean links connect wherever redis-py's connections do. Defaults as
    redis-py's: the server's certificate and host name are checked."""
    args: dict[str, Any] = {"cert_reqs": "required", "check_hostname": True}
    for name in TLS_OPTIONS:
        if f"ssl_{name}" in options:
            args[name] = options[f"ssl_{name}"]
    context: ssl.SSLContext = RedisSSLContext(**args).get()
    return context


def pack(*args: bytes | str | int) -> bytes:
    """One command in RESP: an array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


class RespConnection(asyncio.Protocol):
    """One connection: replies matched to calls in order; Pub/Sub messages to `on_message`."""

    def __init__(self, on_message: OnMessage | None = None) -> None:
        self._reader = hiredis.Reader()
        self._waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._on_message = on_message
        self._transport: asyncio.Transport | None = None
        self._lost: BaseException | None = None
        self.closed = asyncio.get_running_loop().create_future()  # set when the link is gone

    @classmethod
    async def open(
        cls, url: str, on_message: OnMessage | None = None, *, name: str = ""
    ) -> RespConnection:
        """Connect to the Redis at `url` (redis://, rediss://, unix://), AUTH, SELECT, and
        name the connection (CLIENT LIST shows it)."""
        options = parse_url(url)
        loop = asyncio.get_running_loop()
        try:
            if "path" in options:
                _, conn = await loop.create_unix_connection(
                    lambda: cls(on_message), options["path"]
                )
            else:
                tls = tls_context(dict(options)) if url.startswith("rediss:") else None
                _, conn = await loop.create_connection(
                    lambda: cls(on_message),
                    options.get("host", "localhost"),
                    options.get("port", 6379),
                    ssl=tls,
                )
        except OSError as exc:
            raise RedisConnectionError(f"cannot connect to Redis: {exc}") from exc
        try:
            if options.get("password"):
                auth = [options["username"]] if options.get("username") else []
                await conn.call("AUTH", *auth, options["password"])
            if options.get("db"):
                await conn.call("SELECT", options["db"])
            if name:
                await conn.call("CLIENT", "SETNAME", name)
        except BaseException:  # refused, or cancelled (a timeout): no socket left behind
            conn.close()
            raise
        return conn

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            if (
                self._on_message is not None
                and type(reply) is list
                and len(reply) == 3
                and reply[0] == b"message"
            ):
                self._on_message(reply[1], reply[2])
            elif self._waiting:
                future = self._waiting.popleft()
                if future.done():
                    continue  # its caller gave up (a timeout); the reply is still its own
                if isinstance(reply, hiredis.ReplyError):  # redis-py's class for it
                    future.set_exception(_error(str(reply)))
                else:
                    future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = RedisConnectionError(f"connection to Redis lost ({exc or 'closed'})")
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(self._lost)
        if not self.closed.done():
            self.closed.set_result(None)

    # -- use ------------------------------------------------------------------------------

    def call(self, *args: bytes | str | int) -> asyncio.Future[Any]:
        """Send a command; the future is its reply (a Redis error raises redis-py's
        exception for it: `ResponseError`, `BusyLoadingError`, `NoScriptError`...)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._lost is not None or self._transport is None or self._transport.is_closing():
            future.set_exception(self._lost or RedisConnectionError("connection closed"))
            return future
        self._waiting.append(future)
        self._transport.write(pack(*args))
        return future

    def close(self) -> None:
        """Start closing (the socket is closed on the loop's next turn; see `aclose`)."""
        if self._transport is not None:
            self._transport.close()

    async def aclose(self) -> None:
        """Close, and wait until the socket is: a loop that ends right after a bare
        `close` leaves it open (an "unclosed transport" warning)."""
        self.close()
        if self._transport is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.closed), 1.0)
