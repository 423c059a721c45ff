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


def summary(relation: str, part: int) -> str:
    """`SUMMARY` over another relation than `v`, its rows told apart by `part`."""
    return f"SELECT {int(part)} AS part, {MEASURES} FROM {relation}"


def intervals(minutes: int) -> str:
    """Arrivals, tickets issued, calls and served per interval (by the time each happened);
    queue length at the interval's end and the longest wait among the visits waiting
    during it (arrived before its end, wait ended after its start).

    The waits are not spread over the intervals they cross: with `b` an interval's
    number (its start in microseconds // its width, as `time_bucket` counts them) and
    `end` its end, a wait that arrived before `end` and ends at or after it is in the
    queue at `end` (a running sum of +1 at the arrival's interval, -1 at the wait end's;
    a visit still waiting is in the queue at its last interval too), and the longest
    wait in `b` is the larger of `end` minus the oldest arrival still waiting at `end`
    (the least arrival among the waits ending at or after `end`: a running minimum
    from the last interval back) and the longest wait that ended inside `b`."""
    step = f"INTERVAL {int(minutes)} MINUTE"
    width = int(minutes) * 60_000_000
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
w AS (
    SELECT a_us, e_us, waiting, a_us // {width} AS ai, e_us // {width} AS ei
    FROM (SELECT epoch_us(arrival) AS a_us, epoch_us(wait_end) AS e_us, waiting
          FROM v WHERE wait_end > arrival)),
up AS (SELECT ai AS b, count(*) AS n FROM w GROUP BY 1),
down AS (SELECT ei + waiting::BIGINT AS b, count(*) AS n FROM w GROUP BY 1),
ended AS (
    SELECT ei AS b, max(e_us - a_us) AS longest FROM w
    WHERE waiting OR e_us % {width} <> 0 GROUP BY 1),
oldest AS (SELECT ei - 1 AS b, min(a_us) AS a_us FROM w GROUP BY 1),
span AS (SELECT unnest(range(min(ai), max(ei) + 1)) AS b FROM w),
runs AS (
    SELECT b, (b + 1) * {width} AS end_us, ended.longest,
           sum(coalesce(up.n, 0) - coalesce(down.n, 0)) OVER (ORDER BY b) AS queue,
           min(oldest.a_us) OVER (ORDER BY b DESC) AS first_us
    FROM span LEFT JOIN up USING (b) LEFT JOIN down USING (b)
         LEFT JOIN ended USING (b) LEFT JOIN oldest USING (b)),
q AS (
    SELECT make_timestamp(b * {width}) AS start, queue::BIGINT AS queue_end,
           greatest(CASE WHEN first_us < end_us THEN end_us - first_us END, longest) / 1e6
               AS longest_wait_s
    FROM runs WHERE first_us < end_us OR longest IS NOT NULL)
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
