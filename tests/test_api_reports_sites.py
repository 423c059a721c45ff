"""Reports across sites (`GET /api/v1/reports/…`) against a real `qms serve`.

Two halls in one deployment, in Jakarta and Makassar, each with a randomly
played day (yesterday, closed) written into the log before the server starts.
Every figure over both sites must equal the naive recomputation from the raw
events of both (tests/reports_naive.py) over the union of their visits, not an
average of per-site figures; the `site` cut gives each site's own figures; and
a principal bound to some sites reads those only. Every test runs on both log
backends: SQLite and a real Redis.
"""

from __future__ import annotations

import contextlib
import csv
import io
import random
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import reports_naive as naive
from api_client import PASSWORD, signed_in
from conftest import BACKENDS, module_redis_log
from live_server import LiveServer, serving_log
from reports_hall import ACTIONS, ReportsHall, local, store_at
from test_api_reports import get, ok
from test_reports_properties import assert_close, expected_breakdown, play

from qms.accounts import UserRole
from qms.core import commands as c
from qms.core.calendar import business_day
from qms.server.auth import open_accounts
from qms.server.config import Config

A, B = "mpp-barat", "mpp-timur"
ZONES = {A: "Asia/Jakarta", B: "Asia/Makassar"}
DAY = (
    date.fromisoformat(business_day(time.time(), "Asia/Jakarta")) - timedelta(days=1)
).isoformat()
SPAN = {"from": DAY, "to": DAY}


def played(site: str, seed: int) -> ReportsHall:
    """A random day at `site` (seeded), closed in the evening."""
    rng = random.Random(seed)
    moves = [m for m in ACTIONS if m != "close_day"] + ["rush", "work", "work", "work"]
    steps = [(rng.choice(moves), rng.randrange(10**6), rng.uniform(0, 200)) for _ in range(120)]
    hall = ReportsHall(local(DAY, "07:30", ZONES[site]), tz=ZONES[site], site=site).set_up()
    if site == B:  # its own name (set up again: the same site, renamed)
        hall.must(c.SetUpSite(site=B, name="MPP Timur", timezone=ZONES[B]))
    play(hall, steps)
    hall.now = local(DAY, "20:00", ZONES[site])
    hall.must(c.CloseDay())
    return hall


class Deployment:
    def __init__(self, server: LiveServer, halls: dict[str, ReportsHall]) -> None:
        self.halls = halls
        self.admin = signed_in(server.url, "admin")
        self.sup = signed_in(server.url, "sup")  # supervisor of A only
        self.head = signed_in(server.url, "kepala")  # a viewer of both
        self.head_b = signed_in(server.url, "kepalab")  # a viewer of B only
        self.officer = signed_in(server.url, "budi")

    def rows(self, *sites: str) -> list[dict[str, Any]]:
        return [r for s in sites for r in naive.visits(self.halls[s].entries, s)]


async def _prepare(data_dir: Path, log_url: str, halls: dict[str, ReportsHall]) -> None:
    await store_at(log_url, *halls.values())
    async with open_accounts(Config(data_dir=data_dir, log_url=log_url)) as accounts:
        await accounts.add_user("admin", UserRole.ADMIN, (), PASSWORD, by="test")
        await accounts.add_user("sup", UserRole.SUPERVISOR, (A,), PASSWORD, by="test")
        await accounts.add_user("kepala", UserRole.VIEWER, (A, B), PASSWORD, by="test")
        await accounts.add_user("kepalab", UserRole.VIEWER, (B,), PASSWORD, by="test")
        await accounts.add_user("budi", UserRole.OFFICER, (A, B), PASSWORD, by="test")


@contextlib.contextmanager
def deployed(tmp: Path, log_url: str | None) -> Iterator[Deployment]:
    """The two halls' log (SQLite in `tmp` by default), the accounts, a live server."""
    halls = {A: played(A, 1), B: played(B, 2)}
    with serving_log(tmp, lambda data_dir, url: _prepare(data_dir, url, halls), log_url) as server:
        yield Deployment(server, halls)


@pytest.fixture(scope="module", params=BACKENDS)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """Both backends: the embedded log, and a real Redis (conftest's `redis_url`: under CI
    a failure, never a skip, when none answers) with keys of this module's own."""
    log_url = prefix = None
    if request.param == "redis":
        log_url, prefix = module_redis_log(request, "tsites")
    with deployed(tmp_path_factory.mktemp("sites"), log_url) as served:
        if prefix is not None:  # the log really is Redis's: the halls' streams are there
            keys = redis.Redis.from_url(request.getfixturevalue("redis_url")).keys(f"{prefix}:*")
            assert any(A.encode() in k for k in keys) and any(B.encode() in k for k in keys)
        yield served


