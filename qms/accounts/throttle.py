"""Sign-in throttling: at most `limit` failures per key in a sliding window.

Kept in the process's memory (see docs/security.md): with several server
processes each counts its own failures, so the effective limit is `limit` times
the number of processes; a restart forgets. Bounded: the least recently failed
keys are forgotten beyond `max_keys`.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque


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
