"""The server's running sites: one SiteEngine per site, kept current by a supervised follower."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from qms.engine import SiteEngine
from qms.eventlog import EventLog, check_site
from qms.eventlog.outage import is_outage
from qms.server.queries import SiteViews

if TYPE_CHECKING:
    from qms.relay import SiteRelay

log = logging.getLogger(__name__)

BACKOFF_CAP = 5.0


class Hall:
    """Opens a site's engine on first use and keeps it following the log.

    On a Redis log shared by several server processes, each site's commands go
    to one of them (`qms.relay`) unless `relay` is False.
    """

    def __init__(
        self, log: EventLog, clock: Callable[[], float] = time.time, *, relay: bool = True
    ) -> None:
        self.log = log
        self.clock = clock
        self.relay = relay and log.shared_by_processes
        self.relays: dict[str, SiteRelay] = {}
        self._relaying = contextlib.AsyncExitStack()
        self._engines: dict[str, SiteEngine] = {}
        self._opening: dict[str, asyncio.Task[SiteEngine]] = {}
        self._followers: dict[str, asyncio.Task[None]] = {}
        self.follower_errors: dict[str, BaseException] = {}
        # Called with each engine as soon as it is open, before it applies anything
        # more (the live stream hangs its listener on it here).
        self.on_open: list[Callable[[SiteEngine], object]] = []
        self._views: dict[str, tuple[SiteEngine, SiteViews]] = {}

    async def engine(self, site: str) -> SiteEngine:
        """The site's engine, opened (snapshot + tail) and following the log."""
        engine = self._engines.get(site)
        if engine is not None:
            return engine
        check_site(site)
        task = self._opening.get(site)
        if task is None:  # concurrent first requests share one opening
            task = asyncio.create_task(self._open(site))
            self._opening[site] = task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._opening.pop(site, None)

    async def _open(self, site: str) -> SiteEngine:
        engine = await SiteEngine(self.log, site, clock=self.clock).open()
        for callback in self.on_open:
            callback(engine)
        self._engines[site] = engine
        self._followers[site] = asyncio.create_task(self._follow(engine), name=f"follow {site}")
        if self.relay:
            # Here, not at the top: qms.relay needs redis-py, which the embedded
            # default never imports.
            from qms.relay import relaying

            relay = await self._relaying.enter_async_context(relaying(engine))
            if relay is not None:
                self.relays[site] = relay
        return engine

    async def _follow(self, engine: SiteEngine) -> None:
        """Run engine.follow() forever; log and back off on failure, never die silently."""
        failures = 0
        while True:
            try:
                await engine.follow()
                failures = 0  # the subscription ended (e.g. log dropped): follow again
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                self.follower_errors[engine.site] = exc
                if not is_outage(exc):
                    log.exception("site %s: follower failed (%d in a row)", engine.site, failures)
                elif failures == 1:  # an outage: once, and without a traceback
                    log.warning("site %s: follower waits for the log (%s)", engine.site, exc)
            else:
                self.follower_errors.pop(engine.site, None)
            await asyncio.sleep(random.uniform(0, min(BACKOFF_CAP, 0.1 * 2**failures)))
            with contextlib.suppress(Exception):
                await engine.catch_up()

    def views(self, engine: SiteEngine) -> SiteViews:
        """The site's derived views for queries (token index, service times)."""
        entry = self._views.get(engine.site)
        if entry is None or entry[0] is not engine:
            entry = self._views[engine.site] = (engine, SiteViews())
        return entry[1]

    @property
    def sites(self) -> list[str]:
        return sorted(self._engines)

    def healthy(self) -> tuple[bool, dict[str, str]]:
        """False with reasons while a follower is failing or has died."""
        problems = {site: repr(exc) for site, exc in self.follower_errors.items()}
        for site, task in self._followers.items():
            if task.done():
                problems[site] = "follower stopped"
        problems.update(self.log.problems())
        return not problems, problems

    async def close(self) -> None:
        # Relays first: a writer gives up its lease and answers what it received,
        # which needs its engine and the log.
        await self._relaying.aclose()  # each relay's block ends in `relaying`
        self.relays.clear()
        await _cancel(self._followers)
        self._engines.clear()


async def _cancel(tasks: dict[str, asyncio.Task[None]]) -> None:
    """Cancel every task, wait for them all to end, and forget them."""
    for task in tasks.values():
        task.cancel()
    for task in tasks.values():
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    tasks.clear()
