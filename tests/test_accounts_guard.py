"""The sign-in rules (qms/accounts/guard.py) with a fixed clock, on the local stores
and on Redis: guessing is slowed, and a stranger's failures never lock the real
user out of their own place or their own browser."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from qms.accounts.guard import (
    PER_DEVICE,
    PER_PLACE,
    PER_USER,
    PER_USER_AND_PLACE,
    Limit,
    SignInGuard,
    Slowdown,
    Stores,
    Throttled,
)
from qms.accounts.sessions import DeviceClaims
from qms.accounts.throttle import LocalFailures, LocalPlaces, RedisFailures, RedisPlaces

NOW = 1_795_000_000.0


def test_a_limit_refuses_until_the_oldest_counted_leaves() -> None:
    limit = Limit(count=3, window_s=300)
    assert limit.wait([], NOW) == 0
    assert limit.wait([NOW - 2, NOW - 1], NOW) == 0
    assert limit.wait([NOW - 2, NOW - 1, NOW], NOW) == 298
    assert limit.wait([NOW - 400, NOW - 1, NOW], NOW) == 0  # one left the window


def test_a_slowdown_waits_seconds_after_the_last_failure_never_minutes() -> None:
    rule = Slowdown(after=10, window_s=900, first_s=1, step=10, max_s=30)
    assert [rule.delay(n) for n in (0, 9, 10, 19, 20, 30, 40, 50, 60, 1000)] == [
        0,
        0,
        1,
        1,
        2,
        4,
        8,
        16,
        30,
        30,
    ]
    nine = [NOW - 100 + i for i in range(9)]
    assert rule.wait(nine, NOW) == 0
    ten = [*nine, NOW - 0.25]
    assert rule.wait(ten, NOW) == 0.75  # 1 s after the last failure
    assert rule.wait(ten, NOW + 1) == 0
    old = [NOW - 1000 + i for i in range(60)]  # outside the window: forgotten
    assert rule.wait(old, NOW) == 0
    assert PER_USER.keep >= 60 and PER_USER.delay(PER_USER.keep) == PER_USER.max_s


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
async def guard(request: pytest.FixtureRequest) -> AsyncIterator[SignInGuard]:
    if request.param == "local":
        yield SignInGuard(
            Stores(
                per_user_and_place=LocalFailures(
                    PER_USER_AND_PLACE.keep, PER_USER_AND_PLACE.window_s
                ),
                per_place=LocalFailures(PER_PLACE.keep, PER_PLACE.window_s),
                per_user=LocalFailures(PER_USER.keep, PER_USER.window_s),
                per_device=LocalFailures(PER_DEVICE.keep, PER_DEVICE.window_s),
                places=LocalPlaces(),
            )
        )
        return
    redis = aioredis.Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = f"t{uuid.uuid4().hex}"

    def shared(name: str, rule: Limit | Slowdown) -> RedisFailures:
        return RedisFailures(redis, prefix, name, rule.keep, rule.window_s)

    yield SignInGuard(
        Stores(
            per_user_and_place=shared("user-place", PER_USER_AND_PLACE),
            per_place=shared("place", PER_PLACE),
            per_user=shared("user", PER_USER),
            per_device=shared("device", PER_DEVICE),
            places=RedisPlaces(redis, prefix),
        )
    )
    keys = [k async for k in redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def fail(
    guard: SignInGuard, user: str, place: str, now: float, device: object = None
) -> None:
    """One wrong password (counted), or `Throttled`."""
    await guard.enter(user, place, device, now)  # type: ignore[arg-type]


async def succeed(
    guard: SignInGuard, user: str, place: str, now: float, device: DeviceClaims | None = None
) -> None:
    attempt = await guard.enter(user, place, device, now)
    await guard.succeeded(attempt, now)


async def test_guessing_from_one_place_is_refused_there_only(guard: SignInGuard) -> None:
    for i in range(PER_USER_AND_PLACE.count):
        await fail(guard, "budi", "2001:db8:1:2::/64", NOW + i)
    with pytest.raises(Throttled) as refused:
        await succeed(guard, "budi", "2001:db8:1:2::/64", NOW + 10)  # even the right password
    assert refused.value.retry_after == PER_USER_AND_PLACE.window_s - 10
    await succeed(guard, "budi", "10.1.1.1", NOW + 10)  # the real user, elsewhere
    await succeed(guard, "ani", "2001:db8:1:2::/64", NOW + 10)  # another user, there


async def test_a_place_guessing_many_names_is_refused(guard: SignInGuard) -> None:
    for i in range(PER_PLACE.count):
        await fail(guard, f"nama{i}", "203.0.113.5", NOW + i)
    with pytest.raises(Throttled):
        await succeed(guard, "budi", "203.0.113.5", NOW + 30)
    await succeed(guard, "budi", "203.0.113.6", NOW + 30)


async def test_a_distributed_guesser_is_slowed_and_the_real_user_still_signs_in(
    guard: SignInGuard,
) -> None:
    """The lock-out attempt of issue 12: many places fail one user's password; the
    user signs in at once from their own place and from their own browser."""
    device = DeviceClaims("browser-of-budi", ("budi",), int(NOW))
    await succeed(guard, "budi", "10.20.30.40", NOW, device)  # yesterday, at the counter
    refused = 0
    for i in range(80):  # one wrong guess a second from a new place each time
        try:
            await fail(guard, "budi", f"198.51.{i // 250}.{i % 250}", NOW + 100 + i)
        except Throttled as exc:
            assert exc.retry_after <= PER_USER.max_s  # seconds, never minutes
            refused += 1
    assert refused > 30  # slowed: most of them were not even checked
    then = NOW + 180
    with pytest.raises(Throttled) as stranger:
        await succeed(guard, "budi", "192.0.2.99", then)  # an unknown place waits…
    assert stranger.value.retry_after <= PER_USER.max_s
    await succeed(guard, "budi", "10.20.30.40", then)  # …the user's own place does not
    await succeed(guard, "budi", "192.0.2.100", then, device)  # nor their own browser


async def test_a_trusted_browser_is_spared_the_strangers_limits(guard: SignInGuard) -> None:
    device = DeviceClaims("browser-1", ("budi",), int(NOW))
    for i in range(PER_USER_AND_PLACE.count):  # budi's password guessed at the hall…
        await fail(guard, "budi", "203.0.113.5", NOW + i)
    for i in range(PER_PLACE.count - PER_USER_AND_PLACE.count):  # …and others' names
        await fail(guard, f"nama{i}", "203.0.113.5", NOW + 10 + i)
    with pytest.raises(Throttled):  # the hall's NAT address is refused for strangers
        await fail(guard, "ani", "203.0.113.5", NOW + 40)
    await succeed(guard, "budi", "203.0.113.5", NOW + 40, device)
    with pytest.raises(Throttled):
        await succeed(guard, "budi", "203.0.113.5", NOW + 40)  # another browser, same place
    other = DeviceClaims("browser-1", ("ani",), int(NOW))  # trusted for ani, not for budi
    with pytest.raises(Throttled):
        await succeed(guard, "budi", "203.0.113.5", NOW + 40, other)


async def test_a_trusted_browser_that_fails_too_often_is_a_stranger(guard: SignInGuard) -> None:
    device = DeviceClaims("browser-2", ("budi",), int(NOW))
    for i in range(PER_DEVICE.count):
        await fail(guard, "budi", "10.0.0.1", NOW + i, device)
    # Its own count is full: now held to the strangers' rules, which still allow it…
    await fail(guard, "budi", "10.0.0.1", NOW + 10, device)
    for i in range(PER_USER_AND_PLACE.count - 1):
        await fail(guard, "budi", "10.0.0.1", NOW + 11 + i, device)
    with pytest.raises(Throttled):  # …until they refuse it too
        await succeed(guard, "budi", "10.0.0.1", NOW + 20, device)


async def test_a_success_takes_its_count_back_and_clears_the_place(guard: SignInGuard) -> None:
    for i in range(PER_USER_AND_PLACE.count - 1):
        await fail(guard, "budi", "10.0.0.1", NOW + i)
    await succeed(guard, "budi", "10.0.0.1", NOW + 10)  # typos, then the right one
    for i in range(PER_USER_AND_PLACE.count):  # a fresh count for this place
        await fail(guard, "budi", "10.0.0.1", NOW + 20 + i)
    with pytest.raises(Throttled):
        await fail(guard, "budi", "10.0.0.1", NOW + 30)
    for _ in range(3 * PER_PLACE.count):  # a hall signing in all day is never counted
        await succeed(guard, "ani", "10.0.0.2", NOW + 40)
