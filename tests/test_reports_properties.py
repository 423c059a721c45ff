"""Property tests of the reports: every figure equals a naive recomputation from the raw events.

Random days of random commands go through the real pure core (`tests/reports_hall.py`)
into a real SQLite log. The closed days become Parquet files through
`build_missing_days`; the open day is read live (`LiveDay`). Every view of
`Reports` (summary, every cut, intervals of 15/30/60 minutes, the heatmap, counters
and officers), with and without filters, must equal `tests/reports_naive.py`,
which computes the same definitions from the events in another way. After the day
closes, the live figures must equal the file's.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock

import hypothesis
import hypothesis.internal.conjecture.engine as hypothesis_engine
import pytest
import reports_naive as naive
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reports_hall import ACTIONS, COUNTERS, OFFICERS, SERVICES, SITE, ReportsHall, local, store

from qms.core import commands as c
from qms.eventlog import open_log
from qms.reports.live import LiveDay
from qms.reports.period import Period
from qms.reports.query import Filters, Reports, Scope
from qms.reports.store import build_missing_days, rebuild

pytestmark = pytest.mark.timeout(300)

START = local("2024-05-06", "07:30")  # a Monday
EXTRA = ["next_day", "rush", "rush", "work", "work", "work", "to_quarter", "to_quarter"]
SHRINK_SECONDS = 40
DIMENSIONS = ["site", "agency", "service", "counter", "officer", "channel", "priority"]
DIMENSIONS += ["day", "weekday", "hour"]

actions = st.lists(
    st.tuples(
        st.sampled_from([*ACTIONS, *EXTRA]),
        st.integers(0, 10**6),
        st.one_of(st.floats(0, 30), st.floats(30, 1800), st.just(0.0)),
    ),
    min_size=30,
    max_size=200,
)
filters = st.one_of(
    st.just({}),
    st.fixed_dictionaries({"service": st.lists(st.sampled_from(sorted(SERVICES)), min_size=1)}),
    st.fixed_dictionaries({"channel": st.lists(st.sampled_from(["kiosk", "online"]), min_size=1)}),
    st.fixed_dictionaries({"counter": st.lists(st.sampled_from(sorted(COUNTERS)), min_size=1)}),
    st.fixed_dictionaries({"officer": st.lists(st.sampled_from(OFFICERS), min_size=1)}),
    st.fixed_dictionaries({"agency": st.just(["dpmptsp"]), "priority": st.just(["regular"])}),
)


@pytest.fixture(autouse=True, scope="module")
def _shrink_briefly() -> Iterator[None]:
    """A failure shrinks for SHRINK_SECONDS at most, so that it is reported in time."""
    # A private constant of hypothesis; should it go, the patch is a harmless no-op.
    with mock.patch.object(hypothesis_engine, "MAX_SHRINKING_SECONDS", SHRINK_SECONDS, create=True):
        yield


def play(hall: ReportsHall, steps: list[tuple[str, int, float]]) -> None:
    """The morning (two counters open, a few visitors), then the steps; "rush" brings
    several visitors, "work" has every open counter go on with its ticket."""
    hall.act("open", 0, 0.0)
    hall.act("open", 0, 5.0)
    for i in range(6):
        hall.act("issue", i * 7, 20.0)
    for action, pick, dt in steps:
        if action == "rush":
            for i in range(1 + pick % 6):
                hall.act("issue", pick + i, dt / 6)
        elif action == "work":
            for i in range(3):
                hall.act(["call_next", "start", "complete"][(pick + i) % 3], pick, dt / 3)
        elif action == "to_quarter":  # exactly on a quarter hour (Jakarta is UTC+7:00)
            hall.now = (hall.now // 900 + 1) * 900
            hall.act(["call_next", "complete", "issue"][pick % 3], pick, 0.0)
        elif action == "next_day":
            day = date.fromtimestamp(hall.now + 6 * 3600)  # past the local midnight
            hall.now = max(hall.now, local(day.isoformat(), "07:30"))
            hall.act("issue", pick, 0.0)
        else:
            hall.act(action, pick, dt)


# -- comparing ---------------------------------------------------------------------------


def assert_close(got: Any, want: Any, path: str = "") -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict), f"{path}: {got!r} is not a dict"
        assert set(got) >= set(want), f"{path}: missing {set(want) - set(got)}"
        for key, value in want.items():
            assert_close(got[key], value, f"{path}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: {got!r} != {want!r}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_close(g, w, f"{path}[{i}]")
    elif isinstance(want, float) and not isinstance(want, bool):
        assert isinstance(got, int | float), f"{path}: {got!r} != {want!r}"
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-6), f"{path}: {got} != {want}"
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"


def key_of(by: str) -> Callable[[dict[str, Any]], Any]:
    if by == "weekday":
        return lambda r: date.fromisoformat(r["day"]).weekday()
    if by == "hour":
        return lambda r: naive.local(r["arrival"], r["tz"]).hour
    return lambda r: r[by]


def expected_breakdown(rows: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[key_of(by)(row)].append(row)
    keys = sorted((k for k in groups if k is not None), key=lambda k: (k,)) + (
        [None] if None in groups else []
    )
    return [{"key": k, **naive.measures(groups[k])} for k in keys]


def keep(rows: list[dict[str, Any]], wanted: dict[str, list[str]]) -> list[dict[str, Any]]:
    return [r for r in rows if all(r[k] in v for k, v in wanted.items())]


def check_all(
    reports: Reports,
    scope: Scope,
    entries: list[tuple[int, dict[str, Any]]],
    wanted: dict[str, list[str]],
    now: float | None,
) -> None:
    rows = keep(naive.visits(entries, SITE), wanted)
    outcomes = {r["outcome"] for r in rows}
    hypothesis.event(f"visits: {min(len(rows) // 10 * 10, 50)}+")
    hypothesis.event(f"outcomes: {len(outcomes)}")
    at = now if now is not None else entries[-1][1]["at"]
    summary = reports.summary(scope, at)
    assert_close(summary["measures"], naive.measures(rows), "summary")
    assert_close(summary["previous"]["measures"], naive.measures([]), "previous")
    for by in DIMENSIONS:
        assert_close(reports.breakdown(scope, by, at)["rows"], expected_breakdown(rows, by), by)
    for minutes in (15, 30, 60):
        got = reports.intervals(scope, minutes, at)["rows"]
        # Exact: counts, and the longest wait as the same microseconds / 1e6.
        assert got == naive.intervals(rows, minutes, now), f"intervals {minutes}"
    assert_close(reports.heatmap(scope, at)["cells"], naive.heatmap(rows), "heatmap")
    seconds = naive.counter_seconds(entries, now)
    own = {
        k: v
        for k, v in seconds.items()
        if k[0] in wanted.get("counter", [k[0]]) and k[1] in wanted.get("officer", [k[1]])
    }
    for by in ("counter", "officer"):
        got = reports.staff(scope, by, at)["rows"]
        assert_close(got, naive.staff(rows, own, by), f"staff by {by}")


# -- the property --------------------------------------------------------------------------


async def _run(
    steps: list[tuple[str, int, float]], wanted: dict[str, list[str]], keeps: bool, root: Path
) -> None:
    """The day's figures live and from its file against the naive ones; every closed day
    (closed by the next day's first command, while no process ran, or at the end) built
    from the log, and built again to the same bytes."""
    hall = ReportsHall(START).set_up(keeps_arrival=keeps)
    play(hall, steps)
    log = open_log(f"sqlite:///{root / 'qms.db'}")
    try:
        await store(log, hall)
        await build_missing_days(log, SITE, root / "reports")
        days = [e["day"] for _, e in hall.entries if e["type"] == "day_opened"]
        first = days[0] if days else "2024-05-06"
        period = Period(date.fromisoformat(first), date.fromisoformat(days[-1] if days else first))
        scope = Scope({SITE: period}, Filters.parse(wanted))
        # The live tables are loaded half way through the day, then follow its changes.
        live = LiveDay(SITE)
        half = len(hall.entries) // 2
        live.fold.apply_all(hall.entries[:half])
        reports = Reports(root / "reports")
        reports.add_live(live)
        at_half = hall.entries[half - 1][1]["at"] if half else hall.now
        reports.staff(scope, "counter", at_half)
        for version, entry in hall.entries[half:]:
            live.apply(version, entry)
        check_all(reports, scope, hall.entries, wanted, hall.now)  # the open day read live

        # Close the day: its file is written, and equals what the live tables said.
        closed = hall.run(c.CloseDay(), 60.0)
        for version, entry in hall.entries[live.fold.version :]:
            live.apply(version, entry)
        if closed:
            await store(log, hall, await log.version(SITE))
            written = await build_missing_days(log, SITE, root / "reports")
            assert written == [days[-1]]
        # Rebuilding every closed day from the log gives the same files, byte for byte.
        again = root / "again"
        await rebuild(log, SITE, again)
        built = sorted(
            p.relative_to(root / "reports") for p in (root / "reports").rglob("*.parquet")
        )
        assert sorted(p.relative_to(again) for p in again.rglob("*.parquet")) == built
        for path in built:
            assert (again / path).read_bytes() == (root / "reports" / path).read_bytes(), path
        check_all(reports, scope, hall.entries, wanted, None)
        only_live = Reports(root / "nothing")
        only_live.add_live(live)
        day = Period(date.fromisoformat(days[-1]), date.fromisoformat(days[-1])) if days else period
        one = Scope({SITE: day}, scope.filters)
        # (the day before is in the files only: compare this day's own figures)
        mine = only_live.summary(one, hall.now)["measures"]
        assert mine == reports.summary(one, hall.now)["measures"]
        assert only_live.heatmap(one, hall.now) == reports.heatmap(one, hall.now)
        for by in ("counter", "officer"):
            assert only_live.staff(one, by, hall.now) == reports.staff(one, by, hall.now)
        assert only_live.intervals(one, 15, hall.now) == reports.intervals(one, 15, hall.now)
        reports.close()
        only_live.close()
    finally:
        await log.close()


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,  # the same examples on every run, whatever earlier runs stored
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(steps=actions, wanted=filters, keeps=st.booleans())
def test_every_figure_equals_a_naive_recomputation(
    steps: list[tuple[str, int, float]], wanted: dict[str, list[str]], keeps: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_run(steps, wanted, keeps, Path(tmp)))
