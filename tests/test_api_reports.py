"""The reports' HTTP API against a real `qms serve` (SQLite and Redis logs).

The log holds two closed past days before the server starts (written straight
into it, as a hall would have): the server builds their files when it opens the
site ("a day closed while no process ran is built on the next start"); today is
played through the API and reported live; closing it writes its file, whose
figures are the live ones.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_client import PASSWORD, Api, signed_in
from conftest import BACKENDS, module_log_url
from live_server import LiveServer, serving_log
from reports_hall import SITE, TZ, ReportsHall, local, store_at

from qms.accounts import UserRole
from qms.core import commands as c
from qms.core.calendar import business_day
from qms.reports.query import Reports, scope
from qms.reports.store import VISITS_FILE, built_days, day_dir
from qms.server.auth import open_accounts
from qms.server.config import Config

R = f"/api/v1/sites/{SITE}/reports"
TODAY = business_day(time.time(), TZ)
D1 = (date.fromisoformat(TODAY) - timedelta(days=1)).isoformat()
D2 = (date.fromisoformat(TODAY) - timedelta(days=2)).isoformat()


def busy(hall: ReportsHall, day: str, tickets: int) -> None:
    """A morning at L1: `tickets` issued, all but one served; closed at noon."""
    hall.busy(day, tickets)
    hall.now = local(day, "12:00")
    hall.must(c.CloseDay())


async def _prepare(data_dir: Path, log_url: str) -> None:
    hall = ReportsHall(local(D2, "07:00")).set_up()
    busy(hall, D2, 3)
    busy(hall, D1, 5)
    await store_at(log_url, hall)
    async with open_accounts(Config(data_dir=data_dir, log_url=log_url)) as accounts:
        await accounts.add_user("admin", UserRole.ADMIN, (), PASSWORD, by="test")
        await accounts.add_user("sup", UserRole.SUPERVISOR, (SITE,), PASSWORD, by="test")
        await accounts.add_user("sup2", UserRole.SUPERVISOR, ("elsewhere",), PASSWORD, by="test")
        await accounts.add_user("budi", UserRole.OFFICER, (SITE,), PASSWORD, by="test")
        await accounts.add_user("kepala", UserRole.VIEWER, (SITE,), PASSWORD, by="test")
        await accounts.add_user(
            "koord", UserRole.VIEWER, (SITE,), PASSWORD, by="test", agencies=("dpmptsp",)
        )


class Served:
    def __init__(self, server: LiveServer, data_dir: Path) -> None:
        self.server = server
        self.root = data_dir / "reports"
        self.admin = signed_in(server.url, "admin")
        names = ("sup", "sup2", "budi", "kepala", "koord")
        self.who = {name: signed_in(server.url, name) for name in names}
        self.who["anonymous"] = Api(server.url)


@contextlib.contextmanager
def served_hall(tmp: Path, log_url: str | None) -> Iterator[Served]:
    """A live server over a log that holds the two closed past days (SQLite by default)."""
    with serving_log(tmp, _prepare, log_url) as server:
        yield Served(server, tmp / "data")


@pytest.fixture(scope="module", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    with served_hall(
        tmp_path_factory.mktemp("api_reports"), module_log_url(request, "trep")
    ) as hall:
        yield hall


def get(who: Api, path: str, **params: Any) -> Any:
    query = "&".join(
        f"{k}={v}" for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs])
    )
    return who.get(f"{path}?{query}" if query else path)


def ok(who: Api, path: str, **params: Any) -> Any:
    reply = get(who, path, **params)
    assert reply.status == 200, reply
    return reply.body


def wait_for(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_past_days_are_built_at_start_and_reported(served: Served) -> None:
    body = ok(served.admin, f"{R}/summary", period="yesterday")
    assert body["scope"]["sites"][SITE]["first"] == D1
    m = body["measures"]
    assert (m["visits"], m["outcomes"]["served"], m["outcomes"]["expired"]) == (5, 4, 1)
    assert m["rates"]["served"] == pytest.approx(0.8)
    assert m["wait"]["n"] == 4 and m["service"]["p50"] == 0.0  # completed without a start
    # the period before (D2): 3 tickets, 2 served; and the change
    before = body["previous"]["measures"]
    assert body["previous"]["scope"]["sites"][SITE]["first"] == D2
    assert (before["visits"], before["outcomes"]["served"]) == (3, 2)
    assert body["change"]["visits"] == 2 and body["change"]["outcomes"]["served"] == 2
    assert {D1, D2} <= set(built_days(served.root, SITE))


def test_a_range_and_every_cut(served: Served) -> None:
    span = {"from": D2, "to": D1}
    by_day = ok(served.admin, f"{R}/breakdown", by="day", **span)["rows"]
    assert [(r["key"], r["visits"]) for r in by_day] == [(D2, 3), (D1, 5)]
    for cut in (
        "agency",
        "service",
        "counter",
        "officer",
        "channel",
        "priority",
        "weekday",
        "hour",
    ):
        rows = ok(served.admin, f"{R}/breakdown", by=cut, **span)["rows"]
        assert sum(r["visits"] for r in rows) == 8, cut
    officer = ok(served.admin, f"{R}/breakdown", by="officer", **span)["rows"]
    assert [(r["key"], r["outcomes"]["served"]) for r in officer] == [("budi", 6), (None, 0)]
    hours = ok(served.admin, f"{R}/intervals", minutes=60, **span)
    assert hours["minutes"] == 60 and sum(r["arrivals"] for r in hours["rows"]) == 8
    assert sum(r["served"] for r in hours["rows"]) == 6
    cells = ok(served.admin, f"{R}/heatmap", **span)["cells"]
    assert sum(c["arrivals"] for c in cells) == 8
    staff = ok(served.admin, f"{R}/staff", by="officer", **span)["rows"]
    assert [(r["key"], r["served"]) for r in staff] == [("budi", 6)]
    assert staff[0]["open_s"] > 0 and 0 < staff[0]["utilisation"] <= 1
    filtered = ok(served.admin, f"{R}/summary", service="kk", **span)["measures"]
    assert filtered["visits"] == 0


def test_a_missing_day_file_is_built_on_demand(served: Served) -> None:
    path = day_dir(served.root, SITE, D2) / VISITS_FILE
    path.unlink()
    body = ok(served.admin, f"{R}/summary", **{"from": D2, "to": D2})
    assert body["measures"]["visits"] == 3
    assert path.exists()


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"period": "someday"}, "unknown_period"),
        ({"period": ["today", "yesterday"]}, "invalid_period"),
        ({"from": "2024-13-01", "to": "2024-12-31"}, "invalid_period"),
        ({"from": "2024-02-01"}, "invalid_period"),
        ({"from": "2024-02-01", "to": "2024-01-01"}, "invalid_period"),
        ({"from": "2000-01-01", "to": "2024-01-01"}, "invalid_period"),
        ({"period": "today", "from": "2024-02-01", "to": "2024-02-02"}, "invalid_period"),
        ({"channel": "fax"}, "invalid_filter"),
        ({"priority": "vip"}, "invalid_filter"),
        ({"service": "x" * 201}, "invalid_filter"),
    ],
)
def test_bad_periods_and_filters_are_422_with_a_stable_code(
    served: Served, params: dict[str, Any], code: str
) -> None:
    reply = get(served.admin, f"{R}/summary", **params)
    assert reply.status == 422, reply
    assert reply.code == code


@pytest.mark.parametrize(
    ("view", "params", "code"),
    [
        ("breakdown", {"by": "colour"}, "invalid_dimension"),
        ("staff", {"by": "service"}, "invalid_dimension"),
        ("intervals", {"minutes": "7"}, "invalid_interval"),
        ("intervals", {"minutes": "abc"}, "invalid_interval"),
        ("staff", {"minutes": "90"}, "invalid_interval"),
    ],
)
def test_bad_cuts_and_intervals_are_422(
    served: Served, view: str, params: dict[str, Any], code: str
) -> None:
    reply = get(served.admin, f"{R}/{view}", **params)
    assert (reply.status, reply.code) == (422, code), reply


def test_who_may_read_the_reports(served: Served) -> None:
    assert get(served.who["sup"], f"{R}/summary").status == 200
    assert get(served.who["sup2"], f"{R}/summary").status == 403  # another site's
    assert get(served.who["budi"], f"{R}/summary").status == 403  # officers do not
    assert get(served.who["anonymous"], f"{R}/summary").status == 401
    reply = get(served.admin, "/api/v1/sites/nowhere/reports/summary")
    assert (reply.status, reply.code) == (404, "unknown_site")


def test_a_viewer_reads_the_reports_and_nothing_else(served: Served) -> None:
    """The hall's head (a viewer of the site) sees every agency; an agency's coordinator
    (a viewer limited to dpmptsp) sees only its own, whatever it asks for."""
    head, coordinator = served.who["kepala"], served.who["koord"]
    assert ok(head, f"{R}/summary", period="yesterday")["measures"]["visits"] == 5
    assert head.get(f"/api/v1/sites/{SITE}").status == 200  # names for the page
    assert head.get(f"/api/v1/sites/{SITE}/queues").status == 403  # not the floor
    assert head.get(f"/api/v1/sites/{SITE}/tickets").status == 403
    assert head.post(f"/api/v1/sites/{SITE}/tickets", {"service": "ktp"}).status == 403
    # the past days are dukcapil's (ktp): the coordinator of dpmptsp sees none of them
    mine = ok(coordinator, f"{R}/summary", period="yesterday")
    assert mine["scope"]["filters"] == {"agency": ["dpmptsp"]}
    assert mine["measures"]["visits"] == 0
    rows = ok(coordinator, f"{R}/breakdown", by="agency", **{"from": D2, "to": D1})["rows"]
    assert rows == []
    assert ok(coordinator, f"{R}/staff", by="officer", **{"from": D2, "to": D1})["rows"] == []
    reply = get(coordinator, f"{R}/summary", agency="dukcapil")
    assert (reply.status, reply.code) == (403, "forbidden")
    assert get(coordinator, f"{R}/export", format="xlsx").status == 200
    assert ok(served.admin, f"{R}/staff", by="officer", **{"from": D2, "to": D1})["rows"]


def test_today_is_live_and_its_file_has_the_same_figures_once_closed(served: Served) -> None:
    admin, s = served.admin, f"/api/v1/sites/{SITE}"
    admin.ok("POST", f"{s}/counters/L2/open", {"officer": "budi"})
    for _ in range(3):
        admin.ok("POST", f"{s}/tickets", {"service": "kk"})
    admin.ok("POST", f"{s}/counters/L2/call-next")
    admin.ok("POST", f"{s}/counters/L2/complete")
    live = ok(admin, f"{R}/summary", period="today")["measures"]
    assert (live["visits"], live["outcomes"]["served"], live["outcomes"]["going_on"]) == (3, 1, 2)
    admin.ok("POST", f"{s}/close-day")
    wait_for(lambda: TODAY in built_days(served.root, SITE))
    after = ok(admin, f"{R}/summary", period="today")
    assert after["measures"]["outcomes"]["expired"] == 2
    # straight from the file, without the server: the same figures
    files = Reports(served.root)
    try:
        wanted = scope({SITE: TZ}, (TODAY, TODAY), time.time())
        assert files.summary(wanted)["measures"] == after["measures"]
    finally:
        files.close()
