"""The reports' named edge cases, each a hand-played day with figures worked out by hand.

Each day goes through the real core into a real SQLite log; its figures are read
from the closed day's Parquet file (`build_missing_days`) with `Reports`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from reports_hall import SITE, ReportsHall, local, service_set_up, store

from qms.core import commands as c
from qms.eventlog import open_log
from qms.reports.period import Period, named
from qms.reports.query import Reports, Scope, scope
from qms.reports.store import VISITS_FILE, build_missing_days, day_dir

DAY = "2024-05-06"  # a Monday


def at(hhmm: str, day: str = DAY, tz: str = "Asia/Jakarta") -> float:
    return local(day, hhmm, tz)


def step(hall: ReportsHall, hhmm: str, cmd: c.Command, day: str = DAY) -> None:
    hall.now = at(hhmm, day, hall.tz)
    hall.must(cmd)


async def files_of(root: Path, *halls: ReportsHall) -> Reports:
    log = open_log(f"sqlite:///{root / 'qms.db'}")
    try:
        for hall in halls:
            await store(log, hall)
            await build_missing_days(log, hall.site, root / "reports")
    finally:
        await log.close()
    return Reports(root / "reports")


def one_day(day: str = DAY, site: str = SITE) -> Scope:
    d = date.fromisoformat(day)
    return Scope({site: Period(d, d)})


def visit_rows(root: Path, day: str = DAY, site: str = SITE) -> list[dict[str, Any]]:
    path = day_dir(root / "reports", site, day) / VISITS_FILE
    cursor = duckdb.execute(f"SELECT * FROM read_parquet('{path}') ORDER BY ticket, visit")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def part(d: dict[str, Any], **want: Any) -> dict[str, Any]:
    """The entries of `d` named in `want` (to compare a few fields of a row)."""
    return {k: d[k] for k in want}


def staff_by_counter(reports: Reports, minutes: int | None = None) -> dict[Any, dict[str, Any]]:
    rows = reports.staff(one_day(), "counter", minutes=minutes)["rows"]
    return {(r["key"], r["start"]) if minutes else r["key"]: r for r in rows}


async def test_recalled_three_times_returned_transferred_twice_then_no_show(
    tmp_path: Path,
) -> None:
    hall = ReportsHall(at("07:00")).set_up()
    for counter, officer in (("L1", "budi"), ("L2", "siti"), ("L3", "andi")):
        step(hall, "07:59", c.OpenCounter(counter=counter, officer=officer))
    step(hall, "08:00", c.IssueTicket(service="ktp", token="t1"))
    ticket = f"{DAY}-00001"
    step(hall, "08:10", c.CallNext(counter="L1"))
    for minute in ("08:11", "08:12", "08:13"):
        step(hall, minute, c.Recall(counter="L1"))
    step(hall, "08:14", c.StartService(counter="L1"))
    step(hall, "08:15", c.ReturnToQueue(counter="L1"))
    step(hall, "08:20", c.CallNext(counter="L1"))
    step(hall, "08:21", c.StartService(counter="L1"))
    step(hall, "08:30", c.Transfer(ticket=ticket, to_service="kk"))
    step(hall, "08:40", c.CallNext(counter="L2"))
    step(hall, "08:41", c.Transfer(ticket=ticket, to_service="nib", to_counter="L3"))
    step(hall, "08:50", c.CallNext(counter="L3"))
    step(hall, "08:51", c.Recall(counter="L3"))
    step(hall, "08:52", c.NoShow(counter="L3"))
    # A no-show ends the ticket: it cannot be recalled or called again (a visitor who
    # comes back takes a new ticket, a new visit with its own wait).
    assert not hall.run(c.Recall(counter="L3"))
    assert not hall.run(c.CallTicket(counter="L3", ticket=ticket, override=True))
    step(hall, "17:00", c.CloseDay())
    reports = await files_of(tmp_path, hall)

    rows = visit_rows(tmp_path)
    picked = [
        {k: r[k] for k in ("visit", "service", "outcome", "counter", "calls", "recalls")}
        | {k: r[k] for k in ("returns", "wait_s", "walk_s", "directed_to", "last", "hall_s")}
        for r in rows
    ]
    assert picked == [
        # The wait runs to the call that led to the outcome (the second one, after the
        # return); the walk from that call to the service that followed it.
        {"visit": 1, "service": "ktp", "outcome": "transferred", "counter": "L1", "calls": 2}
        | {"recalls": 3, "returns": 1, "wait_s": 1200.0, "walk_s": 60.0, "directed_to": None}
        | {"last": False, "hall_s": None},
        # A new visit in the new queue, arriving at the transfer.
        {"visit": 2, "service": "kk", "outcome": "transferred", "counter": "L2", "calls": 1}
        | {"recalls": 0, "returns": 0, "wait_s": 600.0, "walk_s": None, "directed_to": None}
        | {"last": False, "hall_s": None},
        {"visit": 3, "service": "nib", "outcome": "no_show", "counter": "L3", "calls": 1}
        | {"recalls": 1, "returns": 0, "wait_s": 540.0, "walk_s": None, "directed_to": "L3"}
        | {"last": True, "hall_s": 52 * 60.0},
    ]
    summary = reports.summary(one_day())["measures"]
    assert summary["visits"] == 3 and summary["tickets"] == 1
    assert summary["outcomes"] == {
        "served": 0,
        "no_show": 1,
        "cancelled": 0,
        "expired": 0,
        "transferred": 2,
        "going_on": 0,
    }
    assert summary["rates"]["no_show"] == 1.0 and summary["rates"]["transferred"] == 2 / 3
    assert summary["wait"]["max"] == 1200.0 and summary["wait"]["p50"] == 600.0

    # Idle while a ticket waited for it: L3 (nib, ktp) while A001 waited in ktp
    # (08:00-08:10, 08:15-08:20) and while it waited for L3 alone (08:41-08:50).
    staff = staff_by_counter(reports)
    open_s = 9 * 3600 + 60.0  # 07:59 to 17:00
    want = {
        "busy_s": 120.0,
        "idle_waiting_s": 600 + 300 + 540.0,
        "idle_s": open_s - 120 - 1440,
        "open_s": open_s,
        "no_show": 1,
    }
    assert part(staff["L3"], **want) == want
    # L1 (ktp, kk): A001 waited in ktp 08:00-08:10 and 08:15-08:20, in kk 08:30-08:40.
    assert staff["L1"]["busy_s"] == 300 + 600.0 and staff["L1"]["idle_waiting_s"] == 1500.0
    assert staff["L1"]["transferred"] == 1 and staff["L1"]["utilisation"] == 900 / open_s
    assert staff["L2"]["idle_waiting_s"] == 600.0 and staff["L2"]["busy_s"] == 60.0


async def test_a_target_changed_at_noon_counts_as_it_was_at_each_call(tmp_path: Path) -> None:
    hall = ReportsHall(at("07:00")).set_up()  # ktp: target 10 minutes
    step(hall, "08:00", c.OpenCounter(counter="L1", officer="budi"))
    step(hall, "11:00", c.IssueTicket(service="ktp", token="t1"))
    step(hall, "11:12", c.CallNext(counter="L1"))  # waited 12 min > 10: late
    step(hall, "11:20", c.Complete(counter="L1"))
    step(hall, "11:50", c.IssueTicket(service="ktp", token="t2"))
    step(hall, "12:00", service_set_up("ktp", "dukcapil", "A", 15))
    step(hall, "12:05", c.CallNext(counter="L1"))  # 15 min = the new target: in time
    step(hall, "12:10", c.Complete(counter="L1"))
    step(hall, "12:20", c.IssueTicket(service="ktp", token="t3"))
    step(hall, "12:32", c.CallNext(counter="L1"))  # 12 min < 15: in time
    step(hall, "12:40", c.Complete(counter="L1"))
    step(hall, "17:00", c.CloseDay())
    reports = await files_of(tmp_path, hall)

    rows = visit_rows(tmp_path)
    assert [(r["wait_s"], r["target_s"], r["within_target"]) for r in rows] == [
        (720.0, 600.0, False),
        (900.0, 900.0, True),
        (720.0, 900.0, True),
    ]
    assert reports.summary(one_day())["measures"]["rates"]["within_target"] == 2 / 3


async def test_a_counter_paused_across_an_interval_boundary(tmp_path: Path) -> None:
    hall = ReportsHall(at("07:00")).set_up()
    step(hall, "09:00", c.OpenCounter(counter="L1", officer="budi"))
    step(hall, "09:50", c.PauseCounter(counter="L1"))
    step(hall, "10:20", c.OpenCounter(counter="L1", officer="budi"))
    step(hall, "10:30", c.CloseCounter(counter="L1"))
    step(hall, "17:00", c.CloseDay())
    reports = await files_of(tmp_path, hall)

    hourly = staff_by_counter(reports, 60)
    nine, ten = hourly[("L1", f"{DAY}T09:00:00")], hourly[("L1", f"{DAY}T10:00:00")]
    assert part(nine, idle_s=0, paused_s=0) == {"idle_s": 3000.0, "paused_s": 600.0}
    assert part(ten, idle_s=0, paused_s=0) == {"idle_s": 600.0, "paused_s": 1200.0}
    quarters = staff_by_counter(reports, 15)
    assert quarters[("L1", f"{DAY}T09:45:00")]["paused_s"] == 600.0
    assert quarters[("L1", f"{DAY}T10:00:00")]["paused_s"] == 900.0
    quarter = quarters[("L1", f"{DAY}T10:15:00")]
    assert part(quarter, paused_s=0, idle_s=0) == {"paused_s": 300.0, "idle_s": 600.0}
    whole = staff_by_counter(reports)["L1"]
    want = {"open_s": 3600.0, "paused_s": 1800.0, "utilisation": 0.0}
    assert part(whole, **want) == want


async def test_a_day_with_no_tickets_is_a_file_of_no_visits(tmp_path: Path) -> None:
    hall = ReportsHall(at("07:00")).set_up()
    step(hall, "08:00", c.OpenCounter(counter="L1", officer="budi"))
    step(hall, "16:00", c.CloseDay())
    reports = await files_of(tmp_path, hall)

    assert visit_rows(tmp_path) == []
    summary = reports.summary(one_day())["measures"]
    assert summary["visits"] == 0 and summary["rates"]["served"] is None
    assert summary["wait"] == dict.fromkeys(("mean", "p50", "p90", "p95", "max")) | {"n": 0}
    assert reports.intervals(one_day(), 15)["rows"] == []
    assert reports.heatmap(one_day())["cells"] == []
    assert staff_by_counter(reports)["L1"]["idle_s"] == 8 * 3600.0
    log = open_log(f"sqlite:///{tmp_path / 'qms.db'}")
    try:  # built: nothing left to build
        assert await build_missing_days(log, SITE, tmp_path / "reports") == []
    finally:
        await log.close()


ZONES = {"mpp-jakarta": "Asia/Jakarta", "mpp-makassar": "Asia/Makassar"}
ZONES["mpp-jayapura"] = "Asia/Jayapura"


async def test_a_period_follows_each_site_calendar(tmp_path: Path) -> None:
    """At 23:30 in Jakarta it is already the next day in Makassar and Jayapura: "today"
    over the three halls is each one's own today, and intervals are in local time."""
    halls = []
    for n, (site, tz) in enumerate(ZONES.items(), 1):
        hall = ReportsHall(at("07:00", DAY, tz), tz=tz, site=site).set_up()
        for day, tickets in (("2024-05-06", n), ("2024-05-07", 10 * n)):
            step(hall, "07:59", c.OpenCounter(counter="L1", officer="budi"), day)
            for i in range(tickets):
                step(hall, f"08:{i:02d}", c.IssueTicket(service="ktp", token=f"{day}{i}"), day)
            step(hall, "08:30", c.CallNext(counter="L1"), day)
            step(hall, "23:00", c.CloseDay(), day)
        halls.append(hall)
    reports = await files_of(tmp_path, *halls)

    now = at("23:30", DAY, "Asia/Jakarta")
    assert {s: named("today", now, tz).first.isoformat() for s, tz in ZONES.items()} == {
        "mpp-jakarta": "2024-05-06",
        "mpp-makassar": "2024-05-07",
        "mpp-jayapura": "2024-05-07",
    }
    today = reports.breakdown(scope(ZONES, "today", now), "site", now)["rows"]
    assert {r["key"]: r["visits"] for r in today} == {
        "mpp-jakarta": 1,
        "mpp-makassar": 20,
        "mpp-jayapura": 30,
    }
    yesterday = reports.breakdown(scope(ZONES, "yesterday", now), "site", now)["rows"]
    assert {r["key"]: r["visits"] for r in yesterday} == {"mpp-makassar": 2, "mpp-jayapura": 3}
    both = scope(ZONES, ("2024-05-06", "2024-05-07"), now)
    assert reports.summary(both, now)["measures"]["visits"] == 1 + 2 + 3 + 10 + 20 + 30
    # Every hall issued at 08:00-08:29 local time: one 08:00 hour in the heatmap.
    cells = reports.heatmap(both, now)["cells"]
    assert [(c["weekday"], c["hour"], c["arrivals"]) for c in cells] == [(0, 8, 6), (1, 8, 60)]
    jayapura = reports.intervals(scope({"mpp-jayapura": "Asia/Jayapura"}, "today", now), 60)
    assert [(r["start"], r["arrivals"]) for r in jayapura["rows"]][:1] == [
        ("2024-05-07T08:00:00", 30)
    ]


