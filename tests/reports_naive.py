"""A second, deliberately naive computation of every report figure, straight from raw events.

Written apart from qms.reports (it imports nothing of it) and in another style:
it keeps each ticket's events in a list and scans them, looks set-up up by log
version, replays counters and tickets with a few dicts and, for the counters'
idle time, scans every ticket after every event. Slow and obvious, as a check
should be. The definitions are those of docs/reports.md.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

Entry = tuple[int, dict[str, Any]]
TICKET_EVENTS = {
    "ticket_called",
    "ticket_recalled",
    "service_started",
    "ticket_completed",
    "ticket_no_show",
    "ticket_returned",
    "ticket_transferred",
    "ticket_held",
    "ticket_unheld",
    "ticket_cancelled",
}
ENDINGS = {
    "ticket_completed": "served",
    "ticket_no_show": "no_show",
    "ticket_cancelled": "cancelled",
    "ticket_transferred": "transferred",
    "expired": "expired",
}


def local(at: float, tz: str) -> datetime:
    return datetime.fromtimestamp(at, ZoneInfo(tz)).replace(tzinfo=None)


def service_config(entries: list[Entry], service: str, version: int) -> dict[str, Any] | None:
    """The service's set-up as the log had it at `version` (the last one before or at it)."""
    found = None
    for v, ev in entries:
        if v > version:
            break
        if ev["type"] == "service_configured" and ev["service"]["id"] == service:
            found = ev["service"]
    return found


def timezone_at(entries: list[Entry], version: int) -> str:
    tz = "UTC"
    for v, ev in entries:
        if v <= version and ev["type"] == "site_configured":
            tz = ev["site"]["timezone"]
    return tz


def day_of_each_event(entries: list[Entry]) -> dict[int, str | None]:
    day: str | None = None
    out: dict[int, str | None] = {}
    for v, ev in entries:
        if ev["type"] == "day_opened":
            day = ev["day"]
        out[v] = day
        if ev["type"] == "day_closed":
            day = None
    return out


def visits(entries: list[Entry], site: str) -> list[dict[str, Any]]:
    """Every visit of every ticket in the log, each as a dict of the documented columns."""
    days = day_of_each_event(entries)
    by_ticket: dict[str, list[Entry]] = defaultdict(list)
    issued: dict[str, Entry] = {}
    for v, ev in entries:
        if ev["type"] == "ticket_issued":
            issued[ev["ticket"]] = (v, ev)
        elif ev["type"] in TICKET_EVENTS:
            by_ticket[ev["ticket"]].append((v, ev))
        elif ev["type"] == "day_closed":
            for tid in ev.get("expired", []):
                by_ticket[tid].append((v, {**ev, "type": "expired"}))
    out = []
    for tid, (iv, iev) in issued.items():
        tz = timezone_at(entries, iv)
        # Cut the ticket's events into visits at each transfer.
        pieces: list[tuple[int, float, str, str | None, list[Entry]]] = []
        start_v, start_at, service, directed = iv, iev["at"], iev["service"], None
        current: list[Entry] = []
        for v, ev in by_ticket[tid]:
            current.append((v, ev))
            if ev["type"] == "ticket_transferred":
                pieces.append((start_v, start_at, service, directed, current))
                start_v, start_at = v, ev["at"]
                service, directed = ev["to_service"], ev.get("to_counter")
                current = []
        pieces.append((start_v, start_at, service, directed, current))
        for index, (arrive_v, arrival, svc, directed, evs) in enumerate(pieces, 1):
            last = index == len(pieces)
            out.append(
                _visit(entries, site, tz, days[iv], tid, iev, index, last, arrive_v, arrival, svc)
                | {"directed_to": directed}
                | _steps(entries, evs, svc, arrival, iev["at"], last)
            )
    return out


def _visit(
    entries: list[Entry],
    site: str,
    tz: str,
    day: str | None,
    tid: str,
    iev: dict[str, Any],
    index: int,
    last: bool,
    arrive_v: int,
    arrival: float,
    service: str,
) -> dict[str, Any]:
    config = service_config(entries, service, arrive_v) or {}
    return {
        "site": site,
        "tz": tz,
        "day": day,
        "ticket": tid,
        "number": iev["number"],
        "visit": index,
        "last": last,
        "service": service,
        "agency": config.get("agency", ""),
        "channel": iev.get("channel", "kiosk"),
        "priority": iev.get("priority", "regular"),
        "issued": iev["at"],
        "arrival": arrival,
    }


