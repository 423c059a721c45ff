"""The errors the event log raises on purpose (re-exported by `base` and the package)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Entry = tuple[int, dict[str, Any]]  # (version, event)


class EventLogError(Exception):
    """Base class of every error the log raises on purpose."""


class VersionConflict(EventLogError):
    """The log is no longer at the version the caller decided on."""

    def __init__(
        self, site: str, expected: int, current: int, missed: Sequence[Entry] = ()
    ) -> None:
        super().__init__(f"site {site!r}: expected version {expected}, log is at {current}")
        self.site = site
        self.expected = expected
        self.current = current
        # The first entries after `expected`, when the backend could send them along
        # at no cost (Redis does): a caller catches up from them without a read.
        self.missed = list(missed)


class DecodeError(EventLogError):
    """A stored entry cannot be decoded; names the site and version, never skipped."""

    def __init__(self, site: str, version: int, reason: str) -> None:
        super().__init__(f"site {site!r}: cannot decode entry at version {version}: {reason}")
        self.site = site
        self.version = version
        self.reason = reason


class LogUnavailable(EventLogError):
    """The log's backend cannot be reached now: the connection was refused or lost, no
    reply came in time, or it is still loading its data after a restart.

    An outage, not a bug: the server answers 503 ``log_unavailable`` and tries again
    later (`qms.eventlog.outage`). An append that fails this way may or may not have
    been written: resending it with the same command id is safe.
    """


class EpochChanged(EventLogError):
    """The site's log was dropped under a subscription; its versions no longer continue.

    Raised by a subscription's iterator: read the new `epoch()` and start over.
    """

    def __init__(self, site: str) -> None:
        super().__init__(f"site {site!r}: the log was dropped; its epoch changed")
        self.site = site
