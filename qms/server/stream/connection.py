"""One client of the live stream: the stream's settings, and a connection with its
bounded send queue and the rules that find a client that does not keep up
(docs/protocol.md, "Fan-out and back-pressure").

`feed.SiteFeed` hands frames to connections; `stream.StreamHub` admits them and
reads what they send.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import os
import socket
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect

from qms.engine import SiteEngine
from qms.server.principal import Principal
from qms.server.settings import SettingError, env_name, load
from qms.server.stream.facts import Audience
from qms.server.stream.wire import Close, Format, Frame, clip_reason


class Feed(Protocol):
    """What a connection needs of its site's feed (`feed.SiteFeed`, which imports this)."""

    site: str
    engine: SiteEngine

    def remove(self, conn: Connection) -> None: ...

    def ping_frame(self, fmt: Format, version: int) -> Frame: ...


PREFIX = "QMS_STREAM_"


@dataclass(frozen=True)
class StreamSettings:
    """Tunables; each also from QMS_STREAM_<NAME> (e.g. QMS_STREAM_HEARTBEAT_S=15)."""

    heartbeat_s: float = 15.0  # server ping interval
    silent_beats: float = 3.0  # a client silent this many intervals is closed (4408)
    queue_bytes: int = 256 * 1024  # a connection's send queue, in bytes of frames
    ring_size: int = 2048  # recent events kept per site for replay
    replay_budget: int = 64 * 1024  # above this many bytes a replay is weighed against a snapshot
    hello_timeout_s: float = 10.0
    reauth_s: float = 60.0  # how often live clients' credentials are checked again
    close_timeout_s: float = 10.0  # how long a close frame may wait behind a full socket
    gc_freeze_s: float = 1.0  # after connections join, freeze what they made this much later
    gc_reclaim_s: float = 3600.0  # how often frozen objects are unfrozen and collected once
    history_calls: int = 10_000  # the day's calls kept in memory per site (history.py)
    history_read: int = 50_000  # events read from the log at most for one resume's calls
    stall_s: float = 10.0  # a socket that takes nothing, or a ping unanswered, this long: 4008
    socket_buffer: int = 32 * 1024  # SO_SNDBUF of a stream socket (the kernel doubles it)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StreamSettings:
        """Defaults, then QMS_STREAM_* (`qms.server.settings`); every value positive."""
        values = load(cls, os.environ if env is None else env, PREFIX)
        for name, value in values.items():
            if not value > 0:
                variable = env_name(PREFIX, name)
                raise SettingError(f"{variable} must be positive, got {value!r}")
        return cls(**values)


# --- one connection -------------------------------------------------------------------


class Phase(enum.Enum):
    HANDSHAKE = "handshake"  # accepted, no hello yet
    LIVE = "live"  # registered with a feed: receives events
    CLOSING = "closing"  # a close was requested: the writer sends it
    GONE = "gone"  # the client went away


