"""A year of a busy hall, made once and kept in a cache folder (for bench/reports_year.py).

The hall: the demo hall's 6 agencies and 12 services (`qms.demo_hall`) with five
counters for each of its ten (L1-L50, the same services each), one officer per
counter at their own pace (0.7-1.5 times the service's mean time). Its days,
Monday to Saturday from 2025-01-06: visitors arrive from 07:45 to 15:00 at 4.93
times the rates of `qms demo --history` (a morning peak, a lunch dip; ~2,000
visits a day), 8 % priority visitors, 15 % online and 5 % staff-issued tickets;
the counters open between 08:00 and 08:10; 5 % of called visitors do not come
(a recall, then no-show), 4 % are transferred to another service after a word;
on Friday the counters pause from 11:30 to 13:00 (Jumat); counters close when
nobody is left after 15:00, or at 16:30; `close_day` at 17:00 (who is left
expires).

How it is made, the fastest way that is still real: every command goes through
the pure core as the engine runs it (`parse_command`, `decide` on the state,
`evolve` of each event, a `command_id` on every command), on the simulated
clock, and the events are written to an embedded SQLite log with the log's own
compare-and-append (`log.append`), 20,000 at a time, the log not syncing to disk
while it fills (`set_durable(False)`). It skips only the engine's per-command
await, thread hop and one SQLite transaction per command: driven through
`SiteEngine.execute` (as `qms demo --history` does) the same year would take
about half an hour on this machine (estimated from the demo history's 1-1.3 s
per day of 300-430 tickets; not run). An idle counter does not poll: the next arrival
for its services wakes it, so there are no refused `call_next` commands.

The cache folder holds `qms.db` (the log) and `year.json` (what was made: the
days, each with the log versions it spans). The report files are built from the
log by the benchmark itself (it times that: "rebuild the year").
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import os
import random
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

from qms.core import Rejected, decide, event_to_dict, evolve, parse_command
from qms.core.calendar import zone
from qms.core.model import HallState
from qms.demo_hall import COUNTERS, MEAN_SERVICE_MIN, SERVICES, setup_commands
from qms.idempotency import CID, CID_COUNT

SITE = "bench-hall"
TZ = "Asia/Jakarta"
FIRST_DAY = date(2025, 1, 6)  # a Monday
COPIES = 5  # counters per demo counter
SCALE = 4.93  # arrivals per demo-history arrival: ~2,000 visits a day
ARRIVALS_PER_HOUR = {7: 20, 8: 55, 9: 85, 10: 80, 11: 60, 12: 25, 13: 45, 14: 35}
FRIDAY_BREAK_ARRIVALS = 8
SERVICE_WEIGHTS = [6, 3, 2, 3, 1, 6, 2, 4, 3, 2, 1, 2]
PRIORITY_SHARE, NO_SHOW_SHARE, TRANSFER_SHARE = 0.08, 0.05, 0.04
CHANNELS = (("kiosk", 0.80), ("online", 0.15), ("staff", 0.05))
BATCH = 20_000
FORMAT = 1  # raised when the hall or the day changes: a cache of another format is made again


def counters() -> list[tuple[str, list[str]]]:
    out = []
    for k in range(COPIES):
        for i, (_, _, _, services) in enumerate(COUNTERS, 1):
            out.append((f"L{k * len(COUNTERS) + i}", list(services)))
    return out


def hall_setup() -> list[dict[str, Any]]:
    cmds = [c for c in setup_commands() if c["type"] not in ("set_up_site", "set_up_counter")]
    site = {"type": "set_up_site", "site": SITE, "name": "MPP (bench), 50 loket", "timezone": TZ}
    cmds.insert(0, site)
    for cid, services in counters():
        cmds.append(
            {"type": "set_up_counter", "counter": cid, "name": f"Loket {cid[1:]}",
             "services": services}
        )  # fmt: skip
    return cmds


def working_days(n: int) -> list[date]:
    out, d = [], FIRST_DAY
    while len(out) < n:
        if d.weekday() < 6:  # Monday to Saturday
            out.append(d)
        d += timedelta(days=1)
    return out


def _at(day: date, hh: int, mm: int = 0) -> float:
    return datetime.combine(day, dtime(hh, mm), zone(TZ)).timestamp()


class YearMaker:
    """Runs the hall's days through decide/evolve; hands the events out in batches."""

    def __init__(self, flush: Callable[[int, list[dict[str, Any]]], Any], seed: int) -> None:
        self.state = HallState()
        self.version = 0
        self.flush_fn = flush
        self.buffer: list[dict[str, Any]] = []
        self.base = 0
        self.n_cmd = 0
        self.seed = seed
        self.speeds = {
            cid: random.Random(f"{seed}-{cid}").uniform(0.7, 1.5) for cid, _ in counters()
        }

    async def run(self, cmd: dict[str, Any], now: float) -> list[dict[str, Any]] | None:
        self.n_cmd += 1
        cid = f"c{self.n_cmd}"
        command = parse_command({**cmd, "by": "bench", "command_id": cid})
        try:
            events = decide(self.state, command, now)
        except Rejected:
            return None
        data = [event_to_dict(ev) for ev in events]
        if data:
            data[0] = {**data[0], CID: cid, CID_COUNT: len(data)}
        for ev in events:
            evolve(self.state, ev)
        self.version += len(data)
        self.buffer.extend(data)
        if len(self.buffer) >= BATCH:
            await self.flush()
        return data

    async def flush(self) -> None:
        if self.buffer:
            await self.flush_fn(self.base, self.buffer)
            self.base += len(self.buffer)
            self.buffer = []

    async def day(self, day: date) -> dict[str, int]:
        rng = random.Random(f"{self.seed}-{day}")
        agenda: list[tuple[float, int, str, str]] = []
        tie = 0
        tally = {"tickets": 0, "transfers": 0}

        def at(t: float, action: str, subject: str = "") -> None:
            nonlocal tie
            tie += 1
            heapq.heappush(agenda, (t, tie, action, subject))

        friday = day.weekday() == 4
        brk = (_at(day, 11, 30), _at(day, 13, 0))
        last_arrival, last_call, close = _at(day, 15), _at(day, 16, 30), _at(day, 17)
        plan: dict[str, tuple[str, float]] = {}
        idle: set[str] = set()
        closed: set[str] = set()
        start = _at(day, 7, 45)
        at(start, "arrive")
        for cid, _ in counters():
            at(_at(day, 8) + rng.uniform(0, 600), "open", cid)
        at(last_arrival, "sweep")

        def wake(service: str, now: float) -> None:
            for c in sorted(idle):
                if service in self.state.counters[c].services:
                    idle.discard(c)
                    at(now, "next", c)
                    return

        now = start
        while agenda:
            now, _, action, subject = heapq.heappop(agenda)
            if action == "arrive":
                service = rng.choices(SERVICES, weights=SERVICE_WEIGHTS)[0][0]
                priority = "regular"
                if rng.random() < PRIORITY_SHARE:
                    priority = rng.choice(["lansia", "disabilitas", "ibu_hamil"])
                channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
                cmd = {"type": "issue_ticket", "service": service, "priority": priority,
                       "channel": channel, "token": f"t{self.n_cmd}"}  # fmt: skip
                if await self.run(cmd, now) is not None:
                    tally["tickets"] += 1
                    wake(service, now)
                if friday and brk[0] <= now < brk[1]:
                    rate = FRIDAY_BREAK_ARRIVALS
                else:
                    rate = ARRIVALS_PER_HOUR.get(datetime.fromtimestamp(now, zone(TZ)).hour, 30)
                nxt = now + rng.expovariate(rate * SCALE / 3600)
                if nxt < last_arrival:
                    at(nxt, "arrive")
            elif action == "open":
                await self.run(
                    {"type": "open_counter", "counter": subject, "officer": f"petugas-{subject}"},
                    now,
                )
                at(now, "next", subject)
            elif action == "sweep":  # nobody is coming any more: idle counters go home
                for c in sorted(idle):
                    await self.run({"type": "close_counter", "counter": c}, now)
                    closed.add(c)
                idle.clear()
            elif action == "next":
                if subject in closed:
                    continue
                if friday and brk[0] <= now < brk[1]:
                    await self.run({"type": "pause_counter", "counter": subject}, now)
                    at(brk[1] + rng.uniform(0, 300), "open", subject)
                    continue
                data = (
                    None
                    if now >= last_call
                    else await self.run({"type": "call_next", "counter": subject}, now)
                )
                if data is None:
                    if now >= last_arrival:
                        await self.run({"type": "close_counter", "counter": subject}, now)
                        closed.add(subject)
                    else:
                        idle.add(subject)
                    continue
                ticket = self.state.tickets[data[-1]["ticket"]]
                draw = rng.random()
                if draw < NO_SHOW_SHARE:
                    at(now + 60, "recall", subject)
                    continue
                if draw < NO_SHOW_SHARE + TRANSFER_SHARE:
                    plan[subject] = ("transfer", rng.uniform(30, 120))
                else:
                    mean = MEAN_SERVICE_MIN[ticket.service] * 60 * self.speeds[subject]
                    plan[subject] = ("complete", 30 + rng.expovariate(1 / mean))
                at(now + rng.uniform(20, 90), "start", subject)
            elif action == "start":
                await self.run({"type": "start_service", "counter": subject}, now)
                step, took = plan.pop(subject)
                at(now + took, step, subject)
            elif action == "recall":
                await self.run({"type": "recall", "counter": subject}, now)
                at(now + 60, "no_show", subject)
            elif action in ("no_show", "complete"):
                await self.run({"type": action, "counter": subject}, now)
                at(now + rng.uniform(5, 30), "next", subject)
            elif action == "transfer":
                held = self.state.counters[subject].ticket
                if held is not None:
                    current = self.state.tickets[held].service
                    to = rng.choice([s[0] for s in SERVICES if s[0] != current])
                    cmd = {"type": "transfer", "ticket": held, "to_service": to}
                    if await self.run(cmd, now) is not None:
                        tally["transfers"] += 1
                        wake(to, now)
                at(now + rng.uniform(5, 30), "next", subject)
        for c in sorted(idle - closed):
            await self.run({"type": "close_counter", "counter": c}, max(now, last_call))
        await self.run({"type": "close_day"}, max(now, close))
        return tally


