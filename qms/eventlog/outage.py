"""A backend outage as the server sees it: one typed error, logged once per outage.

While Redis is down (killed, restarting, loading its data, unreachable), every
request that needs the log fails the same way. That is an outage, not a bug: the
server answers 503 ``log_unavailable`` (a websocket admission closes 1013) and
the client tries again later. Logging a traceback per request drowned the one
fact that matters (197 of them in one run); `Outage` logs the first failure and
the recovery, and counts what failed in between.

`outage_errors()` are the exception types that mean "cannot be reached now":
`LogUnavailable` (what `RedisLog` raises), redis-py's connection, timeout,
loading and fail-over errors (raised by the parts that talk to Redis directly:
the sign-in throttles, the relay), and the built-in connection and timeout errors.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

from .errors import LogUnavailable

log = logging.getLogger(__name__)

RETRY_AFTER_S = 2  # what a 503 log_unavailable tells a client to wait (Retry-After)


def _redis_errors() -> tuple[type[BaseException], ...]:
    # BusyLoadingError (a restarted server loading its data) is a ConnectionError.
    from redis import exceptions as r

    return (
        r.ConnectionError,
        r.TimeoutError,
        r.ReadOnlyError,  # a replica that was the primary before a fail-over
        r.MasterDownError,
        r.ClusterDownError,
        r.TryAgainError,
    )


def outage_errors(redis: bool) -> tuple[type[BaseException], ...]:
    """The exception types that mean an outage; redis-py's only with a Redis log
    (the embedded default imports no Redis client at all)."""
    return (LogUnavailable, *(_redis_errors() if redis else ()), ConnectionError, TimeoutError)


def is_outage(exc: BaseException) -> bool:
    """True when `exc` means the log's backend cannot be reached now. redis-py's
    errors count once redis-py is loaded: no other process part can raise them."""
    return isinstance(exc, outage_errors("redis.exceptions" in sys.modules))


def unavailable(exc: BaseException) -> LogUnavailable:
    """`exc` as the typed error (itself when it is one already)."""
    if isinstance(exc, LogUnavailable):
        return exc
    error = LogUnavailable(f"the event log cannot be reached: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


class Outage:
    """One backend's availability as its callers see it: `failed` on each call that
    could not reach it, `ok` on each that did. The first failure of an outage and the
    first success after it are logged (a warning each); nothing in between is."""

    def __init__(self, name: str = "event log", clock: Callable[[], float] = time.monotonic):
        self.name = name
        self.clock = clock
        self.since: float | None = None  # when the current outage began
        self.failures = 0  # calls that failed in the current (or the last) outage
        self.outages = 0  # how many began since the process started

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException) -> None:
        """A call could not reach the backend (one that went through the log has been
        counted by it already: pass it here again only if it bypassed the log)."""
        if self.since is None:
            self.since = self.clock()
            self.failures = 0
            self.outages += 1
            log.warning(
                "%s unavailable (%s: %s); answering 503 log_unavailable until it is back",
                self.name,
                type(exc).__name__,
                exc,
            )
        self.failures += 1

    def ok(self) -> None:
        if self.since is not None:
            lasted = self.clock() - self.since
            self.since = None
            log.warning(
                "%s available again after %.1f s (%d calls failed meanwhile)",
                self.name,
                lasted,
                self.failures,
            )