@pytest.mark.parametrize("minutes", [0, 20, 90])
def test_a_bad_interval_is_refused(tmp_path: Path, minutes: int) -> None:
    from qms.reports.errors import ReportError

    with pytest.raises(ReportError) as err:
        Reports(tmp_path).intervals(one_day(), minutes)
    assert err.value.code == "invalid_interval"


async def test_intervals_of_a_wait_ending_on_a_boundary_and_one_crossing_quiet_intervals(
    tmp_path: Path,
) -> None:
    """A wait that ends exactly at an interval's end is in the queue at that end and not in
    the next interval; a long wait shows in the intervals where nothing else happens."""
    hall = ReportsHall(at("07:00")).set_up()
    step(hall, "07:59", c.OpenCounter(counter="L1", officer="budi"))
    step(hall, "08:05", c.IssueTicket(service="ktp", token="a"))
    step(hall, "08:10", c.IssueTicket(service="ktp", token="b"))
    step(hall, "08:15", c.CallNext(counter="L1"))  # a: waited 10 min, to 08:15 sharp
    step(hall, "08:16", c.StartService(counter="L1"))
    step(hall, "08:20", c.Complete(counter="L1"))
    step(hall, "09:10", c.CallNext(counter="L1"))  # b: waited an hour
    step(hall, "09:11", c.StartService(counter="L1"))
    step(hall, "09:20", c.Complete(counter="L1"))
    step(hall, "17:00", c.CloseDay())
    reports = await files_of(tmp_path, hall)

    rows = reports.intervals(one_day(), 15)["rows"]
    got = [(r["start"][11:16], r["arrivals"], r["calls"], r["served"], r["queue_end"],
            r["longest_wait_s"]) for r in rows]  # fmt: skip
    assert got == [
        ("08:00", 2, 0, 0, 2, 600.0),  # a at 08:15 (its wait's end) is still in the queue
        ("08:15", 0, 1, 1, 1, 1200.0),  # a is not: its wait ended at 08:15, not after
        ("08:30", 0, 0, 0, 1, 2100.0),  # b alone
        ("08:45", 0, 0, 0, 1, 3000.0),
        ("09:00", 0, 1, 0, 0, 3600.0),
        ("09:15", 0, 0, 1, 0, None),
    ]
    hourly = [(r["start"][11:16], r["queue_end"], r["longest_wait_s"])
              for r in reports.intervals(one_day(), 60)["rows"]]  # fmt: skip
    assert hourly == [("08:00", 1, 3000.0), ("09:00", 0, 3600.0)]
    reports.close()
