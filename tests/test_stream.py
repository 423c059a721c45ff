"""The live stream against a real `qms serve` (uvicorn on a free port), with real
websocket clients: resume, snapshots, audiences, origins, formats, slow consumers,
heartbeats and a restart. Every wait has a deadline; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Coroutine, Iterator
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
from stream_client import MSGPACK, StalledClient, StreamClient
from websockets.exceptions import ConnectionClosed

from qms.server.stream.wire import Close


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    env = {"QMS_STREAM_HELLO_TIMEOUT_S": "1"}
    with live_hall(tmp_path_factory.mktemp("stream"), **STREAM, env=env) as h:
        yield h


async def closing(h: LiveHall, test: Coroutine[Any, Any, None]) -> None:
    """Run a live test on its own server; its clients are closed whatever happens."""
    try:
        await test
    finally:
        await h.close_clients()


async def act(fn: Any, *args: Any, **kw: Any) -> Any:
    """Run a blocking HTTP call off the event loop (so clients keep reading)."""
    return await asyncio.to_thread(fn, *args, **kw)


async def joined(client: StreamClient, **hello: Any) -> dict[str, Any]:
    """Connect, and read the snapshot when the welcome says one follows."""
    welcome = await client.connect(**hello)
    if welcome["resume"] == "snapshot":
        snapshot = await client.recv()
        assert snapshot["type"] == "snapshot" and snapshot["version"] == welcome["version"]
    return welcome


async def refused(client: StreamClient, **hello: Any) -> int | None:
    """The close code of a connection the server refuses (after the hello, if any)."""
    await client.open()
    if hello:
        with contextlib.suppress(ConnectionClosed):  # it may have closed already
            await client.send({"type": "hello", **hello})
    return await client.read_until_closed()


# --- resume ------------------------------------------------------------------------------


async def test_a_fresh_display_gets_a_snapshot_then_live_events(hall: LiveHall) -> None:
    display = hall.client("display")
    welcome = await display.connect()
    assert welcome["resume"] == "snapshot" and welcome["version"] == hall.version()
    snapshot = await display.recv()
    view = snapshot["view"]
    assert [c["counter"] for c in view["counters"]] == ["L1", "L2", "L3"]
    assert view["site"] == {"id": SITE, "name": f"MPP {SITE}", "timezone": "Asia/Jakarta"}
    ticket = await act(hall.issue, "kk")
    await display.read_until(hall.version())
    assert display.typed("ticket_issued")[-1]["number"] == ticket["number"]
    await display.close()


async def test_resume_gets_exactly_the_missed_events(hall: LiveHall) -> None:
    watcher = hall.client("display")  # stays connected: what a client that never left saw
    await joined(watcher)
    display = hall.client("display")
    await joined(display)
    await display.close()
    left_at = display.version
    assert left_at is not None
    for service in ("ktp", "ktp", "pkb"):
        await act(hall.issue, service)
    await act(hall.call_next, "officer", "L1")
    await act(
        hall.who["supervisor"].ok, "POST", f"/api/v1/sites/{SITE}/broadcast", {"text": "Halo"}
    )
    now = hall.version()
    assert now - left_at >= 5

    welcome = await display.connect()
    assert welcome["resume"] == "replay" and welcome["version"] == now
    await display.read_until(now)
    assert display.event_versions()[-(now - left_at) :] == list(range(left_at + 1, now + 1))
    await watcher.read_until(now)
    missed = now - left_at  # the very bytes a client that never left got live:
    assert display.event_frames[-missed:] == watcher.event_frames[-missed:]

    await act(hall.issue, "kk")  # and live again, with no gap
    await display.read_until(now + 1)
    for client in (display, watcher):
        await client.close()


async def test_a_client_that_saw_everything_gets_nothing_but_live_events(hall: LiveHall) -> None:
    display = hall.client("display")
    await joined(display)
    await display.close()
    welcome = await display.connect()
    assert (welcome["resume"], welcome["version"]) == ("current", display.version)
    await act(hall.issue, "ktp")
    message = await display.recv()
    assert message["type"] == "event" and message["version"] == welcome["version"] + 1
    await display.close()


async def test_a_stale_or_unknown_epoch_gets_a_snapshot(hall: LiveHall) -> None:
    now = hall.version()
    for hello in (
        {"epoch": "0" * 32, "version": 3},  # another incarnation of the log
        {"epoch": None, "version": None},  # a brand-new display
    ):
        display = hall.client("display")
        welcome = await display.connect(**hello)
        assert welcome["resume"] == "snapshot"
        snapshot = await display.recv()
        assert snapshot["type"] == "snapshot" and snapshot["version"] >= now
        epoch = snapshot["epoch"]
        await display.close()
    ahead = hall.client("display")  # claims versions this log never had
    welcome = await ahead.connect(epoch=epoch, version=now + 1000)
    assert welcome["resume"] == "snapshot"
    await ahead.close()


# --- formats -----------------------------------------------------------------------------


async def test_msgpack_subprotocol(hall: LiveHall) -> None:
    packed = hall.client("display", subprotocol=MSGPACK)
    plain = hall.client("display")
    await joined(packed)
    await joined(plain)
    assert packed.ws is not None and packed.ws.subprotocol == MSGPACK
    assert plain.ws is not None and plain.ws.subprotocol is None
    await packed.send({"type": "ping"})
    pong = await packed.recv()
    assert pong == {"type": "pong", "version": packed.version}
    await act(hall.issue, "pkb")
    await act(hall.call_next, "officer_elsewhere", "L2")
    now = hall.version()
    await packed.read_until(now)
    await plain.read_until(now)
    assert all(isinstance(f, bytes) for f in packed.frames)
    assert all(isinstance(f, str) for f in plain.frames)
    assert packed.events[-2:] == plain.events[-2:]
    for client in (packed, plain):
        await client.close()


async def test_each_event_is_encoded_once_per_audience_and_format(hall: LiveHall) -> None:
    clients = [hall.client("display") for _ in range(5)]
    clients += [hall.client("display", subprotocol=MSGPACK) for _ in range(3)]
    clients += [hall.client("supervisor", "supervisor") for _ in range(2)]
    for client in clients:
        await joined(client)
    before = hall.metrics()["frames_encoded"]
    for _ in range(3):
        await act(hall.issue, "kk")
    now = hall.version()
    for client in clients:
        await client.read_until(now)
    assert hall.metrics()["frames_encoded"] - before == 3 * 3  # 3 events x 3 groups, not x 10
    for client in clients:
        await client.close()


async def test_clients_joining_while_events_flow_see_each_version_once(hall: LiveHall) -> None:
    """Joins race the fan-out (which runs after the command's reply, a slice at a time):
    whoever joins between an event and its delivery gets it exactly once."""
    start = hall.version()
    watcher = hall.client("display")
    await joined(watcher)

    def produce() -> None:
        for i in range(30):
            hall.issue("ktp" if i % 2 else "kk")

    producing = asyncio.create_task(act(produce))
    clients = []
    while not producing.done():
        batch = [hall.client("display") for _ in range(5)]
        await asyncio.gather(*(joined(c) for c in batch))  # recv checks gaps and repeats
        clients += batch
    await producing
    now = hall.version()
    assert now == start + 30 and len(clients) >= 5
    for client in [watcher, *clients]:
        await client.read_until(now, within=20)
        assert client.version == now
    assert watcher.event_versions() == list(range(start + 1, now + 1))
    await asyncio.gather(*(c.close() for c in [watcher, *clients]))


async def test_device_tokens_stay_out_of_the_server_log(hall: LiveHall) -> None:
    display = hall.client("display")
    await joined(display)
    await display.close()
    log = hall.server.output_path.read_text(errors="replace")
    assert "stream?token=[redacted]" in log  # uvicorn's websocket line, without the secret
    assert hall.tokens["display"] not in log


async def test_long_lived_objects_are_frozen_after_joins(hall: LiveHall) -> None:
    """The server freezes what start-up and joining clients made (full collections
    then skip it); see qms.server.process.GcPolicy."""
    before = await act(hall.metrics)
    assert before["gc_freezes"] >= 1 and before["gc_frozen"] > 0
    display = hall.client("display")
    await joined(display)
    async with asyncio.timeout(10):
        while True:
            if (await act(hall.metrics))["gc_freezes"] > before["gc_freezes"]:
                break
            await asyncio.sleep(0.05)  # the freeze follows joins by QMS_STREAM_GC_FREEZE_S
    await act(hall.issue, "ktp")  # and the stream goes on
    await display.read_until(hall.version())
    await display.close()


async def test_survivors_of_a_full_collection_are_frozen_too() -> None:
    """Commands keep making long-lived objects; after the interpreter walked them in a
    full collection, GcPolicy freezes them (within WATCH_S), so the next full
    collection walks only what is new. Its own collections do not count."""
    from qms.server.process import GcPolicy

    class Watched(GcPolicy):
        """Counts the policy's looks, so the test waits for looks, not for time."""

        looks = 0

        def _watch_now(self) -> None:
            super()._watch_now()
            self.looks += 1

    async def looked_twice(policy: Watched) -> None:
        seen = policy.looks
        async with asyncio.timeout(5):
            while policy.looks < seen + 2:  # noqa: ASYNC110
                await asyncio.sleep(0.01)

    policy = Watched(freeze_delay_s=60, reclaim_s=3600)
    policy.WATCH_S = 0.05
    policy.start()
    try:
        started = policy.freezes
        gc.disable()  # no automatic collection in between: only ours count
        try:
            await looked_twice(policy)
            assert policy.freezes == started  # nothing collected: nothing to freeze
            gc.collect()
            async with asyncio.timeout(5):
                while policy.freezes == started:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            await looked_twice(policy)
            assert policy.freezes == started + 1  # its own collection did not count
        finally:
            gc.enable()
    finally:
        policy.stop()
    gc.unfreeze()  # leave the test process as it was


def test_redact() -> None:
    from qms.server.process import redact

    assert redact("GET /s/x/stream?token=abc.def&z=1") == "GET /s/x/stream?token=[redacted]&z=1"
    assert redact("/d?zone=A&display_token=s3cr3t") == "/d?zone=A&display_token=[redacted]"
    assert redact("/healthz") == "/healthz"


# --- who may listen ----------------------------------------------------------------------

FORBIDDEN = [
    ("anonymous", {"audience": "display"}, Close.NOT_AUTHENTICATED),
    ("revoked", {"audience": "display"}, Close.NOT_AUTHENTICATED),
    ("kiosk", {"audience": "display"}, Close.FORBIDDEN),
    ("display", {"audience": "console", "counter": "L1"}, Close.FORBIDDEN),
    ("display", {"audience": "supervisor"}, Close.FORBIDDEN),
    ("display_b", {"audience": "display", "zone": "A"}, Close.FORBIDDEN),
    ("officer", {"audience": "supervisor"}, Close.FORBIDDEN),
    ("officer", {"audience": "console", "counter": "L2"}, Close.FORBIDDEN),  # sari's
    ("supervisor_elsewhere", {"audience": "display"}, Close.FORBIDDEN),
    ("admin", {"audience": "console", "counter": "L9"}, Close.NOT_FOUND),
]


@pytest.mark.parametrize(("who", "hello", "code"), FORBIDDEN, ids=lambda x: str(x))
async def test_who_may_not_listen(
    hall: LiveHall, who: str, hello: dict[str, Any], code: int
) -> None:
    assert await refused(hall.client(who), type="hello", **hello) == code


ALLOWED = [
    ("display", {"audience": "display"}),
    ("display_b", {"audience": "display"}),
    ("officer", {"audience": "display"}),
    ("officer", {"audience": "console", "counter": "L1"}),
    ("supervisor", {"audience": "console", "counter": "L2"}),
    ("supervisor", {"audience": "supervisor"}),
    ("admin", {"audience": "supervisor"}),
]


@pytest.mark.parametrize(("who", "hello"), ALLOWED, ids=lambda x: str(x))
async def test_who_may_listen(hall: LiveHall, who: str, hello: dict[str, Any]) -> None:
    client = hall.client(who)
    welcome = await joined(client, **hello)
    assert welcome["audience"] == hello["audience"]
    if who == "display_b":
        assert welcome["zone"] == "B"  # a zoned display is held to its zone
    await client.close()


async def test_unknown_site(hall: LiveHall) -> None:
    client = hall.client("admin")
    client.site = "no-such-site"
    assert await refused(client, type="hello", audience="display") == Close.NOT_FOUND


async def test_a_foreign_origin_is_refused(hall: LiveHall) -> None:
    for who in ("display", "supervisor"):
        evil = hall.client(who, origin="https://evil.example")
        assert await refused(evil) == Close.FORBIDDEN  # before any hello
    own = hall.client("supervisor", origin=hall.server.url)  # the server's own pages
    assert (await joined(own))["resume"] == "snapshot"
    await own.close()


# --- what each audience sees ----------------------------------------------------------------


async def test_audiences_see_only_what_they_may(hall: LiveHall) -> None:
    clients = {
        "display": hall.client("display"),
        "display_b": hall.client("display_b"),
        "console": hall.client("officer", "console", counter="L1"),
        "supervisor": hall.client("supervisor", "supervisor"),
    }
    for client in clients.values():
        await joined(client)
    tickets = [await act(hall.issue, "ktp", priority="lansia") for _ in range(2)]
    tokens = [t["ref"].split(".", 1)[1] for t in tickets]
    await act(hall.call_next, "officer", "L1")
    await act(hall.press, "officer", "L1", "recall")
    await act(hall.call_next, "officer_elsewhere", "L2")
    sup = hall.who["supervisor"]
    await act(
        sup.ok, "POST", f"/api/v1/sites/{SITE}/broadcast", {"text": "Zona A saja", "zone": "A"}
    )
    now = hall.version()
    for client in clients.values():
        await client.read_until(now)

    for name in ("display", "display_b"):
        raw = "\n".join(str(f) for f in clients[name].frames)
        for secret in [*tokens, "budi", "sari", "lansia", '"by"', '"officer"', '"cid"']:
            assert secret not in raw, f"{secret} reached {name}"
    called = clients["display"].typed("ticket_called")
    assert [c["counter"] for c in called[-2:]] == ["L1", "L2"]
    zone_b = clients["display_b"]
    assert not zone_b.typed("ticket_called")[-2:]  # L1 and L2 are zone A
    assert "Zona A saja" not in "".join(str(f) for f in zone_b.frames)
    assert zone_b.events[-1] == (now, None)  # the broadcast's version, without the event

    console = "\n".join(str(f) for f in clients["console"].frames)
    assert "budi" in console and "sari" not in console
    assert not any(t in console for t in tokens)
    supervisor = "\n".join(str(f) for f in clients["supervisor"].frames)
    assert "budi" in supervisor and "sari" in supervisor
    assert not any(t in supervisor for t in tokens)
    for client in clients.values():
        await client.close()


async def test_a_console_ends_when_another_officer_takes_its_counter(hall: LiveHall) -> None:
    console = hall.client("officer", "console", counter="L3")
    assert await refused(console, type="hello", audience="console", counter="L3") == 4403
    await act(hall.press, "admin", "L3", "open", {"officer": "budi"})
    console = hall.client("officer", "console", counter="L3")
    await joined(console)
    await act(hall.press, "admin", "L3", "close")
    await console.read_until(hall.version())  # a closed counter still shows, to its officer
    await act(hall.press, "supervisor", "L3", "open")  # now the supervisor's
    assert await console.read_until_closed() == Close.FORBIDDEN
    await act(hall.press, "admin", "L3", "close")


# --- protocol errors ---------------------------------------------------------------------


async def test_protocol_errors(hall: LiveHall) -> None:
    bad_first = hall.client("display")
    await bad_first.open()
    assert bad_first.ws is not None
    await bad_first.ws.send("not json")
    assert await bad_first.read_until_closed() == Close.PROTOCOL_ERROR

    silent = hall.client("display")  # no hello within QMS_STREAM_HELLO_TIMEOUT_S
    assert await refused(silent) == Close.TIMEOUT

    chatty = hall.client("display")
    await joined(chatty)
    await chatty.send({"type": "hello", "audience": "display"})
    assert await chatty.read_until_closed() == Close.PROTOCOL_ERROR

    big = hall.client("display")
    await joined(big)
    await big.send({"type": "ping", "pad": "x" * 5000})
    assert await big.read_until_closed() == Close.MESSAGE_TOO_BIG


# --- slow consumers --------------------------------------------------------------------------


def test_a_slow_consumer_is_cut_off_and_recovers_by_resuming(tmp_path: Path) -> None:
    env = {"QMS_STREAM_QUEUE_BYTES": "16384"}
    with live_hall(tmp_path, **STREAM, env=env) as h:
        asyncio.run(closing(h, _slow_consumer(h)))


async def _slow_consumer(h: LiveHall) -> None:
    fast = h.client("display")
    await joined(fast)
    slow = StalledClient(h.server.ws_url, SITE, h.tokens["display"])
    await act(slow.connect)  # then stops reading: a TV whose network stalled
    text = "Mohon maaf, sistem antrean sedang padat. " * 4

    def produce() -> int:
        """Broadcast until the server reports a slow consumer (at most 5,000 events)."""
        sup = h.who["supervisor"]
        for i in range(5000):
            sup.ok("POST", f"/api/v1/sites/{SITE}/broadcast", {"text": f"{i} {text}"[:200]})
            if i % 25 == 24 and h.metrics().get("slow_consumers"):
                return i + 1
        raise AssertionError("the stalled client was never cut off")

    producing = asyncio.create_task(act(produce))
    while not producing.done():  # the fast client keeps up all along
        with contextlib.suppress(TimeoutError):
            await fast.recv(0.5)
    produced = await producing
    now = h.version()
    await fast.read_until(now, within=30)  # everything, in order (recv checks each version)
    assert produced >= 25

    code = await act(slow.drain)  # what the stalled client got before the cut, then the cut
    assert code == Close.SLOW_CONSUMER
    assert slow.version is not None and slow.version < now

    resumed = h.client("display")
    resumed.epoch, resumed.version = slow.epoch, slow.version
    welcome = await resumed.connect()
    assert welcome["version"] == now
    if welcome["resume"] == "replay":
        await resumed.read_until(now)
        assert resumed.event_versions() == list(range(slow.version + 1, now + 1))
    else:  # too far behind to be cheaper than a snapshot
        assert (await resumed.recv())["version"] == now
    await resumed.close()
    await fast.close()
    assert h.metrics()["slow_consumers"] == 1


# --- heartbeats --------------------------------------------------------------------------------


def test_heartbeats_and_rechecks(tmp_path: Path) -> None:
    env = {"QMS_STREAM_HEARTBEAT_S": "0.3", "QMS_STREAM_REAUTH_S": "0.3"}
    with live_hall(tmp_path, **STREAM, env=env) as h:
        asyncio.run(closing(h, _heartbeats(h)))
        asyncio.run(closing(h, _revoked_while_connected(h)))


def test_every_client_is_pinged_every_interval(tmp_path: Path) -> None:
    with live_hall(tmp_path, **STREAM, env={"QMS_STREAM_HEARTBEAT_S": "0.5"}) as h:
        asyncio.run(closing(h, _every_client_is_pinged(h)))


async def _every_client_is_pinged(h: LiveHall) -> None:
    """Pings go out one slice of the clients at a time, but each client gets one
    every interval, carrying the last version it was given (recv checks that)."""
    clients = [h.client("display") for _ in range(40)]  # more than the 16 heartbeat slots
    await asyncio.gather(*(joined(c) for c in clients))

    async def pinged(client: StreamClient) -> None:
        seen = len(client.pings)
        while len(client.pings) < seen + 3:  # three beats: the client is answered each time
            await client.recv(within=5)

    async with asyncio.timeout(20):
        await asyncio.gather(*(pinged(c) for c in clients))
    issuing = asyncio.create_task(act(h.issue, "ktp"))
    await asyncio.gather(*(c.read_until(h.version() + 1) for c in clients))
    await issuing
    assert h.metrics().get("silent_closed", 0) == 0
    await asyncio.gather(*(c.close() for c in clients))


async def _heartbeats(h: LiveHall) -> None:
    alive = h.client("display")  # answers every ping
    silent = h.client("display")
    silent.answer_pings = False
    for client in (alive, silent):
        welcome = await joined(client)
        assert welcome["heartbeat"] == 0.3
    closed = asyncio.Event()

    async def keep_alive() -> None:
        async with asyncio.timeout(10):
            while not closed.is_set():
                await alive.recv()
            outlived = len(alive.pings) + 3
            while len(alive.pings) < outlived:
                await alive.recv()

    reading = asyncio.create_task(keep_alive())
    assert await silent.read_until_closed(within=5) == Close.TIMEOUT  # after 3 intervals
    closed.set()
    assert silent.pings and silent.pings[-1] == silent.version
    await reading
    await act(h.issue, "ktp")
    await alive.read_until(h.version())
    await alive.close()


async def _revoked_while_connected(h: LiveHall) -> None:
    """A display's token revoked (by the CLI, another process) ends its stream."""
    tv = h.client("display_b")
    await joined(tv)
    ended = asyncio.create_task(tv.read_until_closed(within=20))  # answering pings meanwhile
    await act(h.server.cli, "device", "revoke", h.devices["display_b"])
    assert await ended == Close.NOT_AUTHENTICATED
    assert await refused(h.client("display_b"), type="hello", audience="display") == 4401


# --- restart ----------------------------------------------------------------------------------


def test_a_restart_says_going_away_and_nothing_is_lost(tmp_path: Path) -> None:
    with live_hall(tmp_path, **STREAM) as h:
        asyncio.run(closing(h, _restart(h)))


async def _restart(h: LiveHall) -> None:
    current = h.client("display")  # has seen everything when the server goes
    behind = h.client("display")  # left before two calls
    await joined(current)
    await joined(behind)
    await behind.close()
    for _ in range(2):
        await act(h.issue, "ktp")
    await act(h.press, "officer", "L1", "call-next")
    await act(h.press, "officer", "L1", "complete")
    await act(h.press, "officer", "L1", "call-next")
    before = h.version()
    await current.read_until(before)

    behind_at = behind.version
    assert behind_at is not None
    await act(h.server.stop, signal.SIGTERM)
    assert await current.read_until_closed() == Close.GOING_AWAY
    await act(h.server.start)

    welcome = await current.connect()  # nothing missed: nothing repeated either
    assert (welcome["resume"], welcome["version"]) == ("current", before)
    await act(h.issue, "kk")
    await current.read_until(before + 1)
    assert current.event_versions()[-1] == before + 1

    welcome = await behind.connect()  # a fresh process has no ring: a snapshot
    assert welcome["resume"] == "snapshot"
    snapshot = (await behind.recv())["view"]
    assert behind.version == before + 1
    missed = [c["number"] for c in snapshot["calls"] if c["version"] > behind_at]
    assert missed == ["A001", "A002"]  # with their versions: a display announces these
    for client in (current, behind):
        await client.close()


def test_close_codes_are_documented() -> None:
    text = (Path(__file__).parent.parent / "docs" / "protocol.md").read_text()
    for code in Close:
        assert f"| {code.value} " in text, f"docs/protocol.md does not list close code {code}"