def test_every_figure_over_two_sites_equals_the_naive_union(deployment: Deployment) -> None:
    admin, rows = deployment.admin, deployment.rows(A, B)
    assert len({r["site"] for r in rows}) == 2 and len(rows) > 40
    body = ok(admin, "/api/v1/reports/summary", site=[A, B], **SPAN)
    assert body["sites"] == [A, B] and set(body["scope"]["sites"]) == {A, B}
    assert_close(body["measures"], naive.measures(rows), "summary")
    # exact over the union: not the mean of the two sites' own percentiles
    own = [ok(admin, f"/api/v1/sites/{s}/reports/summary", **SPAN)["measures"] for s in (A, B)]
    union = body["measures"]["wait"]["p90"]
    assert union != pytest.approx((own[0]["wait"]["p90"] + own[1]["wait"]["p90"]) / 2)
    for by in ("site", "service", "counter", "hour"):
        got = ok(admin, "/api/v1/reports/breakdown", site=f"{A},{B}", by=by, **SPAN)["rows"]
        assert_close(got, expected_breakdown(rows, by), by)
    got = ok(admin, "/api/v1/reports/intervals", site=[A, B], minutes=60, **SPAN)["rows"]
    assert_close(got, naive.intervals(rows, 60, None), "intervals")
    cells = ok(admin, "/api/v1/reports/heatmap", site=[A, B], **SPAN)["cells"]
    assert_close(cells, naive.heatmap(rows), "heatmap")


def test_the_site_cut_gives_each_sites_own_figures(deployment: Deployment) -> None:
    admin = deployment.admin
    cut = ok(admin, "/api/v1/reports/breakdown", site=[A, B], by="site", **SPAN)["rows"]
    assert [r["key"] for r in cut] == [A, B]
    for row in cut:
        alone = ok(admin, f"/api/v1/sites/{row['key']}/reports/summary", **SPAN)["measures"]
        assert {k: v for k, v in row.items() if k != "key"} == alone
        assert_close(alone, naive.measures(deployment.rows(row["key"])), row["key"])


def test_without_a_site_every_readable_site(deployment: Deployment) -> None:
    assert ok(deployment.admin, "/api/v1/reports/summary", **SPAN)["sites"] == [A, B]
    assert ok(deployment.head, "/api/v1/reports/summary", **SPAN)["sites"] == [A, B]
    mine = ok(deployment.sup, "/api/v1/reports/summary", **SPAN)
    assert mine["sites"] == [A] and list(mine["scope"]["sites"]) == [A]
    assert_close(mine["measures"], naive.measures(deployment.rows(A)), "A")
    listed = ok(deployment.sup, "/api/v1/reports/sites")["sites"]
    assert listed == [{"site": A, "name": "MPP Uji", "timezone": "Asia/Jakarta"}]
    assert [s["site"] for s in ok(deployment.head, "/api/v1/reports/sites")["sites"]] == [A, B]


@pytest.mark.parametrize("view", ["summary", "breakdown", "heatmap", "staff", "export"])
def test_a_site_the_principal_may_not_read_is_403(deployment: Deployment, view: str) -> None:
    for sites in ([B], [A, B], [f"{A},{B}"], ["nowhere"]):
        reply = get(deployment.sup, f"/api/v1/reports/{view}", site=sites, **SPAN)
        assert (reply.status, reply.code) == (403, "forbidden"), reply
        assert reply.body["error"]["details"]["sites"] == [
            s for s in (B, "nowhere") if s in str(sites)
        ]
    reply = get(deployment.head_b, f"/api/v1/reports/{view}", site=[A, B], **SPAN)
    assert (reply.status, reply.code) == (403, "forbidden") and reply.body["error"]["details"][
        "sites"
    ] == [A]
    assert get(deployment.head_b, f"/api/v1/reports/{view}", site=B, **SPAN).status == 200
    assert get(deployment.officer, f"/api/v1/reports/{view}", site=A).status == 403


def test_unknown_and_bad_sites(deployment: Deployment) -> None:
    reply = get(deployment.admin, "/api/v1/reports/summary", site=[A, "nowhere"])
    assert (reply.status, reply.code) == (404, "unknown_site")
    for bad in ("_accounts", "Bad%20Site!", ",".join(f"s{i}" for i in range(101))):
        reply = get(deployment.admin, "/api/v1/reports/summary", site=bad)
        assert (reply.status, reply.code) == (422, "invalid_site"), bad


def test_the_export_across_sites_is_the_apis(deployment: Deployment) -> None:
    api = ok(deployment.admin, "/api/v1/reports/breakdown", site=[A, B], by="site", **SPAN)["rows"]
    reply = get(deployment.admin, "/api/v1/reports/export", site=[A, B], table="site", **SPAN)
    assert reply.status == 200, reply
    assert f"laporan-{A}+{B}-{DAY}-{DAY}-site.csv" in reply.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(reply.raw.decode("utf-8")[1:])))
    assert [r["key"] for r in rows] == [A, B]
    for got, want in zip(rows, api, strict=True):
        assert float(got["wait.p90"]) == want["wait"]["p90"]
        assert int(got["outcomes.served"]) == want["outcomes"]["served"]
