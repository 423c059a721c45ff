"""The event log contract, run against every backend through one fixture."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from qms.eventlog import (
    MAX_EVENT_BYTES,
    DecodeError,
    Entry,
    EpochChanged,
    EventLog,
    VersionConflict,
    codec,
    open_log,
)
from qms.eventlog import keys as redis_keys
from qms.eventlog._fanout import QUEUE_SIZE, Fanout
from qms.eventlog.redis import RedisLog
from qms.eventlog.sqlite import SqliteLog

SITE = "mpp-bengkulu"
WAIT = 10.0  # seconds any single wait may take before the test fails


def ev(n: int, **extra: Any) -> dict[str, Any]:
    return {"type": "ticket_issued", "schema": 1, "n": n, **extra}


async def aclose(sub: AsyncIterator[Any]) -> None:
    """End a subscription at once (it is an async generator)."""
    await sub.aclose()  # type: ignore[attr-defined]


def events(first: int, last: int) -> list[dict[str, Any]]:
    return [ev(n) for n in range(first, last + 1)]


# `log_url` and `log`: conftest's, one of each backend per test.


def fanout(log: EventLog) -> Fanout:
    if not isinstance(log, SqliteLog | RedisLog):
        raise TypeError(type(log))
    return log.fanout


async def take(it: AsyncIterator[Entry], n: int) -> list[Entry]:
    async def go() -> list[Entry]:
        return [await anext(it) for _ in range(n)]

    return await asyncio.wait_for(go(), WAIT)


async def eventually(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def versions(entries: list[Entry]) -> list[int]:
    return [v for v, _ in entries]


# -- append, read, version ---------------------------------------------------------------


async def test_append_then_read(log: EventLog) -> None:
    assert await log.version(SITE) == 0
    assert await log.read(SITE) == []
    assert await log.append(SITE, 0, [ev(1), ev(2)]) == 2
    assert await log.append(SITE, 2, [ev(3)]) == 3
    assert await log.version(SITE) == 3
    assert await log.read(SITE) == [(1, ev(1)), (2, ev(2)), (3, ev(3))]


async def test_append_nothing_is_a_no_op(log: EventLog) -> None:
    await log.append(SITE, 0, [ev(1)])
    assert await log.append(SITE, 1, []) == 1
    assert await log.read(SITE) == [(1, ev(1))]


async def test_version_conflict_writes_nothing(log: EventLog) -> None:
    await log.append(SITE, 0, events(1, 2))
    for stale in (0, 1, 5):
        with pytest.raises(VersionConflict) as info:
            await log.append(SITE, stale, [ev(99)])
        assert (info.value.site, info.value.expected, info.value.current) == (SITE, stale, 2)
    assert await log.version(SITE) == 2
    assert versions(await log.read(SITE)) == [1, 2]


async def test_a_conflict_may_carry_the_missed_entries(log: EventLog) -> None:
    await log.append(SITE, 0, events(1, 3))
    with pytest.raises(VersionConflict) as info:
        await log.append(SITE, 1, [ev(99)])
    # A backend may send none (sqlite: a read costs no round trip); what it sends is
    # the exact entries after the expected version, in order.
    missed = info.value.missed
    assert missed == (await log.read(SITE, after=1))[: len(missed)]
    if isinstance(log, RedisLog):
        assert versions(missed) == [2, 3]


async def test_racing_appends_exactly_one_wins(log: EventLog) -> None:
    await log.append(SITE, 0, [ev(0)])
    results = await asyncio.gather(
        *(log.append(SITE, 1, [ev(i), ev(i)]) for i in range(50)), return_exceptions=True
    )
    wins = [r for r in results if r == 3]
    conflicts = [r for r in results if isinstance(r, VersionConflict)]
    assert len(wins) == 1
    assert len(conflicts) == 49
    assert all(c.current == 3 for c in conflicts)
    stored = await log.read(SITE)
    assert versions(stored) == [1, 2, 3]
    assert stored[1][1] == stored[2][1]  # both from the one winner


async def test_read_after_and_limit(log: EventLog) -> None:
    await log.append(SITE, 0, events(1, 10))
    assert versions(await log.read(SITE, after=7)) == [8, 9, 10]
    assert versions(await log.read(SITE, after=2, limit=3)) == [3, 4, 5]
    assert versions(await log.read(SITE, limit=2)) == [1, 2]
    assert await log.read(SITE, after=10) == []
    assert await log.read(SITE, after=3, limit=0) == []


async def test_sites_are_separate(log: EventLog) -> None:
    await log.append(SITE, 0, events(1, 3))
    await log.append("other-site", 0, [ev(7)])
    assert await log.version("other-site") == 1
    assert await log.read("other-site") == [(1, ev(7))]
    assert versions(await log.read(SITE)) == [1, 2, 3]


async def test_fields_added_later_round_trip(log: EventLog) -> None:
    newer = {
        "type": "ticket_called",
        "schema": 3,
        "future_field": {"nested": [1, 2.5, None, True], "bytes": b"\x00\xff"},
        "label": "Loket 3 — Disdukcapil",
        "big": 2**62,
    }
    await log.append(SITE, 0, [newer])
    assert await log.read(SITE) == [(1, newer)]


# -- bad input: ValueError, nothing written ------------------------------------------------

BAD_SITES = ["", "a b", "mpp/1", "{x}", "a" * 65, "situs:1", "é"]


@pytest.mark.parametrize("site", BAD_SITES)
async def test_invalid_site_is_refused(log: EventLog, site: str) -> None:
    with pytest.raises(ValueError, match="site id"):
        await log.append(site, 0, [ev(1)])
    for call in (log.read(site), log.version(site), log.epoch(site), log.drop(site)):
        with pytest.raises(ValueError, match="site id"):
            await call
    with pytest.raises(ValueError, match="site id"):
        log.subscribe(site)


@pytest.mark.parametrize(
    "bad",
    [
        {"schema": 1},
        {"type": "", "schema": 1},
        {"type": 3, "schema": 1},
        {"type": "x"},
        {"type": "x", "schema": 0},
        {"type": "x", "schema": True},
        {"type": "x", "schema": "1"},
        {"type": "x", "schema": 1, 5: "int key"},
        {"type": "x", "schema": 1, "v": object()},
        {"type": "x", "schema": 1, "blob": b"x" * (MAX_EVENT_BYTES + 1)},
        ["type", "schema"],
    ],
)
async def test_invalid_or_oversized_event_writes_nothing(log: EventLog, bad: Any) -> None:
    with pytest.raises(ValueError):
        await log.append(SITE, 0, [ev(1), bad])
    assert await log.version(SITE) == 0
    assert await log.read(SITE) == []


async def test_event_just_under_the_limit_is_stored(log: EventLog) -> None:
    big = ev(1, blob=b"x" * (MAX_EVENT_BYTES - 100))
    await log.append(SITE, 0, [big])
    assert await log.read(SITE) == [(1, big)]


async def test_bad_expected_version_is_refused(log: EventLog) -> None:
    for bad in (-1, 1.0, "0", None):
        with pytest.raises(ValueError):
            await log.append(SITE, bad, [ev(1)])  # type: ignore[arg-type]
    assert await log.version(SITE) == 0


# -- epoch ---------------------------------------------------------------------------------


async def test_epoch_is_stable_and_survives_reopen(log: EventLog, log_url: str) -> None:
    first = await log.epoch(SITE)  # before any event: created and stored
    assert first and first == await log.epoch(SITE)
    await log.append(SITE, 0, [ev(1)])
    assert await log.epoch(SITE) == first
    again = open_log(log_url)
    try:
        assert await again.epoch(SITE) == first
        assert await again.read(SITE) == [(1, ev(1))]
    finally:
        await again.close()
    assert await log.epoch("other-site") != first


async def test_append_creates_the_epoch(log: EventLog) -> None:
    await log.append(SITE, 0, [ev(1)])
    epoch = await log.epoch(SITE)
    assert len(epoch) == 32
    assert epoch == await log.epoch(SITE)


async def test_drop_starts_a_new_epoch(log: EventLog) -> None:
    old = await log.epoch(SITE)
    await log.append(SITE, 0, events(1, 3))
    await log.save_snapshot(SITE, 3, {"n": 3})
    await log.append("other-site", 0, [ev(1)])
    await log.drop(SITE)
    assert await log.version(SITE) == 0
    assert await log.read(SITE) == []
    assert await log.load_snapshot(SITE) is None
    new = await log.epoch(SITE)
    assert new != old
    assert await log.append(SITE, 0, [ev(9)]) == 1
    assert await log.epoch(SITE) == new
    assert await log.version("other-site") == 1  # other sites untouched


async def test_drop_then_append_creates_a_new_epoch(log: EventLog) -> None:
    await log.append(SITE, 0, [ev(1)])
    old = await log.epoch(SITE)
    await log.drop(SITE)
    await log.append(SITE, 0, [ev(1)])
    assert await log.epoch(SITE) != old


# -- snapshots -----------------------------------------------------------------------------


async def test_snapshot_save_load_replace(log: EventLog) -> None:
    assert await log.load_snapshot(SITE) is None
    await log.append(SITE, 0, events(1, 5))
    state = {"tickets": {"A001": {"status": "waiting"}}, "counts": [1, 2], "n": None}
    await log.save_snapshot(SITE, 3, state)
    assert await log.load_snapshot(SITE) == (3, state)
    await log.save_snapshot(SITE, 5, {"n": 5})
    assert await log.load_snapshot(SITE) == (5, {"n": 5})
    await log.save_snapshot(SITE, 4, {"n": 4})  # older: a newer snapshot is kept
    assert await log.load_snapshot(SITE) == (5, {"n": 5})
    await log.save_snapshot(SITE, 5, {"n": "5 again"})  # same version replaces
    assert await log.load_snapshot(SITE) == (5, {"n": "5 again"})


async def test_snapshot_ahead_of_the_log_is_refused(log: EventLog) -> None:
    await log.append(SITE, 0, events(1, 2))
    with pytest.raises(ValueError, match="ahead"):
        await log.save_snapshot(SITE, 3, {"n": 3})
    assert await log.load_snapshot(SITE) is None


# -- subscribe -----------------------------------------------------------------------------


async def test_subscribe_backlog_then_live(log: EventLog) -> None:
    await log.append(SITE, 0, events(1, 5))
    sub = log.subscribe(SITE)
    try:
        assert versions(await take(sub, 5)) == [1, 2, 3, 4, 5]
        await log.append(SITE, 5, events(6, 7))
        got = await take(sub, 2)
        assert got == [(6, ev(6)), (7, ev(7))]
    finally:
        await aclose(sub)


async def test_subscribe_from_an_old_version(log: EventLog) -> None:
    await log.append(SITE, 0, events(1, 100))
    sub = log.subscribe(SITE, after=90)
    try:
        assert versions(await take(sub, 10)) == list(range(91, 101))
        await log.append(SITE, 100, [ev(101)])
        assert await take(sub, 1) == [(101, ev(101))]
    finally:
        await aclose(sub)


async def test_subscribe_to_an_empty_log(log: EventLog) -> None:
    sub = log.subscribe(SITE)
    try:
        first = asyncio.ensure_future(take(sub, 1))
        await eventually(lambda: fanout(log).count(SITE) == 1)
        await log.append(SITE, 0, [ev(1)])
        assert await first == [(1, ev(1))]
    finally:
        await aclose(sub)


async def test_subscribe_while_appends_race(log: EventLog) -> None:
    """Subscribing in the middle of a stream of appends: all of them, once, in order."""
    total = 400
    await log.append(SITE, 0, events(1, 50))

    async def writer() -> None:
        for n in range(51, total + 1):
            await log.append(SITE, n - 1, [ev(n)])
            if n % 25 == 0:
                await asyncio.sleep(0)  # let subscribers interleave

    task = asyncio.ensure_future(writer())
    subs = [log.subscribe(SITE), log.subscribe(SITE, after=20)]
    try:
        first, second = await asyncio.gather(take(subs[0], total), take(subs[1], total - 20))
        await asyncio.wait_for(task, WAIT)
    finally:
        task.cancel()
        for sub in subs:
            await aclose(sub)
    assert first == [(n, ev(n)) for n in range(1, total + 1)]
    assert second == [(n, ev(n)) for n in range(21, total + 1)]


async def test_slow_subscriber_overflow_is_filled_from_storage(log: EventLog) -> None:
    """More entries than the subscriber's queue holds arrive while it does not read."""
    sub = log.subscribe(SITE)
    try:
        await log.append(SITE, 0, [ev(1)])
        assert versions(await take(sub, 1)) == [1]  # live now
        version = 1
        total = 3 * QUEUE_SIZE
        while version < total:
            batch = events(version + 1, min(version + 100, total))
            version = await log.append(SITE, version, batch)
        await eventually(lambda: fanout(log).overflows > 0)
        got = await take(sub, total - 1)
        assert got == [(n, ev(n)) for n in range(2, total + 1)]
        await log.append(SITE, total, [ev(total + 1)])
        assert versions(await take(sub, 1)) == [total + 1]
    finally:
        await aclose(sub)


