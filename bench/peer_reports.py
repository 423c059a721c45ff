"""The reports' peer: a classic `tickets` (visits) table in PostgreSQL, the same report in SQL.

What existing queue systems do: one row per ticket (here per visit, so that both
sides count the same things), updated by every command, and reports as SQL over
it (`GROUP BY`, `percentile_cont`). The table holds exactly the rows of qms's
closed-day files (loaded from them with `COPY`), with the indexes a careful
engineer adds for reports by period and by service, officer or counter, and the
counters' time per quarter hour in a second table. The session of the reports
sets `work_mem = 256MB` (every percentile sorts in memory) and `jit = off` (JIT
compiling cost more than it saved on these queries); everything else is the
server's default (two parallel workers per query).

Every view is the same figure as qms's (`qms/reports/sql.py`) written for
PostgreSQL; bench/reports_year.py checks that both give the same numbers.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

VISITS_DDL = """
CREATE TABLE {t} (
    site text NOT NULL, tz text NOT NULL, day date NOT NULL, ticket text NOT NULL,
    number text NOT NULL, visit int NOT NULL, last bool NOT NULL, service text NOT NULL,
    agency text NOT NULL, channel text NOT NULL, priority text NOT NULL, directed_to text,
    issued timestamp NOT NULL, arrival timestamp NOT NULL, called timestamp,
    started timestamp, finished timestamp, outcome text, counter text, officer text,
    calls int NOT NULL, recalls int NOT NULL, returns int NOT NULL, holds int NOT NULL,
    wait_s double precision, walk_s double precision, service_s double precision,
    hall_s double precision, target_s double precision, within_target bool,
    PRIMARY KEY (site, day, ticket, visit))"""
ACTIVITY_DDL = """
CREATE TABLE {t}_counters (
    site text NOT NULL, tz text NOT NULL, day date NOT NULL, counter text NOT NULL,
    officer text, state text NOT NULL, start timestamp NOT NULL,
    seconds double precision NOT NULL)"""
INDEXES = (
    "CREATE INDEX ON {t} (site, service, day)",
    "CREATE INDEX ON {t} (site, officer, day)",
    "CREATE INDEX ON {t} (site, counter, day)",
    "CREATE INDEX ON {t}_counters (site, day)",
)
SESSION = ("SET work_mem = '256MB'", "SET jit = off")


def _stat(c: str) -> str:
    return (
        f"count({c}) AS {c}_n, avg({c}) AS {c}_mean, "
        f"percentile_cont(ARRAY[0.5, 0.9, 0.95]) WITHIN GROUP (ORDER BY {c}) AS {c}_q, "
        f"max({c}) AS {c}_max"
    )


MEASURES = ",\n".join(
    [
        "count(*) AS visits",
        "count(*) FILTER (WHERE visit = 1) AS tickets",
        "count(outcome) AS ended",
        *(
            f"count(*) FILTER (WHERE outcome = '{o}') AS {o}"
            for o in ("served", "no_show", "cancelled", "expired", "transferred")
        ),
        "count(*) FILTER (WHERE within_target) AS within_target",
        "count(within_target) AS with_target",
        *(_stat(c) for c in ("wait_s", "walk_s", "service_s", "hall_s")),
    ]
)
SCOPE = "site = $1 AND day BETWEEN $2 AND $3"


def views(t: str) -> dict[str, str]:
    """The SQL of each view over table `t`; $1 site, $2 first day, $3 last day."""

    def intervals(minutes: int) -> str:
        step = f"INTERVAL '{minutes} minutes'"
        b = f"date_bin({step}, {{}}, TIMESTAMP '2000-01-01')"
        return f"""
WITH v AS (SELECT *, least(coalesce(called, finished), day + INTERVAL '1 day') AS wait_end
           FROM {t} WHERE {SCOPE}),
arr AS (SELECT {b.format("arrival")} AS start, count(*) AS arrivals,
               count(*) FILTER (WHERE visit = 1) AS issued FROM v GROUP BY 1),
cal AS (SELECT {b.format("called")} AS start, count(*) AS calls
        FROM v WHERE called IS NOT NULL GROUP BY 1),
srv AS (SELECT {b.format("finished")} AS start, count(*) AS served
        FROM v WHERE outcome = 'served' GROUP BY 1),
spans AS (SELECT arrival, wait_end, s AS start
          FROM v, generate_series({b.format("arrival")}, {b.format("wait_end")}, {step}) AS s
          WHERE wait_end > arrival),
q AS (SELECT start, count(*) FILTER (WHERE wait_end >= start + {step}) AS queue_end,
             max(extract(epoch FROM least(wait_end, start + {step}) - arrival)) AS longest_wait_s
      FROM spans WHERE wait_end > start GROUP BY 1)
