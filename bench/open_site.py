"""Opening a site whose log holds 1,000,000 events, on both backends.

Build (fast, and realistic): a year and more of simulated hall days is run
through the pure core (`decide` + `evolve`, no I/O): the demo hall's 10
counters open each morning, visitors arrive by the hour-of-day rates of
`qms.simulate` (8 % priority), counters call the next ticket, recall (3 %),
transfer (2 %), mark no-shows (4 %) or complete, everyone in the hall by
closing time is served, counters close; the next day's first command closes the
old day and opens the new one. Every command carries a client command id, as a
console does. The events go to both logs in large batches with `log.append`
(the same compare-and-append the engine uses), and the snapshots are those the
engine would have saved: the state (and the remembered command ids) right after
the command whose append crossed a multiple of `snapshot_every` (the engine's
`SNAPSHOT_EVERY`, 5,000; 1,000 before 2026-12-04).

Measured, on each backend, each from a fresh log object:
- full replay without a snapshot (`SiteEngine(log, site).catch_up()` from 0,
  which is what `open()` does when there is no snapshot);
- `await SiteEngine(log, site).open()` with the snapshot before last saved
  (about `snapshot_every` events of tail to replay: the worst case), then with the last
  one (tail of 0-2 events: the best case), each --repeat times; plus where the
  time goes (load + msgpack, state_from_dict, tail).
Each opened state is checked against the generator's own state.

    .venv/bin/python bench/open_site.py                    # 1,000,000 events
    .venv/bin/python bench/open_site.py --events 100000    # a quick look

Bounded by the size of the build (about 1-3 minutes for 1M events); the Redis
keys (~300 MB for 1M events) and the SQLite file are deleted in finally.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SITE, delete_prefix, load_average, md_table, progress, redis_url, unique

from qms.core import (
    Rejected,
    decide,
    event_to_dict,
    evolve,
    parse_command,
    state_to_dict,
)
from qms.core.calendar import zone
from qms.core.model import HallState
from qms.demo_hall import COUNTERS, MEAN_SERVICE_MIN, SERVICES, setup_commands
from qms.engine import REMEMBERED_COMMANDS, SNAPSHOT_EVERY
from qms.idempotency import CID, CID_COUNT
from qms.simulate import ARRIVALS_PER_HOUR, PRIORITY_SHARE

TZ = "Asia/Jakarta"
SERVICE_WEIGHTS = [6, 3, 2, 3, 1, 6, 2, 4, 3, 2, 1, 2]  # as qms.simulate
TRANSFER_TO = {"ktp": "kk", "kk": "akta", "nib": "pbg", "pkb": "bbn", "sertifikat": "roya"}


class Builder:
    """Runs hall days through decide/evolve and hands the events out in batches."""

    def __init__(
        self,
        target: int,
        snapshot_every: int,
        flush: Callable[[int, list[dict[str, Any]]], Any],
        batch: int,
        seed: int = 7,
    ) -> None:
        self.state = HallState()
        self.version = 0
        self.target = target
        self.snapshot_every = snapshot_every
        self.flush_fn = flush
        self.batch = batch
        self.buffer: list[dict[str, Any]] = []
        self.buffer_base = 0  # version before the buffer's first event
        self.commands: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self.snapshots: list[tuple[int, dict[str, Any]]] = []  # the last two the engine saves
        self.rng = random.Random(seed)
        self.n_cmd = 0
        self.rejected = 0
        self.days = 0

    # -- one command, as the engine runs it --------------------------------------------

    async def run(self, cmd: dict[str, Any], now: float) -> list[dict[str, Any]] | None:
        self.n_cmd += 1
        cid = f"c{self.n_cmd}"
        command = parse_command({**cmd, "command_id": cid})
        try:
            events = decide(self.state, command, now)
        except Rejected:
            self.rejected += 1
            return None
        data = [event_to_dict(ev) for ev in events]
        if not data:
            return data
        data[0] = {**data[0], CID: cid, CID_COUNT: len(data)}
        base = self.version
        for ev in events:
            evolve(self.state, ev)
        self.version += len(data)
        self.commands[cid] = (base + 1, len(data))
        while len(self.commands) > REMEMBERED_COMMANDS:
            self.commands.popitem(last=False)
        self.buffer.extend(data)
        crossed = self.version // self.snapshot_every > base // self.snapshot_every
        if crossed and self.version > self.target - 3 * self.snapshot_every:
            snap = {
                "state": state_to_dict(self.state),
                "commands": [[c, v, n] for c, (v, n) in self.commands.items()],
            }
            self.snapshots = [*self.snapshots[-1:], (self.version, snap)]
        if len(self.buffer) >= self.batch:
            await self.flush()
        return data

    async def flush(self) -> None:
        if self.buffer:
            await self.flush_fn(self.buffer_base, self.buffer)
            self.buffer_base += len(self.buffer)
            self.buffer = []

    # -- the hall's days ---------------------------------------------------------------

    async def build(self) -> None:
        day = date(2025, 1, 6)  # a Monday
        first = True
        while self.version < self.target:
            if day.weekday() < 5:
                opening = datetime.combine(day, dtime(8, 0), zone(TZ)).timestamp()
                if first:
                    for cmd in setup_commands():
                        await self.run(cmd, opening - 3600)
                    first = False
                await self.day(opening)
                self.days += 1
            day += timedelta(days=1)
        await self.flush()

    async def day(self, start: float) -> None:
        rng = self.rng
        agenda: list[tuple[float, int, str, str]] = []
        tie = 0

        def at(t: float, action: str, subject: str = "") -> None:
            nonlocal tie
            tie += 1
            heapq.heappush(agenda, (t, tie, action, subject))

        closing = start + 8 * 3600  # no arrivals after 16:00; everyone inside is served
        idle: set[str] = set()
        for cid, *_ in COUNTERS:
            at(start + rng.uniform(0, 120), "open", cid)
        at(start, "arrive")
        while agenda and self.version < self.target:
            now, _, action, subject = heapq.heappop(agenda)
            if action == "arrive":
                if now >= closing:
                    continue
                service = rng.choices(SERVICES, weights=SERVICE_WEIGHTS)[0][0]
                priority = "regular"
                if rng.random() < PRIORITY_SHARE:
                    priority = rng.choice(["lansia", "disabilitas", "ibu_hamil"])
                await self.run(
                    {
                        "type": "issue_ticket",
                        "service": service,
                        "priority": priority,
                        "token": f"tok{self.n_cmd}",
                    },
                    now,
                )
                for c in sorted(idle):  # an idle counter serving it calls at once
                    if service in self.state.counters[c].services:
                        idle.discard(c)
                        at(now, "next", c)
                        break
                hour = datetime.fromtimestamp(now, zone(TZ)).hour
                rate = ARRIVALS_PER_HOUR.get(hour, 10) / 3600
                at(now + rng.expovariate(rate), "arrive")
            elif action == "open":
                await self.run(
                    {"type": "open_counter", "counter": subject, "officer": f"petugas-{subject}"},
                    now,
                )
                at(now, "next", subject)
            elif action == "next":
                data = await self.run({"type": "call_next", "counter": subject}, now)
                if data is None:
                    idle.add(subject)  # woken by the next arrival for its services
                    continue
                ticket = self.state.tickets[data[-1]["ticket"]]
                r = rng.random()
                if r < 0.04:
                    at(now + 90, "no_show", subject)
                elif r < 0.06 and ticket.service in TRANSFER_TO:
                    at(now + 60, "transfer", subject)
                else:
                    if r < 0.09:
                        at(now + 30, "recall", subject)
                    mean = MEAN_SERVICE_MIN[ticket.service] * 60
                    at(now + 40 + rng.expovariate(1 / mean), "complete", subject)
            elif action == "recall":
                await self.run({"type": "recall", "counter": subject}, now)
            elif action in ("complete", "no_show"):
                await self.run({"type": action, "counter": subject}, now)
                at(now + rng.uniform(5, 30), "next", subject)
            elif action == "transfer":
                t = self.state.counters[subject].ticket
                if t is not None:
                    to = TRANSFER_TO[self.state.tickets[t].service]
                    await self.run({"type": "transfer", "ticket": t, "to_service": to}, now)
                    for c in sorted(idle):
                        if to in self.state.counters[c].services:
                            idle.discard(c)
                            at(now, "next", c)
                            break
                at(now + rng.uniform(5, 30), "next", subject)
        # the hall is empty: the officers sign out
        end = max(closing, now) + 60
        for cid, *_ in COUNTERS:
            if self.version >= self.target:
                break
            if self.state.counters[cid].ticket is None:
                await self.run({"type": "close_counter", "counter": cid}, end)


# --- measuring --------------------------------------------------------------------------


def db_size(folder: str) -> int:
    return sum(f.stat().st_size for f in Path(folder).iterdir())


def summary_of(state: HallState) -> dict[str, Any]:
    return state_to_dict(state)


async def timed_open(url: str, expected: dict[str, Any], version: int) -> dict[str, float]:
    """Time `SiteEngine(log, site).open()` from a fresh log object; check the state."""
    from qms.engine import SiteEngine
    from qms.eventlog import open_log

    log = open_log(url)
    try:
        await log.ping()  # the connection / file is open before the clock starts
        t0 = time.perf_counter()
        engine = await SiteEngine(log, SITE).open()
        total = time.perf_counter() - t0
        if engine.version != version or state_to_dict(engine.state) != expected:
            raise AssertionError(f"opened state differs (version {engine.version} != {version})")
        return {"open": total}
    finally:
        await log.close()


async def open_breakdown(url: str) -> dict[str, float]:
    """open()'s steps timed one by one: load + decode the snapshot, rebuild the state, tail."""
    from qms.core import state_from_dict
    from qms.engine import SiteEngine
    from qms.eventlog import open_log
    from qms.idempotency import remembered

    log = open_log(url)
    try:
        await log.ping()
        t0 = time.perf_counter()
        snap = await log.load_snapshot(SITE)
        t1 = time.perf_counter()
        assert snap is not None
        version, data = snap
        state = state_from_dict(data["state"])
        engine = SiteEngine(log, SITE)
        assert state is not None
        engine.state, engine.version = state, version
        engine._commands = remembered(data.get("commands", []))
        t2 = time.perf_counter()
        await engine.catch_up()
        t3 = time.perf_counter()
        return {
            "load": t1 - t0,
            "state": t2 - t1,
            "tail": t3 - t2,
            "tail_events": engine.version - version,
        }
    finally:
        await log.close()


