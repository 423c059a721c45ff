"""The event log interface shared by every backend.

A site's log is a sequence of events numbered 1, 2, 3, ... (its *version* is the
number of the last event). Writes are compare-and-append: an append names the
version its decision was made on and fails with `VersionConflict` when the log
has moved on. The *epoch* identifies one incarnation of a site's log: it changes
when the log is created anew (dropped, or lost by a server that kept nothing),
so a client holding (epoch, version) can tell "I missed a few events" apart from
"this is a different log".

Events are plain mappings with at least ``type`` (str) and ``schema`` (int);
the log stores them without interpreting them (see `codec`).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .codec import Encoded
    from .outage import Outage

Event = Mapping[str, Any]
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


class EventLog(abc.ABC):
    """One event log per site; an instance serves any number of sites."""

    # Whether the backend can be reached, as its callers saw it (logged once per outage).
    outage: Outage

    @abc.abstractmethod
    async def append(self, site: str, expected_version: int, events: Sequence[Event]) -> int:
        """Append `events` if the log is at `expected_version`; return the new version.

        Raises `VersionConflict` (nothing written) when the log is elsewhere.
        Appending no events is a no-op returning the current version.
        """

    @abc.abstractmethod
    async def read(self, site: str, after: int = 0, limit: int | None = None) -> list[Entry]:
        """Entries with version > `after`, in order, at most `limit` of them."""

    @abc.abstractmethod
    def subscribe(
        self, site: str, after: int = 0, *, direct: Callable[[Entry], None] | None = None
    ) -> AsyncIterator[Entry]:
        """Entries after `after`: the backlog, then live ones; no gap, no duplicate.

        The iterator runs until the consumer stops it (``aclose()`` or leaving
        ``async for``); it releases everything it holds when it ends. With `direct`,
        live entries that arrive while the consumer waits for the next one are given
        to `direct` at once instead (still in order, each once; what it raises, the
        iterator raises): for a consumer that folds synchronously, a turn of the
        event loop less per entry.
        """

    @abc.abstractmethod
    async def version(self, site: str) -> int:
        """The version of the last event (0 for an empty log)."""

    @abc.abstractmethod
    async def epoch(self, site: str) -> str:
        """The identity of this incarnation of the log; created on first use."""

    @abc.abstractmethod
    async def save_snapshot(
        self, site: str, version: int, state: Mapping[str, Any] | Encoded
    ) -> None:
        """Store the site's state as of `version` (replaces an older snapshot)."""

    @abc.abstractmethod
    async def load_snapshot(self, site: str) -> tuple[int, dict[str, Any]] | None:
        """The latest snapshot as (version, state), or None."""

    @abc.abstractmethod
    async def drop(self, site: str) -> None:
        """Delete the site's log and snapshot; the next use starts a new epoch."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise when the backend cannot be reached."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections, readers and files."""
