"""One site's fan-out of the live stream, with its ring of recent events (`SiteFeed`).

A `SiteFeed` hangs on its site engine's listeners (one per site per process).
For each event it computes the event's `audience.Facts` once, keeps the event
in a ring for resumes (and its call, if any, in the day's `history.CallHistory`)
and encodes one frame per (audience, format) in use, at once; a task of the feed
then offers the frames to each connection (`connection.Connection`), in log
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
import logging
from collections.abc import Mapping
from typing import Any

from qms.core import HallState
from qms.display.history import Backfill, CallHistory, day_of
from qms.engine import SiteEngine
from qms.server.principal import Role
from qms.server.stream import audience as aud
from qms.server.stream.connection import Connection, Phase, StreamSettings
from qms.server.stream.facts import Audience, Facts, changed_counts, facts, queue_counts
from qms.server.stream.wire import Close, Format, Frame, Hello, Resume, encode, plan_resume

__all__ = ["Connection", "Phase", "SiteFeed", "StreamSettings"]

log = logging.getLogger(__name__)

FAN_OUT_SLICE = 200  # connections served before the fan-out lets the loop run other work
FAN_OUT_DEFER_TURNS = 2  # loop turns the fan-out waits before its first slice (see _fan_out)
PREFILL_EVENTS = 500  # events of the log's tail read for recent calls when a feed opens


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
        self.history = CallHistory(settings.history_calls, self.base, day_of(engine.state))
        self.counts = queue_counts(engine.state)
        self.groups: dict[tuple[Audience, Format], set[Connection]] = {}
        # Snapshots at `version` by (audience, format, the client's version or None).
        self._snapshots: dict[tuple[Audience, Format, int | None], Frame] = {}
        self._snapshots_at = self.version
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

    async def _prefill_calls(self, limit: int = PREFILL_EVENTS) -> None:
        """Calls from the log's tail, so a snapshot after a restart lists the recent ones."""
        state = self.engine.state
        await self.history.load(self.engine.log, self.site, max(0, self.base - limit), state, limit)

    async def backfill(self, hello: Hello) -> Backfill | None:
        """The day's calls a resuming client missed from before what memory holds, read
        from the log (before `join`, which cannot wait); None when none are needed."""
        version = hello.version
        if hello.epoch != self.epoch or version is None or version >= self.version:
            return None
        if self.history.covers(version):
            return None
        self.stats["history_reads"] += 1
        state, limit = self.engine.state, self.settings.history_read
        return await self.history.load(self.engine.log, self.site, version, state, limit)

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
            self.counts = queue_counts(state)

    def _reset(self, version: int) -> None:
        """After a failure: forget the ring and close every client (they resume)."""
        self.ring.clear()
        self.history.reset(version)
        self._pending.clear()
        self.base = self.version = version
        for conn in self.connections:
            conn.close(Close.INTERNAL_ERROR, "stream error; resume")

    def _fold(self, version: int, event: Mapping[str, Any], state: HallState) -> None:
        if version <= self.version:
            return
        if version != self.version + 1:  # the engine never skips; keep the ring honest anyway
            raise RuntimeError(f"gap: at {self.version}, got {version}")
        counts = queue_counts(state)
        entry = _Entry(version, event, facts(event, state, changed_counts(self.counts, counts)))
        self.counts = counts
        if len(self.ring) == self.ring.maxlen:
            self.base = self.ring[0].version
        self.ring.append(entry)
        self.version = version
        self.history.add(version, event, entry.facts)
        if not self.groups:
            # Nobody listens: the ring, the history and the counts above are all a
            # client joining later needs (`join` answers from them, at `version`,
            # so it has nothing pending to wait for); no frames, no fan-out task.
            return
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

    def snapshot_frame(
        self,
        audience: Audience,
        fmt: Format,
        since: int | None = None,
        backfill: Backfill | None = None,
    ) -> Frame:
        """The audience's snapshot; with `since` (the version a resuming client saw), its
        `calls` also carry every call of the day after it (see `history`)."""
        if self._snapshots_at != self.version:
            self._snapshots.clear()
            self._snapshots_at = self.version
        key = (audience, fmt, since)
        cached = self._snapshots.get(key) if backfill is None else None
        if cached is not None:
            return cached
        calls = self.history.for_snapshot(since, backfill)
        view = aud.view(audience, self.engine.state, calls)
        message = {"type": "snapshot", "epoch": self.epoch, "version": self.version, "view": view}
        frame = encode(message, fmt)
        if backfill is None:
            self._snapshots[key] = frame
        return frame

    def ping_frame(self, fmt: Format, version: int) -> Frame:
        """A ping carrying `version`: the last version the connection was given."""
        cached = self._pings.get(fmt)
        if cached is None or cached[0] != version:
            cached = (version, encode({"type": "ping", "version": version}, fmt))
            self._pings[fmt] = cached
        return cached[1]

    def join(
        self,
        conn: Connection,
        audience: Audience,
        hello: Hello,
        heartbeat: float,
        backfill: Backfill | None = None,
    ) -> Resume:
        """Answer a hello and go live, in one synchronous step: nothing falls between.

        `backfill`: the calls `backfill()` read from the log for this hello."""
        fmt = conn.fmt
        plan = plan_resume(hello, self.epoch, self.version, self.base, self.settings.ring_size)
        # A client of this epoch that saw no more than the log holds: its snapshot
        # carries every call of the day since (it resumes), not only the last few.
        resuming = hello.epoch == self.epoch and (hello.version or 0) <= self.version
        since = hello.version if resuming else None
        frames: list[Frame] = []
        if plan is Resume.REPLAY:
            start = (hello.version or 0) - self.base  # ring[0] is version base+1
            state = self.engine.state
            frames = [self.frame(e, audience, fmt, state) for e in list(self.ring)[start:]]
            size = sum(len(f) for f in frames)
            if size > self.settings.replay_budget:
                snapshot = self.snapshot_frame(audience, fmt, since, backfill)
                if len(snapshot) < size:
                    plan, frames = Resume.SNAPSHOT, [snapshot]
        elif plan is Resume.SNAPSHOT:
            frames = [self.snapshot_frame(audience, fmt, since, backfill)]
        # Whether the client lost no history (Centrifugo's `recovered`): false only for
        # a new client, another epoch, or calls too far back to be read from the log.
        recovered = plan is not Resume.SNAPSHOT or (
            since is not None and self.history.recovered(since, backfill)
        )
        welcome = {
            "type": "welcome",
            "site": self.site,
            "epoch": self.epoch,
            "version": self.version,
            "resume": str(plan),
            "recovered": recovered,
            "audience": audience.kind.value,
            "zone": audience.zone,
            "counter": audience.counter,
            "heartbeat": heartbeat,
        }
        conn.begin(self, audience, self.version, [encode(welcome, fmt), *frames])
        self.groups.setdefault((audience, fmt), set()).add(conn)
        self.stats[f"resume_{plan}"] += 1
        return plan