def _steps(
    entries: list[Entry],
    evs: list[Entry],
    service: str,
    arrival: float,
    issued: float,
    last: bool,
) -> dict[str, Any]:
    ending = [(v, ev) for v, ev in evs if ev["type"] in ENDINGS]
    outcome = ENDINGS[ending[0][1]["type"]] if ending else None
    finished = ending[0][1]["at"] if ending else None
    end_v = ending[0][0] if ending else None
    kinds = [ev["type"] for _, ev in evs]
    # In hand at the end: the last call comes after the last return or hold.
    calls = [i for i, k in enumerate(kinds) if k == "ticket_called"]
    letgo = [i for i, k in enumerate(kinds) if k in ("ticket_returned", "ticket_held")]
    in_hand = bool(calls) and (not letgo or calls[-1] > letgo[-1])
    row: dict[str, Any] = {
        "outcome": outcome,
        "finished": finished,
        "calls": len(calls),
        "recalls": kinds.count("ticket_recalled"),
        "returns": kinds.count("ticket_returned"),
        "holds": kinds.count("ticket_held"),
        "called": None,
        "started": None,
        "counter": None,
        "officer": None,
        "wait_s": None,
        "walk_s": None,
        "service_s": None,
        "hall_s": None,
        "target_s": None,
        "within_target": None,
    }
    if in_hand:
        call_v, call = evs[calls[-1]]
        starts = [ev["at"] for _, ev in evs[calls[-1] :] if ev["type"] == "service_started"]
        row.update(called=call["at"], counter=call.get("counter"), officer=call.get("officer"))
        row["wait_s"] = call["at"] - arrival
        config = service_config(entries, service, call_v)
        row["target_s"] = None if config is None else config["target_wait_min"] * 60.0
        if starts:
            row["started"] = starts[-1]
            row["walk_s"] = starts[-1] - call["at"]
    elif end_v is not None:
        config = service_config(entries, service, end_v)
        row["target_s"] = None if config is None else config["target_wait_min"] * 60.0
    if outcome == "served":
        row["service_s"] = finished - row["started"]
        row["within_target"] = row["wait_s"] <= row["target_s"]
    if last and outcome in ("served", "no_show", "cancelled"):
        row["hall_s"] = cast(float, finished) - issued
    return row


# -- the figures -----------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (numpy's default, DuckDB's quantile_cont)."""
    if not values:
        return None
    xs = sorted(values)
    h = (len(xs) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])


def stat(values: list[Any]) -> dict[str, Any]:
    xs = [x for x in values if x is not None]
    return {
        "n": len(xs),
        "mean": sum(xs) / len(xs) if xs else None,
        "p50": quantile(xs, 0.5),
        "p90": quantile(xs, 0.9),
        "p95": quantile(xs, 0.95),
        "max": max(xs) if xs else None,
    }


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def measures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    count = {o: sum(1 for r in rows if r["outcome"] == o) for o in ENDINGS.values()}
    final = count["served"] + count["no_show"] + count["cancelled"] + count["expired"]
    ended = sum(1 for r in rows if r["outcome"] is not None)
    judged = [r for r in rows if r["within_target"] is not None]
    return {
        "visits": len(rows),
        "tickets": sum(1 for r in rows if r["visit"] == 1),
        "outcomes": {**count, "going_on": sum(1 for r in rows if r["outcome"] is None)},
        "rates": {
            "served": share(count["served"], final),
            "no_show": share(count["no_show"], final),
            "left": share(count["cancelled"], final),
            "expired": share(count["expired"], final),
            "transferred": share(count["transferred"], ended),
            "within_target": share(sum(1 for r in judged if r["within_target"]), len(judged)),
        },
        "wait": stat([r["wait_s"] for r in rows]),
        "walk": stat([r["walk_s"] for r in rows]),
        "service": stat([r["service_s"] for r in rows]),
        "hall": stat([r["hall_s"] for r in rows]),
    }


