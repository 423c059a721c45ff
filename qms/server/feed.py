"""The live stream's moving parts: one client's bounded send queue (`Connection`)
and one site's fan-out with its ring of recent events (`SiteFeed`).

A `SiteFeed` hangs on its site engine's listeners (one per site per process).
For each event it computes the event's `audience.Facts` once, keeps the event
in a ring for resumes and encodes one frame per (audience, format) in use, at
once; a task of the feed then offers the frames to each connection, in log
order, after the command's reply. Offering never waits: the frame is written
to the socket when nothing is queued for that client, else queued; a
connection whose queue would pass its byte limit is closed with 4008 (slow
consumer) and the rest go on. `stream.StreamHub` admits clients and joins
them to a feed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import logging
import os
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, fields
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from qms.core import HallState
from qms.engine import SiteEngine
from qms.server import audience as aud
from qms.server.audience import Audience, Facts
from qms.server.principal import Principal, Role
from qms.server.wire import (
    Close,
    Format,
    Frame,
    Hello,
    Resume,
    clip_reason,
    encode,
    plan_resume,
)

log = logging.getLogger(__name__)

FAN_OUT_SLICE = 200  # connections served before the fan-out lets the loop run other work
FAN_OUT_DEFER_TURNS = 2  # loop turns the fan-out waits before its first slice (see _fan_out)


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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StreamSettings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f"QMS_STREAM_{f.name.upper()}"
            raw = env.get(name)
            if raw is None:
                continue
            try:
                value = float(raw) if f.type == "float" else int(raw)
            except ValueError:
                value = 0
            if not value > 0:
                raise ValueError(f"{name} must be a positive {f.type}, got {raw!r}")
            values[f.name] = value
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
        "queued",
        "reader",
        "slot",
        "version",
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
        self.feed: SiteFeed | None = None
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

    # called synchronously by the fan-out, the reader and the hub: never block.

    def begin(self, feed: SiteFeed, audience: Audience, version: int, frames: list[Frame]) -> None:
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


# --- one site ---------------------------------------------------------------------------


class _Entry:
    """One event in the ring, with its facts and its frames by (audience, format)."""

    __slots__ = ("event", "facts", "frames", "version")

    def __init__(self, version: int, event: Mapping[str, Any], facts: Facts) -> None:
        self.version = version
        self.event = event
        self.facts = facts
        self.frames: dict[tuple[Audience, Format], Frame] = {}


class SiteFeed:
    """The stream of one site in this process, fed by its engine's listener."""

    def __init__(self, engine: SiteEngine, settings: StreamSettings) -> None:
        self.site = engine.site
        self.engine = engine
        self.epoch = ""  # read by `ready()` before the first client joins
        self._ready = asyncio.Lock()
        self.settings = settings
        # The ring holds versions base+1..version; attaching is synchronous, so
        # every event after `base` reaches the ring.
        self.base = self.version = engine.version
        self.ring: collections.deque[_Entry] = collections.deque(maxlen=settings.ring_size)
        self.calls: collections.deque[dict[str, Any]] = collections.deque(maxlen=aud.RECENT_CALLS)
        self.counts = aud.queue_counts(engine.state)
        self.groups: dict[tuple[Audience, Format], set[Connection]] = {}
        self._snapshots: dict[tuple[Audience, Format], tuple[int, Frame]] = {}
        self._pings: dict[Format, tuple[int, Frame]] = {}
        self.stats: collections.Counter[str] = collections.Counter()
        # Events applied but not yet handed to every connection, oldest first, and
        # the task handing them out (see `_fold`).
        self._pending: collections.deque[_Entry] = collections.deque()
        self._fanning: asyncio.Task[None] | None = None
        engine.listeners.append(self._on_event)

    def detach(self) -> None:
        with contextlib.suppress(ValueError):
            self.engine.listeners.remove(self._on_event)
        self._pending.clear()
        if self._fanning is not None:
            self._fanning.cancel()

    @property
    def connections(self) -> list[Connection]:
        return [c for group in self.groups.values() for c in group]

    def remove(self, conn: Connection) -> None:
        if conn.audience is None:
            return
        key = (conn.audience, conn.fmt)
        group = self.groups.get(key)
        if group is not None:
            group.discard(conn)
            if not group:
                del self.groups[key]

    async def ready(self) -> SiteFeed:
        """Read the log's epoch (and the recent calls) once, before the first client joins."""
        async with self._ready:
            if not self.epoch:
                try:
                    await self._prefill_calls()
                except Exception:  # recent calls are a nicety; the stream works without
                    log.exception("stream %s: cannot read recent calls", self.site)
                self.epoch = await self.engine.log.epoch(self.site)
        return self

    async def _prefill_calls(self, limit: int = 500) -> None:
        """Recent calls from the log's tail, so a snapshot after a restart lists them."""
        base = self.base
        entries = await self.engine.log.read(self.site, after=max(0, base - limit), limit=limit)
        state = self.engine.state
        older = []
        for version, event in entries:
            ticket = state.tickets.get(str(event.get("ticket")))
            if version > base or ticket is None:
                continue
            counter = state.counters.get(str(event.get("counter")))
            zone = counter.zone if counter is not None else None
            f = Facts(number=ticket.number, service=ticket.service, zone=zone)
            call = aud.call_record(version, event, f)
            if call is not None:
                older.append(call)
        merged = [*older, *self.calls]  # calls that came live meanwhile stay the newest
        self.calls = collections.deque(merged[-aud.RECENT_CALLS :], maxlen=aud.RECENT_CALLS)

    # live events

    def _on_event(self, version: int, event: Mapping[str, Any], state: HallState) -> None:
        """The engine's listener: never raises into the engine, never waits."""
        try:
            self._fold(version, event, state)
        except Exception:
            log.exception(
                "stream %s: cannot fan out version %d; clients resume", self.site, version
            )
            self._reset(version)
            self.counts = aud.queue_counts(state)

    def _reset(self, version: int) -> None:
        """After a failure: forget the ring and close every client (they resume)."""
        self.ring.clear()
        self._pending.clear()
        self.base = self.version = version
        for conn in self.connections:
            conn.close(Close.INTERNAL_ERROR, "stream error; resume")

    def _fold(self, version: int, event: Mapping[str, Any], state: HallState) -> None:
        if version <= self.version:
            return
        if version != self.version + 1:  # the engine never skips; keep the ring honest anyway
            raise RuntimeError(f"gap: at {self.version}, got {version}")
        counts = aud.queue_counts(state)
        entry = _Entry(
            version, event, aud.facts(event, state, aud.changed_counts(self.counts, counts))
        )
        self.counts = counts
        if len(self.ring) == self.ring.maxlen:
            self.base = self.ring[0].version
        self.ring.append(entry)
        self.version = version
        call = aud.call_record(version, event, entry.facts)
        if call is not None:
            self.calls.append(call)
        # Encode now, while `state` is this version's (the engine moves it on), once
        # per (audience, format) in use; hand the frames to the connections later,
        # in a task: the command that made the event (an officer's HTTP request, on
        # this same loop) gets its reply without waiting for thousands of sockets.
        for audience, fmt in self.groups:
            self.frame(entry, audience, fmt, state)
        self._pending.append(entry)
        if self._fanning is None:
            self._fanning = asyncio.get_running_loop().create_task(
                self._fan_out(), name=f"stream fan-out {self.site}"
            )
        if event.get("type") in ("counter_opened", "counter_closed"):
            self._check_consoles(str(event.get("counter")), state)

    async def _fan_out(self) -> None:
        """Hand pending events to every connection, in log order, a slice at a time.

        A connection that joined after an event was applied got it in its hello's
        answer (its `version` says so) and is skipped; one whose last version is
        not the one before is closed rather than shown a gap (it cannot happen).
        Between slices the loop runs other work (HTTP replies, reads).
        """
        sent = 0
        try:
            # Let the command that made the event answer first: the engine resolves the
            # caller's future after applying (in its drainer task, or the follower
            # applied it a turn earlier), so the HTTP handler runs a turn or two later.
            for _ in range(FAN_OUT_DEFER_TURNS):
                await asyncio.sleep(0)
            while self._pending:
                entry = self._pending[0]
                version = entry.version
                for key, group in list(self.groups.items()):
                    frame = entry.frames.get(key)
                    if frame is None:  # the group is newer than the event: all got it
                        continue
                    for conn in list(group):
                        if conn.version >= version:
                            continue
                        if conn.version != version - 1:
                            conn.close(Close.INTERNAL_ERROR, "stream error; resume")
                            continue
                        conn.version = version
                        if not conn.offer(frame):
                            self.stats["slow_consumers"] += 1
                            log.info("stream %s: slow consumer closed at %d", self.site, version)
                        sent += 1
                        if sent >= FAN_OUT_SLICE:
                            sent = 0
                            await asyncio.sleep(0)
                if self._pending and self._pending[0] is entry:
                    self._pending.popleft()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("stream %s: fan-out failed; clients resume", self.site)
            self._reset(self.version)
        finally:
            self._fanning = None

    def _check_consoles(self, counter: str, state: HallState) -> None:
        """An officer's console ends when another officer takes the counter."""
        holder = state.counters[counter].officer if counter in state.counters else None
        for conn in self.connections:
            who = conn.who
            if conn.audience is None or conn.audience.counter != counter or who is None:
                continue
            if who.role is Role.OFFICER and holder not in (None, who.name):
                conn.close(Close.FORBIDDEN, f"counter {counter} is now held by another officer")

    def frame(self, entry: _Entry, audience: Audience, fmt: Format, state: HallState) -> Frame:
        """The event's frame for an audience and format, encoded once."""
        key = (audience, fmt)
        frame = entry.frames.get(key)
        if frame is None:
            served = aud.served_by(state, audience.counter)
            message = aud.event_message(entry.version, audience, entry.event, entry.facts, served)
            frame = entry.frames[key] = encode(message, fmt)
            self.stats["frames_encoded"] += 1
        return frame

    def snapshot_frame(self, audience: Audience, fmt: Format) -> Frame:
        cached = self._snapshots.get((audience, fmt))
        if cached is not None and cached[0] == self.version:
            return cached[1]
        view = aud.view(audience, self.engine.state, self.calls)
        message = {"type": "snapshot", "epoch": self.epoch, "version": self.version, "view": view}
        frame = encode(message, fmt)
        self._snapshots[(audience, fmt)] = (self.version, frame)
        return frame

    def ping_frame(self, fmt: Format, version: int) -> Frame:
        """A ping carrying `version`: the last version the connection was given."""
        cached = self._pings.get(fmt)
        if cached is None or cached[0] != version:
            cached = (version, encode({"type": "ping", "version": version}, fmt))
            self._pings[fmt] = cached
        return cached[1]

    def join(self, conn: Connection, audience: Audience, hello: Hello, heartbeat: float) -> Resume:
        """Answer a hello and go live, in one synchronous step: nothing falls between."""
        fmt = conn.fmt
        plan = plan_resume(hello, self.epoch, self.version, self.base, self.settings.ring_size)
        frames: list[Frame] = []
        if plan is Resume.REPLAY:
            start = (hello.version or 0) - self.base  # ring[0] is version base+1
            state = self.engine.state
            frames = [self.frame(e, audience, fmt, state) for e in list(self.ring)[start:]]
            size = sum(len(f) for f in frames)
            if size > self.settings.replay_budget:
                snapshot = self.snapshot_frame(audience, fmt)
                if len(snapshot) < size:
                    plan, frames = Resume.SNAPSHOT, [snapshot]
        elif plan is Resume.SNAPSHOT:
            frames = [self.snapshot_frame(audience, fmt)]
        welcome = {
            "type": "welcome",
            "site": self.site,
            "epoch": self.epoch,
            "version": self.version,
            "resume": str(plan),
            "audience": audience.kind.value,
            "zone": audience.zone,
            "counter": audience.counter,
            "heartbeat": heartbeat,
        }
        conn.begin(self, audience, self.version, [encode(welcome, fmt), *frames])
        self.groups.setdefault((audience, fmt), set()).add(conn)
        self.stats[f"resume_{plan}"] += 1
        return plan
