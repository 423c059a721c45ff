"""Sign-in throttling: at most `limit` failures per key in a sliding window.

`Throttle` is kept in the process's memory (bounded: the least recently failed
keys are forgotten beyond `max_keys`; a restart forgets): right for the embedded
log's single process. On the Redis log every process shares one count in Redis
(`RedisThrottle`), so more processes do not multiply the limit.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections import OrderedDict, deque
from typing import Any


class Throttle:
    def __init__(self, limit: int, window_s: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, key: str, now: float) -> int | None:
        """Whole seconds until `key` may try again, or None when it may try now."""
        times = self._recent(key, now)
        if times is None or len(times) < self.limit:
            return None
        return max(1, math.ceil(times[-self.limit] + self.window_s - now))

    def failed(self, key: str, now: float) -> None:
        times = self._recent(key, now)
        if times is None:
            times = self._failures[key] = deque(maxlen=self.limit)
        times.append(now)
        self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def undo(self, key: str, at: float) -> None:
        """Take back the failure counted at `at` (the attempt succeeded after all)."""
        times = self._failures.get(key)
        if times is not None and at in times:
            times.remove(at)
            if not times:
                del self._failures[key]

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)


class LocalThrottle:
    """`Throttle` behind the async interface the server uses (one process's memory)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.inner = Throttle(limit, window_s)

    async def retry_after(self, key: str, now: float) -> int | None:
        return self.inner.retry_after(key, now)

    async def failed(self, key: str, now: float) -> str:
        self.inner.failed(key, now)
        return repr(now)

    async def undo(self, key: str, mark: str) -> None:
        self.inner.undo(key, float(mark))

    async def forget(self, key: str) -> None:
        self.inner.forget(key)


class RedisThrottle:
    """The same limit for every server process on one Redis (the log's): the failure
    times of a key in a sorted set, the `limit` most recent kept, expiring with the
    window. Keys are hashed (a username or address can be anything)."""

    def __init__(self, redis: Any, prefix: str, name: str, limit: int, window_s: float) -> None:
        self.redis = redis
        self.prefix = f"{prefix}:throttle:{name}:"
        self.limit = limit
        self.window_s = window_s

    def _key(self, key: str) -> str:
        return self.prefix + hashlib.sha256(key.encode()).hexdigest()[:32]

    async def retry_after(self, key: str, now: float) -> int | None:
        k = self._key(key)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zremrangebyscore(k, "-inf", now - self.window_s)
        pipe.zrange(k, -self.limit, -self.limit, withscores=True)
        _, oldest_counted = await pipe.execute()
        if not oldest_counted:  # fewer than `limit` failures in the window
            return None
        return max(1, math.ceil(float(oldest_counted[0][1]) + self.window_s - now))

    async def failed(self, key: str, now: float) -> str:
        k, mark = self._key(key), f"{now!r}:{secrets.token_hex(4)}"
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(k, {mark: now})
        pipe.zremrangebyrank(k, 0, -self.limit - 1)
        pipe.pexpire(k, math.ceil(self.window_s * 1000))
        await pipe.execute()
        return mark

    async def undo(self, key: str, mark: str) -> None:
        await self.redis.zrem(self._key(key), mark)

    async def forget(self, key: str) -> None:
        await self.redis.delete(self._key(key))