def wait_end(row: dict[str, Any], now: float | None) -> datetime | None:
    """Local time the visit's wait ended (clipped to its day's end); None while it waits."""
    end = row["called"] if row["called"] is not None else row["finished"]
    if end is None:
        end = now
    if end is None:
        return None
    midnight = datetime.combine(
        date.fromisoformat(row["day"]) + timedelta(days=1), datetime.min.time()
    )
    return min(local(end, row["tz"]), midnight)


def intervals(rows: list[dict[str, Any]], minutes: int, now: float | None) -> list[dict[str, Any]]:
    """Site-local intervals: each visit on its own site's clock (several sites in several
    timezones share the local 09:00-10:00 interval)."""
    step = timedelta(minutes=minutes)
    if not rows:
        return []

    def at(r: dict[str, Any], key: str) -> datetime:
        return local(r[key], r["tz"])

    first = min(at(r, "arrival") for r in rows)
    ends = [wait_end(r, now) for r in rows]
    times = (
        [first]
        + [e for e in ends if e]
        + [at(r, k) for r in rows for k in ("called", "finished") if r[k] is not None]
    )
    start = datetime.combine(first.date(), datetime.min.time())
    out = []
    while start <= max(times):
        end = start + step
        arr = [r for r in rows if start <= at(r, "arrival") < end]
        calls = [r for r in rows if r["called"] and start <= at(r, "called") < end]
        served = [r for r in rows if r["outcome"] == "served" and start <= at(r, "finished") < end]
        waiting = []
        queue = 0
        for r, we in zip(rows, ends, strict=True):
            still = r["called"] is None and r["finished"] is None
            arrived = at(r, "arrival")
            if we is None or not arrived < we:
                continue
            if arrived < end and (we > start or still):
                waiting.append((min(we, end) - arrived) / timedelta(microseconds=1) / 1e6)
            if arrived < end and (still or we >= end):
                queue += 1
        if arr or calls or served or waiting:
            out.append(
                {
                    "start": start.strftime("%Y-%m-%dT%H:%M:%S"),
                    "arrivals": len(arr),
                    "issued": sum(1 for r in arr if r["visit"] == 1),
                    "calls": len(calls),
                    "served": len(served),
                    "queue_end": queue if waiting else 0,
                    "longest_wait_s": max(waiting) if waiting else None,
                }
            )
        start = end
    return out


