"""Running one site: keep its state in memory, follow the log, execute commands.

`SiteEngine.execute` decides on the current state and appends with the version
it decided on. When another process got there first (`VersionConflict`) it
catches up and decides again, a bounded number of times with jittered backoff.
Two officers pressing "next" at once, in any processes on any hosts, therefore
never call the same ticket, and no ticket is lost.

A command may carry a client-made ``command_id``: a repeat returns the first
result instead of acting twice. The id is written on the command's first event,
so every process (and a restarted one) knows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qms.core import (
    Command,
    HallState,
    Rejected,
    decide,
    event_from_dict,
    event_to_dict,
    evolve,
    parse_command,
    state_from_dict,
    state_to_dict,
)
from qms.core.commands import IssueTicket
from qms.core.events import Event
from qms.eventlog import EventLog, VersionConflict

log = logging.getLogger(__name__)

CID = "cid"  # event field: the command id, on a command's first event
CID_COUNT = "cn"  # event field: how many events that command made
REMEMBERED_COMMANDS = 20_000
IMMEDIATE_RETRIES = 3
MAX_BACKOFF_S = 0.02  # command ids kept for idempotency (about a busy day)


class EngineBusy(Exception):
    """The command lost the compare-and-append race too many times in a row."""

    code = "busy"


@dataclass(frozen=True)
class Result:
    """What a command did: its events with their versions, and the log's version after."""

    version: int
    events: list[tuple[int, dict[str, Any]]]
    repeated: bool = False  # True when this is the stored result of an earlier identical id


class SiteEngine:
    def __init__(
        self,
        log: EventLog,
        site: str,
        *,
        clock: Callable[[], float] = time.time,
        new_token: Callable[[], str] = lambda: secrets.token_urlsafe(12),
        snapshot_every: int = 1000,
        max_attempts: int = 100,
    ) -> None:
        self.log = log
        self.site = site
        self.clock = clock
        self.new_token = new_token
        self.snapshot_every = snapshot_every
        self.max_attempts = max_attempts
        self.state = HallState()
        self.version = 0
        self.conflicts = 0  # lost races, for benchmarks and health
        self._commands: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._lock = asyncio.Lock()  # one decision in flight per process: no self-conflicts
        self._waiters: list[asyncio.Future[None]] = []
        # Called with (version, event dict, state) after each event is folded in,
        # in log order, once per event: the live stream hangs off this.
        self.listeners: list[Callable[[int, Mapping[str, Any], HallState], None]] = []

    # --- opening and following ---------------------------------------------------

    async def open(self) -> SiteEngine:
        """Load the latest snapshot, then replay the log's tail."""
        snap = await self.log.load_snapshot(self.site)
        if snap is not None:
            version, data = snap
            state = state_from_dict(data.get("state", {}))
            if state is not None:
                self.state, self.version = state, version
                self._commands = OrderedDict((c, (v, n)) for c, v, n in data.get("commands", []))
        await self.catch_up()
        return self

    async def catch_up(self, page: int = 1000) -> int:
        """Apply every event the log has beyond ours; returns our new version."""
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
        evolve(self.state, event_from_dict(data))
        self.version = version
        cid = data.get(CID)
        if isinstance(cid, str):
            self._remember(cid, version, int(data.get(CID_COUNT, 1)))
        for listener in self.listeners:
            listener(version, data, self.state)
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
        """Keep the state current with every process's events (run as a task)."""
        async for version, data in self.log.subscribe(self.site, after=self.version):
            if version > self.version + 1:
                await self.catch_up()
            self.apply(version, data)

    # --- commands ------------------------------------------------------------------

    async def execute(self, command: Command | Mapping[str, Any]) -> Result:
        """Decide and append `command`; `Rejected` or `EngineBusy` when it cannot."""
        cmd = command if isinstance(command, Command) else parse_command(command)
        if isinstance(cmd, IssueTicket) and not cmd.token:
            cmd = dataclasses.replace(cmd, token=self.new_token())
        async with self._lock:
            fresh = False  # caught up with the log since this command arrived
            for attempt in range(self.max_attempts):
                if cmd.command_id is not None and cmd.command_id in self._commands:
                    return await self._repeat(cmd.command_id)
                try:
                    events = decide(self.state, cmd, self.clock())
                except Rejected:
                    # Another process may have made this command valid (e.g. issued
                    # the ticket named): refuse only on a state at least as new as
                    # the log was when the command arrived.
                    if fresh or await self.log.version(self.site) == self.version:
                        raise
                    await self.catch_up()
                    fresh = True
                    continue
                try:
                    return await self._append(cmd, events)
                except VersionConflict as conflict:
                    self.conflicts += 1
                    # The loser of a race must decide again on a state as new as
                    # possible, or it loses again: retry at once a few times, then
                    # back off with full jitter (so a hot site settles instead of
                    # thrashing) and catch up only after the pause.
                    if attempt >= IMMEDIATE_RETRIES:
                        cap = min(MAX_BACKOFF_S, 0.0005 * 2 ** (attempt - IMMEDIATE_RETRIES))
                        await asyncio.sleep(random.uniform(0, cap))
                    else:
                        for version, data in conflict.missed:
                            self.apply(version, data)
                    await self.catch_up()
                    fresh = True
        raise EngineBusy(f"site {self.site}: gave up after {self.max_attempts} conflicts")

    async def _append(self, cmd: Command, events: Sequence[Event]) -> Result:
        data = [event_to_dict(ev) for ev in events]
        if cmd.command_id is not None and data:
            data[0] = {**data[0], CID: cmd.command_id, CID_COUNT: len(data)}
        base = self.version
        new_version = await self.log.append(self.site, base, data)
        entries = [(base + 1 + i, d) for i, d in enumerate(data)]
        for version, d in entries:
            self.apply(version, d)  # no-op for entries a concurrent catch-up applied
        if new_version // self.snapshot_every > base // self.snapshot_every:
            await self.save_snapshot()
        return Result(version=new_version, events=entries)

    async def _repeat(self, cid: str) -> Result:
        first, count = self._commands[cid]
        entries = await self.log.read(self.site, after=first - 1, limit=count)
        return Result(version=self.version, events=entries, repeated=True)

    def _remember(self, cid: str, version: int, count: int) -> None:
        self._commands[cid] = (version, count)
        while len(self._commands) > REMEMBERED_COMMANDS:
            self._commands.popitem(last=False)

    async def save_snapshot(self) -> None:
        commands = [[c, v, n] for c, (v, n) in self._commands.items()]
        data = {"state": state_to_dict(self.state), "commands": commands}
        await self.log.save_snapshot(self.site, self.version, data)


@contextlib.asynccontextmanager
async def following(engine: SiteEngine) -> Any:
    """Run `engine.follow()` as a task for the duration of the block."""
    task = asyncio.create_task(engine.follow())
    try:
        yield engine
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
