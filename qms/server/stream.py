"""The live stream: one websocket endpoint per site, gap-free across reconnects.

    /api/v1/sites/{site}/stream

`StreamHub` owns every stream connection of this process. Per site it keeps a
`SiteFeed` hung on the site engine's listeners (one per site per process): the
feed folds each event into a ring of recent events with its `audience.Facts`,
encodes it once per (audience, format) and offers the frame to every
connection's bounded send queue. Offering never waits: a connection whose queue
would pass its byte limit is closed with 4008 (slow consumer) and the others go
on. A client (re)connecting says what it has seen, (epoch, version), and gets
exactly the events it missed from the ring, or a snapshot of its view.

The protocol, close codes included, is in docs/protocol.md.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import logging
import os
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import FrameType
from typing import Any

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from qms.core import HallState
from qms.engine import SiteEngine
from qms.server import audience as aud
from qms.server.audience import Audience, Facts, Kind
from qms.server.config import Config
from qms.server.errors import ApiError
from qms.server.hall import Hall
from qms.server.principal import STAFF, Authenticator, Principal, Role
from qms.server.wire import (
    Close,
    Format,
    Frame,
    Hello,
    ProtocolError,
    Resume,
    choose_subprotocol,
    decode,
    encode,
    parse_hello,
    plan_resume,
)

log = logging.getLogger(__name__)

PATH = "/api/v1/sites/{site}/stream"

# Who may listen as which audience (the site scope and the counter are checked too).
AUDIENCE_ROLES: dict[Kind, frozenset[Role]] = {
    Kind.DISPLAY: STAFF | {Role.DISPLAY},
    Kind.CONSOLE: STAFF,
    Kind.SUPERVISOR: frozenset({Role.ADMIN, Role.SUPERVISOR}),
}


@dataclass(frozen=True)
class StreamSettings:
    """Tunables; each also from QMS_STREAM_<NAME> (e.g. QMS_STREAM_HEARTBEAT_S=15)."""

    heartbeat_s: float = 15.0  # server ping interval
    silent_beats: float = 3.0  # a client silent this many intervals is closed (4408)
    queue_bytes: int = 256 * 1024  # a connection's send queue, in bytes of frames
    ring_size: int = 2048  # recent events kept per site for replay
    replay_budget: int = 64 * 1024  # above this many bytes a replay is weighed against a snapshot
    hello_timeout_s: float = 10.0
    close_timeout_s: float = 10.0  # how long a close frame may wait behind a full socket

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StreamSettings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"QMS_STREAM_{f.name.upper()}")
            if raw is not None:
                values[f.name] = float(raw) if f.type == "float" else int(raw)
        return cls(**values)


# --- one connection -------------------------------------------------------------------


class Phase(enum.Enum):
    HANDSHAKE = "handshake"  # accepted, no hello yet
    LIVE = "live"  # registered with a feed: receives events
    CLOSING = "closing"  # a close was requested: the writer sends it
    GONE = "gone"  # the client went away


class Connection:
    """A client's socket with a bounded send queue drained by its own writer task."""

    def __init__(self, ws: WebSocket, fmt: Format, settings: StreamSettings) -> None:
        self.ws = ws
        self.fmt = fmt
        self.limit = settings.queue_bytes
        self.close_timeout = settings.close_timeout_s
        self.phase = Phase.HANDSHAKE
        self.who: Principal | None = None
        self.audience: Audience | None = None
        self.feed: SiteFeed | None = None
        self.last_heard = time.monotonic()
        self.close_code: int | None = None
        self.close_reason = ""
        self._queue: collections.deque[tuple[Frame, int]] = collections.deque()
        self.queued = 0  # bytes of live frames waiting in the queue
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._in_send = False
        self._interrupt = False  # the writer's blocked send was cancelled for a close

    # called synchronously by the fan-out, the reader and the hub: never block.

    def begin(self, feed: SiteFeed, audience: Audience, frames: list[Frame]) -> None:
        """Go live with the hello's answer first (not counted against the limit)."""
        self.feed, self.audience, self.phase = feed, audience, Phase.LIVE
        self._queue.extend((frame, 0) for frame in frames)
        self._wake.set()

    def offer(self, frame: Frame) -> bool:
        """Queue a frame; False (and the client closed with 4008) when it would overflow."""
        if self.phase is not Phase.LIVE:
            return False
        size = len(frame)
        if self.queued + size > self.limit:
            self.close(Close.SLOW_CONSUMER, f"slow consumer: over {self.limit} bytes queued")
            return False
        self._queue.append((frame, size))
        self.queued += size
        self._wake.set()
        return True

    def close(self, code: Close, reason: str) -> None:
        """Close with `code`; frames still queued are dropped (the client resumes)."""
        if self.phase in (Phase.CLOSING, Phase.GONE):
            return
        self.phase, self.close_code, self.close_reason = Phase.CLOSING, code, reason[:120]
        self._queue.clear()
        self.queued = 0
        if self.feed is not None:
            self.feed.remove(self)
        if self._in_send and self._writer is not None:
            self._interrupt = True  # a send blocked on a full socket: give up on it
            self._writer.cancel()
        self._wake.set()

    def gone(self) -> None:
        """The client closed or vanished."""
        if self.feed is not None:
            self.feed.remove(self)
        self.phase = Phase.GONE
        self._queue.clear()
        self.queued = 0
        self._wake.set()

    # the writer task

    def start_writer(self) -> asyncio.Task[None]:
        self._writer = asyncio.create_task(self._write_loop(), name="stream writer")
        return self._writer

    async def _write_loop(self) -> None:
        try:
            while self.phase in (Phase.HANDSHAKE, Phase.LIVE):
                if not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                frame, size = self._queue.popleft()
                self.queued -= size
                if not await self._send(frame):
                    break
            if self.phase is Phase.CLOSING:
                await asyncio.wait_for(
                    self.ws.close(self.close_code or Close.INTERNAL_ERROR, self.close_reason),
                    self.close_timeout,
                )
        except (WebSocketDisconnect, OSError, RuntimeError, TimeoutError):
            pass  # the client is gone, or never read its close frame
        finally:
            if self.phase is not Phase.GONE:
                self.gone()

    async def _send(self, frame: Frame) -> bool:
        """Send one frame; False when a close interrupted a send blocked on the socket."""
        message = {"type": "websocket.send", "bytes" if isinstance(frame, bytes) else "text": frame}
        self._in_send = True
        try:
            await self.ws.send(message)
        except asyncio.CancelledError:
            if not self._interrupt:
                raise
            self._interrupt = False
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            return False
        finally:
            self._in_send = False
        return True


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
        engine.listeners.append(self._on_event)

    def detach(self) -> None:
        with contextlib.suppress(ValueError):
            self.engine.listeners.remove(self._on_event)

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
        self.calls.extendleft(reversed(older[-aud.RECENT_CALLS :]))  # live calls stay newest
        while len(self.calls) > aud.RECENT_CALLS:
            self.calls.popleft()

    # live events

    def _on_event(self, version: int, event: Mapping[str, Any], state: HallState) -> None:
        """The engine's listener: never raises into the engine, never waits."""
        try:
            self._fold(version, event, state)
        except Exception:
            log.exception(
                "stream %s: cannot fan out version %d; clients resume", self.site, version
            )
            self.ring.clear()
            self.base = self.version = version
            self.counts = aud.queue_counts(state)
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
        for (audience, fmt), group in list(self.groups.items()):
            frame = self.frame(entry, audience, fmt, state)
            for conn in list(group):
                if not conn.offer(frame):
                    self.stats["slow_consumers"] += 1
                    log.info("stream %s: slow consumer closed at version %d", self.site, version)
        if event.get("type") in ("counter_opened", "counter_closed"):
            self._check_consoles(str(event.get("counter")), state)

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

    def ping_frame(self, fmt: Format) -> Frame:
        cached = self._pings.get(fmt)
        if cached is None or cached[0] != self.version:
            cached = (self.version, encode({"type": "ping", "version": self.version}, fmt))
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
        conn.begin(self, audience, [encode(welcome, fmt), *frames])
        self.groups.setdefault((audience, fmt), set()).add(conn)
        self.stats[f"resume_{plan}"] += 1
        return plan