SELECT to_char(start, 'YYYY-MM-DD"T"HH24:MI:SS') AS start,
       coalesce(arrivals, 0) AS arrivals, coalesce(issued, 0) AS issued,
       coalesce(calls, 0) AS calls, coalesce(served, 0) AS served,
       coalesce(queue_end, 0) AS queue_end, longest_wait_s
FROM arr FULL JOIN cal USING (start) FULL JOIN srv USING (start) FULL JOIN q USING (start)
ORDER BY 1"""

    return {
        "summary": f"SELECT {MEASURES} FROM {t} WHERE {SCOPE}",
        "service": f"SELECT service AS key, {MEASURES} FROM {t} WHERE {SCOPE} "
        "GROUP BY 1 ORDER BY 1",
        "officer": f"SELECT officer AS key, {MEASURES} FROM {t} WHERE {SCOPE} "
        "GROUP BY 1 ORDER BY 1 NULLS LAST",
        "staff_officer": f"""
WITH a AS (SELECT officer AS key,
           coalesce(sum(seconds) FILTER (WHERE state <> 'paused'), 0) AS open_s,
           coalesce(sum(seconds) FILTER (WHERE state = 'paused'), 0) AS paused_s,
           coalesce(sum(seconds) FILTER (WHERE state = 'busy'), 0) AS busy_s,
           coalesce(sum(seconds) FILTER (WHERE state = 'idle_waiting'), 0) AS idle_waiting_s,
           coalesce(sum(seconds) FILTER (WHERE state = 'idle'), 0) AS idle_s
           FROM {t}_counters WHERE {SCOPE} AND officer IS NOT NULL GROUP BY 1),
s AS (SELECT officer AS key,
             count(*) FILTER (WHERE outcome = 'served') AS served,
             count(*) FILTER (WHERE outcome = 'no_show') AS no_show,
             count(*) FILTER (WHERE outcome = 'transferred') AS transferred,
             {_stat("service_s")}
      FROM {t} WHERE {SCOPE} AND officer IS NOT NULL GROUP BY 1)
SELECT coalesce(a.key, s.key) AS key, a.open_s, a.paused_s, a.busy_s, a.idle_waiting_s,
       a.idle_s, s.served, s.no_show, s.transferred, s.service_s_n, s.service_s_q
FROM a FULL JOIN s ON a.key = s.key ORDER BY 1""",
        "intervals_60": intervals(60),
        "intervals_15": intervals(15),
        "heatmap": f"""
SELECT extract(isodow FROM arrival)::int - 1 AS weekday, extract(hour FROM arrival)::int AS hour,
       count(DISTINCT day) AS days, count(*) AS arrivals,
       count(*) FILTER (WHERE outcome = 'served') AS served,
       count(wait_s) AS wait_s_n, avg(wait_s) AS wait_s_mean,
       percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY wait_s) AS wait_s_q
FROM {t} WHERE {SCOPE} GROUP BY 1, 2 ORDER BY 1, 2""",
    }


async def load(conn: Any, table: str, root: Path, site: str) -> dict[str, float]:
    """Create the tables and load every closed day's files of `site` under `root`
    (DuckDB writes them out as CSV, PostgreSQL `COPY`s them in); then the indexes."""
    import tempfile

    from qms.reports import db

    times: dict[str, float] = {}
    con = db.connect()
    folder = Path(tempfile.mkdtemp(prefix="qmsbench-peer-"))
    try:
        t0 = time.perf_counter()
        for file in ("visits", "counters"):
            glob = str(root / f"site={site}" / "day=*" / f"{file}.parquet")
            con.execute(
                f"COPY (SELECT * FROM read_parquet('{glob}')) TO '{folder}/{file}.csv' "
                "(FORMAT csv, HEADER false)"
            )
        times["export from the files s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        await conn.execute(VISITS_DDL.format(t=table))
        await conn.execute(ACTIVITY_DDL.format(t=table))
        for name, file in (("", "visits"), ("_counters", "counters")):
            await conn.copy_to_table(table + name, source=str(folder / f"{file}.csv"), format="csv")
        times["COPY in s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for sql in INDEXES:
            await conn.execute(sql.format(t=table))
        await conn.execute(f"VACUUM ANALYZE {table}")
        await conn.execute(f"VACUUM ANALYZE {table}_counters")
        times["indexes + VACUUM ANALYZE s"] = time.perf_counter() - t0
        size = await conn.fetchval(
            f"SELECT pg_total_relation_size('{table}') + pg_total_relation_size('{table}_counters')"
        )
        times["tables + indexes MB"] = size / 1e6
    finally:
        con.close()
        shutil.rmtree(folder, ignore_errors=True)
    return times


async def drop(conn: Any, table: str) -> None:
    await conn.execute(f"DROP TABLE IF EXISTS {table}_counters")
    await conn.execute(f"DROP TABLE IF EXISTS {table}")
