"""Running one site: keep its state in memory, follow the log, execute commands.

`SiteEngine.execute` decides on the current state and appends with the version
it decided on. When another process got there first (`VersionConflict`) it
catches up and decides again, a bounded number of times with jittered backoff.
Two officers pressing "next" at once, in any processes on any hosts, therefore
never call the same ticket, and no ticket is lost.

A command may carry a client-made ``command_id``: a repeat returns the first
result instead of acting twice. The id is written on the command's first event,
so every process (and a restarted one) knows it, with a fingerprint of the
command (`fingerprint`): the same id for a different command is refused
(``idempotency_key_reused``) instead of being answered with the other's result.

Commands waiting for a site in one process go in one append (group commit):
each is decided on the state after the ones before it and answered on its own.
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from qms.core import (
    Command,
    HallState,
    decide,
    event_from_dict,
    event_to_dict,
    evolve,
    parse_command,
    state_from_dict,
)
from qms.core.commands import IssueTicket
from qms.core.evolve import checkpoint
from qms.core.snapshot import LiveSnapshot
from qms.eventlog import EventLog, EventLogError, VersionConflict, codec
from qms.eventlog.follower import LogFollower
from qms.guards import Guard
from qms.idempotency import (
    CID,
    CID_COUNT,
    CID_FINGERPRINT,
    VIA,
    Remembered,
    fingerprint,
    remembered,
    reused,
)

log = logging.getLogger(__name__)

REMEMBERED_COMMANDS = 20_000  # command ids kept for idempotency (about a busy day)
IMMEDIATE_RETRIES = 3
MAX_BACKOFF_S = 0.02
# A snapshot costs O(tickets of the day); opening a site replays at most this many
# events (figures: docs/performance.md).
SNAPSHOT_EVERY = 5_000
# The snapshot task encodes for SNAPSHOT_SLICE_S, then leaves the loop to the
# commands for SNAPSHOT_PAUSE_S: a command takes several turns of the loop, so a
# coarser yield (per N tickets) makes every snapshot the p99 (measured: the history
# in bench/results/2026-12-05-performance-history.md).
SNAPSHOT_SLICE_S = 0.0002
SNAPSHOT_PAUSE_S = 0.001


# A command to decide, its guard, and the process it was forwarded from (or None).
Item = tuple[Command, Guard | None, str | None]
# ... waiting in the engine's queue, with the future of its result.
Queued = tuple[Command, Guard | None, "asyncio.Future[Result]", str | None]


class EngineBusy(Exception):
    """The command lost the compare-and-append race too many times in a row."""

    code = "busy"


@dataclass(frozen=True)
class Result:
    """What a command did: its events with their versions, and the log's version after."""

    version: int
    events: list[tuple[int, dict[str, Any]]]
    repeated: bool = False  # True when this is the stored result of an earlier identical id


class CommandRoute(Protocol):
    """Where a command goes instead of this process's engine: the seam between the
    engine and `qms.relay`, which forwards it to the site's one writer (or runs it
    here with `execute_here`). The engine knows nothing more of the relay."""

    @property
    def is_writer(self) -> bool:
        """Whether this process decides the site's commands now (its one writer)."""
        ...

    async def execute(self, cmd: Command, guard: Guard | None) -> Result: ...


