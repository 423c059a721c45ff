"""The lean RESP connection (qms.eventlog.resp) and the push reader built on it, on a real Redis."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from qms.eventlog import keys
from qms.eventlog.redis import APPENDER_NAME, READER_NAME, RedisLog
from qms.eventlog.resp import RespConnection, pack

pytestmark = pytest.mark.redis
WAIT = 10.0


def test_pack_is_resp_bulk_strings() -> None:
    assert pack("SET", b"k\r\n", 12) == b"*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$2\r\n12\r\n"


async def test_replies_come_back_in_order_and_errors_are_redis_pys(redis_url: str) -> None:
    conn = await RespConnection.open(redis_url)
    key = f"t{uuid.uuid4().hex}"
    try:
        replies = await asyncio.gather(
            conn.call("SET", key, "1"),
            conn.call("INCRBY", key, 41),
            conn.call("GET", key),
            conn.call("DEL", key),
        )
        assert list(replies) == [b"OK", 42, b"42", 1]
        with pytest.raises(ResponseError, match="wrong number"):
            await conn.call("GET")
        assert await conn.call("PING") == b"PONG"  # the error did not shift the replies
        # A coded error reply is the class redis-py's own connections raise.
        with pytest.raises(NoScriptError):
            await conn.call("EVALSHA", "0" * 40, 0)
    finally:
        conn.close()


async def test_messages_go_to_the_callback_and_replies_still_match(redis_url: str) -> None:
    got: list[tuple[bytes, bytes]] = []
    arrived = asyncio.Event()

    def on_message(channel: bytes, data: bytes) -> None:
        got.append((channel, data))
        if len(got) == 3:
            arrived.set()

    channel = f"t{uuid.uuid4().hex}"
    sub = await RespConnection.open(redis_url, on_message)
    pub = aioredis.Redis.from_url(redis_url)
    try:
        assert await sub.call("SUBSCRIBE", channel) == [b"subscribe", channel.encode(), 1]
        for data in (b"a", b"\x00\xff", b"c" * 100_000):  # binary, and larger than one read
            assert await pub.publish(channel, data) == 1
        await asyncio.wait_for(arrived.wait(), WAIT)
        assert got == [(channel.encode(), d) for d in (b"a", b"\x00\xff", b"c" * 100_000)]
        assert await sub.call("PING") == [b"pong", b""]  # a reply, not a message
    finally:
        sub.close()
        await pub.aclose()


async def test_a_lost_link_fails_what_waits_and_what_comes_after(redis_url: str) -> None:
    conn = await RespConnection.open(redis_url)
    admin = aioredis.Redis.from_url(redis_url)
    try:
        client_id = await conn.call("CLIENT", "ID")
        waiting = conn.call("BLPOP", f"t{uuid.uuid4().hex}", 5)  # blocks until the kill
        await asyncio.sleep(0.05)
        assert await admin.client_kill_filter(_id=client_id) == 1
        with pytest.raises(RedisConnectionError):
            await asyncio.wait_for(waiting, WAIT)
        await asyncio.wait_for(conn.closed, WAIT)
        with pytest.raises(RedisConnectionError):
            await conn.call("PING")
    finally:
        conn.close()
        await admin.aclose()


async def test_the_reader_resubscribes_and_delivers_what_was_appended_while_cut_off(
    redis_log_url: str,
) -> None:
    """Pub/Sub loses what is published while a link is down: after the reader's link is
    killed, the entries appended meanwhile still arrive, in order, once each."""
    log, writer = RedisLog(*_split(redis_log_url)), RedisLog(*_split(redis_log_url))
    admin = aioredis.Redis.from_url(redis_log_url.split("?")[0])
    site = "mpp-push"
    ev: Any = lambda n: {"type": "ticket_called", "schema": 1, "n": n}  # noqa: E731
    try:
        sub = log.subscribe(site, 0)
        first = asyncio.ensure_future(anext(sub))
        await writer.append(site, 0, [ev(1)])
        assert (await asyncio.wait_for(first, WAIT))[0] == 1
        channel = keys.push(_split(redis_log_url)[1], site)
        for _ in range(3):  # the link is cut, entries are appended meanwhile, each time
            killed = await _kill_subscriber(admin, channel)
            assert killed == 1
            version = await writer.version(site)
            await writer.append(site, version, [ev(version + 1), ev(version + 2)])
        got = [(await asyncio.wait_for(anext(sub), WAIT))[0] for _ in range(6)]
        assert got == [2, 3, 4, 5, 6, 7]
        await writer.append(site, 7, [ev(8)])
        assert (await asyncio.wait_for(anext(sub), WAIT))[0] == 8
        await sub.aclose()
    finally:
        await log.close()
        await writer.close()
        await admin.aclose()


def _split(url: str) -> tuple[str, str]:
    base, prefix = url.rsplit("?prefix=", 1)
    return base, prefix


async def _kill_subscriber(admin: aioredis.Redis, channel: str) -> int:
    """Kill the connection subscribed to `channel`, once it has (re)subscribed."""
    for _ in range(500):
        clients = await admin.client_list()
        ids = [c["id"] for c in clients if c["name"] == READER_NAME and int(c["sub"])]
        subscribed = await admin.pubsub_numsub(channel)
        if ids and subscribed[0][1]:
            return int(await admin.client_kill_filter(_id=ids[0]))
        await asyncio.sleep(0.01)
    return 0


async def test_an_append_whose_link_was_cut_or_whose_script_was_forgotten_goes_through(
    redis_log_url: str,
) -> None:
    """The appender is a lean connection of its own: a killed link is replaced and the
    append sent again (once); a server that forgot the script (a restart, SCRIPT
    FLUSH) is given it again. Each append is written once."""
    log = RedisLog(*_split(redis_log_url))
    admin = aioredis.Redis.from_url(redis_log_url.split("?")[0])
    site = "mpp-append"
    ev: Any = lambda n: {"type": "ticket_called", "schema": 1, "n": n}  # noqa: E731
    try:
        assert await log.append(site, 0, [ev(1)]) == 1
        clients = await admin.client_list()
        ids = [c["id"] for c in clients if c["name"] == APPENDER_NAME]
        assert len(ids) == 1
        assert await admin.client_kill_filter(_id=ids[0]) == 1
        assert await log.append(site, 1, [ev(2)]) == 2  # on a new link
        link = log.link()
        assert link is not None
        link.close()  # the link breaks as the next append is sent: sent again
        assert await log.append(site, 2, [ev(3)]) == 3
        await admin.script_flush()
        assert await log.append(site, 3, [ev(4), ev(5)]) == 5  # the script loaded again
        assert [v for v, _ in await log.read(site)] == [1, 2, 3, 4, 5]
    finally:
        await log.close()
        await admin.aclose()