class Connection:
    """A client's socket with a bounded send queue.

    Frames go straight to the socket when nothing is queued: `offer` drives the
    ASGI send to completion synchronously (it only ever suspends when the socket's
    buffer is full), so an idle display costs no task, no future and no loop
    wake-up per message. Only a send that would block parks the rest in the
    queue, drained by a short-lived task until the socket takes frames again.
    The endpoint's own task reads the client (see `stream.StreamHub.serve`).

    Lean on purpose (slots, no task or future while idle): a hall may hold
    thousands of idle displays.
    """

    __slots__ = (
        "_blocked",
        "_closer",
        "_queue",
        "audience",
        "close_code",
        "close_reason",
        "close_timeout",
        "feed",
        "fmt",
        "interrupted",
        "last_heard",
        "limit",
        "phase",
        "ping_at",
        "queued",
        "reader",
        "slot",
        "stalled_since",
        "version",
        "watch",
        "who",
        "ws",
    )

    def __init__(self, ws: WebSocket, fmt: Format, settings: StreamSettings) -> None:
        self.ws = ws
        self.fmt = fmt
        self.limit = settings.queue_bytes
        self.close_timeout = settings.close_timeout_s
        self.phase = Phase.HANDSHAKE
        self.who: Principal | None = None
        self.audience: Audience | None = None
        self.feed: Feed | None = None
        self.version = 0  # the last event version handed to this client
        self.slot = 0  # its heartbeat slot (stream.StreamHub spreads them)
        self.last_heard = time.monotonic()
        self.close_code: int = Close.INTERNAL_ERROR
        self.close_reason = ""
        self._queue: collections.deque[tuple[Frame, int]] | None = None  # while blocked
        self.queued = 0  # bytes of live frames waiting in the queue
        self._blocked: asyncio.Task[None] | None = None  # finishing a send the socket refused
        self._closer: asyncio.Task[None] | None = None  # sending the close frame
        self.reader: asyncio.Task[Any] | None = None  # the endpoint's task, while it reads
        self.interrupted = False  # the reader was cancelled because no close frame could go
        # Slow-consumer rules (heartbeat.Heartbeat.check_stalls): when the oldest
        # unanswered ping went out, and since when a blocked send made no progress.
        self.ping_at: float | None = None
        self.stalled_since: float | None = None
        self.watch: set[Connection] | None = None  # the heartbeat's, while live

    # called synchronously by the fan-out, the reader and the hub: never block.

    def begin(self, feed: Feed, audience: Audience, version: int, frames: list[Frame]) -> None:
        """Go live at `version` with the hello's answer first (not counted against the limit)."""
        self.feed, self.audience, self.version = feed, audience, version
        self.phase = Phase.LIVE
        for frame in frames:
            self._put(frame, 0)

    def offer(self, frame: Frame) -> bool:
        """Send or queue a frame; False when this closed the client as a slow consumer (4008)."""
        if self.phase is not Phase.LIVE:
            return True
        if self._blocked is None:
            self._push(frame)
            return True
        size = len(frame)
        if self.queued + size > self.limit:
            self.close(Close.SLOW_CONSUMER, f"slow consumer: over {self.limit} bytes queued")
            return False
        self._put(frame, size)
        return True

    def close(self, code: Close, reason: str) -> None:
        """Close with `code`; frames still queued are dropped (the client resumes)."""
        if self.phase in (Phase.CLOSING, Phase.GONE):
            return
        self.phase, self.close_code, self.close_reason = Phase.CLOSING, code, clip_reason(reason)
        self._drop()
        if self.feed is not None:
            self.feed.remove(self)
        self._closer = asyncio.get_running_loop().create_task(self._send_close())

    def gone(self) -> None:
        """The client closed or vanished."""
        if self.feed is not None:
            self.feed.remove(self)
        self.phase = Phase.GONE
        self._drop()

    def _drop(self) -> None:
        self._queue = None
        self.queued = 0
        self.stalled_since = None
        blocked, self._blocked = self._blocked, None
        if blocked is not None and blocked is not asyncio.current_task():
            blocked.cancel()  # a send blocked on a full socket: give up on it

    def _put(self, frame: Frame, size: int) -> None:
        if self._blocked is None:
            self._push(frame)
            return
        if self._queue is None:
            self._queue = collections.deque()
        self._queue.append((frame, size))
        self.queued += size

    def _push(self, frame: Frame) -> None:
        """Hand one frame to the socket now; if the socket's buffer is full, a task finishes it."""
        coro = self.ws.send(_message(frame))
        try:
            waiting = coro.send(None)
        except StopIteration:
            return
        except Exception:  # the client is gone (or its socket broke): the reader sees it too
            self._lost()
            return
        # The send waits for the socket to drain: let a task see it through, and
        # queue what comes meanwhile.
        self._blocked = asyncio.get_running_loop().create_task(self._finish(coro, waiting))
        self.stalled_since = time.monotonic()
        if self.watch is not None:
            self.watch.add(self)

    async def _finish(self, coro: Coroutine[Any, Any, None], waiting: Any) -> None:
        """Complete a send that `_push` started, then drain the queue; gives up on a close."""
        try:
            try:
                while True:
                    if isinstance(waiting, asyncio.Future):
                        await asyncio.wait((waiting,))  # its outcome is raised inside `coro`
                    else:  # a bare yield
                        await asyncio.sleep(0)
                    try:
                        waiting = coro.send(None)
                    except StopIteration:
                        break
            finally:
                coro.close()  # no-op once finished; unwinds it when cancelled
            while self.phase is Phase.LIVE and self._queue:
                self.stalled_since = time.monotonic()  # the socket took a frame: progress
                frame, size = self._queue.popleft()
                self.queued -= size
                await self.ws.send(_message(frame))
        except asyncio.CancelledError:
            pass  # a close (or the client leaving) gave up on the queue
        except Exception:
            self._lost()
        finally:
            if self._blocked is asyncio.current_task():
                self._blocked = None
                self._queue = None
                self.stalled_since = None

    def _lost(self) -> None:
        """A send failed: the client is gone (the reader sees the disconnect too)."""
        if self.phase is Phase.LIVE:
            self.gone()

    async def _send_close(self) -> None:
        """Send the close frame, waiting at most `close_timeout` behind a full socket."""
        try:
            await asyncio.wait_for(
                self.ws.close(self.close_code, self.close_reason), self.close_timeout
            )
            return
        except (WebSocketDisconnect, OSError, RuntimeError, TimeoutError):
            pass  # the client is gone, or never read its close frame
        # No close frame went out, so no disconnect will reach the reader: end it.
        self.phase = Phase.GONE
        if self.reader is not None and not self.reader.done():
            self.interrupted = True
            self.reader.cancel()

    async def closed(self) -> None:
        """Wait for the close frame to go out (or give up), when a close was asked for."""
        if self._closer is not None:
            await asyncio.wait((self._closer,))


def _message(frame: Frame) -> dict[str, Any]:
    if isinstance(frame, bytes):
        return {"type": "websocket.send", "bytes": frame}
    return {"type": "websocket.send", "text": frame}


def _transport(send: Any) -> Any:
    """The asyncio transport under an ASGI `send`: uvicorn's websocket protocols keep
    it as `.transport`, and Starlette passes their bound `send` on, wrapped in a
    closure or two (its exception handling)."""
    for _ in range(8):
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if transport is not None:
            return transport
        inner = None
        for cell in getattr(send, "__closure__", None) or ():
            try:
                contents = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if callable(contents):
                inner = contents
                break
        if inner is None:
            return None
        send = inner
    return None


def bound_send_buffer(ws: WebSocket, size: int) -> bool:
    """Bound the kernel's send buffer of a stream socket (SO_SNDBUF, which Linux doubles).

    Left alone, Linux grows it to several hundred KB per socket: a client that stopped
    reading would take minutes of a quiet hall's frames before a send blocked, and the
    slow-consumer rules never saw it. False when the socket cannot be reached (another
    server than uvicorn, a test transport): the rules then only act later.
    """
    transport = _transport(getattr(ws, "_send", None))
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
    except OSError:
        return False
    return True
