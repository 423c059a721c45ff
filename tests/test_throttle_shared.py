"""Sign-in throttles behind the server's async interface: the local one and the
Redis one keep the same contract, and on Redis every process shares one count,
so more server processes do not multiply the limit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from accounts_client import Client
from live_server import LiveServer

from qms.accounts.throttle import LocalThrottle, RedisThrottle
from qms.server.auth import USER_FAILURES

NOW = 1_700_000_000.0


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Any]:
    redis = aioredis.Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[int, float], Any]]:
    if request.param == "local":
        yield lambda limit, window: LocalThrottle(limit, window)
        return
    redis = aioredis.Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = f"t{uuid.uuid4().hex}"
    yield lambda limit, window: RedisThrottle(redis, prefix, "user", limit, window)
    keys = [k async for k in redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def test_the_limit_then_the_sliding_window(make: Callable[[int, float], Any]) -> None:
    throttle = make(3, 300)
    for i in range(3):
        assert await throttle.retry_after("budi", NOW + i) is None
        await throttle.failed("budi", NOW + i)
    assert await throttle.retry_after("budi", NOW + 3) == 297  # the first leaves at NOW+300
    assert await throttle.retry_after("ani", NOW + 3) is None  # per key
    assert await throttle.retry_after("budi", NOW + 299.5) == 1
    assert await throttle.retry_after("budi", NOW + 300) is None  # one slot free again
    await throttle.failed("budi", NOW + 300)
    assert await throttle.retry_after("budi", NOW + 300) == 1


async def test_undo_and_forget(make: Callable[[int, float], Any]) -> None:
    throttle = make(2, 60)
    await throttle.failed("a", NOW)
    mark = await throttle.failed("a", NOW + 1)
    assert await throttle.retry_after("a", NOW + 2)
    await throttle.undo("a", mark)
    assert await throttle.retry_after("a", NOW + 2) is None
    await throttle.failed("a", NOW + 2)
    await throttle.forget("a")
    assert await throttle.retry_after("a", NOW + 3) is None


@pytest.mark.redis
async def test_processes_on_one_redis_share_the_count(client: Any) -> None:
    prefix = f"t{uuid.uuid4().hex}"
    one, two = (RedisThrottle(client, prefix, "user", 4, 60) for _ in range(2))
    for i in range(2):
        await one.failed("budi", NOW + i)
        await two.failed("budi", NOW + i)
    assert await one.retry_after("budi", NOW + 3) == 57
    assert await two.retry_after("budi", NOW + 3) == 57
    await one.forget("budi")
    assert await two.retry_after("budi", NOW + 3) is None


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_servers_on_one_redis_log_share_the_sign_in_limit(
    tmp_path: Path, redis_log_url: str
) -> None:
    """Wrong passwords spread over two server processes reach the per-user limit
    together: the next attempt is refused (429) by either, a right password too."""
    with (
        LiveServer(tmp_path / "a", log_url=redis_log_url) as a,
        LiveServer(tmp_path / "b", log_url=redis_log_url) as b,
    ):
        a.cli("user", "add", "budi", "--role", "admin", input="rahasia-123\n")
        servers = [Client(a.url), Client(b.url)]
        for i in range(USER_FAILURES):
            wrong = servers[i % 2].request(
                "POST", "/api/v1/session", {"username": "budi", "password": f"salah-{i}"}
            )
            assert wrong.status == 401, wrong.json
        for client in servers:
            refused = client.request(
                "POST", "/api/v1/session", {"username": "budi", "password": "rahasia-123"}
            )
            assert refused.status == 429 and refused.code == "too_many_requests"
