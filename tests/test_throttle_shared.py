"""Where sign-in failures are counted: the local stores and the Redis ones keep the
same contract, and on Redis every process shares one count, so more server
processes do not multiply a limit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from api_client import Api
from live_server import LiveServer

from qms.accounts.guard import PER_USER_AND_PLACE
from qms.accounts.throttle import (
    KNOWN_PLACE_S,
    FailureLog,
    LocalFailures,
    LocalPlaces,
    Places,
    RedisFailures,
    RedisPlaces,
)
from qms.server.throttle import TICKET_MISS

NOW = 1_700_000_000.0


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Any]:
    redis = aioredis.Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


Make = Callable[[int, float], FailureLog]


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
async def stores(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[Make, Callable[[], Places]]]:
    if request.param == "local":
        yield (lambda keep, window: LocalFailures(keep, window)), LocalPlaces
        return
    redis = aioredis.Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = f"t{uuid.uuid4().hex}"
    yield (
        (lambda keep, window: RedisFailures(redis, prefix, "user", keep, window)),
        (lambda: RedisPlaces(redis, prefix)),
    )
    keys = [k async for k in redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def test_add_answers_the_failures_before_it_within_the_window(
    stores: tuple[Make, Callable[[], Places]],
) -> None:
    failures = stores[0](3, 300)
    seen = [(await failures.add("budi", NOW + i))[1] for i in range(4)]
    assert seen == [[], [NOW], [NOW, NOW + 1], [NOW, NOW + 1, NOW + 2]]
    assert (await failures.add("ani", NOW + 4))[1] == []  # per key
    _, later = await failures.add("budi", NOW + 301.5)  # NOW and NOW+1 left the window
    assert later == [NOW + 2, NOW + 3]  # and only the 3 most recent are kept


async def test_remove_and_forget(stores: tuple[Make, Callable[[], Places]]) -> None:
    failures = stores[0](5, 60)
    await failures.add("a", NOW)
    mark, _ = await failures.add("a", NOW + 1)
    await failures.remove("a", mark)
    assert (await failures.add("a", NOW + 2))[1] == [NOW]
    await failures.forget("a")
    assert (await failures.add("a", NOW + 3))[1] == []
    await failures.remove("nobody", "0:0")  # harmless
    await failures.forget("nobody")


async def test_parallel_attempts_each_see_the_ones_before(
    stores: tuple[Make, Callable[[], Places]],
) -> None:
    """Ten guesses at once: each is counted before it is checked, and each sees a
    different number before it, so a limit of 5 lets exactly 5 through."""
    failures = stores[0](PER_USER_AND_PLACE.keep, PER_USER_AND_PLACE.window_s)
    seen = await asyncio.gather(*(failures.add("budi", NOW) for _ in range(10)))
    allowed = [before for _, before in seen if PER_USER_AND_PLACE.wait(before, NOW) == 0]
    assert len(allowed) == 5


async def test_known_places(stores: tuple[Make, Callable[[], Places]]) -> None:
    places = stores[1]()
    assert not await places.known("budi", "10.0.0.1", NOW)
    await places.remember("budi", "10.0.0.1", NOW)
    assert await places.known("budi", "10.0.0.1", NOW + KNOWN_PLACE_S - 1)
    assert not await places.known("budi", "10.0.0.1", NOW + KNOWN_PLACE_S)
    assert not await places.known("ani", "10.0.0.1", NOW)
    assert not await places.known("budi", "10.0.0.2", NOW)


def test_local_memory_is_bounded() -> None:
    failures = LocalFailures(keep=1, window_s=60, max_keys=100)

    async def fill() -> None:
        for i in range(1000):
            await failures.add(f"10.0.{i // 256}.{i % 256}", NOW)
        assert len(failures._failures) == 100
        assert (await failures.add("10.0.3.231", NOW))[1] == [NOW]  # the most recent are kept

    asyncio.run(fill())


@pytest.mark.redis
async def test_processes_on_one_redis_share_the_count(client: Any) -> None:
    prefix = f"t{uuid.uuid4().hex}"
    one, two = (RedisFailures(client, prefix, "user", 4, 60) for _ in range(2))
    await one.add("budi", NOW)
    await two.add("budi", NOW + 1)
    assert (await one.add("budi", NOW + 2))[1] == [NOW, NOW + 1]
    await one.forget("budi")
    assert (await two.add("budi", NOW + 3))[1] == []
    places_one, places_two = RedisPlaces(client, prefix), RedisPlaces(client, prefix)
    await places_one.remember("budi", "2001:db8::/64", NOW)
    assert await places_two.known("budi", "2001:db8::/64", NOW)


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_servers_on_one_redis_log_share_the_sign_in_limit(
    tmp_path: Path, redis_log_url: str
) -> None:
    """Wrong passwords from one place spread over two server processes reach the
    per-user-and-place limit together: the next attempt from there is refused
    (429) by either, a right password too; from another place it is not."""
    with (
        LiveServer(tmp_path / "a", log_url=redis_log_url) as a,
        LiveServer(tmp_path / "b", log_url=redis_log_url) as b,
    ):
        a.cli("user", "add", "budi", "--role", "admin", input="rahasia-123\n")
        servers = [Api(a.url), Api(b.url)]
        there, elsewhere = "192.0.2.7", "198.51.100.9"

        def sign_in(client: Api, password: str, place: str) -> Any:
            body = {"username": "budi", "password": password}
            return client.call("POST", "/api/v1/session", body, headers={"X-Forwarded-For": place})

        for i in range(PER_USER_AND_PLACE.count):
            wrong = sign_in(servers[i % 2], f"salah-{i}", there)
            assert wrong.status == 401, wrong.body
        for client in servers:
            refused = sign_in(client, "rahasia-123", there)
            assert refused.status == 429 and refused.code == "too_many_requests"
        for client in servers:
            ok = sign_in(client, "rahasia-123", elsewhere)
            assert ok.status == 200, ok.body


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_servers_on_one_redis_log_share_the_ticket_miss_limit(
    tmp_path: Path, redis_log_url: str
) -> None:
    """Guessed ticket refs spread over two server processes reach the per-address
    limit together (one throttle for sign-in and ticket misses): then either
    answers 429, while another address still gets its 404."""
    with (
        LiveServer(tmp_path / "a", log_url=redis_log_url) as a,
        LiveServer(tmp_path / "b", log_url=redis_log_url) as b,
    ):
        servers = [Api(a.url), Api(b.url)]
        guesser = {"X-Forwarded-For": "192.0.2.77"}
        for i in range(TICKET_MISS.rule.count):
            miss = servers[i % 2].call("GET", f"/api/v1/tickets/x.guess{i}", headers=guesser)
            assert miss.status == 404 and miss.code == "unknown_ticket", miss.body
        for client in servers:
            refused = client.call("GET", "/api/v1/tickets/x.more", headers=guesser)
            assert refused.status == 429 and refused.code == "too_many_requests"
        other = {"X-Forwarded-For": "198.51.100.77"}
        assert servers[1].call("GET", "/api/v1/tickets/x.y", headers=other).status == 404