async def test_two_subscribers_see_everything(log: EventLog) -> None:
    a, b = log.subscribe(SITE), log.subscribe(SITE)
    try:
        await log.append(SITE, 0, events(1, 3))
        got_a, got_b = await asyncio.gather(take(a, 3), take(b, 3))
        assert got_a == got_b == [(n, ev(n)) for n in (1, 2, 3)]
        await log.append(SITE, 3, [ev(4)])
        assert await take(a, 1) == await take(b, 1) == [(4, ev(4))]
    finally:
        await aclose(a)
        await aclose(b)


async def test_aclose_releases_the_subscriber(log: EventLog) -> None:
    await log.append(SITE, 0, [ev(1)])
    sub = log.subscribe(SITE)
    await take(sub, 1)
    assert fanout(log).count(SITE) == 1
    await aclose(sub)
    assert fanout(log).count() == 0
    # One waiting for the next entry and cancelled is released too.
    sub = log.subscribe(SITE, after=1)
    waiting = asyncio.ensure_future(anext(sub))
    await eventually(lambda: fanout(log).count(SITE) == 1)
    waiting.cancel()
    await asyncio.wait([waiting])
    await aclose(sub)
    assert fanout(log).count() == 0


async def test_subscription_ends_when_the_log_closes(log_url: str) -> None:
    the_log = open_log(log_url)
    sub = the_log.subscribe(SITE)
    waiting = asyncio.ensure_future(anext(sub))
    await eventually(lambda: fanout(the_log).count(SITE) == 1)
    await the_log.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, WAIT)
    assert fanout(the_log).count() == 0


