"""The Redis reader survives a server restart: the subscriber misses nothing, repeats nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis_server import RedisServer, require_redis_server_executable

from qms.eventlog import Entry
from qms.eventlog.redis import RedisLog

pytestmark = [pytest.mark.redis, pytest.mark.slow]

SITE = "mpp-restart"
WAIT = 20.0


def ev(n: int) -> dict[str, Any]:
    return {"type": "ticket_called", "schema": 1, "n": n}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    exe = require_redis_server_executable()
    args = ("--appendonly", "yes", "--appendfsync", "always")
    with RedisServer(args=args, dir=tmp_path, executable=exe) as srv:
        yield srv


@pytest.fixture
async def log(server: RedisServer) -> AsyncIterator[RedisLog]:
    the_log = RedisLog(server.url, prefix="restart")
    yield the_log
    await the_log.close()


async def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.01)


async def take(it: AsyncIterator[Entry], n: int) -> list[Entry]:
    async def go() -> list[Entry]:
        return [await anext(it) for _ in range(n)]

    return await asyncio.wait_for(go(), WAIT)


async def test_subscriber_gets_everything_across_a_restart(
    server: RedisServer, log: RedisLog
) -> None:
    await log.append(SITE, 0, [ev(1), ev(2)])
    sub = log.subscribe(SITE)
    try:
        assert [v for v, _ in await take(sub, 2)] == [1, 2]
        await log.append(SITE, 2, [ev(3)])
        assert await take(sub, 1) == [(3, ev(3))]  # the process's own: not via the reader
        await eventually(lambda: log.reader_alive, "the reader connects")
        assert log.reader_error is None
        epoch = await log.epoch(SITE)

        await asyncio.to_thread(server.stop)
        await eventually(lambda: not log.reader_alive, "the reader notices the server is gone")
        assert log.reader_error is not None
        await asyncio.to_thread(server.start)
        await eventually(lambda: log.reader_alive, "the reader reconnects")

        assert await log.epoch(SITE) == epoch  # the AOF kept the log
        version = 3
        for n in range(4, 54):
            version = await log.append(SITE, version, [ev(n)])
        got = await take(sub, 50)
        assert got == [(n, ev(n)) for n in range(4, 54)]
        assert log.reader_alive and log.reader_error is None
    finally:
        await sub.aclose()


async def test_entries_appended_while_the_reader_is_down_are_delivered(
    server: RedisServer, log: RedisLog
) -> None:
    """Another process appends while this reader backs off: resumed from its cursor."""
    sub = log.subscribe(SITE)
    try:
        await log.append(SITE, 0, [ev(1)])
        assert await take(sub, 1) == [(1, ev(1))]

        await asyncio.to_thread(server.restart)
        # Right after the restart, before (or while) the reader reconnects:
        other = RedisLog(server.url, prefix="restart")
        try:
            await other.append(SITE, 1, [ev(2), ev(3)])
        finally:
            await other.close()
        assert await take(sub, 2) == [(2, ev(2)), (3, ev(3))]
        await eventually(lambda: log.reader_alive, "the reader reconnects")
        await log.append(SITE, 3, [ev(4)])
        assert await take(sub, 1) == [(4, ev(4))]
    finally:
        await sub.aclose()
