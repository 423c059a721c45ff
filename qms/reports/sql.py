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


def day_intervals(minutes: int) -> str:
    """Per site, day and interval of `minutes` (its start, site-local): arrivals, tickets
    issued, calls and served (by the time each happened); the queue at the interval's
    end and the longest wait among the visits waiting during it (arrived before its end,
    wait ended after its start). Each figure is a count or a maximum over the day's
    visits, so a period's figure is the sum (the maximum) of its days' for the same
    start (`qms.reports.intervals.add_up`).

    One pass over the visits: each gives a few events, counted per interval number `b`
    (its start in microseconds // its width, as `time_bucket` counts them; `end` its
    end) and per site and day: its arrival, its call, its serving, the end of its wait.
    A wait that arrived before `end` and ends at or after it is in the queue at `end`:
    +1 at the arrival's interval, -1 at the wait end's (the one after it for a visit
    still waiting), summed running over the day's intervals. The longest wait in `b`
    is the larger of `end` minus the oldest arrival still waiting at `end` (the least
    arrival among the waits ending in a later interval: a running minimum from the
    day's last interval back) and the longest wait that ended inside `b`. Only each
    day's own span of intervals is walked, never the nights between days."""
    width = int(minutes) * 60_000_000
    return f"""
WITH w AS (
    SELECT site, day, epoch_us(arrival) AS a_us, epoch_us(wait_end) AS e_us, waiting,
           epoch_us(called) // {width} AS ci,
           CASE WHEN outcome = 'served' THEN epoch_us(finished) // {width} END AS si,
           (visit = 1)::INTEGER AS first_visit, coalesce(wait_end > arrival, false) AS waits
    FROM v),
ev AS (
    SELECT site, day, a_us // {width} AS b, count(*) AS arrivals, sum(first_visit) AS issued,
           0 AS calls, 0 AS served, count(*) FILTER (WHERE waits) AS up,
           0 AS down_now, 0 AS down_next, NULL::BIGINT AS longest, NULL::BIGINT AS oldest
    FROM w GROUP BY ALL
    UNION ALL
    SELECT site, day, ci, 0, 0, count(*), 0, 0, 0, 0, NULL, NULL
    FROM w WHERE ci IS NOT NULL GROUP BY ALL
    UNION ALL
    SELECT site, day, si, 0, 0, 0, count(*), 0, 0, 0, NULL, NULL
    FROM w WHERE si IS NOT NULL GROUP BY ALL
    UNION ALL
    SELECT site, day, e_us // {width}, 0, 0, 0, 0, 0,
           count(*) FILTER (WHERE NOT waiting), count(*) FILTER (WHERE waiting),
           max(e_us - a_us) FILTER (WHERE waiting OR e_us % {width} <> 0), min(a_us)
    FROM w WHERE waits GROUP BY ALL),
g AS (
    SELECT site, day, b, sum(arrivals)::BIGINT AS arrivals, sum(issued)::BIGINT AS issued,
           sum(calls)::BIGINT AS calls, sum(served)::BIGINT AS served,
           sum(up)::BIGINT AS up, sum(down_now)::BIGINT AS down_now,
           sum(down_next)::BIGINT AS down_next, max(longest) AS longest, min(oldest) AS oldest
    FROM ev GROUP BY site, day, b),
span AS (SELECT site, day, unnest(range(min(b), max(b) + 1)) AS b FROM g GROUP BY site, day),
runs AS (
    SELECT site, day, b, (b + 1) * {width} AS end_us, arrivals, issued, calls, served, longest,
           sum(coalesce(up, 0) - coalesce(down_now, 0)) OVER (PARTITION BY site, day ORDER BY b)
           - coalesce(sum(down_next) OVER (PARTITION BY site, day ORDER BY b
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS queue,
           min(oldest) OVER (PARTITION BY site, day ORDER BY b
                  ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS first_us
    FROM span LEFT JOIN g USING (site, day, b)),
q AS (SELECT *, first_us < end_us OR longest IS NOT NULL AS waited FROM runs)
SELECT site, strftime(day, '%Y-%m-%d') AS day,
       strftime(make_timestamp(b * {width}), '%Y-%m-%dT%H:%M:%S') AS start,
       coalesce(arrivals, 0) AS arrivals, coalesce(issued, 0) AS issued,
       coalesce(calls, 0) AS calls, coalesce(served, 0) AS served,
       CASE WHEN waited THEN queue ELSE 0 END::BIGINT AS queue_end,
       greatest(CASE WHEN first_us < end_us THEN end_us - first_us END, longest) / 1e6
           AS longest_wait_s
FROM q WHERE arrivals > 0 OR calls > 0 OR served > 0 OR waited
ORDER BY site, day, b"""


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