async def test_drop_ends_subscriptions_with_epoch_changed(log: EventLog) -> None:
    await log.append(SITE, 0, [ev(1)])
    sub = log.subscribe(SITE)
    try:
        await take(sub, 1)
        waiting = asyncio.ensure_future(anext(sub))
        await asyncio.sleep(0)
        await log.drop(SITE)
        with pytest.raises(EpochChanged):
            await asyncio.wait_for(waiting, WAIT)
        assert fanout(log).count() == 0
    finally:
        await aclose(sub)


async def test_a_direct_subscriber_takes_live_entries_at_once(log: EventLog) -> None:
    """With `direct`, live entries that arrive while the consumer waits are handed to
    `direct` inside the publisher's call (no turn of the event loop); the backlog
    still comes through the iterator. Both together: every entry once, in order."""
    await log.append(SITE, 0, events(1, 3))
    seen: list[tuple[str, Entry]] = []
    sub = log.subscribe(SITE, direct=lambda entry: seen.append(("direct", entry)))

    async def consume() -> None:
        async for entry in sub:
            seen.append(("iterator", entry))

    task = asyncio.ensure_future(consume())
    try:
        await eventually(lambda: len(seen) == 3)
        version = 3
        for n in range(4, 54):
            version = await log.append(SITE, version, [ev(n)])
        await eventually(lambda: len(seen) == 53)
        # A last entry, then nothing more: a duplicate would come in order before it.
        await log.append(SITE, version, [ev(54)])
        await eventually(lambda: seen[-1][1][0] == 54)
    finally:
        task.cancel()
        await asyncio.wait([task])
        await aclose(sub)
    assert [entry for _, entry in seen] == [(n, ev(n)) for n in range(1, 55)]
    assert [how for how, _ in seen] == ["iterator"] * 3 + ["direct"] * 51


