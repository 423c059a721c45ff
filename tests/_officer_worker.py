"""One officer process for tests/test_concurrency.py: its counters press next, then complete.

Run as ``python -m tests._officer_worker SPEC.json``. The spec names the log URL,
the site, the fixed clock, this process's counters and where to write the report.
The process opens its engine, prints ``ready``, waits for a line on stdin (the
start signal, so that every process starts racing at the same moment), then runs
one task per counter as fast as it can until no ticket waits, and writes a JSON
report: every call and completion the engine acknowledged, with the log version
it named; its lost races (``engine.conflicts``); its retries; and every error,
which the test fails on.

What a counter does with each answer:
- ``no_ticket_waiting``: its work is done;
- `EngineBusy` (lost the race `max_attempts` times in a row, nothing written): the officer
  presses again, counted, up to `BUSY_LIMIT` times for one command;
- with ``ride_outages``, a Redis error (connection lost, timeout, loading): a short
  jittered backoff and the same command again WITH THE SAME ``command_id``, so a
  command whose append was applied but whose reply was lost is answered with its
  stored first result (``repeated``) instead of acting twice;
- anything else is an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from qms.core import Rejected
from qms.engine import EngineBusy, Result, SiteEngine, following
from qms.eventlog import open_log
from qms.eventlog.outage import outage_errors
from qms.relay import relaying

# What a Redis outage looks like to a client: `LogUnavailable` from the log, redis-py's
# errors from the relay's own calls, and what a link failing raises.
OUTAGE: tuple[type[BaseException], ...] = (*outage_errors(redis=True), OSError)
OUTAGE_LIMIT = 30.0  # seconds one command may keep failing for want of Redis
BACKOFF = (0.01, 0.05)  # seconds, uniform
BUSY_LIMIT = 3  # EngineBusy answers for one command before the officer gives up (starvation)


class Officer:
    def __init__(self, engine: SiteEngine, spec: dict[str, Any]) -> None:
        self.engine = engine
        self.name: str = spec["name"]
        self.use_ids: bool = spec["command_ids"]
        self.ride_outages: bool = spec["ride_outages"]
        self.called: list[list[Any]] = []  # [ticket, counter, version], as acknowledged
        self.completed: list[list[Any]] = []
        self.outage_retries = 0
        self.repeats = 0  # answers the engine gave from a command id it already had
        self.busy = 0
        self.busy_streak = 0  # the most EngineBusy answers one command got
        self.errors: list[str] = []

    async def send(self, command: dict[str, Any], command_id: str) -> Result:
        if self.use_ids:
            command = {**command, "command_id": command_id}
        deadline = time.monotonic() + OUTAGE_LIMIT
        busy = 0
        while True:
            try:
                result = await self.engine.execute(command)
            except EngineBusy:
                busy += 1
                self.busy += 1
                self.busy_streak = max(self.busy_streak, busy)
                if busy >= BUSY_LIMIT:
                    raise
                continue
            except OUTAGE:
                if not self.ride_outages or time.monotonic() > deadline:
                    raise
                self.outage_retries += 1
                await asyncio.sleep(random.uniform(*BACKOFF))  # a backoff, not a wait
                continue
            self.repeats += result.repeated
            return result

    async def serve(self, counter: str) -> None:
        """Next, complete, next, ... until no ticket waits for this counter."""
        for n in range(1, 1_000_000):
            try:
                called = await self.send(
                    {"type": "call_next", "counter": counter}, f"{self.name}/{counter}/{n}/next"
                )
            except Rejected as exc:
                if exc.code == "no_ticket_waiting":
                    return
                raise
            version, event = called.events[-1]
            expect(event, "ticket_called", counter)
            self.called.append([event["ticket"], counter, version])
            done = await self.send(
                {"type": "complete", "counter": counter}, f"{self.name}/{counter}/{n}/complete"
            )
            version, event = done.events[-1]
            expect(event, "ticket_completed", counter)
            self.completed.append([event["ticket"], counter, version])

    async def guarded(self, counter: str) -> None:
        try:
            await self.serve(counter)
        except Exception:
            self.errors.append(f"{self.name}, counter {counter}:\n{traceback.format_exc()}")

    def report(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "called": self.called,
            "completed": self.completed,
            "conflicts": self.engine.conflicts,
            "outage_retries": self.outage_retries,
            "repeats": self.repeats,
            "busy": self.busy,
            "busy_streak": self.busy_streak,
            "errors": self.errors,
        }


def expect(event: dict[str, Any], kind: str, counter: str) -> None:
    if event.get("type") != kind or event.get("counter") != counter:
        raise RuntimeError(f"expected {kind} at {counter}, the engine answered {event!r}")


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    log = open_log(spec["url"])
    try:
        now = float(spec["now"])
        engine = await SiteEngine(log, spec["site"], clock=lambda: now).open()
        async with contextlib.AsyncExitStack() as stack:
            relay = None
            if spec.get("relay"):  # as a server process does: follow, forward to one writer
                await stack.enter_async_context(following(engine))
                relay = await stack.enter_async_context(relaying(engine))
                async with asyncio.timeout(10):
                    while relay is not None and relay.writer is None:  # noqa: ASYNC110
                        await asyncio.sleep(0.01)  # the lease is settled
            print("ready", flush=True)
            loop = asyncio.get_running_loop()
            if not await loop.run_in_executor(None, sys.stdin.readline):  # the start signal
                raise RuntimeError("no start signal")  # EOF: the test gave up
            officer = Officer(engine, spec)
            async with asyncio.timeout(spec["timeout"]):
                await asyncio.gather(*(officer.guarded(c) for c in spec["counters"]))
            report = officer.report()
            if relay is not None:
                report.update(relay.view())
            return report
    finally:
        await log.close()


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text())
    report = asyncio.run(run(spec))
    Path(spec["out"]).write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