def heatmap(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cells: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        at = local(r["arrival"], r["tz"])
        cells[(at.weekday(), at.hour)].append(r)
    out = []
    for (weekday, hour), group in sorted(cells.items()):
        waits = [r["wait_s"] for r in group if r["wait_s"] is not None]
        out.append(
            {
                "weekday": weekday,
                "hour": hour,
                "days": len({r["day"] for r in group}),
                "arrivals": len(group),
                "served": sum(1 for r in group if r["outcome"] == "served"),
                "wait": {
                    "n": len(waits),
                    "mean": sum(waits) / len(waits) if waits else None,
                    "p50": quantile(waits, 0.5),
                    "p90": quantile(waits, 0.9),
                },
            }
        )
    return out


# -- counters -----------------------------------------------------------------------------------


def counter_seconds(entries: list[Entry], now: float | None) -> dict[tuple[str, str, str], float]:
    """(counter, officer, state) -> seconds, by replaying counters and tickets with plain dicts
    and asking, between each two events, what every counter was doing."""
    counters: dict[str, dict[str, Any]] = {}
    tickets: dict[str, dict[str, Any]] = {}
    totals: dict[tuple[str, str, str], float] = defaultdict(float)
    open_day = False
    previous: float | None = None
    for _, ev in entries:
        t = ev["type"]
        if previous is not None and open_day:
            _account(counters, tickets, totals, ev["at"] - previous)
        previous = ev["at"]
        if t == "counter_configured":
            k = counters.setdefault(
                ev["counter"], {"state": "closed", "officer": None, "ticket": None}
            )
            k["services"] = list(ev.get("services", []))
        elif t == "counter_services_set":
            counters[ev["counter"]]["services"] = list(ev["services"])
        elif t == "counter_opened":
            counters[ev["counter"]].update(state="open", officer=ev["officer"])
        elif t == "counter_paused":
            counters[ev["counter"]]["state"] = "paused"
        elif t == "counter_closed":
            counters[ev["counter"]].update(state="closed", officer=None)
        elif t == "day_opened":
            open_day = True
        elif t == "day_closed":
            for k in counters.values():
                k.update(state="closed", officer=None, ticket=None)
            for tid in ev.get("expired", []):
                tickets[tid]["state"] = "expired"
            open_day = False
        elif t == "ticket_issued":
            tickets[ev["ticket"]] = {"state": "waiting", "service": ev["service"], "to": None}
        elif t in TICKET_EVENTS:
            _ticket_step(counters, tickets, ev)
    if open_day and now is not None and previous is not None:
        _account(counters, tickets, totals, now - previous)
    return dict(totals)


def _ticket_step(counters: dict[str, Any], tickets: dict[str, Any], ev: dict[str, Any]) -> None:
    t = tickets[ev["ticket"]]
    holder = next((k for k in counters.values() if k["ticket"] == ev["ticket"]), None)
    kind = ev["type"]
    if kind == "ticket_called":
        t.update(state="called", to=None)
        counters[ev["counter"]]["ticket"] = ev["ticket"]
    elif kind == "service_started":
        t["state"] = "serving"
    elif kind in ("ticket_completed", "ticket_no_show", "ticket_cancelled"):
        t["state"] = "done"
        if holder:
            holder["ticket"] = None
    elif kind in ("ticket_returned", "ticket_unheld"):
        t["state"] = "waiting"
        if holder:
            holder["ticket"] = None
    elif kind == "ticket_held":
        t["state"] = "held"
        if holder:
            holder["ticket"] = None
    elif kind == "ticket_transferred":
        t.update(state="waiting", service=ev["to_service"], to=ev.get("to_counter"))
        if holder:
            holder["ticket"] = None


def _account(
    counters: dict[str, Any],
    tickets: dict[str, Any],
    totals: dict[tuple[str, str, str], float],
    seconds: float,
) -> None:
    if seconds <= 0:
        return
    for cid, k in counters.items():
        if k["state"] == "closed":
            continue
        if k["state"] == "paused":
            state = "paused"
        elif k["ticket"]:
            state = "busy"
        else:
            may_call = any(
                t["state"] == "waiting"
                and (t["to"] == cid or (t["to"] is None and t["service"] in k["services"]))
                for t in tickets.values()
            )
            state = "idle_waiting" if may_call else "idle"
        totals[(cid, k["officer"], state)] += seconds


def staff(
    rows: list[dict[str, Any]], seconds: dict[tuple[str, str, str], float], by: str
) -> list[dict[str, Any]]:
    index = 0 if by == "counter" else 1
    keys = {key[index] for key in seconds} | {r[by] for r in rows if r[by] is not None}
    out = []
    for key in sorted(keys):
        mine = {k: v for k, v in seconds.items() if k[index] == key}

        def total(*states: str, mine: dict[tuple[str, str, str], float] = mine) -> float:
            return sum(v for k, v in mine.items() if k[2] in states)

        visits = [r for r in rows if r[by] == key]
        service = stat([r["service_s"] for r in visits])
        open_s = total("busy", "idle_waiting", "idle")
        out.append(
            {
                "key": key,
                "open_s": open_s,
                "paused_s": total("paused"),
                "busy_s": total("busy"),
                "idle_waiting_s": total("idle_waiting"),
                "idle_s": total("idle"),
                "served": sum(1 for r in visits if r["outcome"] == "served"),
                "no_show": sum(1 for r in visits if r["outcome"] == "no_show"),
                "transferred": sum(1 for r in visits if r["outcome"] == "transferred"),
                "utilisation": share_f(total("busy"), open_s),
                "service": {**service, "total": sum(r["service_s"] or 0 for r in visits)},
            }
        )
    return out


def share_f(part: float, whole: float) -> float | None:
    return part / whole if whole else None