async def test_what_direct_raises_the_iterator_raises(log: EventLog) -> None:
    def fold(entry: Entry) -> None:
        raise ValueError(f"cannot fold {entry[0]}")

    await log.append(SITE, 0, [ev(1)])
    sub = log.subscribe(SITE, direct=fold)
    try:
        assert versions(await take(sub, 1)) == [1]
        waiting = asyncio.ensure_future(anext(sub))
        await asyncio.sleep(0)  # one turn: the consumer runs on to wait for the next entry
        await log.append(SITE, 1, [ev(2)])
        with pytest.raises(ValueError, match="cannot fold 2"):
            await asyncio.wait_for(waiting, WAIT)
        assert fanout(log).count() == 0
    finally:
        await aclose(sub)


async def test_a_direct_subscriber_after_a_gap_reads_storage() -> None:
    """Entries published past a gap are not handed to `direct`: the iterator reads the
    gap from storage and yields from there (the Fanout alone, over a list as storage)."""
    stored: list[Entry] = [(n, ev(n)) for n in range(1, 6)]

    async def read(site: str, after: int, limit: int) -> list[Entry]:
        return [e for e in stored if e[0] > after][:limit]

    hub = Fanout(read)
    taken: list[Entry] = []
    sub = hub.subscribe(SITE, 0, taken.append)
    try:
        assert versions(await take(sub, 5)) == [1, 2, 3, 4, 5]
        waiting = asyncio.ensure_future(anext(sub))
        await asyncio.sleep(0)
        stored.extend((n, ev(n)) for n in range(6, 10))
        hub.publish(SITE, stored[5:6])  # 6: next, taken at once
        hub.publish(SITE, stored[7:9])  # 8, 9: 7 went missing on the way
        assert taken == [(6, ev(6))]
        assert await asyncio.wait_for(waiting, WAIT) == (7, ev(7))
        assert await take(sub, 2) == [(8, ev(8)), (9, ev(9))]
    finally:
        await aclose(sub)