# --- the hub -------------------------------------------------------------------------------


class Refused(Exception):
    """The connection may not go on: close it with `code`."""

    def __init__(self, code: Close, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class StreamHub:
    """Every stream connection of this process; created and closed by the app's lifespan."""

    def __init__(
        self,
        hall: Hall,
        auth: Authenticator,
        config: Config,
        settings: StreamSettings | None = None,
    ) -> None:
        self.hall = hall
        self.auth = auth
        self.config = config
        self.settings = settings or StreamSettings.from_env()
        self.closing = False
        self.connections: set[Connection] = set()
        self.feeds: dict[str, SiteFeed] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()  # set while no connection is open
        self._idle.set()
        self.stats: collections.Counter[str] = collections.Counter()
        self._signals: dict[int, Any] = {}
        self._hook_signals()
        # Every engine the hall opens gets its feed at once, so this process's ring
        # holds every event since: a client failing over from another process resumes.
        hall.on_open.append(self.attach)

    def metrics(self) -> dict[str, int]:
        """Counters for /readyz: open connections, resumes by kind, slow consumers, refusals."""
        totals: collections.Counter[str] = collections.Counter(self.stats)
        for feed in self.feeds.values():
            totals.update(feed.stats)
        totals["open"] = len(self.connections)
        return dict(sorted(totals.items()))

    # --- shutdown ---------------------------------------------------------------------

    def _hook_signals(self) -> None:
        """Tell clients "going away" as soon as SIGTERM/SIGINT arrives.

        uvicorn closes every websocket with 1012 *before* the lifespan ends, so
        `close()` would come too late; the signal handler uvicorn installed is
        chained, not replaced, and restored by `close()`.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue

            def handler(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(self.begin_close)
                previous(signum, frame)

            self._signals[sig] = (previous, handler)
            signal.signal(sig, handler)

    def begin_close(self) -> None:
        """Refuse new clients and close every connection with 1001 (they resume elsewhere)."""
        if self.closing:
            return
        self.closing = True
        log.info("stream: going away, closing %d connections", len(self.connections))
        for conn in list(self.connections):
            conn.close(Close.GOING_AWAY, "server going away")

    async def close(self) -> None:
        self.begin_close()
        for sig, (previous, handler) in self._signals.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, previous)
        self._signals.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), self.settings.close_timeout_s + 1)
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._ticker
        with contextlib.suppress(ValueError):
            self.hall.on_open.remove(self.attach)
        for feed in self.feeds.values():
            feed.detach()
        self.feeds.clear()

    # --- heartbeats ----------------------------------------------------------------------

    def _ensure_ticker(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick(), name="stream heartbeat")

    async def _tick(self) -> None:
        """Ping every live client with the latest version; close the silent ones (4408)."""
        beat = self.settings.heartbeat_s
        silent = beat * self.settings.silent_beats
        while True:
            await asyncio.sleep(beat)
            try:
                now = time.monotonic()
                for conn in list(self.connections):
                    if conn.phase is not Phase.LIVE or conn.feed is None:
                        continue
                    if now - conn.last_heard > silent:
                        self.stats["silent_closed"] += 1
                        conn.close(Close.TIMEOUT, f"silent for over {silent:g} s")
                    else:
                        conn.offer(conn.feed.ping_frame(conn.fmt))
            except Exception:  # a heartbeat must never die silently
                log.exception("stream: heartbeat failed")

    # --- feeds -----------------------------------------------------------------------------

    def attach(self, engine: SiteEngine) -> SiteFeed:
        """The site's feed, hung on its engine once per process (synchronously)."""
        feed = self.feeds.get(engine.site)
        if feed is None or feed.engine is not engine:
            if feed is not None:
                feed.detach()
            feed = self.feeds[engine.site] = SiteFeed(engine, self.settings)
        return feed

    # --- serving one client ------------------------------------------------------------------

    async def serve(self, ws: WebSocket) -> None:
        """The endpoint: accept, admit, hello, then stream until either side closes."""
        subprotocol, fmt = choose_subprotocol(ws.scope.get("subprotocols") or ())
        conn = Connection(ws, fmt, self.settings)
        try:
            await ws.accept(subprotocol=subprotocol)
        except (WebSocketDisconnect, OSError, RuntimeError):
            return
        self.connections.add(conn)
        self._idle.clear()
        self.stats["connections"] += 1
        self._ensure_ticker()
        writer = conn.start_writer()
        session = asyncio.create_task(self._session(conn), name="stream session")
        try:
            await asyncio.wait({writer, session}, return_when=asyncio.FIRST_COMPLETED)
            if not writer.done():  # the client left, or a close is on its way
                await asyncio.wait({writer}, timeout=self.settings.close_timeout_s + 1)
        finally:
            for t in (session, writer):
                t.cancel()
            for t in (session, writer):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            conn.gone()
            self.connections.discard(conn)
            if not self.connections:
                self._idle.set()

    async def _session(self, conn: Connection) -> None:
        try:
            if self.closing:
                raise Refused(Close.GOING_AWAY, "server going away")
            site = str(conn.ws.path_params.get("site", ""))
            who = await self._admit(conn.ws, site)
            conn.who = who
            hello = await self._hello(conn)
            if hello is None:
                return
            audience = self._audience(who, hello)
            engine = await self._engine(site)
            try:
                feed = await self.attach(engine).ready()
            except Exception as exc:
                log.warning("stream %s: cannot read the log's epoch: %r", site, exc)
                raise Refused(Close.TRY_AGAIN_LATER, "the site cannot be read now") from None
            if hello.epoch == feed.epoch and (hello.version or 0) > feed.version:
                # The client saw more than this process has applied (it came from a
                # process further ahead): catch up from the log before answering.
                await asyncio.wait_for(engine.catch_up(), self.settings.close_timeout_s)
            if conn.phase is not Phase.HANDSHAKE:
                return
            if self.closing:
                raise Refused(Close.GOING_AWAY, "server going away")
            self._check_counter(who, audience, engine.state)
            plan = feed.join(conn, audience, hello, self.settings.heartbeat_s)
            log.debug("stream %s: %s joined (%s)", site, audience, plan)
        except Refused as refused:
            self.stats[f"refused_{refused.code}"] += 1
            conn.close(refused.code, refused.reason)
        except ProtocolError as error:
            conn.close(error.code, error.reason)
        except Exception:
            log.exception("stream: unexpected error while opening a connection")
            conn.close(Close.INTERNAL_ERROR, "internal error; resume later")
        await self._read(conn)

    async def _admit(self, ws: WebSocket, site: str) -> Principal:
        """Origin, then credentials, then the site scope."""
        origin = ws.headers.get("origin")
        if origin is not None and origin not in self.config.origins:
            raise Refused(Close.FORBIDDEN, f"origin not allowed: {origin}")
        try:
            who = await self.auth.principal(ws)
        except ApiError as exc:
            code = Close.NOT_AUTHENTICATED if exc.status == 401 else Close.FORBIDDEN
            raise Refused(code, exc.message) from None
        if who.role is Role.ANONYMOUS:
            raise Refused(Close.NOT_AUTHENTICATED, "sign in, or connect with a device token")
        if not who.may_use_site(site):
            raise Refused(Close.FORBIDDEN, f"not allowed at site {site}")
        return who

    async def _hello(self, conn: Connection) -> Hello | None:
        try:
            message = await asyncio.wait_for(conn.ws.receive(), self.settings.hello_timeout_s)
        except TimeoutError:
            raise ProtocolError("no hello in time", Close.TIMEOUT) from None
        if message["type"] == "websocket.disconnect":
            conn.gone()
            return None
        conn.last_heard = time.monotonic()
        return parse_hello(decode(_payload(message)))

    def _audience(self, who: Principal, hello: Hello) -> Audience:
        if who.role not in AUDIENCE_ROLES[hello.audience]:
            raise Refused(Close.FORBIDDEN, f"a {who.role.value} may not listen as {hello.audience}")
        zone = hello.zone
        if hello.audience is Kind.DISPLAY and who.role is Role.DISPLAY and who.zone:
            if zone not in (None, who.zone):
                raise Refused(Close.FORBIDDEN, f"this display belongs to zone {who.zone}")
            zone = who.zone
        return Audience(hello.audience, zone=zone, counter=hello.counter)

    async def _engine(self, site: str) -> SiteEngine:
        try:
            # No engine for a stranger's name: only for a site that has a log.
            if site not in self.hall.sites and await self.hall.log.version(site) == 0:
                raise Refused(Close.NOT_FOUND, f"no site {site}")
            engine = await self.hall.engine(site)
        except ValueError:
            raise Refused(Close.NOT_FOUND, f"no site {site[:60]!r}") from None
        except Refused:
            raise
        except Exception as exc:
            log.warning("stream %s: cannot open the site: %r", site, exc)
            raise Refused(Close.TRY_AGAIN_LATER, "the site cannot be read now") from None
        if engine.state.site is None:
            raise Refused(Close.NOT_FOUND, f"no site {site}")
        return engine

    @staticmethod
    def _check_counter(who: Principal, audience: Audience, state: HallState) -> None:
        if audience.counter is None:
            return
        counter = state.counters.get(audience.counter)
        if counter is None:
            raise Refused(Close.NOT_FOUND, f"no counter {audience.counter}")
        if who.role is Role.OFFICER and counter.officer != who.name:
            raise Refused(Close.FORBIDDEN, f"open counter {audience.counter} first")

    async def _read(self, conn: Connection) -> None:
        """Client messages until it leaves: pings, pongs; anything else is a protocol error."""
        while True:
            message = await conn.ws.receive()
            if message["type"] == "websocket.disconnect":
                conn.gone()
                return
            if conn.phase is not Phase.LIVE:
                continue  # closing: wait for the client's reply
            conn.last_heard = time.monotonic()
            try:
                request = decode(_payload(message))
                kind = request["type"]
                if kind == "ping" and conn.feed is not None:
                    version = conn.feed.version
                    conn.offer(encode({"type": "pong", "version": version}, conn.fmt))
                elif kind != "pong":
                    raise ProtocolError(f"unexpected message {kind[:40]!r}")
            except ProtocolError as error:
                conn.close(error.code, error.reason)


def _payload(message: Mapping[str, Any]) -> str | bytes:
    text = message.get("text")
    if text is not None:
        return str(text)
    data = message.get("bytes")
    return bytes(data) if data is not None else b""


async def _endpoint(ws: WebSocket) -> None:
    hub: StreamHub = ws.app.state.hub
    await hub.serve(ws)


def routes() -> list[BaseRoute]:
    return [WebSocketRoute(PATH, _endpoint)]
