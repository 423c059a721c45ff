"""One writer per site (qms.relay): commands forwarded to the process holding the lease.

Two `RedisLog` clients stand for two server processes (the 4-process race is in
test_concurrency.py). Checked: a forwarded command is decided by the writer and
answered as if run here, with the sender's state already including it; refusals,
repeats and guards travel; a guard that cannot travel runs here; a writer that
stops hands over without losing a command; a writer that does not answer is
waited for, then bypassed, and its late run cannot act a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

import pytest
from redis.exceptions import TimeoutError as RedisTimeoutError
from test_engine import SITE, engine_on, set_up_engine

from qms.core import Command, HallState, Rejected, parse_command
from qms.counter_console.guard import OfficerGuard, Own
from qms.engine import SiteEngine, following
from qms.eventlog import open_log
from qms.eventlog.redis import RedisLog
from qms.guards import WireGuard, wire_guard
from qms.relay import SiteRelay, relaying
from qms.relay.site import LOG_CHECK_S

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]


@dataclasses.dataclass
class Node:
    """One stand-in server process: its own Redis client, engine, follower and relay."""

    engine: SiteEngine
    relay: SiteRelay


@contextlib.asynccontextmanager
async def node(url: str, *, writer: bool) -> AsyncIterator[Node]:
    log = open_log(url)
    try:
        engine = await engine_on(log)
        async with following(engine), relaying(engine) as relay:
            assert relay is not None
            async with asyncio.timeout(10):
                while (relay.writer is None) or (writer != relay.is_writer):  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            yield Node(engine, relay)
    finally:
        await log.close()


@pytest.fixture
async def hall_url(redis_log_url: str) -> AsyncIterator[str]:
    log = open_log(redis_log_url)
    try:
        engine = await set_up_engine(log, tickets=3)
        for c in ("L1", "L2"):
            await engine.execute({"type": "open_counter", "counter": c, "officer": f"o{c}"})
    finally:
        await log.close()
    yield redis_log_url


async def settled(*nodes: Node) -> None:
    """Every node's follower has what the log has."""
    version = await nodes[0].engine.log.version(SITE)
    async with asyncio.timeout(5):
        for n in nodes:
            await n.engine.wait_for_version(version)


async def test_a_forwarded_command_is_decided_by_the_writer(hall_url: str) -> None:
    async with node(hall_url, writer=True) as a, node(hall_url, writer=False) as b:
        result = await b.engine.execute({"type": "call_next", "counter": "L1"})
        called = result.events[-1][1]
        assert called["type"] == "ticket_called" and called["counter"] == "L1"
        assert (b.relay.forwarded, a.relay.served) == (1, 1)
        # Answered as if run here: the events as logged, and our state has them.
        assert await b.engine.log.read(SITE, after=result.version - 1) == result.events[-1:]
        assert b.engine.version >= result.version
        assert b.engine.state.counters["L1"].ticket == called["ticket"]
        done = await b.engine.execute({"type": "complete", "counter": "L1"})
        assert done.events[-1][1]["type"] == "ticket_completed"
        # The writer's own commands are decided here, not forwarded anywhere.
        await a.engine.execute({"type": "call_next", "counter": "L2"})
        assert a.relay.forwarded == 0 and b.relay.served == 0
        assert a.engine.conflicts == b.engine.conflicts == 0


async def test_refusals_come_back_with_their_codes_and_change_nothing(hall_url: str) -> None:
    async with node(hall_url, writer=True) as a, node(hall_url, writer=False) as b:
        version = await b.engine.log.version(SITE)
        for command, code in (
            ({"type": "call_next", "counter": "L99"}, "unknown_counter"),
            ({"type": "complete", "counter": "L1"}, "counter_idle"),
            ({"type": "call_next", "counter": "L3"}, "counter_not_open"),
        ):
            with pytest.raises(Rejected) as refused:
                await b.engine.execute(command)
            assert refused.value.code == code
        assert a.relay.served == 3 and b.relay.forwarded == 3
        assert await b.engine.log.version(SITE) == version


async def test_a_repeated_command_id_acts_once_wherever_it_is_sent(hall_url: str) -> None:
    async with node(hall_url, writer=True) as a, node(hall_url, writer=False) as b:
        command = {"type": "call_next", "counter": "L1", "command_id": "press-1"}
        first = await b.engine.execute(command)
        again = await b.engine.execute(command)
        await settled(a, b)
        there = await a.engine.execute(command)
        assert again.repeated and there.repeated and not first.repeated
        assert again.events == there.events == first.events
        calls = [d for _, d in await a.engine.log.read(SITE) if d["type"] == "ticket_called"]
        assert len(calls) == 1


@wire_guard
@dataclasses.dataclass(frozen=True)
class OnlyOn(WireGuard):
    """A test guard: the command runs only while `counter` holds no ticket."""

    kind: ClassVar[str] = "test-only-idle"
    counter: str

    def __call__(self, state: HallState) -> None:
        if state.counters[self.counter].ticket is not None:
            raise Rejected("counter_busy", f"{self.counter} is busy", counter=self.counter)

    def to_wire(self) -> dict[str, Any]:
        return {"counter": self.counter}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], command: Command) -> OnlyOn:
        return cls(str(data["counter"]))


