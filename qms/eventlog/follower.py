"""A state kept current from one site's log: fold entries in order, refuse gaps.

The ticket engine (`qms.engine.SiteEngine`) and the accounts store
(`qms.accounts.store.AccountsStore`) both hold a state folded from a log; this
is the part they share: catching up, applying one entry exactly once, following
the live log, and waiting until a version is in.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from .base import EventLog


class LogFollower(ABC):
    """Subclasses fold an entry into their state in `_fold`, and may react in `_applied`."""

    def __init__(self, log: EventLog, site: str) -> None:
        self.log = log
        self.site = site
        self.version = 0
        self._waiters: list[asyncio.Future[None]] = []

    @abstractmethod
    def _fold(self, data: Mapping[str, Any]) -> None:
        """Fold one entry's data into the state (an event is a fact: never refuse)."""

    def _applied(self, version: int, data: Mapping[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Called after each entry is in (`self.version` is already `version`)."""

    async def catch_up(self, page: int = 1000) -> int:
        """Apply every entry the log has beyond ours; returns our new version."""
        while True:
            entries = await self.log.read(self.site, after=self.version, limit=page)
            for version, data in entries:
                self.apply(version, data)
            if len(entries) < page:
                return self.version

    def apply(self, version: int, data: Mapping[str, Any]) -> bool:
        """Fold one log entry in; False for one we already have. Gaps are refused."""
        if version <= self.version:
            return False
        if version != self.version + 1:
            raise RuntimeError(f"site {self.site}: gap, at {self.version}, got {version}")
        self._fold(data)
        self.version = version
        self._applied(version, data)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        return True

    async def wait_for_version(self, version: int) -> None:
        """Return once the state includes `version` (bound it with a timeout)."""
        while self.version < version:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    async def follow(self) -> None:
        """Keep the state current with every process's entries (run as a task).
        Live entries are applied as they arrive (`direct`), a backlog as it is read."""
        entries = self.log.subscribe(self.site, after=self.version, direct=self._take)
        async for version, data in entries:
            if version > self.version + 1:
                await self.catch_up()
            self.apply(version, data)

    def _take(self, entry: tuple[int, Mapping[str, Any]]) -> None:
        self.apply(*entry)  # in order (the subscription is gap-free); ours are skipped
