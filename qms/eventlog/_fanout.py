"""Gap-free in-process delivery of a log's entries, shared by every backend.

A backend calls `Fanout.publish` with the entries it learns of (after its own
append, or from its reader) and implements `subscribe` as `Fanout.subscribe`.

Each subscriber has a bounded queue and remembers the last version it yielded.
Storage is the truth, the queue only a hint of what is new: when the queue
overflowed (the fan-out dropped entries rather than wait on one slow consumer)
or the next queued entry is not ``last + 1`` (a reader reconnected, say), the
subscriber reads what it missed from storage; queued entries it has already
yielded are dropped. A subscriber is registered *before* it reads its backlog,
so an entry appended meanwhile is in the backlog, in the queue, or both, and
never in neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence

from .errors import Entry, EpochChanged, EventLogError

QUEUE_SIZE = 1024  # entries buffered per subscriber before the fan-out drops for it
PAGE_SIZE = 512  # entries per storage read while catching up

ReadFn = Callable[[str, int, int], Awaitable[list[Entry]]]
# Takes a live entry at once, in the publisher's call (see `Fanout.subscribe`).
Direct = Callable[[Entry], None]
WatchFn = Callable[[str], Awaitable[None]]
UnwatchFn = Callable[[str], None]


class _State(enum.Enum):
    LIVE = "live"
    CLOSED = "closed"  # the log was closed: the iterator ends
    DROPPED = "dropped"  # the site was dropped: the iterator raises EpochChanged


class _Subscriber:
    __slots__ = ("direct", "error", "idle", "last", "queue", "stale", "state")

    def __init__(self, queue_size: int, after: int, direct: Direct | None) -> None:
        # None is a wake-up: look at `state` / `stale` / `error` again.
        self.queue: asyncio.Queue[Entry | None] = asyncio.Queue(queue_size)
        self.stale = True  # storage may hold entries not yet yielded: read it first
        self.state = _State.LIVE
        self.last = after  # the version of the last entry handed on
        self.direct = direct
        self.idle = False  # its consumer waits for the next entry, and none is queued
        self.error: Exception | None = None  # what `direct` raised, for the consumer

    def take(self, entries: Sequence[Entry]) -> Sequence[Entry]:
        """Hand the entries that follow on from `last` to `direct` now; the rest
        (after a gap, or all of them when the consumer is busy) go through the queue."""
        if self.direct is None or not self.idle or self.stale or not self.queue.empty():
            return entries
        for i, entry in enumerate(entries):
            if entry[0] <= self.last:
                continue
            if entry[0] != self.last + 1:
                return entries[i:]
            try:
                self.direct(entry)
            except Exception as exc:  # the consumer's own failure: raised to it
                self.error = exc
                self.wake()
                return ()
            self.last = entry[0]
        return ()

    def wake(self) -> None:
        """Make a consumer waiting on the queue look at `state` and `stale` again."""
        # A full queue needs no wake-up: its consumer is not waiting.
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)

    def end(self, state: _State) -> None:
        self.state = state
        self.wake()


class Fanout:
    """The subscribers of one log instance, by site."""

    def __init__(
        self,
        read: ReadFn,
        *,
        watch: WatchFn | None = None,
        unwatch: UnwatchFn | None = None,
        queue_size: int = QUEUE_SIZE,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._read = read
        self._watch = watch  # called (awaited) after a subscriber registers
        self._unwatch = unwatch  # called when a site's last subscriber leaves
        self._queue_size = queue_size
        self._page_size = page_size
        self._subs: dict[str, set[_Subscriber]] = {}
        self.overflows = 0  # times a subscriber's queue was full (it then reads storage)

    def count(self, site: str | None = None) -> int:
        """Live subscribers of `site`, or of every site."""
        if site is not None:
            return len(self._subs.get(site, ()))
        return sum(len(subs) for subs in self._subs.values())

    def publish(self, site: str, entries: Sequence[Entry]) -> None:
        """Queue `entries` (in version order) for every subscriber of `site`; never waits."""
        for sub in self._subs.get(site, ()):
            for entry in sub.take(entries):
                try:
                    sub.queue.put_nowait(entry)
                except asyncio.QueueFull:
                    if not sub.stale:
                        self.overflows += 1
                    sub.stale = True  # it will read the rest from storage
                    break

    def resync(self, site: str) -> None:
        """Entries of `site` could not be published (undecodable): subscribers read storage."""
        for sub in self._subs.get(site, ()):
            sub.stale = True
            sub.wake()

    def reset(self, site: str) -> None:
        """The site was dropped: its subscriptions raise `EpochChanged`."""
        for sub in self._subs.pop(site, set()):
            sub.end(_State.DROPPED)
        if self._unwatch is not None:
            self._unwatch(site)

    def close(self) -> None:
        """The log is closing: every subscription ends."""
        subs, self._subs = self._subs, {}
        for site, site_subs in subs.items():
            for sub in site_subs:
                sub.end(_State.CLOSED)
            if self._unwatch is not None:
                self._unwatch(site)

    def _remove(self, site: str, sub: _Subscriber) -> None:
        subs = self._subs.get(site)
        if subs is None or sub not in subs:
            return  # already gone by reset() or close()
        subs.discard(sub)
        if not subs:
            del self._subs[site]
            if self._unwatch is not None:
                self._unwatch(site)

    async def subscribe(
        self, site: str, after: int, direct: Direct | None = None
    ) -> AsyncGenerator[Entry, None]:
        """Entries of `site` after `after`: backlog, then live; no gap, no duplicate.

        With `direct`, a live entry that comes while the consumer waits for the next
        one is given to `direct(entry)` inside `publish`, instead of being queued and
        yielded a turn of the event loop later (the engine's follower: every process
        folds every event of its sites). What `direct` raises, the iterator raises.
        """
        sub = _Subscriber(self._queue_size, after, direct)
        self._subs.setdefault(site, set()).add(sub)
        try:
            try:
                if self._watch is not None:
                    await self._watch(site)
                while sub.state is _State.LIVE:
                    if sub.error is not None:
                        error, sub.error = sub.error, None
                        raise error
                    if sub.stale:
                        # Cleared before reading: an overflow during the read sets it again.
                        sub.stale = False
                        page = await self._read(site, sub.last, self._page_size)
                        for version, event in page:
                            if version != sub.last + 1:
                                raise EventLogError(
                                    f"site {site!r}: storage skips from {sub.last} to {version}"
                                )
                            sub.last = version
                            yield version, event
                        if len(page) >= self._page_size:
                            sub.stale = True  # more to read
                        continue
                    sub.idle = True
                    try:
                        entry = await sub.queue.get()
                    finally:
                        sub.idle = False
                    if entry is None or entry[0] <= sub.last:
                        continue
                    if entry[0] > sub.last + 1:
                        sub.stale = True  # entries went missing on the way; storage has them
                        continue
                    sub.last = entry[0]
                    yield entry
            except Exception:
                if sub.state is _State.LIVE:
                    raise
                # Else the storage went away under a read because the log closed or the
                # site was dropped: say that, not the I/O error it caused.
            if sub.state is _State.DROPPED:
                raise EpochChanged(site)
        finally:
            self._remove(site, sub)
