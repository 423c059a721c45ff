"""Where sign-in throttling keeps its counts: failure times per key, and known places.

`FailureLog` keeps, per key (a username, an address group, a device…), the
times of the recent failures: the `keep` most recent (and the one being
checked), for `window_s` seconds.
`add(key, now)` records one *and* answers the failures recorded before it, in
one step: the caller decides on what came before its own attempt, so a burst of
parallel guesses cannot all slip through on one free slot. A refused or
successful attempt is taken back with `remove(key, mark)`.

`Places` remembers the address groups each user signed in from (for
`KNOWN_PLACE_S`): a place the user is known at is spared the per-user slowdown
(`qms.accounts.guard`).

Both come in two kinds behind one interface: in the process's memory (bounded:
the least recently used keys are forgotten beyond `max_keys`; a restart
forgets), right for the embedded log's single process; and in Redis beside a
Redis log, so every process counts together and more processes do not multiply
a limit. Keys are hashed in Redis (a username or address can be anything).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import secrets
from collections import OrderedDict
from typing import Any, Protocol

KNOWN_PLACE_S = 30 * 24 * 3600.0
MAX_PLACES = 16  # address groups remembered per user (the most recent)


class FailureLog(Protocol):
    async def add(self, key: str, now: float) -> tuple[str, list[float]]:
        """Record a failure at `now`: (its mark, the times of the failures before it)."""
        ...

    async def remove(self, key: str, mark: str) -> None:
        """Take back the failure `mark` (the attempt was refused, or succeeded)."""
        ...

    async def forget(self, key: str) -> None:
        """Drop every failure of `key`."""
        ...


class Places(Protocol):
    async def remember(self, username: str, place: str, now: float) -> None: ...

    async def known(self, username: str, place: str, now: float) -> bool: ...


class LocalFailures:
    """A `FailureLog` in this process's memory."""

    def __init__(self, keep: int, window_s: float, max_keys: int = 100_000) -> None:
        self.keep = keep
        self.window_s = window_s
        self.max_keys = max_keys
        self._failures: OrderedDict[str, list[tuple[float, str]]] = OrderedDict()
        self._serial = itertools.count()

    async def add(self, key: str, now: float) -> tuple[str, list[float]]:
        entries = [e for e in self._failures.pop(key, []) if e[0] > now - self.window_s]
        before = [t for t, _ in entries]
        mark = f"{now!r}:{next(self._serial)}"
        entries.append((now, mark))
        # keep + 1: taking back the one being checked must not lose one of the others.
        self._failures[key] = entries[-self.keep - 1 :]  # the most recently used key last
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)
        return mark, before

    async def remove(self, key: str, mark: str) -> None:
        entries = self._failures.get(key)
        if entries is None:
            return
        entries[:] = [e for e in entries if e[1] != mark]
        if not entries:
            del self._failures[key]

    async def forget(self, key: str) -> None:
        self._failures.pop(key, None)


class LocalPlaces:
    """`Places` in this process's memory (the most recently used `max_keys` pairs)."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    async def remember(self, username: str, place: str, now: float) -> None:
        self._seen.pop((username, place), None)
        self._seen[(username, place)] = now
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)

    async def known(self, username: str, place: str, now: float) -> bool:
        seen = self._seen.get((username, place))
        return seen is not None and seen > now - KNOWN_PLACE_S


def _hashed(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# Atomic, so that "before" means what was recorded earlier, also for attempts at
# the same instant from several processes. KEYS[1]: the key; ARGV: now, window,
# keep, mark, ttl in ms. Answers the failures before this one (member, score, ...).
_ADD_FAILURE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local before = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[3]) + 2))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return before
"""


class RedisFailures:
    """A `FailureLog` in Redis: a key's failures in one sorted set (mark -> time),
    the `keep` most recent kept (and the one being checked), expiring with the window."""

    def __init__(self, redis: Any, prefix: str, name: str, keep: int, window_s: float) -> None:
        self.redis = redis
        self.prefix = f"{prefix}:throttle:{name}:"
        self.keep = keep
        self.window_s = window_s
        self._add = redis.register_script(_ADD_FAILURE)

    def _key(self, key: str) -> str:
        return self.prefix + _hashed(key)

    async def add(self, key: str, now: float) -> tuple[str, list[float]]:
        mark = f"{now!r}:{secrets.token_hex(4)}"
        entries = await self._add(
            keys=[self._key(key)],
            args=[repr(now), repr(self.window_s), self.keep, mark, math.ceil(self.window_s * 1000)],
        )
        return mark, [float(score) for score in entries[1::2]]

    async def remove(self, key: str, mark: str) -> None:
        await self.redis.zrem(self._key(key), mark)

    async def forget(self, key: str) -> None:
        await self.redis.delete(self._key(key))


class RedisPlaces:
    """`Places` in Redis: per user a sorted set (address group -> last sign-in time)."""

    def __init__(self, redis: Any, prefix: str) -> None:
        self.redis = redis
        self.prefix = f"{prefix}:throttle:places:"

    async def remember(self, username: str, place: str, now: float) -> None:
        k = self.prefix + _hashed(username)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(k, {_hashed(place): now})
        pipe.zremrangebyscore(k, "-inf", now - KNOWN_PLACE_S)
        pipe.zremrangebyrank(k, 0, -MAX_PLACES - 1)
        pipe.pexpire(k, math.ceil(KNOWN_PLACE_S * 1000))
        await pipe.execute()

    async def known(self, username: str, place: str, now: float) -> bool:
        seen = await self.redis.zscore(self.prefix + _hashed(username), _hashed(place))
        return seen is not None and float(seen) > now - KNOWN_PLACE_S
