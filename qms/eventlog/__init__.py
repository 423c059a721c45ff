"""The event log: one versioned, compare-and-append log per site (see `base`).

`open_log(url)` picks the backend; each backend module is imported only when
its scheme is used, so the embedded default needs no Redis client installed.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .base import Event, EventLog
from .codec import MAX_EVENT_BYTES, check_site
from .errors import (
    DecodeError,
    Entry,
    EpochChanged,
    EventLogError,
    LogUnavailable,
    VersionConflict,
)

__all__ = [
    "MAX_EVENT_BYTES",
    "DecodeError",
    "Entry",
    "EpochChanged",
    "Event",
    "EventLog",
    "EventLogError",
    "LogUnavailable",
    "VersionConflict",
    "check_site",
    "open_log",
]


REDIS_SCHEMES = ("redis", "rediss", "unix")


def is_redis_url(url: str) -> bool:
    """Whether `url` names a Redis log (known before the log is opened)."""
    return urlsplit(url).scheme in REDIS_SCHEMES


def open_log(url: str) -> EventLog:
    """The event log at `url`.

    - ``sqlite:///abs/path/to/file.db`` (or ``sqlite:///:memory:``): embedded, one process;
    - ``redis://host:port/db?prefix=xyz`` (also ``rediss://``, ``unix://``): every key
      under ``xyz`` (default ``qms``); other query options go to redis-py.
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        if parts.netloc or not parts.path.startswith("/") or parts.query:
            raise ValueError(f"expected sqlite:///absolute/path.db, got {url!r}")
        path = ":memory:" if parts.path == "/:memory:" else parts.path
        from .sqlite import SqliteLog

        return SqliteLog(path)
    if parts.scheme in REDIS_SCHEMES:
        query = parse_qsl(parts.query, keep_blank_values=True)
        prefixes = [value for name, value in query if name == "prefix"]
        rest = [(name, value) for name, value in query if name != "prefix"]
        # redis-py would pass an unknown query option on to its connection and fail there.
        redis_url = urlunsplit(parts._replace(query=urlencode(rest)))
        from .redis import RedisLog

        return RedisLog(redis_url, *prefixes[-1:])
    raise ValueError(
        f"unknown event log URL scheme {parts.scheme!r} in {url!r}: "
        "expected sqlite:///path/to/file.db or redis://host:port/db?prefix=name"
    )