async def test_guards_travel_to_the_writer_and_refuse_there(hall_url: str) -> None:
    async with node(hall_url, writer=True) as a, node(hall_url, writer=False) as b:
        await b.engine.execute({"type": "call_next", "counter": "L2"})
        with pytest.raises(Rejected) as refused:
            await b.engine.execute({"type": "call_next", "counter": "L1"}, guard=OnlyOn("L2"))
        assert refused.value.code == "counter_busy"
        assert refused.value.details == {"counter": "L2"}
        # The server's officer check is one: a counter someone else holds is refused.
        parsed = parse_command({"type": "call_next", "counter": "L1"})
        with pytest.raises(Rejected) as not_yours:
            await b.engine.execute(parsed, guard=OfficerGuard(Own.COUNTER, "budi", parsed))
        assert not_yours.value.code == "not_your_counter"
        mine = await b.engine.execute(parsed, guard=OfficerGuard(Own.COUNTER, "oL1", parsed))
        assert mine.events[-1][1]["counter"] == "L1"
        assert a.relay.served == 4 and b.relay.forwarded == 4


async def test_a_guard_that_cannot_travel_runs_here(hall_url: str) -> None:
    seen: list[str] = []

    def local_guard(state: HallState) -> None:
        seen.append("checked")

    async with node(hall_url, writer=True) as a, node(hall_url, writer=False) as b:
        await b.engine.execute({"type": "call_next", "counter": "L1"}, guard=local_guard)
        assert seen and b.relay.forwarded == 0 and a.relay.served == 0


async def test_a_writer_that_stops_hands_over_without_losing_a_command(hall_url: str) -> None:
    log_a = open_log(hall_url)
    try:
        a_engine = await engine_on(log_a)
        async with contextlib.AsyncExitStack() as a_running:
            await a_running.enter_async_context(following(a_engine))
            a_relay = await a_running.enter_async_context(relaying(a_engine))
            assert a_relay is not None
            async with asyncio.timeout(10):
                while not a_relay.is_writer:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            async with node(hall_url, writer=False) as b:
                await b.engine.execute({"type": "call_next", "counter": "L1"})
                assert b.relay.forwarded == 1
                # a stops (a server process restarting): it gives up its lease, and
                # from the moment it stops listening b runs commands itself...
                await a_running.aclose()
                done = await b.engine.execute({"type": "complete", "counter": "L1"})
                assert done.events[-1][1]["type"] == "ticket_completed"
                assert b.relay.forwarded == 1
                async with asyncio.timeout(5):  # ...and takes the lease at its next check
                    while not b.relay.is_writer:  # noqa: ASYNC110
                        await asyncio.sleep(0.01)
                await b.engine.execute({"type": "call_next", "counter": "L1"})
                types = [d["type"] for _, d in await b.engine.log.read(SITE)]
    finally:
        await log_a.close()
    assert types.count("ticket_called") == 2 and types.count("ticket_completed") == 1


async def test_a_request_whose_publish_fails_runs_here_at_once(hall_url: str) -> None:
    """The PUBLISH of a request failing (its link broke) settles the request there and
    then: the sender runs the command itself instead of waiting out its timeout."""
    async with node(hall_url, writer=True) as a, node(hall_url, writer=False) as b:
        b.relay.timeout = 3600.0  # waiting it out would outlast the bound below
        await b.engine.execute({"type": "call_next", "counter": "L1"})
        assert b.relay.forwarded == 1
        link = b.relay._log.link()
        assert link is not None
        link.close()  # closing from now on: the next PUBLISH on it fails
        async with asyncio.timeout(30):
            done = await b.engine.execute({"type": "complete", "counter": "L1"})
        assert b.relay.fallbacks == 1 and b.relay.forwarded == 1
        assert done.events[-1][1]["type"] == "ticket_completed"
        await settled(a, b)


