"""The live stream: one websocket endpoint per site, gap-free across reconnects.

    /api/v1/sites/{site}/stream

`StreamHub` owns every stream connection of this process: it admits a client
(origin, credentials, site, audience), reads its hello and joins it to the
site's `feed.SiteFeed`, which answers with exactly the events it missed or a
snapshot, then streams live events through the connection's bounded queue. It
also pings every client, closes the silent ones, checks credentials again now
and then (`heartbeat.Heartbeat` pings and finds the silent and the slow), and
says "going away" (1001) to everyone when the server stops.

The protocol, close codes included, is in docs/protocol.md.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from qms.core import HallState
from qms.engine import SiteEngine
from qms.eventlog import LogUnavailable
from qms.eventlog.outage import is_outage
from qms.server.config import Config
from qms.server.errors import ApiError
from qms.server.hall import Hall
from qms.server.principal import ANONYMOUS, STAFF, Authenticator, Principal, Role
from qms.server.process import GcPolicy
from qms.server.stream.connection import Connection, Phase, StreamSettings, bound_send_buffer
from qms.server.stream.facts import Audience, Kind
from qms.server.stream.feed import SiteFeed
from qms.server.stream.heartbeat import Heartbeat
from qms.server.stream.wire import (
    Close,
    Hello,
    ProtocolError,
    choose_subprotocol,
    decode,
    encode,
    parse_hello,
)

log = logging.getLogger(__name__)

PATH = "/api/v1/sites/{site}/stream"

# Who may listen as which audience (the site scope and the counter are checked too).
AUDIENCE_ROLES: dict[Kind, frozenset[Role]] = {
    Kind.DISPLAY: STAFF | {Role.DISPLAY},
    Kind.CONSOLE: STAFF,
    Kind.SUPERVISOR: frozenset({Role.ADMIN, Role.SUPERVISOR}),
}


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
        gc: GcPolicy,
        settings: StreamSettings | None = None,
    ) -> None:
        self.hall = hall
        self.auth = auth
        self.config = config
        self.settings = settings or StreamSettings.from_env()
        self.closing = False
        self.connections: set[Connection] = set()
        self.feeds: dict[str, SiteFeed] = {}
        self._idle = asyncio.Event()  # set while no connection is open
        self._idle.set()
        self.stats: collections.Counter[str] = collections.Counter()
        self.heartbeat = Heartbeat(self.settings, self.stats, self._recheck)
        self.gc = gc  # the process's policy (`qms.server.process`): told of long-lived objects
        # Every engine the hall opens gets its feed at once, so this process's ring
        # holds every event since: a client failing over from another process resumes.
        hall.on_open.append(self.attach)

    def metrics(self) -> dict[str, int]:
        """Counters for /readyz: open connections, resumes by kind, slow consumers, refusals."""
        totals: collections.Counter[str] = collections.Counter(self.stats)
        for feed in self.feeds.values():
            totals.update(feed.stats)
        totals["open"] = len(self.connections)
        totals.update(self.gc.metrics())
        return dict(sorted(totals.items()))

    # --- shutdown ---------------------------------------------------------------------

    async def going_away(self) -> None:
        """Close every connection with 1001 and wait until they are closed (a SIGTERM:
        `qms.server.process.ShutdownSignals` hands the signal on to uvicorn after)."""
        conns = list(self.connections)
        self.begin_close()
        for conn in conns:
            await conn.closed()

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
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), self.settings.close_timeout_s + 1)
        await self.heartbeat.stop()
        with contextlib.suppress(ValueError):
            self.hall.on_open.remove(self.attach)
        for feed in self.feeds.values():
            feed.detach()
        self.feeds.clear()

    # --- credentials, again ------------------------------------------------------------

    async def _recheck(self) -> None:
        """Ask again who each client is (a display stays connected for months): a
        revoked device, a deactivated user or an expired session is closed (4401);
        one whose powers changed goes on if they still allow its audience, else 4403."""
        for i, conn in enumerate(list(self.connections)):
            if i % 200 == 199:
                await asyncio.sleep(0)  # thousands of clients: let the loop breathe
            if conn.phase is not Phase.LIVE:
                continue
            try:
                who = await self.auth.principal(conn.ws)
            except ApiError:
                who = ANONYMOUS
            except Exception as exc:
                if not is_outage(exc):
                    raise
                return  # the log cannot say now: keep everyone, ask again next round
            if who.role is Role.ANONYMOUS:
                self.stats["reauth_closed"] += 1
                conn.close(Close.NOT_AUTHENTICATED, "credentials no longer valid")
            elif who != conn.who:
                if self._still_allowed(who, conn):
                    conn.who = who
                else:
                    self.stats["reauth_closed"] += 1
                    conn.close(Close.FORBIDDEN, "no longer allowed to listen here")

    def _still_allowed(self, who: Principal, conn: Connection) -> bool:
        feed, audience = conn.feed, conn.audience
        if feed is None or audience is None or not who.may_use_site(feed.site):
            return False
        if who.role not in AUDIENCE_ROLES[audience.kind]:
            return False
        if who.role is Role.DISPLAY and who.zone and who.zone != audience.zone:
            return False
        counter = feed.engine.state.counters.get(audience.counter or "")
        return not (who.role is Role.OFFICER and (counter is None or counter.officer != who.name))

    # --- feeds -----------------------------------------------------------------------------

    def attach(self, engine: SiteEngine) -> SiteFeed:
        """The site's feed, hung on its engine once per process (synchronously)."""
        feed = self.feeds.get(engine.site)
        if feed is None or feed.engine is not engine:
            if feed is not None:
                feed.detach()
            feed = self.feeds[engine.site] = SiteFeed(engine, self.settings)
            self.gc.soon()  # the engine's state is long-lived: freeze it
        return feed

    # --- serving one client ------------------------------------------------------------------

    async def serve(self, ws: WebSocket) -> None:
        """The endpoint: accept, admit, hello, then read the client until either side closes.

        This task only reads: frames are written by whoever offers them (the
        fan-out, the heartbeat, this reader's pongs), see `feed.Connection`.
        """
        subprotocol, fmt = choose_subprotocol(ws.scope.get("subprotocols") or ())
        conn = Connection(ws, fmt, self.settings)
        try:
            await ws.accept(subprotocol=subprotocol)
        except (WebSocketDisconnect, OSError, RuntimeError):
            return
        self.connections.add(conn)
        self._idle.clear()
        self.stats["connections"] += 1
        self.heartbeat.ensure_running()
        if bound_send_buffer(ws, self.settings.socket_buffer):  # see heartbeat.py
            self.stats["send_buffers_bound"] += 1
        conn.reader = asyncio.current_task()
        try:
            try:
                if await self._join(conn):
                    self.heartbeat.join(conn)
                    self.gc.soon()  # the connection is long-lived: freeze it (debounced)
                    await self._read(conn)  # until the client leaves, or is closed
            except asyncio.CancelledError:
                # a close frame that could not go out ends the connection; anything else
                # (the server stopping) goes on cancelling
                task = asyncio.current_task()
                if not conn.interrupted or task is None or task.uncancel() > 0:
                    raise
            conn.reader = None
            await conn.closed()  # the close frame, when one was asked for
        finally:
            conn.reader = None
            conn.gone()
            self.heartbeat.leave(conn)
            self.connections.discard(conn)
            if not self.connections:
                self._idle.set()

    async def _join(self, conn: Connection) -> bool:
        """Admission and hello; True when the connection went live (else it is closing)."""
        try:
            if self.closing:
                raise Refused(Close.GOING_AWAY, "server going away")
            site = str(conn.ws.path_params.get("site", ""))
            who = await self._admit(conn.ws, site)
            conn.who = who
            _trim_headers(conn.ws)
            hello = await self._hello(conn)
            if hello is None:
                return False
            audience = self._audience(who, hello)
            engine = await self._engine(site)
            try:
                feed = await self.attach(engine).ready()
            except Exception as exc:
                if not is_outage(exc):  # an outage is logged once, by the log
                    log.warning("stream %s: cannot read the log's epoch: %r", site, exc)
                raise Refused(Close.TRY_AGAIN_LATER, "the site cannot be read now") from None
            if hello.epoch == feed.epoch and (hello.version or 0) > feed.version:
                # The client saw more than this process has applied (it came from a
                # process further ahead): catch up from the log before answering.
                await asyncio.wait_for(engine.catch_up(), self.settings.close_timeout_s)
            backfill = await feed.backfill(hello)  # calls older than memory, from the log
            if self.closing:
                raise Refused(Close.GOING_AWAY, "server going away")
            if conn.phase is not Phase.HANDSHAKE:
                return False
            self._check_counter(who, audience, engine.state)
            plan = feed.join(conn, audience, hello, self.settings.heartbeat_s, backfill)
            log.debug("stream %s: %s joined (%s)", site, audience, plan)
            return True
        except Refused as refused:
            self.stats[f"refused_{refused.code}"] += 1
            conn.close(refused.code, refused.reason)
        except ProtocolError as error:
            conn.close(error.code, error.reason)
        except Exception as exc:
            if is_outage(exc):  # e.g. the accounts log, read to admit: logged once, by the log
                if not isinstance(exc, LogUnavailable):  # a call that bypassed the log
                    self.hall.log.outage.failed(exc)
                self.stats[f"refused_{Close.TRY_AGAIN_LATER}"] += 1
                conn.close(Close.TRY_AGAIN_LATER, "the event log cannot be reached now")
                return False
            log.exception("stream: unexpected error while opening a connection")
            conn.close(Close.INTERNAL_ERROR, "internal error; resume later")
        return False

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
            if not is_outage(exc):  # an outage is logged once, by the log
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
                    version = conn.version  # the last it was given (events may be on their way)
                    conn.offer(encode({"type": "pong", "version": version}, conn.fmt))
                elif kind == "pong":
                    conn.ping_at = None  # it read every frame up to our ping (heartbeat.py)
                else:
                    raise ProtocolError(f"unexpected message {kind[:40]!r}")
            except ProtocolError as error:
                conn.close(error.code, error.reason)


# What the re-check of credentials reads later (`auth.Authenticator.principal`).
KEPT_HEADERS = frozenset({b"authorization", b"cookie"})


def _trim_headers(ws: WebSocket) -> None:
    """Drop the handshake headers nothing reads after admission (user agent,
    languages, websocket key and extensions, origin...): the ASGI scope would keep
    them for the connection's life, about a kilobyte per browser display."""
    headers = ws.scope.get("headers")
    if isinstance(headers, list):  # in place: Starlette's cached `Headers` shares the list
        headers[:] = [h for h in headers if bytes(h[0]).lower() in KEPT_HEADERS]


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
