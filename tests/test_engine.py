"""SiteEngine on both log backends: decide, compare-and-append, retry, idempotency, snapshots."""

from __future__ import annotations

import asyncio
import copy
import functools
from typing import Any, cast

import pytest

from qms.core import Rejected, state_from_dict, state_to_dict
from qms.core.snapshot import LiveSnapshot, ticket_to_dict
from qms.demo_hall import setup_commands
from qms.engine import EngineBusy, SiteEngine, following
from qms.eventlog import EventLog

SITE = "mpp-bengkulu"
NOW = 1_795_000_000.0  # a Wednesday, 14:26 in Asia/Jakarta


async def engine_on(log: EventLog, **kw: Any) -> SiteEngine:
    return await SiteEngine(log, SITE, clock=lambda: NOW, **kw).open()


async def set_up_engine(log: EventLog, tickets: int = 0, **kw: Any) -> SiteEngine:
    engine = await engine_on(log, **kw)
    for cmd in setup_commands():
        await engine.execute(cmd)
    for i in range(tickets):
        await engine.execute({"type": "issue_ticket", "service": ["ktp", "kk"][i % 2]})
    return engine


async def test_execute_appends_and_returns_its_events(log: EventLog) -> None:
    engine = await set_up_engine(log)
    before = engine.version
    result = await engine.execute({"type": "issue_ticket", "service": "ktp"})
    assert [d["type"] for _, d in result.events] == ["day_opened", "ticket_issued"]
    assert result.version == before + 2 == engine.version == await log.version(SITE)
    assert await log.read(SITE, after=before) == result.events
    issued = result.events[-1][1]
    assert issued["number"] == "A001" and len(issued["token"]) >= 16


async def test_bad_input_is_refused_and_changes_nothing(log: EventLog) -> None:
    engine = await set_up_engine(log)
    version = engine.version
    for bad in (
        {"type": "call_next"},
        {"type": "call_next", "counter": "L1", "extra": 1},
        {"type": "issue_ticket", "service": "x" * 500},
        {"type": "launch_rocket"},
        ["not", "a", "command"],
    ):
        with pytest.raises(Rejected) as err:
            await engine.execute(bad)  # type: ignore[arg-type]
        assert err.value.code == "invalid_command"
    for wrong, code in (
        ({"type": "call_next", "counter": "L99"}, "unknown_counter"),
        ({"type": "call_next", "counter": "L1"}, "counter_not_open"),
        ({"type": "complete", "counter": "L1"}, "counter_idle"),
        ({"type": "cancel", "ticket": "2026-11-18-00042"}, "unknown_ticket"),
    ):
        with pytest.raises(Rejected) as err:
            await engine.execute(wrong)
        assert err.value.code == code
    assert await log.version(SITE) == version == engine.version


async def test_a_stale_engine_catches_up_and_decides_again(log: EventLog) -> None:
    a = await set_up_engine(log, tickets=2)
    await a.execute({"type": "open_counter", "counter": "L1", "officer": "budi"})
    await a.execute({"type": "open_counter", "counter": "L2", "officer": "sari"})
    b = await engine_on(log)  # another process, up to date now
    first = await a.execute({"type": "call_next", "counter": "L1"})
    second = await b.execute({"type": "call_next", "counter": "L2"})  # decided on stale state
    assert b.conflicts == 1
    assert first.events[0][1]["ticket"] != second.events[0][1]["ticket"]
    assert state_to_dict(a.state) != state_to_dict(b.state)
    await a.catch_up()
    assert state_to_dict(a.state) == state_to_dict(b.state)


async def test_rejection_is_rechecked_against_the_log(log: EventLog) -> None:
    a = await set_up_engine(log)
    b = await engine_on(log)
    await a.execute({"type": "open_counter", "counter": "L1", "officer": "budi"})
    issued = await a.execute({"type": "issue_ticket", "service": "ktp"})
    ticket = issued.events[-1][1]["ticket"]
    # b has not seen the counter open nor the ticket: it must not refuse.
    called = await b.execute({"type": "call_ticket", "counter": "L1", "ticket": ticket})
    assert called.events[0][1]["ticket"] == ticket


