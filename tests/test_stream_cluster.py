"""Two `qms serve` processes on one Redis log: a command handled by one reaches the
stream clients of the other in order, with no gap; when one is killed (SIGKILL)
its clients move to the other and resume with nothing lost or repeated.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from api_client import Api
from live_hall import SITE, STREAM, LiveHall, live_hall
from stream_client import StreamClient
from websockets.exceptions import ConnectionClosed

pytestmark = [pytest.mark.redis, pytest.mark.slow]


async def act(fn: Any, *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


async def closing(h: LiveHall, test: Coroutine[Any, Any, None]) -> None:
    try:
        await test
    finally:
        await h.close_clients()


async def joined(client: StreamClient) -> None:
    welcome = await client.connect()
    if welcome["resume"] == "snapshot":
        await client.recv()


def test_a_command_on_one_process_reaches_the_clients_of_the_other(
    tmp_path: Path, redis_log_url: str
) -> None:
    with live_hall(tmp_path, **STREAM, log_url=redis_log_url, servers=2) as h:
        asyncio.run(closing(h, _across(h)))


async def _across(h: LiveHall) -> None:
    on_a = h.client("supervisor", "supervisor", server=0)
    on_b = h.client("supervisor", "supervisor", server=1)
    display_b = h.client("display", server=1)
    for client in (on_a, on_b, display_b):
        await joined(client)
    assert on_a.epoch == on_b.epoch  # one log, one epoch, whichever process answers
    start = h.version()
    for service in ("ktp", "kk", "pkb", "ktp"):
        await act(h.issue, service)  # HTTP on process A
    await act(h.call_next, "officer", "L1")
    now = h.version()
    for client in (on_a, on_b, display_b):
        await client.read_until(now)  # recv checks every version: in order, no gap
    n = now - start
    assert on_b.event_versions()[-n:] == list(range(start + 1, now + 1))
    assert on_b.event_frames[-n:] == on_a.event_frames[-n:]  # the very same bytes
    numbers = [e["number"] for e in display_b.typed("ticket_issued")[-4:]]
    assert numbers == ["A001", "B001", "F001", "A002"]
    for client in (on_a, on_b, display_b):
        await client.close()


def test_clients_of_a_killed_process_resume_on_the_other(
    tmp_path: Path, redis_log_url: str
) -> None:
    # However long the move takes here, the missed events are replayed, never summed up.
    env = {"QMS_STREAM_REPLAY_BUDGET": str(1 << 20)}
    with live_hall(tmp_path, **STREAM, log_url=redis_log_url, servers=2, env=env) as h:
        asyncio.run(closing(h, _failover(h)))


async def _failover(h: LiveHall) -> None:
    control = h.client("display", server=0)  # never moves: what "everything" is
    movers = [h.client("display", server=1), h.client("supervisor", "supervisor", server=1)]
    for client in (control, *movers):
        await joined(client)
    first = h.version() + 1
    stop = threading.Event()
    done: list[int] = []

    def produce() -> None:
        """Commands on process A, all through the kill, until told to stop."""
        i = 0
        while not stop.is_set() and i < 2000:
            h.issue(("ktp", "kk", "pkb")[i % 3])
            if i % 4 == 3:
                h.call_next("officer", "L1")
            i += 1
        done.append(i)

    producer = asyncio.create_task(act(produce))
    try:
        for client in movers:  # mid-stream: the clients of B are receiving
            await client.read_until(first + 20, within=20)
        await act(h.servers[1].kill)  # SIGKILL: no close frame, no goodbye
        killed_at = await act(h.version)
        for client in movers:
            with pytest.raises(ConnectionClosed) as closed:
                await client.read_until(10**9, within=20)
            assert closed.value.rcvd is None  # it just died
            seen = client.version
            client.base_ws_url = h.servers[0].ws_url  # what a load balancer would do
            welcome = await client.connect()
            assert welcome["resume"] == "replay", welcome  # A's ring has every event since
            assert welcome["version"] >= (seen or 0)
        for client in movers:
            await client.read_until(killed_at + 30, within=20)  # and on, live, from A
    finally:
        stop.set()
        await producer
    now = h.version()
    assert done and now >= killed_at + 30
    for client in (control, *movers):
        await client.read_until(now, within=30)
    # Every version exactly once, in order, across the move (recv also checked each).
    display = movers[0]
    for client in movers:
        versions = client.event_versions()
        start = versions.index(first)
        assert versions[start:] == list(range(first, now + 1))
    n = now - first + 1
    assert display.event_frames[-n:] == control.event_frames[-n:]  # same bytes as A sent
    for client in (control, *movers):
        await client.close()


def test_commands_on_a_process_that_does_not_write_are_decided_by_the_one_that_does(
    tmp_path: Path, redis_log_url: str
) -> None:
    """Two `qms serve` processes on one Redis log: one holds the site's writer lease
    (qms.relay), the other forwards the site's commands to it, officer checks
    included, and answers as if it had decided them itself."""
    with live_hall(tmp_path, **STREAM, log_url=redis_log_url, servers=2) as h:
        people = [
            dataclasses.replace(h.who["officer"], base_url=s.url, origin=s.url) for s in h.servers
        ]
        for officer in people:  # each process opens the site (and its relay)
            officer.ok("GET", f"/api/v1/sites/{SITE}")
        deadline = time.monotonic() + 10
        while True:
            views = [Api(s.url).ok("GET", "/readyz")["relay"].get(SITE, {}) for s in h.servers]
            roles = sorted(v.get("writer", "none") for v in views)
            if roles == ["elsewhere", "here"]:
                break
            assert time.monotonic() < deadline, views
            time.sleep(0.05)  # polling with a deadline
        writer = [v["writer"] for v in views].index("here")
        other = 1 - writer
        h.issue("ktp")
        called = people[other].ok("POST", f"/api/v1/sites/{SITE}/counters/L1/call-next", {})
        assert called["events"][-1]["type"] == "ticket_called"
        assert called["counter"]["ticket"]["ticket"] == called["events"][-1]["ticket"]  # in state
        refused = people[other].post(f"/api/v1/sites/{SITE}/counters/L2/call-next", {})
        assert refused.status == 403 and refused.code == "not_your_counter"  # the guard travelled
        after = [Api(s.url).ok("GET", "/readyz")["relay"][SITE] for s in h.servers]
        assert after[other]["forwarded"] >= 2 and after[writer]["served"] >= 2
        assert after[other]["fallbacks"] == 0
