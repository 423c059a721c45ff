"""The peer: a classic relational ticket queue on PostgreSQL with FOR UPDATE SKIP LOCKED.

What most existing queue systems do: one ``tickets`` row per ticket, a counter
claims the oldest waiting ticket of its services with

    UPDATE tickets SET status = 'called', counter = $1, called_at = now()
     WHERE id = (SELECT id FROM tickets
                  WHERE status = 'waiting' AND service = ANY($2)
                  ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
    RETURNING id

and completes it with ``UPDATE … SET status = 'done' WHERE id = $1``. Same
workload as bench/engine_throughput.py: the same pool of tickets (same
services, issued beforehand by the parent), 8 counters on the same services
dealt over 1 / 2 / 4 OS processes (spawn), one asyncio task and one connection
per counter, pressing call + complete until the pool is empty or the time cap.
Each statement is its own transaction (autocommit; synchronous_commit as the
server has it, `on` here: every commit waits for its WAL flush).

With ``--audit`` a second variant also inserts one row per step into a
``ticket_events`` table in the same transaction: the nearest a relational design
gets to qms's audit log cheaply.

    .venv/bin/python bench/peer_postgres.py
    .venv/bin/python bench/peer_postgres.py --tickets 1000,3000 --procs 1,2,4 --audit

The tables get unique names in database `test` and are dropped in finally.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    COUNTERS,
    LATENCY_COLUMNS,
    PG_DSN,
    RUN_COLUMNS,
    SHARED_SERVICES,
    Workers,
    add_run_options,
    best_run,
    load_average,
    md_records,
    percentile,
    progress,
    ready_then_go,
    split_counters,
    ticket_services,
    unique,
)

ACTIVE: list[str] = list(COUNTERS)  # the counters pressing (--counters)


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a local process, from /proc (0 if unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def statements(table: str, audit: bool) -> dict[str, str]:
    return {
        "call": f"""
            UPDATE {table} SET status = 'called', counter = $1, called_at = now()
             WHERE id = (SELECT id FROM {table}
                          WHERE status = 'waiting' AND service = ANY($2::text[])
                          ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
            RETURNING id""",
        "complete": f"""
            UPDATE {table} SET status = 'done', started_at = coalesce(started_at, now()),
                   completed_at = now()
             WHERE id = $1 AND status = 'called'""",
        "audit": f"INSERT INTO {table}_events (ticket, kind, counter) VALUES ($1, $2, $3)"
        if audit
        else "",
    }


async def _worker(
    idx: int,
    table: str,
    counters: list[str],
    duration: float,
    audit: bool,
    dsn: str,
    ready: Any,
    go: Any,
) -> dict[str, Any]:
    import asyncpg

    sql = statements(table, audit)
    conns = [await asyncpg.connect(dsn) for _ in counters]
    try:
        for conn in conns:  # prepare on every connection before the start
            await conn.prepare(sql["call"])
            await conn.prepare(sql["complete"])
        backends = [await conn.fetchval("SELECT pg_backend_pid()") for conn in conns]
        await ready_then_go(ready, go, idx)
        start, cpu = time.perf_counter(), time.process_time()
        server_cpu = sum(proc_cpu(pid) for pid in backends)
        deadline = start + duration
        latencies: list[float] = []
        claimed: list[int] = []

        async def counter_loop(counter: str, conn: Any) -> float:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                if audit:
                    async with conn.transaction():
                        ticket = await conn.fetchval(sql["call"], counter, SHARED_SERVICES)
                        if ticket is not None:
                            await conn.execute(sql["audit"], ticket, "called", counter)
                else:
                    ticket = await conn.fetchval(sql["call"], counter, SHARED_SERVICES)
                if ticket is None:
                    break
                t1 = time.perf_counter()
                latencies.append(t1 - t0)
                if audit:
                    async with conn.transaction():
                        await conn.execute(sql["complete"], ticket)
                        await conn.execute(sql["audit"], ticket, "completed", counter)
                else:
                    await conn.execute(sql["complete"], ticket)
                latencies.append(time.perf_counter() - t1)
                claimed.append(ticket)
            return time.perf_counter()

        ends = await asyncio.gather(
            *(counter_loop(c, k) for c, k in zip(counters, conns, strict=True))
        )
        cpu = time.process_time() - cpu
        server_cpu = sum(proc_cpu(pid) for pid in backends) - server_cpu
        return {
            "cpu": cpu,
            "server_cpu": server_cpu,
            "proc": idx,
            "start": start,
            "end": max(ends),
            "latencies": latencies,
            "claimed": claimed,
        }
    finally:
        for conn in conns:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)


async def set_up(conn: Any, table: str, tickets: int, audit: bool) -> None:
    await conn.execute(f"""
        CREATE TABLE {table} (
            id bigserial PRIMARY KEY,
            number text NOT NULL,
            service text NOT NULL,
            priority text NOT NULL DEFAULT 'regular',
            status text NOT NULL DEFAULT 'waiting',
            counter text,
            issued_at timestamptz NOT NULL DEFAULT now(),
            called_at timestamptz,
            started_at timestamptz,
            completed_at timestamptz
        )""")
    await conn.execute(f"CREATE INDEX {table}_waiting ON {table} (id) WHERE status = 'waiting'")
    if audit:
        await conn.execute(f"""
            CREATE TABLE {table}_events (
                id bigserial PRIMARY KEY, ticket bigint NOT NULL, kind text NOT NULL,
                counter text, at timestamptz NOT NULL DEFAULT now()
            )""")
    services = ticket_services(tickets)
    await conn.execute(
        f"INSERT INTO {table} (number, service)"
        " SELECT s || lpad(n::text, 4, '0'), s FROM unnest($1::text[]) WITH ORDINALITY AS u(s, n)",
        services,
    )
    await conn.execute(f"VACUUM ANALYZE {table}")


async def run_pg(
    procs: int, tickets: int, duration: float, audit: bool, dsn: str
) -> dict[str, Any]:
    import asyncpg

    table = unique(f"t{procs}").replace("-", "_")
    conn = await asyncpg.connect(dsn)
    workers = Workers()
    try:
        await set_up(conn, table, tickets, audit)
        for idx, counters in enumerate(split_counters(procs, ACTIVE)):
            workers.start(_worker, idx, table, counters, duration, audit, dsn)
        workers.wait_ready()
        outs = workers.run(duration)
        claimed = Counter(t for o in outs for t in o["claimed"])
        pairs = sum(claimed.values())
        done = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE status = 'done'")
        problems = []
        if any(n > 1 for n in claimed.values()):
            problems.append("a ticket claimed twice")
        if done != pairs:
            problems.append(f"{done} done rows for {pairs} pairs")
        if audit:
            ev = await conn.fetchval(f"SELECT count(*) FROM {table}_events")
            if ev != 2 * pairs:
                problems.append(f"{ev} audit rows for {pairs} pairs")
        lat = sorted(x for o in outs for x in o["latencies"])
        elapsed = max(o["end"] for o in outs) - min(o["start"] for o in outs)
        return {
            "backend": "postgres SKIP LOCKED" + (" + audit row" if audit else ""),
            "procs": procs,
            "counters": len(ACTIVE),
            "tickets": tickets,
            "pairs": pairs,
            "elapsed": elapsed,
            "pairs_s": pairs / elapsed,
            "commands_s": len(lat) / elapsed,
            "p50": percentile(lat, 50) * 1e3,
            "p99": percentile(lat, 99) * 1e3,
            "max": lat[-1] * 1e3 if lat else float("nan"),
            "cpu_per_pair": sum(o["cpu"] for o in outs) / pairs * 1e3 if pairs else float("nan"),
            "server_cpu_per_pair": sum(o["server_cpu"] for o in outs) / pairs * 1e3
            if pairs
            else float("nan"),
            "timed_out": elapsed >= duration,
            "check": "ok" if not problems else "PROBLEM: " + "; ".join(problems),
        }
    finally:
        workers.join()
        try:
            await conn.execute(f"DROP TABLE IF EXISTS {table}_events")
            await conn.execute(f"DROP TABLE IF EXISTS {table}")
        finally:
            await conn.close()


def table_md(rows: list[dict[str, Any]]) -> str:
    return md_records(
        [
            ("peer", "backend"),
            *RUN_COLUMNS,
            ("statements/s", "commands_s"),
            ("client CPU ms/pair", "cpu_per_pair"),
            ("postgres backends CPU ms/pair", "server_cpu_per_pair"),
            *LATENCY_COLUMNS,
        ],
        rows,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_options(ap, procs="worker process counts, comma-separated")
    ap.add_argument("--audit", action="store_true", help="also run the variant with audit rows")
    ap.add_argument("--dsn", default=PG_DSN)
    args = ap.parse_args()
    ACTIVE[:] = COUNTERS[: args.counters]
    print("## Peer: PostgreSQL, UPDATE … FOR UPDATE SKIP LOCKED\n")
    print(
        f"{len(ACTIVE)} counter(s) ({', '.join(ACTIVE)}), one connection each; time cap "
        f"{args.duration:g} s per run; pid {os.getpid()}; load average {load_average()}\n",
        flush=True,
    )
    rows = []
    for tickets in (int(x) for x in args.tickets.split(",")):
        for audit in [False, True] if args.audit else [False]:
            for procs in (int(x) for x in args.procs.split(",")):
                runs = []
                for _ in range(args.repeat):
                    r = asyncio.run(run_pg(procs, tickets, args.duration, audit, args.dsn))
                    runs.append(r)
                    progress(
                        f"{r['backend']} procs={procs} tickets={tickets}: {r['pairs_s']:.0f} "
                        f"pairs/s, p99 {r['p99']:.2f} ms, {r['check']}",
                    )
                rows.append(best_run(runs))
    print(table_md(rows))
    print()


if __name__ == "__main__":
    main()