async def test_gives_up_with_busy_after_max_attempts(log: EventLog) -> None:
    a = await set_up_engine(log)
    b = await engine_on(log, max_attempts=1)
    await a.execute({"type": "issue_ticket", "service": "ktp"})
    with pytest.raises(EngineBusy):
        await b.execute({"type": "issue_ticket", "service": "kk"})
    assert b.conflicts == 1


async def test_many_counters_in_two_engines_never_share_a_ticket(log: EventLog) -> None:
    a = await set_up_engine(log, tickets=40)
    b = await engine_on(log)
    counters = [f"L{i}" for i in range(1, 7)]
    for c in counters:
        await a.execute({"type": "set_counter_services", "counter": c, "services": ["ktp", "kk"]})
        await a.execute({"type": "open_counter", "counter": c, "officer": f"o{c}"})
    await b.catch_up()

    async def officer(engine: SiteEngine, counter: str) -> list[str]:
        called: list[str] = []
        while True:
            try:
                res = await engine.execute({"type": "call_next", "counter": counter})
            except Rejected as exc:
                assert exc.code == "no_ticket_waiting"
                return called
            called.append(res.events[-1][1]["ticket"])
            await engine.execute({"type": "complete", "counter": counter})

    # Counters L1-L3 in one process, L4-L6 in the other, all on one queue.
    runs = await asyncio.gather(*(officer((a, b)[i // 3], c) for i, c in enumerate(counters)))
    called = [t for run in runs for t in run]
    assert len(called) == len(set(called)) == 40
    assert a.conflicts + b.conflicts > 0  # the race was real
    await a.catch_up()
    await b.catch_up()
    assert state_to_dict(a.state) == state_to_dict(b.state)
    versions = [v for v, _ in await log.read(SITE)]
    assert versions == list(range(1, a.version + 1))


async def test_a_repeated_command_id_acts_once(log: EventLog) -> None:
    a = await set_up_engine(log)
    cmd = {"type": "issue_ticket", "service": "ktp", "command_id": "kiosk-1:tap-77"}
    first = await a.execute(cmd)
    again = await a.execute(cmd)
    assert again.repeated and not first.repeated
    assert again.events == first.events
    b = await engine_on(log)  # another process, or a restart, knows it too
    other = await b.execute(cmd)
    assert other.repeated and other.events == first.events
    assert sum(1 for t in b.state.tickets.values() if t.service == "ktp") == 1


async def test_idempotency_survives_a_snapshot(log: EventLog) -> None:
    a = await set_up_engine(log, snapshot_every=5)
    cmd = {"type": "issue_ticket", "service": "kk", "command_id": "dup"}
    first = await a.execute(cmd)
    for _ in range(6):
        await a.execute({"type": "issue_ticket", "service": "ktp"})
    await a.snapshot_saved()
    snap = await log.load_snapshot(SITE)
    assert snap is not None and snap[0] > first.version
    b = await engine_on(log)
    assert (await b.execute(cmd)).events == first.events


class CountingEngine(SiteEngine):
    replayed = 0

    def apply(self, version: int, data: Any) -> bool:
        self.replayed += 1
        return super().apply(version, data)


async def test_opening_replays_at_most_snapshot_every_events(log: EventLog) -> None:
    a = await set_up_engine(log, tickets=25, snapshot_every=10)
    await a.snapshot_saved()
    snap = await log.load_snapshot(SITE)
    # At the crossing of a multiple of 10, or later: a crossing while the snapshot
    # before is still being written is saved once that one is, at the state of then.
    assert snap is not None and a.version // 10 * 10 <= snap[0] <= a.version
    b = cast(
        CountingEngine, await CountingEngine(log, SITE, clock=lambda: NOW, snapshot_every=10).open()
    )
    assert b.replayed == a.version - snap[0] < 10
    assert b.version == a.version
    assert state_to_dict(b.state) == state_to_dict(a.state)


async def test_follow_applies_other_processes_events(log: EventLog) -> None:
    a = await set_up_engine(log)
    b = await engine_on(log)
    async with following(b):
        res = await a.execute({"type": "issue_ticket", "service": "ktp"})
        async with asyncio.timeout(5):
            await b.wait_for_version(res.version)
    assert state_to_dict(b.state) == state_to_dict(a.state)


async def replayed_to(log: EventLog, version: int) -> SiteEngine:
    """A fresh engine with the log applied up to `version` (no snapshot)."""
    engine = SiteEngine(log, SITE, clock=lambda: NOW)
    for v, data in await log.read(SITE, after=0, limit=version):
        engine.apply(v, data)
    assert engine.version == version
    return engine


@pytest.mark.parametrize("then", ["cancel_the_last_ticket", "close_the_day"])
async def test_a_snapshot_is_its_version_while_events_change_what_it_has_not_written(
    log: EventLog, then: str
) -> None:
    """Snapshots are written from the live state a slice of tickets at a time while
    commands go on: what is saved is the state at the snapshot's version, and opening
    from it gives the live state. (Whether an event came before the task wrote the
    ticket it changes depends on timing; the next test makes sure it does.)"""
    engine = await set_up_engine(log, tickets=200, snapshot_every=10**9)
    tickets = [tid for tid in engine.state.tickets]
    engine.snapshot_every = engine.version + 1  # the next command crosses a multiple
    await engine.execute({"type": "open_counter", "counter": "L1", "officer": "oL1"})
    taken = engine.version
    assert engine._snapshot is not None  # being written: 200 tickets, 25 per turn
    engine.snapshot_every = 10**9
    if then == "cancel_the_last_ticket":  # written last: changed before the task gets there
        await engine.execute({"type": "cancel", "ticket": tickets[-1]})
        await engine.execute({"type": "call_next", "counter": "L1"})
    else:
        await engine.execute({"type": "close_day"})
    assert engine.version > taken
    await engine.snapshot_saved()
    snap = await log.load_snapshot(SITE)
    assert snap is not None and snap[0] == taken
    opened = await engine_on(log)  # the snapshot, then the tail
    expected = await replayed_to(log, taken)
    restored = state_from_dict(snap[1]["state"])
    assert restored is not None
    assert state_to_dict(restored) == state_to_dict(expected.state)
    assert list(restored.tickets) == list(expected.state.tickets)  # in the same order
    assert state_to_dict(opened.state) == state_to_dict(engine.state)


@pytest.mark.parametrize("close_day", [False, True])
async def test_a_live_snapshot_keeps_every_ticket_as_it_was_when_taken(
    log: EventLog, close_day: bool
) -> None:
    """`LiveSnapshot`, step by step: a third of the tickets written, then events change
    tickets not written yet (or, closing the day, maybe all of them), then the rest."""
    engine = await set_up_engine(log, tickets=60, snapshot_every=10**9)
    for c in ("L1", "L2"):
        await engine.execute({"type": "open_counter", "counter": c, "officer": f"o{c}"})
    then = copy.deepcopy(engine.state)
    snap = engine._snapshot = LiveSnapshot(engine.state)  # as `_snapshot_soon` does
    written = {tid: snap.ticket(tid) for tid in snap.order[:20]}
    last = snap.order[-1]
    await engine.execute({"type": "issue_ticket", "service": "ktp"})  # not in the snapshot
    if close_day:  # may change any ticket: every one not written yet is written first
        await engine.execute({"type": "close_day"})
    else:  # changes one ticket: that one is written first
        await engine.execute({"type": "cancel", "ticket": last})
        await engine.execute({"type": "call_next", "counter": "L1"})
    assert engine.state.tickets[last].state != then.tickets[last].state
    written |= {tid: snap.ticket(tid) for tid in snap.order[20:]}
    engine._snapshot = None
    assert list(written) == list(then.tickets)
    assert written == {tid: ticket_to_dict(t) for tid, t in then.tickets.items()}
    expected_head = state_to_dict(then)
    del expected_head["tickets"], expected_head["rateable"]
    assert snap.head == expected_head


async def test_older_days_visits_open_to_the_survey_are_in_the_snapshot(log: EventLog) -> None:
    """With a survey window of days, the older days' completed visits (`state.rateable`)
    are written after the tickets, a slice at a time like them (not with the head, on
    the command path), as they were when the snapshot was taken; opening from it gives
    the live state."""
    engine = await set_up_engine(log, tickets=3, snapshot_every=10**9)
    await engine.execute({"type": "configure_survey", "config": {"valid_hours": 96}})
    await engine.execute({"type": "open_counter", "counter": "L1", "officer": "oL1"})
    done = []
    for _ in range(3):
        called = await engine.execute({"type": "call_next", "counter": "L1"})
        done.append(engine.state.tickets[called.events[-1][1]["ticket"]])
        await engine.execute({"type": "complete", "counter": "L1"})
    for days in (1, 2):  # two business days on: the first day's visits are kept apart
        engine.clock = functools.partial(float, NOW + days * 86400)
        await engine.execute({"type": "issue_ticket", "service": "ktp"})
    assert list(engine.state.rateable) == [t.id for t in done]
    then = copy.deepcopy(engine.state)
    snap = engine._snapshot = LiveSnapshot(engine.state)
    assert "rateable" not in snap.head and snap.rateable_order == list(then.rateable)
    rated = done[1]
    answers = {f"U{i}": 4 for i in range(1, 10)}
    body = {"type": "submit_survey", "ticket": rated.id, "token": rated.token}
    await engine.execute({**body, "response": {"answers": answers}})
    assert engine.state.rateable[rated.id].surveyed  # changed after the snapshot...
    written = {tid: snap.rateable(tid) for tid in snap.rateable_order}
    engine._snapshot = None
    assert written == {tid: ticket_to_dict(t) for tid, t in then.rateable.items()}  # ...not in it
    assert not written[rated.id]["surveyed"]
    engine.snapshot_every = engine.version + 1  # saved by the engine, then opened from
    await engine.execute({"type": "issue_ticket", "service": "kk"})
    await engine.snapshot_saved()
    saved = await log.load_snapshot(SITE)
    assert saved is not None and list(saved[1]["state"]["rateable"]) == list(then.rateable)
    opened = await engine_on(log)
    assert state_to_dict(opened.state) == state_to_dict(engine.state)
    assert opened.state.rateable[rated.id].surveyed


async def test_a_multiple_crossed_while_a_snapshot_is_saved_is_snapshotted_after_it(
    log: EventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Snapshots are saved one at a time, slowly on purpose (a slice, then a rest): a
    multiple of `snapshot_every` crossed meanwhile gets its own right after, so opening
    never replays much more than `snapshot_every` events."""
    monkeypatch.setattr("qms.engine.SNAPSHOT_SLICE_S", 0.0)  # a rest after every ticket
    monkeypatch.setattr("qms.engine.SNAPSHOT_PAUSE_S", 0.01)
    engine = await set_up_engine(log, tickets=20, snapshot_every=10**9)
    engine.snapshot_every = engine.version + 1  # the next command crosses a multiple
    await engine.execute({"type": "issue_ticket", "service": "ktp"})
    first = engine.version
    engine.snapshot_every = 1
    for _ in range(3):  # each crosses a multiple while the first is being saved
        await engine.execute({"type": "issue_ticket", "service": "ktp"})
    await engine.snapshot_saved()
    snap = await log.load_snapshot(SITE)
    assert snap is not None and snap[0] > first
    assert snap[0] == engine.version  # the state of when the first one was done
