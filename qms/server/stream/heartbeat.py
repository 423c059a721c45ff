"""The stream's heartbeat: pings every live client, and closes the ones that are gone
or do not keep up (docs/protocol.md, "Heartbeats" and "Fan-out and back-pressure").

- every `heartbeat_s` each client gets a ping with the last version it was given,
  one slot of clients per tick (16 ticks per interval, not all at once);
- a client that sent nothing for `silent_beats` intervals is closed with 4408;
- a **slow consumer** is closed with 4008 by either rule (besides its queue passing
  its byte limit, `connection.Connection.offer`):
  - *stall*: the socket took nothing of what is queued for it for `stall_s`;
  - *unanswered ping*: a ping went unanswered for `stall_s`. The ping is answered
    only once the client has read every frame before it, so a client that stops
    reading is closed at most `heartbeat_s + stall_s` after it stopped (its next
    ping comes within `heartbeat_s`), however few frames the hall sends.

The kernel's send buffer would otherwise hide a client that stops reading for a
long time (hundreds of KB per socket): each stream socket's send buffer is bounded
(`connection.bound_send_buffer`), so what the client has not taken shows up as a
blocked send within tens of kilobytes.

Only the clients with an unanswered ping or a blocked send are looked at, four
times per `stall_s` (`watched`): a hall of thousands of idle displays costs
nothing more. A blocked socket is thus closed within 1.25 times `stall_s`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from qms.server.stream.connection import Connection, Phase, StreamSettings
from qms.server.stream.wire import Close

log = logging.getLogger(__name__)

BEAT_SLOTS = 16  # the heartbeat interval is cut in this many ticks; each pings 1/16 of the clients
WATCH_STEPS = 4  # slow consumers are looked for this many times per stall_s


class Heartbeat:
    """The ticks of one process's stream; `recheck` is called every `reauth_s`."""

    def __init__(
        self,
        settings: StreamSettings,
        stats: collections.Counter[str],
        recheck: Callable[[], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.stats = stats
        self.recheck = recheck
        # Each connection is in one of BEAT_SLOTS slots; each tick of
        # heartbeat_s / BEAT_SLOTS pings one slot, so no tick pings everyone at once.
        self.slots: list[set[Connection]] = [set() for _ in range(BEAT_SLOTS)]
        self.watched: set[Connection] = set()  # an unanswered ping or a blocked send
        self.tasks: list[asyncio.Task[None]] = []

    def ensure_running(self) -> None:
        if not self.tasks or any(t.done() for t in self.tasks):
            for task in self.tasks:
                task.cancel()
            self.tasks = [
                asyncio.create_task(self._run(), name="stream heartbeat"),
                asyncio.create_task(self._watch(), name="stream slow consumers"),
            ]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks = []

    def join(self, conn: Connection) -> None:
        """Give a live connection the slot with the fewest connections."""
        conn.slot = min(range(BEAT_SLOTS), key=lambda i: len(self.slots[i]))
        self.slots[conn.slot].add(conn)
        conn.watch = self.watched

    def leave(self, conn: Connection) -> None:
        self.slots[conn.slot].discard(conn)
        self.watched.discard(conn)
        conn.watch = None

    async def _run(self) -> None:
        step = self.settings.heartbeat_s / BEAT_SLOTS
        last_check = time.monotonic()
        loop = asyncio.get_running_loop()
        due = loop.time()
        slot = 0
        while True:
            due += step
            await asyncio.sleep(max(0.0, due - loop.time()))
            try:
                now = time.monotonic()
                self.beat(slot, now)
                slot = (slot + 1) % BEAT_SLOTS
                if now - last_check >= self.settings.reauth_s:
                    last_check = now
                    await self.recheck()
            except Exception:  # a heartbeat must never die silently
                log.exception("stream: heartbeat failed")

    async def _watch(self) -> None:
        """Look at the watched clients four times per `stall_s`."""
        every = max(0.05, self.settings.stall_s / WATCH_STEPS)
        while True:
            await asyncio.sleep(every)
            try:
                self.check_stalls(time.monotonic(), every)
            except Exception:
                log.exception("stream: slow-consumer check failed")

    def beat(self, slot: int, now: float) -> None:
        """Ping one slot's clients with the last version each was given; close the silent."""
        silent = self.settings.heartbeat_s * self.settings.silent_beats
        for conn in list(self.slots[slot]):
            if conn.phase is not Phase.LIVE or conn.feed is None:
                continue
            if now - conn.last_heard > silent:
                self.stats["silent_closed"] += 1
                conn.close(Close.TIMEOUT, f"silent for over {silent:g} s")
                continue
            conn.offer(conn.feed.ping_frame(conn.fmt, conn.version))
            if conn.ping_at is None:  # the oldest unanswered ping counts
                conn.ping_at = now
                self.watched.add(conn)

    def check_stalls(self, now: float, step: float) -> None:
        """Close (4008) the clients whose socket took nothing for `stall_s`, or that left a
        ping unanswered that long. A ping is looked at one check (`step`) early, so a
        client that stops reading is closed within heartbeat_s + stall_s, as documented;
        a blocked socket within 1.25 times stall_s."""
        stall = self.settings.stall_s
        for conn in list(self.watched):
            if conn.phase is not Phase.LIVE:
                self.watched.discard(conn)
                continue
            blocked = conn.stalled_since is not None and now - conn.stalled_since > stall
            unanswered = conn.ping_at is not None and now - conn.ping_at >= stall - step
            if blocked or unanswered:
                self.stats["stalled_closed" if blocked else "unanswered_closed"] += 1
                why = "took nothing" if blocked else "answered no ping"
                log.info("stream: slow consumer closed: %s for %g s", why, stall)
                conn.close(Close.SLOW_CONSUMER, f"slow consumer: {why} for {stall:g} s")
            elif conn.ping_at is None and conn.stalled_since is None:
                self.watched.discard(conn)