# -- a corrupt stored entry ----------------------------------------------------------------


async def corrupt(log: EventLog, log_url: str, version: int, data: Any) -> None:
    """Write `data` as the entry at `version` behind the log's back."""
    if isinstance(log, SqliteLog):
        with sqlite3.connect(log_url.removeprefix("sqlite://")) as db:
            db.execute("INSERT INTO events VALUES (?, ?, ?)", (SITE, version, data))
            db.execute("UPDATE sites SET version = ? WHERE site = ?", (version, SITE))
        db.close()
    else:
        prefix = log_url.rsplit("prefix=", 1)[1]
        client = aioredis.Redis.from_url(log_url.split("?")[0])
        try:
            await client.xadd(redis_keys.log(prefix, SITE), {"d": data}, id=f"{version}-0")
            await client.set(redis_keys.version(prefix, SITE), version)
        finally:
            await client.aclose()


@pytest.mark.parametrize(
    "garbage",
    [
        b"\xc1",
        b"\x93\x01\x02\x03",
        b"\x81\xa4type\xa1x",
        "plain text",
        b"\x82\xa4type\xa0\xa6schema\x01",
    ],
)
async def test_corrupt_entry_names_site_and_version(
    log: EventLog, log_url: str, garbage: Any
) -> None:
    await log.append(SITE, 0, events(1, 2))
    sub = log.subscribe(SITE)
    try:
        assert versions(await take(sub, 2)) == [1, 2]
        await corrupt(log, log_url, 3, garbage)
        with pytest.raises(DecodeError) as info:
            await log.read(SITE)
        assert (info.value.site, info.value.version) == (SITE, 3)
        assert versions(await log.read(SITE, limit=2)) == [1, 2]  # what is before it reads
        await log.append(SITE, 3, [ev(4)])  # the live subscriber is told, not skipped past
        with pytest.raises(DecodeError) as info:
            await take(sub, 1)
        assert (info.value.site, info.value.version) == (SITE, 3)
    finally:
        await aclose(sub)


# -- open_log ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["postgres://x/y", "sqlite://relative.db", "file:///tmp/x.db", "qms.db", ""]
)
def test_open_log_refuses_unknown_urls(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite:///"):
        open_log(url)


async def test_open_log_in_memory() -> None:
    log = open_log("sqlite:///:memory:")
    try:
        assert await log.append(SITE, 0, [ev(1)]) == 1
        assert await log.read(SITE) == [(1, ev(1))]
        await log.ping()
    finally:
        await log.close()


@pytest.mark.redis
async def test_redis_prefix_comes_from_the_url(redis_log_url: str) -> None:
    log = open_log(redis_log_url)
    assert isinstance(log, RedisLog)
    prefix = redis_log_url.rsplit("prefix=", 1)[1]
    try:
        await log.append(SITE, 0, [ev(1)])
        await log.ping()
        client = aioredis.Redis.from_url(redis_log_url.split("?")[0])
        try:
            assert await client.get(redis_keys.version(prefix, SITE)) == b"1"
            assert await client.xlen(f"{prefix}:{{{SITE}}}:log") == 1
        finally:
            await client.aclose()
    finally:
        await log.close()


@pytest.mark.redis
async def test_redis_resent_append_is_not_a_conflict(redis_log_url: str) -> None:
    """redis-py resends a command whose reply was lost; the append's token makes that safe."""
    log = open_log(redis_log_url)
    assert isinstance(log, RedisLog)
    prefix = redis_log_url.rsplit("prefix=", 1)[1]
    site_keys = [
        redis_keys.log(prefix, SITE),
        redis_keys.version(prefix, SITE),
        redis_keys.epoch(prefix, SITE),
        redis_keys.push(prefix, SITE),
    ]
    blobs = [codec.encode(ev(1)), codec.encode(ev(2))]
    try:
        for _ in range(2):  # the same call twice, as a retry sends it
            reply = await log._append_script(site_keys, [0, "e" * 32, "tok1", *blobs])
            assert reply == [1, 2]
        other = await log._append_script(site_keys, [0, "e" * 32, "tok2", *blobs])
        assert other[:2] == [0, 2]  # another writer at the same version: a conflict
        assert [entry[0] for entry in other[2]] == [b"1-0", b"2-0"]  # with what it missed
        assert versions(await log.read(SITE)) == [1, 2]
        assert await log.epoch(SITE) == "e" * 32
    finally:
        await log.close()
