"""The SQL of every figure, in one place (each measure is defined in docs/reports.md).

Every view reads two relations made by `Source`: `v`, the visits in scope, and
`a`, the counter activity in scope. They are the closed days' Parquet files and,
for a day still open, the live tables, with the same columns, so a figure is
computed by the same SQL whether its day is closed or not.
"""

from __future__ import annotations

from collections.abc import Sequence

STATS = ("wait_s", "walk_s", "service_s", "hall_s")
QUANTILES = (0.5, 0.9, 0.95)

# Per row of the visits relation, beside the stored columns:
# - wait_end: when the visit's wait ended (the call that led to its outcome, else the
#   outcome; while it still waits, the moment of the live figures), never past the end
#   of its business day's date;
# - waiting: it still waits (live only).
DERIVED = (
    "least(coalesce(called, finished, {now}), day + INTERVAL 1 DAY) AS wait_end",
    "(called IS NULL AND finished IS NULL) AS waiting",
)


def stat(column: str) -> str:
    """n, mean, p50/p90/p95 (exact, interpolated), max of `column` (nulls left out)."""
    qs = ", ".join(str(q) for q in QUANTILES)
    return (
        f"count({column}) AS {column}_n, avg({column}) AS {column}_mean, "
        f"quantile_cont({column}, [{qs}]) AS {column}_q, max({column}) AS {column}_max"
    )


MEASURES = ",\n".join(
    [
        "count(*) AS visits",
        "count(*) FILTER (WHERE visit = 1) AS tickets",
        "count(outcome) AS ended",
        "count(*) FILTER (WHERE outcome = 'served') AS served",
        "count(*) FILTER (WHERE outcome = 'no_show') AS no_show",
        "count(*) FILTER (WHERE outcome = 'cancelled') AS cancelled",
        "count(*) FILTER (WHERE outcome = 'expired') AS expired",
        "count(*) FILTER (WHERE outcome = 'transferred') AS transferred",
        "count(*) FILTER (WHERE outcome IS NULL) AS going_on",
        "count(*) FILTER (WHERE within_target) AS within_target",
        "count(within_target) AS with_target",
        *(stat(c) for c in STATS),
    ]
)

# The cuts of `breakdown`: name -> the SQL of its key over `v`.
DIMENSIONS = {
    "site": "site",
    "agency": "agency",
    "service": "service",
    "counter": "counter",
    "officer": "officer",
    "channel": "channel",
    "priority": "priority",
    "day": "strftime(day, '%Y-%m-%d')",
    "weekday": "isodow(day) - 1",  # 0 = Monday, as in the services' opening hours
    "hour": "hour(arrival)",
}


def breakdown(key: str) -> str:
    return f"SELECT {key} AS key, {MEASURES} FROM v GROUP BY ALL ORDER BY key NULLS LAST"


SUMMARY = f"SELECT {MEASURES} FROM v"


def intervals(minutes: int) -> str:
    """Arrivals, tickets issued, calls and served per interval (by the time each happened);
    queue length at the interval's end and the longest wait among the visits waiting
    during it (arrived before its end, wait ended after its start)."""
    step = f"INTERVAL {int(minutes)} MINUTE"
    return f"""
WITH arr AS (
    SELECT time_bucket({step}, arrival) AS start, count(*) AS arrivals,
           count(*) FILTER (WHERE visit = 1) AS issued
    FROM v GROUP BY 1),
cal AS (
    SELECT time_bucket({step}, called) AS start, count(*) AS calls
    FROM v WHERE called IS NOT NULL GROUP BY 1),
srv AS (
    SELECT time_bucket({step}, finished) AS start, count(*) AS served
    FROM v WHERE outcome = 'served' GROUP BY 1),
spans AS (
    SELECT arrival, wait_end, waiting,
           unnest(generate_series(time_bucket({step}, arrival),
                                  time_bucket({step}, wait_end), {step})) AS start
    FROM v WHERE wait_end > arrival),
q AS (
    SELECT start,
           count(*) FILTER (WHERE waiting OR wait_end >= start + {step}) AS queue_end,
           max(epoch_us(least(wait_end, start + {step})) - epoch_us(arrival)) / 1e6
               AS longest_wait_s
    FROM spans WHERE wait_end > start OR waiting GROUP BY 1)
SELECT strftime(start, '%Y-%m-%dT%H:%M:%S') AS start,
       coalesce(arrivals, 0) AS arrivals, coalesce(issued, 0) AS issued,
       coalesce(calls, 0) AS calls, coalesce(served, 0) AS served,
       coalesce(queue_end, 0) AS queue_end, longest_wait_s
FROM arr FULL JOIN cal USING (start) FULL JOIN srv USING (start) FULL JOIN q USING (start)
ORDER BY 1"""


