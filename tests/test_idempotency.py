"""An Idempotency-Key holds across processes: exactly one first answer, the others repeats.

Engine level (both backends): a command id remembers what command it named (its
fingerprint, `cf` on the command's first event): the same id for a different
command is refused (`idempotency_key_reused`) and changes nothing, in one batch,
across processes and after a snapshot; an old event without a fingerprint is
taken as matching. Relay level: duplicates reaching one forwarding process share
one request to the writer; a duplicate decided at the writer for its own caller
is not taken by the forwarder as its own. Live: real concurrent HTTP requests
through two `qms serve` processes on one Redis (one the site's writer, one that
forwards), and through one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from api_client import Api, Reply
from live_hall import SITE, LiveHall, live_hall
from live_server import LiveServer
from test_engine import engine_on, set_up_engine
from test_relay import hall_url, node, settled  # noqa: F401 (hall_url is a fixture)

from qms.core import Rejected, parse_command
from qms.eventlog import EventLog
from qms.idempotency import CID, CID_COUNT, CID_FINGERPRINT, fingerprint

S = f"/api/v1/sites/{SITE}"
PAIRS = 24  # concurrent pairs of one key, through two processes
DUPLICATES = 6  # concurrent requests of one key to one process


# --- the engine ---------------------------------------------------------------------------


async def test_a_key_reused_for_another_command_is_refused_and_changes_nothing(
    log: EventLog,
) -> None:
    engine = await set_up_engine(log, tickets=2)
    await engine.execute({"type": "open_counter", "counter": "L1", "officer": "budi"})
    first = await engine.execute({"type": "call_next", "counter": "L1", "command_id": "k1"})
    version = engine.version
    for other in (
        {"type": "close_day", "command_id": "k1"},
        {"type": "call_next", "counter": "L2", "command_id": "k1"},  # another counter
        {"type": "broadcast", "text": "halo", "command_id": "k1"},
    ):
        with pytest.raises(Rejected) as refused:
            await engine.execute(other)
        assert refused.value.code == "idempotency_key_reused"
        assert refused.value.http_status == 422
    assert engine.version == await log.version(SITE_ENGINE) == version
    # The same command under its key is still a repeat; `by` is not part of it.
    again = await engine.execute(
        {"type": "call_next", "counter": "L1", "command_id": "k1", "by": "someone"}
    )
    assert again.repeated and again.events == first.events
    assert first.events[0][1][CID_FINGERPRINT] == fingerprint(
        parse_command({"type": "call_next", "counter": "L1"})
    )


SITE_ENGINE = "mpp-bengkulu"  # test_engine's site


async def test_a_reused_key_is_refused_in_one_batch_and_in_another_process(log: EventLog) -> None:
    a = await set_up_engine(log)
    b = await engine_on(log)  # another process, opened before the key was used
    ktp = {"type": "issue_ticket", "service": "ktp", "command_id": "tap"}
    kk = {"type": "issue_ticket", "service": "kk", "command_id": "tap"}
    first, other = await asyncio.gather(a.execute(ktp), a.execute(kk), return_exceptions=True)
    assert not isinstance(first, BaseException) and not first.repeated
    assert isinstance(other, Rejected) and other.code == "idempotency_key_reused"
    with pytest.raises(Rejected) as there:
        await b.execute(kk)  # decided on a stale state: catches up, then refuses
    assert there.value.code == "idempotency_key_reused"
    repeat = await b.execute(ktp)
    assert repeat.repeated and repeat.events == first.events
    issued = [d for _, d in await log.read(SITE_ENGINE) if d["type"] == "ticket_issued"]
    assert len(issued) == 1


async def test_the_fingerprint_survives_a_snapshot_and_old_events_match_anything(
    log: EventLog,
) -> None:
    engine = await set_up_engine(log, snapshot_every=5)
    await engine.execute({"type": "issue_ticket", "service": "ktp", "command_id": "new"})
    # An event written before fingerprints existed: its id has none.
    said = await engine.execute({"type": "broadcast", "text": "lama"})
    old = {**said.events[0][1], CID: "old", CID_COUNT: 1}
    assert CID_FINGERPRINT not in old
    for _ in range(6):  # cross a snapshot multiple
        await engine.execute({"type": "broadcast", "text": "."})
    await engine.snapshot_saved()
    await log.append(SITE_ENGINE, engine.version, [old])
    reopened = await engine_on(log)
    assert (await log.load_snapshot(SITE_ENGINE)) is not None
    with pytest.raises(Rejected) as refused:
        await reopened.execute({"type": "issue_ticket", "service": "kk", "command_id": "new"})
    assert refused.value.code == "idempotency_key_reused"
    repeat = await reopened.execute({"type": "close_day", "command_id": "old"})
    assert repeat.repeated  # no fingerprint: taken as the same command
    assert repeat.events == [(engine.version + 1, old)]


def test_the_fingerprint_is_the_command_without_who_and_id() -> None:
    base = {"type": "issue_ticket", "service": "ktp"}
    same = [
        parse_command(base),
        parse_command({**base, "by": "kiosk-1", "command_id": "a"}),
        parse_command({**base, "token": "drawn-by-the-engine"}),
    ]
    assert len({fingerprint(c) for c in same}) == 1
    assert fingerprint(parse_command({**base, "service": "kk"})) != fingerprint(same[0])
    assert fingerprint(parse_command({**base, "priority": "lansia"})) != fingerprint(same[0])


# --- the relay ------------------------------------------------------------------------------


async def test_duplicates_at_a_forwarding_process_share_one_request(hall_url: str) -> None:  # noqa: F811
    async with node(hall_url, writer=True) as a, node(hall_url, writer=False) as b:
        command = {"type": "call_next", "counter": "L1", "command_id": "press-twice"}
        started = time.monotonic()
        results = await asyncio.gather(*(b.engine.execute(command) for _ in range(DUPLICATES)))
        assert time.monotonic() - started < 1.0  # nobody waited for a timeout
        assert sorted(r.repeated for r in results) == [False] + [True] * (DUPLICATES - 1)
        assert all(r.events == results[0].events for r in results)
        assert (b.relay.forwarded, b.relay.fallbacks, a.relay.served) == (1, 0, 1)
        await settled(a, b)
        # The writer is trusted still: the next command goes to it.
        await b.engine.execute({"type": "complete", "counter": "L1"})
        assert (b.relay.forwarded, b.relay.fallbacks) == (2, 0)
        calls = [d for _, d in await a.engine.log.read(SITE_ENGINE) if d["type"] == "ticket_called"]
    assert len(calls) == 1


async def test_a_different_command_under_a_key_in_flight_is_refused_at_a_forwarder(
    hall_url: str,  # noqa: F811
) -> None:
    async with node(hall_url, writer=True) as a, node(hall_url, writer=False) as b:
        first, other = await asyncio.gather(
            b.engine.execute({"type": "call_next", "counter": "L1", "command_id": "k"}),
            b.engine.execute({"type": "call_next", "counter": "L2", "command_id": "k"}),
            return_exceptions=True,
        )
        assert not isinstance(first, BaseException) and not first.repeated
        assert isinstance(other, Rejected) and other.code == "idempotency_key_reused"
        await settled(a, b)
        assert b.engine.state.counters["L2"].ticket is None


async def test_the_writers_own_duplicate_is_not_taken_for_the_forwarded_one(
    hall_url: str,  # noqa: F811
) -> None:
    """One key given at once to the writer (its own caller) and to a forwarding process:
    the events the writer made for its own caller must not answer the forwarded request
    as a first (`repeated: false`) answer."""
    async with node(hall_url, writer=True) as a, node(hall_url, writer=False) as b:
        for i in range(10):
            command = {"type": "issue_ticket", "service": "ktp", "command_id": f"both-{i}"}
            results = await asyncio.gather(a.engine.execute(command), b.engine.execute(command))
            assert sorted(r.repeated for r in results) == [False, True], (i, results)
            assert results[0].events == results[1].events
        await settled(a, b)
        assert b.relay.fallbacks == 0


# --- live: two processes on one Redis -------------------------------------------------------


def _concurrently(*calls: Callable[[], Reply]) -> list[Reply]:
    """Run the calls in threads released together (a barrier), their replies in order."""
    barrier = threading.Barrier(len(calls))

    def released(call: Callable[[], Reply]) -> Reply:
        barrier.wait(timeout=10)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(released, calls))


def _relay_view(server_url: str) -> dict[str, Any]:
    reply = Api(server_url).get("/readyz")
    assert reply.status == 200, reply
    view: dict[str, Any] = reply.body["relay"].get(SITE, {})
    return view


def _wait_for_writer(writer: str, forwarder: str) -> None:
    deadline = time.monotonic() + 15
    while (_relay_view(writer).get("writer"), _relay_view(forwarder).get("writer")) != (
        "here",
        "elsewhere",
    ):
        assert time.monotonic() < deadline, (_relay_view(writer), _relay_view(forwarder))
        time.sleep(0.05)  # polling with a deadline


@contextlib.contextmanager
def two_processes(tmp_path: Path, log_url: str) -> Iterator[tuple[LiveHall, LiveServer]]:
    """A hall on process A (the site's writer) and process B (forwarding to A)."""
    env = {"QMS_SECRET_KEY": "k" * 64}  # one session key: a cookie works on both
    with live_hall(tmp_path, log_url=log_url, env=env, servers=2) as a:
        b = a.servers[1]
        assert a.who["kiosk"].at(b.url).get(f"{S}/counters").status == 200
        _wait_for_writer(a.url, b.url)
        yield a, b


def _waiting(hall: LiveHall) -> int:
    queues = hall.admin.ok("GET", f"{S}/queues")["queues"]
    return sum(q["waiting"] for q in queues)


def _pairs(hall: LiveHall, one: Api, other: Api) -> None:
    """PAIRS keys, each sent at once through `one` and `other`: one ticket each, and
    exactly one first answer (201, repeated: false) per key."""
    before = _waiting(hall)
    wrong: list[tuple[int, object]] = []
    for i in range(PAIRS):
        key = {"Idempotency-Key": f"pair-{i}"}
        replies = _concurrently(
            partial(one.post, f"{S}/tickets", {"service": "ktp"}, headers=key),
            partial(other.post, f"{S}/tickets", {"service": "ktp"}, headers=key),
        )
        got = sorted((r.status, r.body["repeated"]) for r in replies)
        if got != [(200, True), (201, False)]:
            wrong.append((i, got))
        elif replies[0].body["ticket"] != replies[1].body["ticket"]:
            wrong.append((i, "two tickets"))
    assert wrong == [], wrong
    assert _waiting(hall) == before + PAIRS


@pytest.mark.redis
@pytest.mark.slow
def test_one_key_through_two_processes_has_exactly_one_first_answer(
    tmp_path: Path, redis_log_url: str
) -> None:
    with two_processes(tmp_path, redis_log_url) as (a, b):
        _pairs(a, a.who["kiosk"], a.who["kiosk"].at(b.url))
        assert _relay_view(b.url)["fallbacks"] == 0


@pytest.mark.redis
@pytest.mark.slow
def test_duplicates_at_the_forwarding_process_share_the_first_answer(
    tmp_path: Path, redis_log_url: str
) -> None:
    with two_processes(tmp_path, redis_log_url) as (a, b):
        kiosk_b = a.who["kiosk"].at(b.url)
        before = _waiting(a)
        for round_ in range(3):
            key = {"Idempotency-Key": f"tap-{round_}"}
            started = time.monotonic()
            replies = _concurrently(
                *[partial(kiosk_b.post, f"{S}/tickets", {"service": "kk"}, headers=key)]
                * DUPLICATES
            )
            assert time.monotonic() - started < 1.5, "a duplicate waited for a timeout"
            got = sorted((r.status, r.body["repeated"]) for r in replies)
            assert got == [(200, True)] * (DUPLICATES - 1) + [(201, False)], got
            assert len({r.body["ticket"]["ticket"] for r in replies}) == 1
        view = _relay_view(b.url)
        assert view["fallbacks"] == 0 and view["forwarded"] >= 3, view
        assert _waiting(a) == before + 3


@pytest.mark.redis
@pytest.mark.slow
def test_a_key_reused_for_another_command_is_422_on_either_process(
    tmp_path: Path, redis_log_url: str
) -> None:
    with two_processes(tmp_path, redis_log_url) as (a, b):
        supervisor_a = a.who["supervisor"]
        supervisor_b = supervisor_a.at(b.url)
        key = {"Idempotency-Key": "one-press"}
        said = supervisor_a.ok("POST", f"{S}/broadcast", {"text": "Selamat datang"}, headers=key)
        day = a.admin.ok("GET", S)["day"]
        version = a.version()
        for supervisor in (supervisor_a, supervisor_b):
            for path, body in ((f"{S}/close-day", None), (f"{S}/broadcast", {"text": "lain"})):
                reply = supervisor.call("POST", path, {} if body is None else body, headers=key)
                assert reply.status == 422 and reply.code == "idempotency_key_reused", reply
        assert a.version() == version and a.admin.ok("GET", S)["day"] == day
        assert a.admin.ok("GET", S)["messages"] == said["messages"]
        again = supervisor_b.ok("POST", f"{S}/broadcast", {"text": "Selamat datang"}, headers=key)
        assert again["repeated"] is True and again["events"] == said["events"]