async def test_a_writer_that_does_not_answer_is_bypassed_and_cannot_act_late(
    hall_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with node(hall_url, writer=True) as a, node(hall_url, writer=False) as b:
        b.relay.timeout = 0.3
        # The writer hears the request but is stuck before deciding it, until released.
        submit = a.engine.submit
        release = asyncio.Event()
        heard: list[asyncio.Future[Any]] = []

        async def late(cmd: Command, guard: Any, via: str | None) -> Any:
            await release.wait()
            return await submit(cmd, guard, via=via)

        def stuck(cmd: Command, guard: Any = None, *, via: str | None = None) -> Any:
            heard.append(asyncio.ensure_future(late(cmd, guard, via)))
            return heard[-1]

        a.engine.submit = stuck  # type: ignore[method-assign]
        # The writer holds it: only b's own timeout can end this wait; it runs it here.
        result = await b.engine.execute({"type": "call_next", "counter": "L1"})
        assert len(heard) == 1 and not heard[0].done()
        assert b.relay.fallbacks == 1 and result.events[-1][1]["type"] == "ticket_called"
        # Now shunned: the next command runs here, the writer never hears it.
        await b.engine.execute({"type": "complete", "counter": "L1"})
        assert len(heard) == 1 and b.relay.forwarded == 1
        release.set()  # the writer gets to the first request, past its deadline
        await asyncio.gather(*heard, return_exceptions=True)
        await settled(a, b)
        entries = await a.engine.log.read(SITE)
    calls = [d for _, d in entries if d["type"] == "ticket_called"]
    assert len(calls) == 1 and calls[0]["counter"] == "L1"
    assert "data_received() call failed" not in caplog.text  # stuck, not crashed


async def test_the_writer_reads_in_what_another_process_appended(hall_url: str) -> None:
    """The writer's log reader leaves the site out (all appends are its own); an
    append made elsewhere reaches it by a nudge at once, or, when nobody nudges
    (a process without a relay), by the writer's check of the log each second."""
    async with node(hall_url, writer=True) as a, node(hall_url, writer=False) as b:
        assert isinstance(a.engine.log, RedisLog) and SITE in a.engine.log.muted
        assert isinstance(b.engine.log, RedisLog) and SITE not in b.engine.log.muted

        def anything(state: HallState) -> None:  # a guard that cannot travel: runs at b
            pass

        a.relay.log_check_s = math.inf  # the nudge alone, never the check
        here = await b.engine.execute({"type": "call_next", "counter": "L1"}, guard=anything)
        async with asyncio.timeout(5):
            await a.engine.wait_for_version(here.version)
        assert b.relay.forwarded == 0
        a.relay.log_check_s = LOG_CHECK_S

        # The writer's own append wakes its reader, which then leaves the site out again.
        await a.engine.execute({"type": "issue_ticket", "service": "ktp"})
        await asyncio.sleep(0.05)
        log_c = open_log(hall_url)  # a process that does not relay at all
        try:
            c = await engine_on(log_c)
            there = await c.execute({"type": "complete", "counter": "L1"})
        finally:
            await log_c.close()
        async with asyncio.timeout(5):
            await a.engine.wait_for_version(there.version)
        assert a.engine.state.counters["L1"].ticket is None
        async with asyncio.timeout(5):  # and it leaves the site out again
            while SITE not in a.engine.log.muted:  # noqa: ASYNC110
                await asyncio.sleep(0.01)


@pytest.mark.parametrize("appended", [False, True], ids=["before-its-append", "after-it"])
async def test_a_writer_that_fails_a_command_has_it_done_once(
    hall_url: str, appended: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """The writer's own Redis calls failing (an outage, a timeout) is answered as an
    error, and the sender runs the command itself, with the same id, so its caller sees
    this process's own outcome and error types. Had the append gone through, its
    events answer the sender, or the error answer arrives first and the sender's run
    finds the command done (its id). Either way the command acts once."""
    async with node(hall_url, writer=True) as a, node(hall_url, writer=False) as b:
        submit = a.engine.submit

        async def fail(cmd: Command, guard: Any, via: str | None) -> Any:
            if appended:
                await submit(cmd, guard, via=via)  # appended, then "lost the reply"
            raise RedisTimeoutError("Timeout reading from socket")

        def failing(cmd: Command, guard: Any = None, *, via: str | None = None) -> Any:
            return asyncio.ensure_future(fail(cmd, guard, via))

        a.engine.submit = failing  # type: ignore[method-assign]
        result = await b.engine.execute({"type": "call_next", "counter": "L1"})
        if not appended:  # appended: its events or the error answer may reach b first
            assert b.relay.fallbacks == 1
        await settled(a, b)
        entries = await b.engine.log.read(SITE)
    calls = [d for _, d in entries if d["type"] == "ticket_called"]
    assert len(calls) == 1 and result.events[-1][1]["ticket"] == calls[0]["ticket"]
    assert "data_received() call failed" not in caplog.text  # failed, not crashed


async def test_a_socket_timeout_in_the_url_does_not_cut_the_channel_or_the_reader(
    hall_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A URL's socket_timeout is for commands: the blocking reads (the relay's channel,
    the log reader) wait as long as they need, instead of reconnecting every 0.25 s."""
    url = hall_url + "&socket_timeout=0.25"
    async with node(url, writer=True) as a, node(url, writer=False) as b:
        # Quiet, four socket timeouts long: the loop runs their timers (due first) before
        # it ends, so a read cut by one has failed by then.
        await asyncio.sleep(1.0)
        assert a.relay.listening.is_set() and b.relay.listening.is_set()
        await b.engine.execute({"type": "call_next", "counter": "L1"})
        assert (b.relay.forwarded, b.relay.fallbacks) == (1, 0)
    assert "relay channel failed" not in caplog.text
    assert "event log reader failed" not in caplog.text
