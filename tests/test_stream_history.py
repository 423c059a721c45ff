"""A display never loses a call (issue 12 §1): a resume from an (epoch, version) the
server's memory or the log still holds gives every call missed since, in order,
with each ticket's current state, whether the server answers with a replay or a
snapshot; `recovered` on the welcome says whether history was lost.

Against a real `qms serve` with a tiny ring (so a short absence is answered with a
snapshot) and a tiny memory of calls (so older calls are read from the log).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_hall import (
    SITE,
    STREAM,
    LiveHall,
    close_stream_clients,  # noqa: F401 (an autouse fixture)
    live_hall,
)
from stream_client import StreamClient

from qms.core import HallState
from qms.core.model import Ticket
from qms.display.history import CallHistory, first_ticket
from qms.server.stream.facts import Facts

ENV = {
    "QMS_STREAM_RING_SIZE": "16",  # a resume after a few calls is answered with a snapshot
    "QMS_STREAM_HISTORY_CALLS": "6",  # older calls than the last 6 are read from the log
}


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    with live_hall(tmp_path_factory.mktemp("history"), **STREAM, env=ENV) as h:
        yield h


async def act(fn: Any, *args: Any, **kw: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kw)


async def welcome_and_view(client: StreamClient, **hello: Any) -> tuple[dict[str, Any], Any]:
    welcome = await client.connect(**hello)
    view = None
    if welcome["resume"] == "snapshot":
        view = (await client.recv())["view"]
    return welcome, view


def calls_at_l1(h: LiveHall, n: int) -> list[str]:
    """Issue n tickets and call n at L1 (each completed before the next); the numbers called."""
    for _ in range(n):
        h.issue("ktp")
    return [h.call_next("officer", "L1")["counter"]["ticket"]["number"] for _ in range(n)]


async def test_a_resume_past_the_ring_gets_every_call_missed_with_its_state(hall: LiveHall) -> None:
    display = hall.client("display")
    await welcome_and_view(display)
    await display.close()
    left_at = display.version
    numbers = await act(calls_at_l1, hall, 14)  # 14 calls: more than 10, the ring and memory

    welcome, view = await welcome_and_view(display)
    assert (welcome["resume"], welcome["recovered"]) == ("snapshot", True)
    missed = [c for c in view["calls"] if c["version"] > left_at]
    assert [c["number"] for c in missed] == numbers  # every one, oldest first
    assert [c["version"] for c in missed] == sorted(c["version"] for c in missed)
    assert [c["state"] for c in missed] == ["done"] * 13 + ["called"]
    assert all(c["counter"] == "L1" for c in missed)


async def test_a_zoned_display_gets_the_calls_of_its_zone(hall: LiveHall) -> None:
    zone_b = hall.client("display_b")  # L1 is in zone A
    await welcome_and_view(zone_b)
    await zone_b.close()
    left_at = zone_b.version
    await act(calls_at_l1, hall, 7)  # past the ring: a snapshot
    welcome, view = await welcome_and_view(zone_b)
    assert (welcome["resume"], welcome["recovered"]) == ("snapshot", True)
    assert [c for c in view["calls"] if c["version"] > left_at] == []


async def test_recovered_says_whether_history_was_kept(hall: LiveHall) -> None:
    display = hall.client("display")
    welcome, _ = await welcome_and_view(display)
    assert welcome["recovered"] is False  # a new display: it had no history to keep
    epoch, seen = display.epoch, display.version
    await display.close()

    welcome, _ = await welcome_and_view(display)  # nothing missed
    assert (welcome["resume"], welcome["recovered"]) == ("current", True)
    await display.close()

    await act(hall.issue, "kk")  # one event missed: a replay
    welcome, _ = await welcome_and_view(display)
    assert (welcome["resume"], welcome["recovered"]) == ("replay", True)
    await display.read_until(hall.version())
    await display.close()

    other = hall.client("display")  # another incarnation of the log: history is lost
    welcome, _ = await welcome_and_view(other, epoch="0" * 32, version=seen)
    assert (welcome["resume"], welcome["recovered"]) == ("snapshot", False)
    await other.close()

    asked = hall.client("display")  # a snapshot on request keeps the calls owed
    welcome, view = await welcome_and_view(asked, epoch=epoch, version=seen, snapshot=True)
    assert (welcome["resume"], welcome["recovered"]) == ("snapshot", True)
    assert view is not None
    await asked.close()


async def test_a_snapshot_asked_for_carries_every_call_since(hall: LiveHall) -> None:
    display = hall.client("display")
    await welcome_and_view(display)
    await display.close()
    left_at = display.version
    numbers = await act(calls_at_l1, hall, 12)
    welcome, view = await welcome_and_view(display, snapshot=True)
    assert (welcome["resume"], welcome["recovered"]) == ("snapshot", True)
    assert [c["number"] for c in view["calls"] if c["version"] > left_at] == numbers


def test_after_a_restart_the_calls_are_read_from_the_log(tmp_path: Path) -> None:
    """A fresh process holds no call from before it started: it reads them back."""
    with live_hall(tmp_path, **STREAM, env=ENV) as h:
        asyncio.run(_restart(h))


async def _restart(h: LiveHall) -> None:
    display = h.client("display")
    try:
        await welcome_and_view(display)
        await display.close()
        left_at = display.version
        numbers = await act(calls_at_l1, h, 9)
        await act(h.server.stop)
        await act(h.server.start)
        welcome, view = await welcome_and_view(display)
        assert (welcome["resume"], welcome["recovered"]) == ("snapshot", True)
        assert [c["number"] for c in view["calls"] if c["version"] > left_at] == numbers
    finally:
        await h.close_clients()


def test_calls_further_back_than_the_log_read_are_said_lost(tmp_path: Path) -> None:
    env = {**ENV, "QMS_STREAM_HISTORY_READ": "10"}
    with live_hall(tmp_path, **STREAM, env=env) as h:
        asyncio.run(_too_far(h))


async def _too_far(h: LiveHall) -> None:
    display = h.client("display")
    try:
        await act(calls_at_l1, h, 1)  # the day's first ticket, before the display's version
        await welcome_and_view(display)
        await display.close()
        left_at = display.version
        numbers = await act(calls_at_l1, h, 10)  # far more than 10 events back
        welcome, view = await welcome_and_view(display)
        assert (welcome["resume"], welcome["recovered"]) == ("snapshot", False)
        got = [c["number"] for c in view["calls"] if c["version"] > left_at]
        assert got == numbers[-len(got) :] and len(got) < 11  # what could be read
    finally:
        await h.close_clients()


# --- the history itself (pure) ----------------------------------------------------------

DAY = "2026-01-05"


def _called(ticket: str) -> dict[str, Any]:
    return {"type": "ticket_called", "ticket": ticket, "counter": "L1", "at": 1.0}


def test_history_keeps_the_day_and_forgets_the_day_before() -> None:
    history = CallHistory(limit=3, since=0, day=DAY)
    for v in range(1, 6):
        history.add(v, _called(f"{DAY}-{v:05d}"), Facts(number=f"A{v:03d}", service="ktp"))
    assert [c["version"] for c in history.calls] == [3, 4, 5]
    assert history.since == 2 and not history.covers(1) and history.covers(2)
    assert [c["version"] for c in history.after(3)] == [4, 5]
    assert [c["version"] for c in history.for_snapshot(4)] == [3, 4, 5]
    history.add(6, {"type": "day_opened", "day": DAY}, Facts())  # the same day reopened
    assert len(history.calls) == 3
    history.add(7, {"type": "day_opened", "day": "2026-01-06"}, Facts())
    assert list(history.calls) == [] and history.covers(2)


def test_a_log_read_that_meets_the_days_first_ticket_is_complete() -> None:
    class Log:
        async def read(self, site: str, after: int = 0, limit: int | None = None) -> Any:
            events = [
                (1, {"type": "day_opened", "day": DAY}),
                (2, {"type": "ticket_issued", "ticket": first_ticket(DAY)}),
                (3, _called(first_ticket(DAY))),
            ]
            return [e for e in events if e[0] > after][:limit]

    state = HallState(day=DAY)
    tid = first_ticket(DAY)
    state.tickets[tid] = Ticket(id=tid, number="A001", service="ktp", day=DAY, seq=1, token="t")
    history = CallHistory(limit=10, since=3, day=DAY)
    backfill = asyncio.run(history.load(Log(), SITE, 0, state, read_limit=2))  # type: ignore[arg-type]
    assert backfill.complete and [c["number"] for c in backfill.calls] == ["A001"]
    assert history.since == 0 and history.recovered(0, None)