async def make_year(folder: Path, days: int, seed: int, progress: Callable[[str], None]) -> dict:
    """Write the log of `days` hall days into `folder` (made again when its format differs)."""
    from qms.eventlog import open_log

    meta_path = folder / "year.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if (meta.get("format"), meta.get("days_wanted"), meta.get("seed")) == (FORMAT, days, seed):
            return dict(meta)
    os.makedirs(folder, exist_ok=True)
    for name in ("qms.db", "qms.db-wal", "qms.db-shm", "year.json"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / name)
    log = open_log(f"sqlite://{folder}/qms.db")
    t0 = time.perf_counter()
    try:
        await log.set_durable(False)

        async def flush(base: int, events: list[dict[str, Any]]) -> None:
            new = await log.append(SITE, base, events)
            assert new == base + len(events)

        maker = YearMaker(flush, seed)
        for cmd in hall_setup():
            await maker.run(cmd, _at(FIRST_DAY, 7))
        setup_version = maker.version
        spans: dict[str, list[int]] = {}
        tickets = transfers = 0
        for i, day in enumerate(working_days(days), 1):
            first = maker.version + 1
            tally = await maker.day(day)
            spans[day.isoformat()] = [first, maker.version]
            tickets += tally["tickets"]
            transfers += tally["transfers"]
            if i % 25 == 0:
                progress(f"  {i}/{days} days, {maker.version:,} events, "
                         f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
        await maker.flush()
        await log.set_durable(True)
    finally:
        await log.close()
    meta = {
        "format": FORMAT,
        "days_wanted": days,
        "seed": seed,
        "site": SITE,
        "tz": TZ,
        "events": maker.version,
        "tickets": tickets,
        "transfers": transfers,
        "setup_version": setup_version,
        "days": spans,
        "made_in_s": round(time.perf_counter() - t0, 1),
    }
    meta_path.write_text(json.dumps(meta))
    return meta


if __name__ == "__main__":  # a quick look: python bench/year_hall.py FOLDER DAYS
    import sys

    out = asyncio.run(make_year(Path(sys.argv[1]), int(sys.argv[2]), 1, print))
    print({k: v for k, v in out.items() if k != "days"})
