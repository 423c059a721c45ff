"""The reports inside a running server: each site's live day, its closed days' files.

`ReportsHub.attach(engine)` runs when the hall opens a site's engine
(`Hall.on_open`). It folds the site's whole log once, in the background (a page
at a time, folded in a worker thread), through one `SiteFold`:

- closed days that have no file yet (closed while no process ran, or before
  this version) are written on the way, as `build_missing_days` would;
- the open day is kept: that fold becomes the site's `LiveDay`, fed every entry
  the engine applies from then on (its listener), so today's figures are the
  same SQL over the same rows as a closed day's;
- when a `day_closed` is folded later, the day's rows are written as its files
  in a worker thread, by the site's writer process on a Redis deployment (any
  process when there is no relay): the others find the file, or build it on
  demand.

Before a report runs, `prepare(site, periods)` waits for that first fold and
builds any closed day of the periods that still has no file (a writer that died
before writing, a day closed elsewhere): "built on demand".

DuckDB is imported only when a file is written or a report runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from qms.core.model import HallState
from qms.engine import SiteEngine
from qms.eventlog import EventLog
from qms.reports.live import LiveDay
from qms.reports.period import Period
from qms.reports.query import MEMORY_DAYS, Reports
from qms.reports.store import PAGE, build_days, build_missing_days, built_days, write_day
from qms.reports.visits import DayRows, SiteFold

log = logging.getLogger(__name__)

BACKOFF_CAP = 5.0  # s between tries to read the log during an outage


class SiteReports:
    """One site: its live fold, fed from the log and then from the engine."""

    def __init__(self, hub: ReportsHub, engine: SiteEngine) -> None:
        self.hub = hub
        self.engine = engine
        self.site = engine.site
        self._have = set(built_days(hub.root, self.site))  # files at start
        self._start_day = engine.state.day  # the day the engine has open (snapshot)
        self._following = False  # set once the log is read: entries then come from the engine
        self._pending: list[tuple[int, Mapping[str, Any]]] = []
        fold = SiteFold(self.site, keep=self._keep, reopened=self._reopened, on_closed=self._closed)
        self.live = LiveDay(self.site, fold)
        self._redo: set[str] = set()
        self.writes: set[asyncio.Task[None]] = set()
        engine.listeners.append(self._listen)
        self.ready = asyncio.create_task(self._catch_up(), name=f"reports {self.site}")

    # -- which days the fold keeps ----------------------------------------------------

    def _keep(self, day: str) -> bool:
        """Every day once following; while reading the log, the days with no file and
        the engine's open day (and later ones)."""
        if self._following or day not in self._have:
            return True
        return self._start_day is not None and day >= self._start_day

    def _reopened(self, day: str, version: int) -> bool:
        # A day with a file opened again after its close: its first part was not kept,
        # so it is built again from the log once the fold is done (`_catch_up`).
        self._redo.add(day)
        return True

    def _closed(self, rows: DayRows) -> None:
        if not self._following:  # reading the log, in a worker thread: write right here
            # (a day at or after the engine's open day may have been closed again since
            # its file was written: writing it again costs little)
            if rows.day not in self._have or self._keep(rows.day):
                self.hub.write(rows)
            return
        if not self.hub.writes_here(self.engine):
            return  # the site's writer process writes it; a report builds it if it did not
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(self.hub.write, rows))
        self.writes.add(task)
        task.add_done_callback(self._written)

    def _written(self, task: asyncio.Task[None]) -> None:
        self.writes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("site %s: writing a closed day failed: %r", self.site, task.exception())

    # -- feeding the fold -------------------------------------------------------------

    def _listen(self, version: int, data: Mapping[str, Any], state: HallState) -> None:
        if not self._following:
            self._pending.append((version, data))
            return
        try:
            self.live.apply(version, data)
        except Exception:  # the reports must never stop the hall: log, and go on
            log.exception("site %s: the live reports could not fold version %d", self.site, version)

    async def _catch_up(self) -> None:
        """Fold the log up to now, then follow the engine."""
        fold = self.live.fold
        failures = 0
        while True:
            try:
                page = await self.hub.log.read(self.site, fold.version, PAGE)
            except Exception as exc:  # an outage: go on from where the fold is, later
                failures += 1
                if failures == 1:
                    log.warning("site %s: reports wait for the log (%r)", self.site, exc)
                await asyncio.sleep(min(BACKOFF_CAP, 0.1 * 2**failures))
                continue
            failures = 0
            if not page:
                break
            await asyncio.to_thread(fold.apply_all, page)
        # No await from here on: no entry can slip between the log and the listener.
        pending = [(v, d) for v, d in self._pending if v > fold.version]
        self._pending = []
        self._following = True
        for version, data in pending:
            self.live.apply(version, data)
        redo = set(self._redo)
        if redo:
            await build_days(self.hub.log, self.site, self.hub.root, redo.__contains__)

    # -- before a report --------------------------------------------------------------

    async def prepare(self, periods: Iterable[Period]) -> None:
        """Wait for the first fold; build the closed days of `periods` that have no file."""
        await asyncio.shield(self.ready)
        have = built_days(self.hub.root, self.site)
        live_day = self.live.day
        missing = sorted(
            day
            for day in self.live.fold.closed
            if day not in have and day != live_day and any(p.contains(day) for p in periods)
        )
        if missing:
            await build_missing_days(
                self.hub.log, self.site, self.hub.root, missing[0], missing[-1]
            )

    def close(self) -> None:
        with contextlib.suppress(ValueError):
            self.engine.listeners.remove(self._listen)
        self.ready.cancel()


class ReportsHub:
    """Every open site's reports, and the `Reports` that answers them."""

    def __init__(self, log: EventLog, root: Path, memory_days: int = MEMORY_DAYS) -> None:
        self.log = log
        self.root = Path(root)
        self.reports = Reports(self.root, memory_days=memory_days)
        self.sites: dict[str, SiteReports] = {}

    def attach(self, engine: SiteEngine) -> None:
        site = SiteReports(self, engine)
        self.sites[engine.site] = site
        self.reports.add_live(site.live)

    @staticmethod
    def writes_here(engine: SiteEngine) -> bool:
        """The site's writer writes its closed days (any process when there is no relay)."""
        return engine.relay is None or engine.relay.is_writer

    def write(self, rows: DayRows) -> None:
        from qms.reports import db

        con = db.connect()
        try:
            write_day(con, self.root, rows)
        finally:
            con.close()

    async def prepare(self, site: str, periods: Iterable[Period]) -> None:
        await self.sites[site].prepare(list(periods))

    async def close(self) -> None:
        for site in self.sites.values():
            site.close()
        tasks = [t for s in self.sites.values() for t in (s.ready, *s.writes)]
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.sites.clear()
        self.reports.close()