class SiteEngine(LogFollower):
    def __init__(
        self,
        log: EventLog,
        site: str,
        *,
        clock: Callable[[], float] = time.time,
        new_token: Callable[[], str] = lambda: secrets.token_urlsafe(12),
        snapshot_every: int = SNAPSHOT_EVERY,
        max_attempts: int = 100,
        max_batch: int = 64,
    ) -> None:
        super().__init__(log, site)
        self.clock = clock
        self.new_token = new_token
        self.snapshot_every = snapshot_every
        self.max_attempts = max_attempts
        self.state = HallState()
        self.conflicts = 0  # lost races, for benchmarks and health
        self._commands: OrderedDict[str, Remembered] = OrderedDict()
        self.batches = 0  # appends made by execute: fewer than commands when they group
        self.max_batch = max_batch
        # Commands waiting for the drainer task, which runs them in batches (group commit).
        self._queue: list[Queued] = []
        self._drainer: asyncio.Task[None] | None = None
        self._snapshot_task: asyncio.Task[None] | None = None
        self._snapshot_again = False  # a multiple was crossed while one was being saved
        self._snapshot: LiveSnapshot | None = None  # being written by that task
        # Called with (version, event dict, state) after each event is folded in,
        # in log order, once per event: the live stream hangs off this.
        self.listeners: list[Callable[[int, Mapping[str, Any], HallState], None]] = []
        # Set while a relay runs (`qms.relay`): commands then go to the site's one writer.
        self.relay: CommandRoute | None = None

    # --- opening and following ---------------------------------------------------

    async def open(self) -> SiteEngine:
        """Load the latest snapshot, then replay the log's tail."""
        snap = await self.log.load_snapshot(self.site)
        if snap is not None:
            version, data = snap
            state = state_from_dict(data.get("state", {}))
            if state is not None:
                self.state, self.version = state, version
                self._commands = remembered(data.get("commands", []))
        await self.catch_up()
        return self

    def _fold(self, data: Mapping[str, Any]) -> None:
        event = event_from_dict(data)
        if self._snapshot is not None:
            self._snapshot.before(event)
        evolve(self.state, event)

    def _applied(self, version: int, data: Mapping[str, Any]) -> None:
        cid = data.get(CID)
        if isinstance(cid, str):
            self._remember(cid, version, int(data.get(CID_COUNT, 1)), data.get(CID_FINGERPRINT))
        for listener in self.listeners:
            listener(version, data, self.state)

    # --- commands ------------------------------------------------------------------

    async def execute(
        self, command: Command | Mapping[str, Any], *, guard: Guard | None = None
    ) -> Result:
        """Decide and append `command`; `Rejected` or `EngineBusy` when it cannot.

        `guard(state)` is a caller's own precondition (e.g. "this officer holds the
        counter"): it runs on the very state the command is decided on, before
        every attempt, and what it raises is the command's answer. The append being
        compare-and-set, a guard that passed still held when the events were written.
        """
        cmd = command if isinstance(command, Command) else parse_command(command)
        if isinstance(cmd, IssueTicket) and not cmd.token:
            cmd = dataclasses.replace(cmd, token=self.new_token())
        if self.relay is not None:  # to the site's one writer, or here when that is us
            return await self.relay.execute(cmd, guard)
        return await self.execute_here(cmd, guard=guard)

    async def execute_here(self, cmd: Command, *, guard: Guard | None = None) -> Result:
        """`execute` in this process (compare-and-append), never forwarded."""
        return await self.submit(cmd, guard)  # a caller cancelled before its turn is skipped

    def submit(
        self, cmd: Command, guard: Guard | None = None, *, via: str | None = None
    ) -> asyncio.Future[Result]:
        """Queue `cmd` for this process's next append; the future is its result.
        (`execute_here` without a coroutine: the relay serves requests with it, naming
        the process that sent it in `via`, which goes on the command's first event.)"""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((cmd, guard, future, via))
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain(), name=f"qms-engine-{self.site}")
        return future

    async def _drain(self) -> None:
        """Run the queued commands batch by batch, in arrival order, until none is left.

        A task of its own, so that a caller cancelled mid-append cannot leave the
        others of its batch without an answer; and one per engine at a time, so a
        process's own commands never conflict with each other.
        """
        try:
            while self._queue:
                batch = [q for q in self._queue[: self.max_batch] if not q[2].done()]
                del self._queue[: self.max_batch]
                if batch:
                    await self._run(batch)
        finally:
            self._drainer = None
            for _, _, future, _ in self._queue:  # only when cancelled (the loop is closing)
                future.cancel()
            self._queue.clear()

    async def _run(self, batch: list[Queued]) -> None:
        try:
            outcomes = await self._commit([(cmd, guard, via) for cmd, guard, _, via in batch])
        except BaseException as exc:  # EngineBusy, the log failing, cancellation: all of them
            for _, _, future, _ in batch:
                if future.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        # A command left out of this batch (after one that ends a batch) goes first next.
        self._queue[:0] = batch[len(outcomes) :]
        for (_, _, future, _), outcome in zip(batch, outcomes, strict=False):
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _commit(self, items: list[Item]) -> list[Result | Exception]:
        """Decide `cmds` (or a prefix of them) and append their events in ONE append.

        Group commit: one compare-and-append (one Lua call, one SQLite transaction and
        fsync) for every command waiting, each decided on the state after the ones
        before it, each answered on its own. On a conflict the whole batch is decided
        again on the caught-up state, in the same order.
        """
        fresh = False  # caught up with the log since these commands arrived
        for attempt in range(self.max_attempts):
            decided = self._decide_batch(items)
            data = [d for events in decided if isinstance(events, list) for d in events]
            # Another process may have made a refused command valid (e.g. issued the
            # ticket named): refuse only on a state at least as new as the log was when
            # the command arrived. With events to append there is no need: an append
            # that succeeds proves the state it was decided on was the log's.
            if (
                not data
                and not fresh
                and any(isinstance(d, Exception) for d in decided)
                and await self.log.version(self.site) != self.version
            ):
                await self.catch_up()
                fresh = True
                continue
            base = self.version
            try:
                new_version = await self.log.append(self.site, base, data) if data else base
            except VersionConflict as conflict:
                self.conflicts += 1
                # The loser of a race must decide again on a state as new as possible,
                # or it loses again: retry at once a few times, then back off with full
                # jitter (so a hot site settles instead of thrashing) and catch up only
                # after the pause.
                if attempt >= IMMEDIATE_RETRIES:
                    cap = min(MAX_BACKOFF_S, 0.0005 * 2 ** (attempt - IMMEDIATE_RETRIES))
                    await asyncio.sleep(random.uniform(0, cap))
                else:
                    for version, d in conflict.missed:
                        self.apply(version, d)
                await self.catch_up()
                fresh = True
                continue
            if data:
                self.batches += 1
                for i, d in enumerate(data):
                    self.apply(base + 1 + i, d)  # no-op for entries a catch-up applied
                if new_version // self.snapshot_every > base // self.snapshot_every:
                    self._snapshot_soon()
            return await self._results([cmd for cmd, _, _ in items], decided, base)
        raise EngineBusy(f"site {self.site}: gave up after {self.max_attempts} conflicts")

    def _decide_batch(self, items: list[Item]) -> list[list[dict[str, Any]] | Exception | str]:
        """Per command (a prefix of `items`): its event dicts, its `Rejected` (or what its
        guard raised), or the id it repeats. An id seen before with another command's
        fingerprint is refused (`idempotency_key_reused`) before anything is decided.

        Command k is decided on the state with the events of commands 1..k-1 folded in,
        and those are taken back out before returning, so the state is never ahead of
        the log across an await (the follower applies other processes' events to it).
        Why an undo journal (`checkpoint`): it copies only what each event touches (one
        ticket, a counter or two, one queue), a few microseconds; a copy of the state
        (deepcopy or pickle) costs O(tickets), milliseconds at 1,000 tickets, per batch;
        rebuilding from a snapshot on a conflict costs tens of ms, and under contention
        conflicts are common. A command whose events cannot be undone (a day rolling
        over, set-up) ends the batch; the commands after it wait for the next one.
        """
        out: list[list[dict[str, Any]] | Exception | str] = []
        undo: list[Callable[[], None]] = []
        written: dict[str, str] = {}  # id -> fingerprint, of this batch's commands with events
        try:
            for k, (cmd, guard, via) in enumerate(items):
                cid = cmd.command_id
                mark = None if cid is None else fingerprint(cmd)
                if cid is not None:
                    seen = written.get(cid) or self._seen(cid)
                    if seen is not None:
                        out.append(cid if seen in (mark, "") else reused(cid))
                        continue
                try:
                    if guard is not None:
                        guard(self.state)
                    events = decide(self.state, cmd, self.clock())
                except Exception as exc:  # Rejected, or the guard's refusal
                    out.append(exc)
                    continue
                data = [event_to_dict(ev) for ev in events]
                if cid is not None and mark is not None and data:
                    first = {**data[0], CID: cid, CID_COUNT: len(data), CID_FINGERPRINT: mark}
                    if via is not None:
                        first[VIA] = via
                    data[0] = first
                    written[cid] = mark
                out.append(data)
                if k + 1 == len(items):
                    break
                for ev in events:  # the next command decides on the state after these
                    point = checkpoint(self.state, ev)
                    if point is None:
                        return out
                    evolve(self.state, ev)
                    undo.append(point)
        finally:
            for point in reversed(undo):
                point()
        return out

    async def _results(
        self, cmds: list[Command], decided: list[list[dict[str, Any]] | Exception | str], base: int
    ) -> list[Result | Exception]:
        """Each command's answer, as if the batch's commands had run one by one."""
        results: list[Result | Exception] = []
        first: dict[str, Result] = {}  # command id -> its result, within this batch
        version = base
        for cmd, outcome in zip(cmds, decided, strict=False):
            if isinstance(outcome, Exception):
                results.append(outcome)
            elif isinstance(outcome, str):
                done = first.get(outcome)
                if done is not None:
                    results.append(dataclasses.replace(done, repeated=True))
                else:
                    try:  # the batch is in the log: a failed read fails this answer only
                        results.append(await self._repeat(outcome))
                    except Exception as exc:
                        results.append(exc)
            else:
                entries = [(version + 1 + i, d) for i, d in enumerate(outcome)]
                version += len(outcome)
                result = Result(version=version, events=entries)
                if cmd.command_id is not None and outcome:
                    first[cmd.command_id] = result
                results.append(result)
        return results

    async def _repeat(self, cid: str) -> Result:
        first, count, _ = self._commands[cid]
        entries = await self.log.read(self.site, after=first - 1, limit=count)
        return Result(version=self.version, events=entries, repeated=True)

    def _seen(self, cid: str) -> str | None:
        """The fingerprint of the command `cid` named ("" when its event has none,
        written before fingerprints: taken as matching any); None if it is new."""
        known = self._commands.get(cid)
        if known is None:
            return None
        return known[2] or ""

    def _remember(self, cid: str, version: int, count: int, mark: Any = None) -> None:
        self._commands[cid] = (version, count, mark if isinstance(mark, str) else None)
        while len(self._commands) > REMEMBERED_COMMANDS:
            self._commands.popitem(last=False)

    def _snapshot_soon(self) -> None:
        """Snapshot the state as it is now, written by a task while commands go on.

        Serialising a day's tickets takes 10-60 ms; inside `execute` it was every
        run's p99, and so was copying them first (10 ms at 3,000 tickets). Now the
        turn pays for the ticket ids only (`LiveSnapshot`: a ticket an event is
        about to change is converted first), and the task encodes the tickets a
        slice at a time straight into msgpack (`codec.MapWriter`): 0.2 ms of work,
        then 1 ms of rest, so a command is never slowed by more than a slice.
        """
        if self._snapshot_task is not None and not self._snapshot_task.done():
            self._snapshot_again = True  # one at a time: another once this one is saved
            return
        commands = list(self._commands.items())
        self._snapshot = LiveSnapshot(self.state)
        self._snapshot_task = asyncio.create_task(
            self._save_live(self.version, self._snapshot, commands)
        )

    async def _save_live(
        self, version: int, snap: LiveSnapshot, commands: list[tuple[str, Remembered]]
    ) -> None:
        try:
            out = codec.MapWriter()
            out.map_header(2)
            out.key("state")
            out.map_header(len(snap.head) + 2)
            for key, value in snap.head.items():
                out.entry(key, value)
            until = time.perf_counter() + SNAPSHOT_SLICE_S
            for name, order, convert in (
                ("tickets", snap.order, snap.ticket),
                ("rateable", snap.rateable_order, snap.rateable),
            ):
                out.key(name)
                out.map_header(len(order))
                for tid in order:
                    out.entry(tid, convert(tid))
                    if time.perf_counter() > until:
                        await asyncio.sleep(SNAPSHOT_PAUSE_S)
                        until = time.perf_counter() + SNAPSHOT_SLICE_S
            if self._snapshot is snap:
                self._snapshot = None  # every ticket is in: no more copy on write
            out.key("commands")
            out.array_header(len(commands))
            for i, (cid, (v, n, mark)) in enumerate(commands, 1):
                out.item([cid, v, n] if mark is None else [cid, v, n, mark])
                if i % 256 == 0 and time.perf_counter() > until:
                    await asyncio.sleep(SNAPSHOT_PAUSE_S)
                    until = time.perf_counter() + SNAPSHOT_SLICE_S
            await asyncio.sleep(SNAPSHOT_PAUSE_S)
            await self.log.save_snapshot(self.site, version, out.done())
        except EventLogError as exc:  # the log closed under it (shutting down), or the like
            log.info("site %s: snapshot at %d not saved: %s", self.site, version, exc)
        except Exception:  # a snapshot is a cache: the log is the truth
            log.warning("site %s: snapshot at %d not saved", self.site, version, exc_info=True)
        finally:
            if self._snapshot is snap:
                self._snapshot = None
            if self._snapshot_again:  # at the state of now, once this task is done
                self._snapshot_again = False
                asyncio.get_running_loop().call_soon(self._snapshot_soon)

    async def snapshot_saved(self) -> None:
        """Wait for the snapshots being saved in the background, if there are any."""
        while (task := self._snapshot_task) is not None and not task.done():
            await asyncio.shield(task)
            await asyncio.sleep(0)  # a follow-up snapshot starts on the next turn


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
