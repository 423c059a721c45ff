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
from typing import Any

from .errors import (
    Entry,
)
from .outage import Outage

Event = Mapping[str, Any]


class Encoded(bytes):
    """A state already encoded, a piece at a time (`codec.MapWriter`): stored as it is."""


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

    # What callers above the log need to know of its backend, asked here and nowhere
    # else (no `isinstance` on a backend class, no attribute probes).

    @property
    def shared_by_processes(self) -> bool:
        """Whether several server processes may use this log at once (each site's
        commands then go to one of them, `qms.relay`)."""
        return False

    def shared(self) -> tuple[Any, str] | None:
        """A store every process of the deployment sees, for state kept beside the
        logs (sign-in throttles): (the Redis client, the key prefix); None when the
        log is this process's own."""
        return None

    async def set_durable(self, durable: bool) -> None:
        """Whether each append waits for the disk (the default); off only for a bulk
        load that can be done again (`qms demo --history`). A no-op where the backend
        has no such choice."""
        return None

    def problems(self) -> dict[str, str]:
        """What is failing inside the log right now (for readiness); empty when well."""
        return {}