async def full_replay(url: str, expected: dict[str, Any], version: int) -> float:
    from qms.engine import SiteEngine
    from qms.eventlog import open_log

    log = open_log(url)
    try:
        await log.ping()
        t0 = time.perf_counter()
        engine = SiteEngine(log, SITE)
        await engine.catch_up()
        took = time.perf_counter() - t0
        if engine.version != version or state_to_dict(engine.state) != expected:
            raise AssertionError("replayed state differs from the generator's")
        return took
    finally:
        await log.close()


async def main_async(args: argparse.Namespace) -> None:
    from qms.eventlog import codec, open_log

    prefix = unique("open")
    tmp = tempfile.mkdtemp(prefix="qmsbench-open-")
    urls = {"redis": redis_url(prefix, args.redis), "sqlite": f"sqlite://{tmp}/qms.db"}
    logs = {name: open_log(url) for name, url in urls.items()}
    try:
        write_s = dict.fromkeys(logs, 0.0)

        async def flush(base: int, events: list[dict[str, Any]]) -> None:
            for name, log in logs.items():
                t = time.perf_counter()
                new = await log.append(SITE, base, events)
                write_s[name] += time.perf_counter() - t
                assert new == base + len(events)

        builder = Builder(args.events, args.snapshot_every, flush, args.batch)
        t0 = time.perf_counter()
        await builder.build()
        build_s = time.perf_counter() - t0
        total = builder.version
        expected = summary_of(builder.state)
        (v_prev, s_prev), (v_last, s_last) = builder.snapshots
        snap_bytes = len(codec.encode_state(s_last))
        info = {
            "events": total,
            "days": builder.days,
            "tickets in last snapshot": len(s_last["state"]["tickets"]),
            "command ids in last snapshot": len(s_last["commands"]),
            "snapshot size (msgpack)": f"{snap_bytes / 1e6:.2f} MB",
            "build": f"{build_s:.1f} s (of which writing: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in write_s.items())
            + ")",
        }
        for name, log in logs.items():
            assert await log.version(SITE) == total, name
        if args.redis_memory:
            import redis.asyncio as aioredis

            r = aioredis.Redis.from_url(args.redis)
            try:
                mem = await r.memory_usage(f"{prefix}:{{{SITE}}}:log", samples=0)
                info["redis stream memory"] = f"{(mem or 0) / 1e6:.0f} MB"
            finally:
                await r.aclose()
        info["sqlite file"] = f"{db_size(tmp) / 1e6:.0f} MB"
        print("## Opening a site with a long log\n")
        for k, v in info.items():
            print(f"- {k}: {v}")
        print(flush=True)

        rows = []
        # to compare the states, the generator's must be what the last snapshot holds
        for name, url in urls.items():
            replay = await full_replay(url, expected, total) if not args.skip_replay else None
            progress(f"{name}: full replay {replay} s")
            log = logs[name]
            results = {}
            for label, (v, snap) in (("worst", (v_prev, s_prev)), ("best", (v_last, s_last))):
                await log.save_snapshot(SITE, v, snap)
                times = [
                    (await timed_open(url, expected, total))["open"] for _ in range(args.repeat)
                ]
                parts = await open_breakdown(url)
                results[label] = (times, parts)
                progress(
                    f"{name} {label}: {[round(t, 3) for t in times]} {parts}",
                )
            for label, (times, parts) in results.items():
                rows.append(
                    (
                        name,
                        f"snapshot at {v_prev if label == 'worst' else v_last:,}",
                        int(parts["tail_events"]),
                        statistics.median(times),
                        min(times),
                        max(times),
                        parts["load"],
                        parts["state"],
                        parts["tail"],
                        "met" if statistics.median(times) <= 2.0 else "NOT met",
                    )
                )
            rows.append(
                (
                    name,
                    "no snapshot (full replay)",
                    total,
                    replay if replay is not None else float("nan"),
                    float("nan"),
                    float("nan"),
                    float("nan"),
                    float("nan"),
                    float("nan"),
                    "-",
                )
            )
        print(
            md_table(
                [
                    "backend",
                    "opened from",
                    "events replayed",
                    "open s (median)",
                    "min s",
                    "max s",
                    "load+decode snapshot s",
                    "state_from_dict s",
                    "replay tail s",
                    "target <= 2 s",
                ],
                rows,
            )
        )
        print(
            f"\n(open repeated {args.repeat} times from a fresh log object each; "
            "the OS page cache is warm)\n"
        )
    finally:
        for log in logs.values():
            with contextlib.suppress(Exception):
                await log.drop(SITE)
            with contextlib.suppress(Exception):
                await log.close()
        await delete_prefix(prefix, args.redis)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--snapshot-every", type=int, default=SNAPSHOT_EVERY)
    ap.add_argument("--batch", type=int, default=5000, help="events per log.append")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-replay", action="store_true")
    ap.add_argument("--redis-memory", action="store_true", default=True)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = ap.parse_args()
    print(f"(pid {os.getpid()}; load average {load_average()})", file=sys.stderr)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
