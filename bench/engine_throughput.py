"""Throughput of the ticket engine: counters pressing call_next + complete flat out.

One site (the demo hall, counters L1-L8 all serving ktp/kk/akta, so every
counter competes for every ticket), a pool of tickets issued beforehand by the
parent. Then:

- Redis backend: 1, 2 and 4 OS processes (spawn), the 8 counters dealt over
  them; each process opens its own `SiteEngine`, follows the log (as a server
  process does) and runs one asyncio task per counter that presses
  ``call_next`` then ``complete`` until the pool is empty or the time is up;
- embedded SQLite backend (a file in a temp dir, durable on commit): the same
  8 counters in one process.

Reported per run: call+complete pairs/s, commands/s, conflict-retry rate
(`SiteEngine.conflicts` / commands), commands per successful append (group
commit: `SiteEngine.batches`), p50/p99/max latency of one `execute`
(time.perf_counter around the await, so it includes waiting for the process's
engine lock behind the process's other counters). After each run the log is
read back and checked: every ticket called exactly once and completed once.

    .venv/bin/python bench/engine_throughput.py                 # defaults below
    .venv/bin/python bench/engine_throughput.py --tickets 1000,3000 --procs 1,4

Bounded: each run stops after --duration seconds at most; processes are joined
with timeouts and terminated if they hang; keys/files are removed in finally.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import glob
import itertools
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    COUNTERS,
    LATENCY_COLUMNS,
    RUN_COLUMNS,
    SITE,
    HallClock,
    Workers,
    add_run_options,
    best_run,
    delete_prefix,
    hall_commands,
    load_average,
    md_records,
    md_table,
    percentile,
    progress,
    ready_then_go,
    redis_url,
    split_counters,
    ticket_services,
    unique,
)

ACTIVE: list[str] = list(COUNTERS)  # the counters pressing (--counters)


# --- the counters ------------------------------------------------------------------------


async def press(
    engine: Any,
    counters: list[str],
    deadline: float,
    tag: str,
    command_ids: bool,
    rate: float = 0.0,
) -> dict[str, Any]:
    """One task per counter: call_next + complete until the pool is empty or `deadline`.

    `rate` (pairs/s for each counter; 0: flat out): each counter starts its next
    pair on a schedule, 1/rate apart from a random phase, or at once when it is
    behind it. Latency is then measured at that load instead of at saturation.
    """
    from qms.core import Rejected
    from qms.engine import EngineBusy

    latencies: list[float] = []
    stats = Counter[str]()

    async def counter_loop(counter: str) -> float:
        n = 0
        due = time.perf_counter() + (random.uniform(0, 1 / rate) if rate else 0.0)
        while time.perf_counter() < deadline:
            if rate:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                due += 1 / rate
            n += 1
            call: dict[str, Any] = {"type": "call_next", "counter": counter}
            done: dict[str, Any] = {"type": "complete", "counter": counter}
            if command_ids:
                call["command_id"] = f"{tag}-{counter}-{n}-c"
                done["command_id"] = f"{tag}-{counter}-{n}-d"
            t0 = time.perf_counter()
            try:
                await engine.execute(call)
            except Rejected as exc:
                if exc.code == "no_ticket_waiting":
                    break
                raise
            except EngineBusy:
                stats["busy"] += 1
                continue
            t1 = time.perf_counter()
            latencies.append(t1 - t0)
            while True:  # a called ticket is always completed, even past the deadline
                try:
                    await engine.execute(done)
                    break
                except EngineBusy:
                    stats["busy"] += 1
            latencies.append(time.perf_counter() - t1)
            stats["pairs"] += 1
        return time.perf_counter()

    ends = await asyncio.gather(*(counter_loop(c) for c in counters))
    return {
        "pairs": stats["pairs"],
        "busy": stats["busy"],
        "latencies": latencies,
        "end": max(ends),
    }


def server_gc() -> Any:
    """The garbage-collector policy `qms serve` runs (`GcPolicy`, started once the
    site's engine is open): collect then freeze, and again after each full collection
    the interpreter makes, so that a full collection walks only what is new."""
    from qms.server.process import GcPolicy

    policy = GcPolicy(freeze_delay_s=1.0, reclaim_s=3600)
    policy.start()
    return policy


async def _worker(
    idx: int,
    url: str,
    counters: list[str],
    t0: float,
    duration: float,
    follow: str,
    command_ids: bool,
    rate: float,
    profile: str | None,
    ready: Any,
    go: Any,
) -> dict[str, Any]:
    from qms.engine import SiteEngine, following
    from qms.eventlog import open_log
    from qms.relay import relaying

    log = open_log(url)
    try:
        engine = await SiteEngine(log, SITE, clock=HallClock(t0)).open()
        async with contextlib.AsyncExitStack() as stack:
            relay = None
            if follow != "no":
                await stack.enter_async_context(following(engine))
            if follow == "relay":
                relay = await stack.enter_async_context(relaying(engine))
                while relay is not None and relay.writer is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)  # until the lease is settled
            stack.callback(server_gc().stop)
            await ready_then_go(ready, go, idx)
            prof = cProfile.Profile(time.process_time) if profile else None
            if prof is not None:
                prof.enable()
            start, cpu = time.perf_counter(), time.process_time()
            out = await press(engine, counters, start + duration, f"p{idx}", command_ids, rate)
            cpu = time.process_time() - cpu
            if prof is not None:
                prof.disable()
                prof.dump_stats(profile)
        out.update(
            start=start,
            conflicts=engine.conflicts,
            appends=_appends(engine),
            proc=idx,
            cpu=cpu,
            forwarded=relay.forwarded if relay else 0,
            fallbacks=relay.fallbacks if relay else 0,
        )
        return out
    finally:
        await log.close()


def _appends(engine: Any) -> int:
    """Successful appends made by `execute` (group commit: fewer than commands); 0 before it."""
    return int(getattr(engine, "batches", 0))


async def redis_cpu(base: str) -> float:
    """CPU seconds the Redis server has used (the whole server: shared with others)."""
    import redis.asyncio as aioredis

    r = aioredis.Redis.from_url(base)
    try:
        info = await r.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    finally:
        await r.aclose()


# --- set-up, checks, summary ---------------------------------------------------------------


async def set_up(log: Any, tickets: int, t0: float) -> int:
    """The hall and its pool of waiting tickets; returns the log version after set-up."""
    from qms.engine import SiteEngine

    engine = await SiteEngine(log, SITE, clock=HallClock(t0)).open()
    for cmd in hall_commands():
        await engine.execute(cmd)
    for service in ticket_services(tickets):
        await engine.execute({"type": "issue_ticket", "service": service})
    return engine.version


async def check_log(log: Any, after: int, tickets: int, pairs: int) -> str:
    """Read the run's events back: each ticket called once and completed once."""
    called: Counter[str] = Counter()
    completed: Counter[str] = Counter()
    version = after
    while True:
        page = await log.read(SITE, after=version, limit=5000)
        version = page[-1][0] if page else version
        for _, ev in page:
            if ev["type"] == "ticket_called":
                called[ev["ticket"]] += 1
            elif ev["type"] == "ticket_completed":
                completed[ev["ticket"]] += 1
        if len(page) < 5000:
            break
    twice = sum(1 for n in called.values() if n > 1)
    problems = []
    if twice:
        problems.append(f"{twice} tickets called twice")
    if len(called) != pairs or len(completed) != pairs:
        problems.append(f"{len(called)} called / {len(completed)} completed, {pairs} pairs")
    if pairs > tickets:
        problems.append(f"{pairs} pairs from {tickets} tickets")
    return "ok" if not problems else "PROBLEM: " + "; ".join(problems)


def summarize(
    backend: str,
    procs: int,
    tickets: int,
    outs: list[dict[str, Any]],
    check: str,
    duration: float,
    server_cpu: float = 0.0,
) -> dict[str, Any]:
    lat = sorted(x for o in outs for x in o["latencies"])
    pairs = sum(o["pairs"] for o in outs)
    commands = len(lat)
    conflicts = sum(o["conflicts"] for o in outs)
    elapsed = max(o["end"] for o in outs) - min(o["start"] for o in outs)
    return {
        "backend": backend,
        "procs": procs,
        "counters": len(ACTIVE),
        "tickets": tickets,
        "pairs": pairs,
        "elapsed": elapsed,
        "pairs_s": pairs / elapsed if elapsed else float("nan"),
        "commands_s": commands / elapsed if elapsed else float("nan"),
        "conflict_rate": conflicts / commands if commands else float("nan"),
        "per_append": (
            commands / sum(o.get("appends", 0) for o in outs)
            if any(o.get("appends") for o in outs)
            else float("nan")
        ),
        "busy": sum(o["busy"] for o in outs),
        "p50": percentile(lat, 50) * 1e3,
        "p99": percentile(lat, 99) * 1e3,
        "max": (lat[-1] if lat else float("nan")) * 1e3,
        "cpu_per_pair": sum(o["cpu"] for o in outs) / pairs * 1e3 if pairs else float("nan"),
        "server_cpu_per_pair": server_cpu / pairs * 1e3 if pairs and server_cpu else float("nan"),
        "timed_out": elapsed >= duration,
        "check": check,
    }


# --- the runs ------------------------------------------------------------------------------


async def run_redis(
    procs: int,
    tickets: int,
    duration: float,
    follow: str,
    command_ids: bool,
    base: str,
    profile_dir: str | None = None,
    rate: float = 0.0,
) -> dict[str, Any]:
    from qms.eventlog import open_log

    prefix = unique("tp")
    url = redis_url(prefix, base)
    log = open_log(url)
    workers = Workers()
    t0 = time.time()
    try:
        setup_version = await set_up(log, tickets, t0)
        for idx, counters in enumerate(split_counters(procs, ACTIVE)):
            profile = f"{profile_dir}/redis-{procs}p-{tickets}t-{idx}.prof" if profile_dir else None
            args = (url, counters, t0, duration, follow, command_ids, rate, profile)
            workers.start(_worker, idx, *args)
        workers.wait_ready()
        server_cpu = await redis_cpu(base)
        outs = workers.run(duration)
        server_cpu = await redis_cpu(base) - server_cpu
        pairs = sum(o["pairs"] for o in outs)
        check = await check_log(log, setup_version, tickets, pairs)
        backend = "redis, one writer" if follow == "relay" else "redis"
        row = summarize(backend, procs, tickets, outs, check, duration, server_cpu)
        row["forwarded"] = sum(o.get("forwarded", 0) for o in outs) / max(1, len(row_lat(outs)))
        row["fallbacks"] = sum(o.get("fallbacks", 0) for o in outs)
        return row
    finally:
        workers.join()
        with contextlib.suppress(Exception):
            await log.drop(SITE)
        await log.close()
        await delete_prefix(prefix, base)


async def run_sqlite(
    tickets: int,
    duration: float,
    command_ids: bool,
    synchronous: str = "FULL",
    profile_dir: str | None = None,
    rate: float = 0.0,
) -> dict[str, Any]:
    from qms.engine import SiteEngine
    from qms.eventlog import open_log

    tmp = tempfile.mkdtemp(prefix="qmsbench-")
    log = open_log(f"sqlite://{tmp}/qms.db")
    t0 = time.time()
    try:
        if synchronous != "FULL":
            # What-if only (the shipped backend always runs synchronous=FULL): reach into
            # the backend's worker thread to relax the fsync per commit.
            await log._call(lambda: log._db().execute(f"PRAGMA synchronous={synchronous}"))
        setup_version = await set_up(log, tickets, t0)
        engine = await SiteEngine(log, SITE, clock=HallClock(t0)).open()
        policy = server_gc()
        prof = cProfile.Profile(time.process_time) if profile_dir else None
        if prof is not None:
            prof.enable()
        start, cpu = time.perf_counter(), time.process_time()
        out = await press(engine, ACTIVE, start + duration, "p0", command_ids, rate)
        cpu = time.process_time() - cpu
        policy.stop()
        if prof is not None:
            prof.disable()
            prof.dump_stats(f"{profile_dir}/sqlite-{synchronous}-{tickets}t.prof")
        out.update(
            start=start, conflicts=engine.conflicts, appends=_appends(engine), proc=0, cpu=cpu
        )
        check = await check_log(log, setup_version, tickets, out["pairs"])
        name = "sqlite" if synchronous == "FULL" else f"sqlite synchronous={synchronous} (what-if)"
        return summarize(name, 1, tickets, [out], check, duration)
    finally:
        await log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def profile_summary(profile_dir: str, pattern: str, top: int = 18) -> str:
    """The functions that took the time in the workers' profiles matching `pattern`."""
    files = sorted(glob.glob(f"{profile_dir}/{pattern}"))
    if not files:
        return ""
    stats = pstats.Stats(files[0])
    for f in files[1:]:
        stats.add(f)
    total = max(stats.total_tt, 1e-9)  # type: ignore[attr-defined]
    rows = []
    for (file, line, fn), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        short = f"{Path(file).name}:{line}({fn})" if file != "~" else fn
        rows.append((short, nc, tt, ct))
    by_cum = sorted(rows, key=lambda r: -r[3])
    keep = [r for r in by_cum if any(k in r[0] for k in KEY_FUNCTIONS)][:top]
    return (
        md_table(
            ["function (cProfile, all workers)", "calls", "own s", "cumulative s", "cumulative %"],
            [(r[0], r[1], r[2], r[3], f"{100 * r[3] / total:.0f}%") for r in keep],
        )
        + f"\n\nprofiled CPU total {total:.1f} s over {len(files)} process(es)\n"
    )


# What to show from a profile: the engine's phases, the core, the log, the client.
KEY_FUNCTIONS = (
    "(execute)",
    "(decide)",
    "(choose)",
    "(_append)",
    "(save_snapshot)",
    "(state_to_dict)",
    "(catch_up)",
    "(apply)",
    "(evolve)",
    "(event_from_dict)",
    "(event_to_dict)",
    "(append)",
    "(read)",
    "(encode",
    "(decode",
    "(sleep)",
    "(select)",
    "(poll)",
    "(_read_loop)",
    "(subscribe)",
    "(follow)",
    "(execute_command)",
    "(run_in_executor)",
    "(parse_command)",
    "(_append_sync)",
    "(send)",
    "(to_dict)",
)


def row_lat(outs: list[dict[str, Any]]) -> list[float]:
    return [x for o in outs for x in o["latencies"]]


def table(rows: list[dict[str, Any]]) -> str:
    return md_records(
        [
            ("backend", "backend"),
            *RUN_COLUMNS,
            ("commands/s", "commands_s"),
            ("conflicts/command", lambda r: f"{r['conflict_rate']:.3f}"),
            ("commands/append", "per_append"),
            ("forwarded/command", lambda r: r.get("forwarded", float("nan"))),
            ("client CPU ms/pair", "cpu_per_pair"),
            ("redis-server CPU ms/pair", "server_cpu_per_pair"),
            *LATENCY_COLUMNS,
        ],
        rows,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_options(ap, procs="Redis process counts, comma-separated")
    ap.add_argument(
        "--no-follow",
        action="store_true",
        help="workers do not follow the log (catch up only on conflicts)",
    )
    ap.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="offered load in pairs/s over all counters (0: flat out); latency at that load",
    )
    ap.add_argument(
        "--writers",
        default="any,one",
        help="Redis: 'any' (every process decides, compare-and-append), 'one' (commands "
        "forwarded to the site's one writer, qms.relay), or both",
    )
    ap.add_argument(
        "--no-command-ids", action="store_true", help="send commands without a client command id"
    )
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--skip-redis", action="store_true")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument(
        "--sqlite-what-if",
        action="store_true",
        help="also run SQLite with synchronous=NORMAL (not what qms ships)",
    )
    ap.add_argument(
        "--profile",
        metavar="DIR",
        help="cProfile every worker into DIR and print where the time went",
    )
    args = ap.parse_args()
    ACTIVE[:] = COUNTERS[: args.counters]
    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
        for old in glob.glob(f"{args.profile}/*.prof"):  # profiles of an earlier run
            os.remove(old)
    tickets_list = [int(x) for x in args.tickets.split(",")]
    procs_list = [int(x) for x in args.procs.split(",")]
    command_ids = not args.no_command_ids
    print("## Engine throughput (call_next + complete)\n")
    print(
        f"{len(ACTIVE)} counter(s) ({', '.join(ACTIVE)}) on the same services; time cap "
        f"{args.duration:g} s per run; follow={not args.no_follow}; "
        f"offered load {f'{args.rate:g} pairs/s' if args.rate else 'flat out'}; "
        f"command ids={command_ids}; pid {os.getpid()}; load average {load_average()}\n",
        flush=True,
    )
    rows: list[dict[str, Any]] = []
    for tickets in tickets_list:
        if not args.skip_redis:
            for procs, writers in itertools.product(procs_list, args.writers.split(",")):
                if writers == "one" and (procs == 1 or args.no_follow):
                    continue  # one process is its own writer; a writer's sender follows
                follow = "no" if args.no_follow else "relay" if writers == "one" else "yes"
                runs = []
                for _ in range(args.repeat):
                    r = asyncio.run(
                        run_redis(
                            procs,
                            tickets,
                            args.duration,
                            follow,
                            command_ids,
                            args.redis,
                            args.profile,
                            args.rate / len(ACTIVE),
                        )
                    )
                    runs.append(r)
                    progress(
                        f"{r['backend']}  procs={procs} tickets={tickets}: "
                        f"{r['pairs_s']:.0f} pairs/s, "
                        f"p99 {r['p99']:.2f} ms, {r['check']}"
                        + (f", {r['fallbacks']} fallbacks" if r.get("fallbacks") else ""),
                    )
                rows.append(best_run(runs))
        if not args.skip_sqlite:
            syncs = ["FULL", "NORMAL"] if args.sqlite_what_if else ["FULL"]
            for sync in syncs:
                runs = []
                for _ in range(args.repeat):
                    r = asyncio.run(
                        run_sqlite(
                            tickets,
                            args.duration,
                            command_ids,
                            sync,
                            args.profile,
                            args.rate / len(ACTIVE),
                        )
                    )
                    runs.append(r)
                    progress(
                        f"{r['backend']} tickets={tickets}: {r['commands_s']:.0f} commands/s, "
                        f"p99 {r['p99']:.2f} ms, {r['check']}",
                    )
                rows.append(best_run(runs))
    print(table(rows))
    print()
    if args.profile:
        for pattern, title in (
            ("redis-1p-*", "Redis, 1 process"),
            ("redis-4p-*", "Redis, 4 processes"),
            ("sqlite-FULL-*", "SQLite"),
        ):
            summary = profile_summary(args.profile, pattern)
            if summary:
                print(f"### Profile: {title}\n\n{summary}")


if __name__ == "__main__":
    main()
