"""A Redis outage is an outage, not a crash; and the server comes back by itself.

Two real `qms serve` processes on a private redis-server (AOF, fsync always): A is
the site's writer, B forwards to it. The redis-server is killed (SIGKILL) while
both take commands, queries, sign-ins and stream admissions; then started again
on the same port and files. During the outage every answer that needed the log
is 503 `log_unavailable` with Retry-After (never a 500), every stream admission
closes 1013 (never 1011), and each process logs the outage once, not once per
request. After the restart the same processes serve again: commands on both (B
forwarding to the writer again), stream admissions, and a display that stayed
connected through the outage gets what happened after it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_client import PASSWORD, Api, Reply
from live_hall import SITE, USERS, live_hall
from live_server import LiveServer
from redis_server import RedisServer, require_redis_server_executable
from stream_client import StreamClient
from websockets.exceptions import ConnectionClosed

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(180)]

S = f"/api/v1/sites/{SITE}"
OUTAGE_S = 3.0  # how long the tests keep asking while Redis is down (> the 1 s accounts refresh)
RECOVERY_S = 30.0
STARTED = "event log unavailable"  # the one line a process logs when an outage begins
ENDED = "event log available again"
ENV = {
    "QMS_SECRET_KEY": "k" * 64,  # one session key: a cookie works on both processes
    "QMS_STREAM_REAUTH_S": "0.5",  # a connected display's credentials are checked during it
}


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    exe = require_redis_server_executable()
    args = ["--appendonly", "yes", "--appendfsync", "always"]
    server = RedisServer(args=args, dir=tmp_path / "redis", executable=exe)
    server.dir.mkdir(parents=True, exist_ok=True)
    server.start()
    try:
        yield server
    finally:
        server.close()


def _relay_view(url: str) -> dict[str, Any]:
    reply = Api(url).get("/readyz")
    assert reply.status == 200, reply
    view: dict[str, Any] = reply.body["relay"].get(SITE, {})
    return view


def _unavailable(reply: Reply) -> bool:
    """503 log_unavailable with a Retry-After in whole seconds."""
    retry = reply.headers.get("Retry-After") or ""
    return reply.status == 503 and reply.code == "log_unavailable" and retry.isdigit()


async def _admission(ws_url: str, token: str) -> int | None:
    """Open a display stream and say hello: None when welcomed, else the close code."""
    client = StreamClient(ws_url, SITE, "display", token=token)
    try:
        await client.open()
        try:
            await client.send({"type": "hello", "audience": "display"})
            message = await client.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None
        assert message["type"] == "welcome", message
        return None
    finally:
        await client.abort()


def _output(server: LiveServer) -> str:
    """Everything the server printed so far (`output()` is its tail only)."""
    return server.output_path.read_text(errors="replace")


def _outage_lines(server: LiveServer, marker: str) -> int:
    return sum(marker in line for line in _output(server).splitlines())


def test_a_redis_outage_is_answered_as_one_and_recovers_by_itself(
    tmp_path: Path, private_redis: RedisServer
) -> None:
    url = f"{private_redis.url}?prefix=outage"
    with live_hall(tmp_path, log_url=url, env=ENV, servers=2) as a:
        b = a.servers[1]
        asyncio.run(_ride_through(a.who, a.server, b, private_redis))


async def _ride_through(
    who: dict[str, Api], a: LiveServer, b: LiveServer, redis_server: RedisServer
) -> None:
    kiosk = {a.url: who["kiosk"], b.url: who["kiosk"].at(b.url)}
    officer = {a.url: who["officer"], b.url: who["officer"].at(b.url)}
    display_token = who["display"].token
    assert display_token is not None
    assert kiosk[b.url].get(f"{S}/counters").status == 200  # B opens the site
    deadline = time.monotonic() + 15
    while (_relay_view(a.url).get("writer"), _relay_view(b.url).get("writer")) != (
        "here",
        "elsewhere",
    ):
        assert time.monotonic() < deadline, "A never became the writer with B forwarding"
        await asyncio.sleep(0.05)  # polling with a deadline
    # A display that stays connected through the outage.
    staying = StreamClient(b.ws_url, SITE, "display", token=display_token)
    if (await staying.connect())["resume"] == "snapshot":
        await staying.recv()
    assert await _admission(a.ws_url, display_token) is None

    redis_server.kill()
    replies: list[tuple[str, Reply]] = []
    closes: list[int | None] = []
    asked = 0
    ends = time.monotonic() + OUTAGE_S
    while time.monotonic() < ends:
        asked += 1
        for server in (a, b):
            key = {"Idempotency-Key": f"during-{asked}"}
            issue = kiosk[server.url].post(f"{S}/tickets", {"service": "ktp"}, headers=key)
            replies.append(("command", issue))
            replies.append(("command", officer[server.url].post(f"{S}/counters/L1/call-next")))
            replies.append(("query", officer[server.url].get(f"{S}/counters")))
            username = USERS["supervisor"][0]
            sign_in = Api(server.url).post(
                "/api/v1/session", {"username": username, "password": PASSWORD}
            )
            replies.append(("sign-in", sign_in))
            closes.append(await _admission(server.ws_url, display_token))
    failures = [(kind, r) for kind, r in replies if not _unavailable(r)]
    # A query may be answered from memory; nothing else can be without the log.
    assert [(k, r) for k, r in failures if not (k == "query" and r.status == 200)] == []
    assert all(code == 1013 for code in closes if code is not None), closes
    assert closes.count(1013) >= 2, closes
    for server in (a, b):
        assert _outage_lines(server, STARTED) == 1, _output(server)
        assert "Traceback" not in _output(server), _output(server)

    redis_server.start()
    for server in (
        a,
        b,
    ):  # the same processes take commands again, each with one key however often it resends
        key = {"Idempotency-Key": f"after-the-outage-{server.port}"}
        deadline = time.monotonic() + RECOVERY_S
        while True:
            reply = kiosk[server.url].post(f"{S}/tickets", {"service": "kk"}, headers=key)
            if reply.status == 201:
                break
            assert _unavailable(reply), reply
            assert time.monotonic() < deadline, f"{server.url} did not recover: {reply!r}"
            await asyncio.sleep(0.1)  # polling with a deadline
        assert await _admission(server.ws_url, display_token) is None
    issued = reply.body["events"][-1]
    await staying.read_until(issued["version"], within=RECOVERY_S)  # nothing lost meanwhile
    assert staying.typed("ticket_issued")[-1]["number"] == issued["number"]
    await staying.close()
    for server in (a, b):  # ready again: the log reader and every follower are back
        deadline = time.monotonic() + RECOVERY_S
        while (ready := Api(server.url).get("/readyz")).status != 200:
            assert time.monotonic() < deadline, ready
            await asyncio.sleep(0.1)  # polling with a deadline
    # One of them writes again (the lease may have moved to B while Redis was back
    # before A renewed it), and the other forwards to it again.
    deadline = time.monotonic() + RECOVERY_S
    while {_relay_view(s.url).get("writer") for s in (a, b)} != {"here", "elsewhere"}:
        assert time.monotonic() < deadline, [_relay_view(s.url) for s in (a, b)]
        await asyncio.sleep(0.05)  # polling with a deadline
    sender = a if _relay_view(a.url)["writer"] == "elsewhere" else b
    forwarded = _relay_view(sender.url)["forwarded"]
    while _relay_view(sender.url)["forwarded"] == forwarded:  # it sends to the writer again
        assert time.monotonic() < deadline, _relay_view(sender.url)
        kiosk[sender.url].ok("POST", f"{S}/tickets", {"service": "pkb"})
    for server in (a, b):
        output = _output(server)
        assert "Traceback" not in output and " 500 " not in output, output
        assert _outage_lines(server, STARTED) == _outage_lines(server, ENDED) == 1, output