# The visits' own columns, for the exports (one row per visit).
VISIT_EXPORT = (
    "site", "day", "ticket", "number", "visit", "last", "service", "agency", "channel",
    "priority", "directed_to", "issued", "arrival", "called", "started", "finished",
    "outcome", "counter", "officer", "calls", "recalls", "returns", "holds",
    "wait_s", "walk_s", "service_s", "hall_s", "target_s", "within_target",
)  # fmt: skip
VISITS = f"SELECT {', '.join(VISIT_EXPORT)} FROM v ORDER BY site, day, arrival, ticket, visit"

HEATMAP = """
SELECT isodow(arrival) - 1 AS weekday, hour(arrival) AS hour,
       count(DISTINCT day) AS days, count(*) AS arrivals,
       count(*) FILTER (WHERE outcome = 'served') AS served,
       count(wait_s) AS wait_s_n, avg(wait_s) AS wait_s_mean,
       quantile_cont(wait_s, [0.5, 0.9]) AS wait_s_q
FROM v GROUP BY ALL ORDER BY ALL"""


def staff(key: str, minutes: int | None = None) -> str:
    """Per counter or officer (and per interval of `minutes`, when given): time in each
    state (from `a`, by its quarter hour) and the visits it ended (`v`, by their end)."""
    qs = ", ".join(str(q) for q in QUANTILES)
    if minutes is None:
        slot_a = slot_v = "NULL::VARCHAR"
    else:
        step = f"INTERVAL {int(minutes)} MINUTE"
        slot_a = f"strftime(time_bucket({step}, start), '%Y-%m-%dT%H:%M:%S')"
        slot_v = f"strftime(time_bucket({step}, finished), '%Y-%m-%dT%H:%M:%S')"
    return f"""
WITH t AS (
    SELECT {key} AS key, {slot_a} AS start,
           coalesce(sum(seconds) FILTER (WHERE state <> 'paused'), 0) AS open_s,
           coalesce(sum(seconds) FILTER (WHERE state = 'paused'), 0) AS paused_s,
           coalesce(sum(seconds) FILTER (WHERE state = 'busy'), 0) AS busy_s,
           coalesce(sum(seconds) FILTER (WHERE state = 'idle_waiting'), 0) AS idle_waiting_s,
           coalesce(sum(seconds) FILTER (WHERE state = 'idle'), 0) AS idle_s
    FROM a WHERE {key} IS NOT NULL GROUP BY ALL),
s AS (
    SELECT {key} AS key, {slot_v} AS start,
           count(*) FILTER (WHERE outcome = 'served') AS served,
           count(*) FILTER (WHERE outcome = 'no_show') AS no_show,
           count(*) FILTER (WHERE outcome = 'transferred') AS transferred,
           count(service_s) AS service_s_n, coalesce(sum(service_s), 0) AS service_s_sum,
           avg(service_s) AS service_s_mean,
           quantile_cont(service_s, [{qs}]) AS service_s_q, max(service_s) AS service_s_max
    FROM v WHERE {key} IS NOT NULL GROUP BY ALL)
SELECT coalesce(t.key, s.key) AS key, coalesce(t.start, s.start) AS start,
       t.* EXCLUDE (key, start), s.* EXCLUDE (key, start)
FROM t FULL JOIN s ON t.key = s.key AND t.start IS NOT DISTINCT FROM s.start
ORDER BY 1, 2"""


def in_list(param: str, column: str) -> str:
    return f"list_contains(${param}, {column})"


def union(selects: Sequence[str], empty: str) -> str:
    return " UNION ALL ".join(selects) if selects else empty


# The served visits' figures, for the satisfaction survey's link to the wait.
SERVED = """SELECT site, ticket, wait_s, service_s, within_target, priority
FROM v WHERE outcome = 'served' AND ticket IN (SELECT unnest($tickets::VARCHAR[]))
ORDER BY site, ticket"""
