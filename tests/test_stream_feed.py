"""A site's feed in process, on a real engine and log, with a connection whose socket
is a list: what the feed does for events nobody listens to, and that a client
joining later still gets every version once, in order."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from starlette.websockets import WebSocket

from qms.demo_hall import setup_commands
from qms.engine import SiteEngine
from qms.eventlog import EventLog
from qms.server.stream.connection import Connection, StreamSettings
from qms.server.stream.facts import Audience, Kind
from qms.server.stream.feed import SiteFeed
from qms.server.stream.wire import Format, Hello, Resume

SITE = "mpp-bengkulu"
NOW = 1_795_000_000.0  # a Wednesday, 14:26 in Asia/Jakarta


class ListSocket:
    """An ASGI websocket whose sends always go through at once."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(json.loads(message["text"]))


async def settled(feed: SiteFeed) -> None:
    """Until the feed's fan-out task has handed out everything."""
    fanning = feed._fanning
    if fanning is not None:
        async with asyncio.timeout(5):
            await fanning
    assert not feed._pending


async def test_events_nobody_listens_to_are_kept_for_replay_but_not_fanned_out(
    log: EventLog,
) -> None:
    engine = await SiteEngine(log, SITE, clock=lambda: NOW).open()
    settings = StreamSettings()
    feed = await SiteFeed(engine, settings).ready()
    queued: list[tuple[int, int, bool]] = []  # per event: its version, pending, a fan-out task

    def after_feed(version: int, event: Any, state: Any) -> None:
        queued.append((version, len(feed._pending), feed._fanning is not None))

    engine.listeners.append(after_feed)  # runs right after the feed's own listener
    for cmd in setup_commands():
        await engine.execute(cmd)
    start = engine.version
    for i in range(4):
        await engine.execute({"type": "issue_ticket", "service": ["ktp", "kk"][i % 2]})
    assert len(queued) == engine.version and engine.version - start >= 4
    assert [(pending, fanning) for _, pending, fanning in queued] == [(0, False)] * len(queued)
    assert feed.version == engine.version and len(feed.ring) == engine.version

    # A display that last saw `start` joins: it is replayed what nobody listened to,
    # then gets the live events, each version once and in order.
    joined_at = engine.version
    socket = ListSocket()
    conn = Connection(cast(WebSocket, socket), Format.JSON, settings)
    hello = Hello(Kind.DISPLAY, epoch=feed.epoch, version=start)
    assert feed.join(conn, Audience(Kind.DISPLAY), hello, 15.0) is Resume.REPLAY
    for _ in range(3):
        await engine.execute({"type": "issue_ticket", "service": "ktp"})
    assert all(pending and fanning for _, pending, fanning in queued[-3:])  # as before
    await settled(feed)
    welcome, *events = socket.sent
    assert welcome["type"] == "welcome" and welcome["version"] == joined_at
    assert [e["version"] for e in events] == list(range(start + 1, engine.version + 1))
    assert {e["type"] for e in events} == {"event"}

    # Once it leaves, events are no longer queued again.
    feed.remove(conn)
    await engine.execute({"type": "issue_ticket", "service": "kk"})
    assert queued[-1][1:] == (0, False)
    feed.detach()
