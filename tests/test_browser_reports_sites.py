"""The reports page over several sites, each table's own CSV, and the survey section, in
a real headless Chromium against a real `qms serve`.

- Two halls (tests/test_api_reports_sites.py): the page picks both; with a period
  and a filter other than the default, the cards are the API's figures over both
  sites, and every table on the page (per site, service, agency, officer,
  counter, channel, priority; the chart's series; the heatmap) has a CSV button
  whose file holds exactly the numbers of that table's cells.
- The survey day of tests/test_api_reports_survey.py: the survey section shows
  the index by wait (within / above target) as the API gives it, and its CSV.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import openpyxl  # type: ignore[import-untyped]
import pytest
from api_client import PASSWORD, signed_in
from axe_check import assert_accessible
from browser_support import HD, keep_screenshot, shot
from live_server import LiveServer, serving_log
from reports_hall import ReportsHall, store_at
from staff_pages import reports_page
from test_api_reports import D1, ok
from test_api_reports_sites import DAY, A, B, Deployment, deployed
from test_api_reports_survey import server  # noqa: F401 (fixture)

from qms.accounts import UserRole
from qms.core import commands as c
from qms.reports.export import TABLES, flatten
from qms.server.auth import open_accounts
from qms.server.config import Config

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The two halls of tests/test_api_reports_sites.py, on SQLite (the API's tests run
    them on Redis too)."""
    with deployed(tmp_path_factory.mktemp("sites"), None) as served:
        yield served


def download(page: Any, href: str) -> list[dict[str, str]]:
    """The file behind a link, fetched by the page itself (its session, its cookie)."""
    text = page.evaluate("href => fetch(href).then(r => r.text())", href)
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def workbook(served: Deployment, href: str, title: str) -> dict[str, dict[str, Any]]:
    """The one sheet of a table's XLSX link (after the sheet that says what it is)."""
    url = urlsplit(href)
    reply = served.admin.get(f"{url.path}?{url.query}")
    assert reply.status == 200, reply
    book = openpyxl.load_workbook(io.BytesIO(reply.raw), read_only=True)
    assert book.sheetnames == ["Laporan", title]
    rows = list(book[title].iter_rows(values_only=True))
    return {"" if r[0] is None else str(r[0]): dict(zip(rows[0], r, strict=True)) for r in rows[1:]}


def number(text: str) -> Any:
    return None if text == "" else float(text)


def test_two_sites_and_every_tables_csv(deployment: Deployment, browser: Any) -> None:
    url = deployment.admin.base_url
    context, page, errors = reports_page(browser, url, f"site={A}")
    try:
        assert page.locator("#site-picker").is_visible()
        assert page.locator("#s-site").is_hidden()  # one site: no per-site table
        page.locator(f"#site-list input[value={B}]").check()
        page.locator("select[name=period]").select_option("range")
        page.locator("input[name=from]").fill(DAY)
        page.locator("input[name=to]").fill(DAY)
        page.locator("select[name=channel]").select_option("kiosk")
        page.locator("#picker button[type=submit]").click()
        page.wait_for_url(f"**site={A}%2C{B}**")
        page.locator("body[data-loading]").wait_for(state="detached")
        page.locator("#s-site").wait_for()

        want = {"site": [A, B], "from": DAY, "to": DAY, "channel": "kiosk"}
        api = flatten(ok(deployment.admin, "/api/v1/reports/summary", **want)["measures"])
        values = page.eval_on_selector_all(
            ".kpi", "els => els.map(e => [e.dataset.measure, e.dataset.value])"
        )
        shown = {m: json.loads(v) for m, v in values}
        assert shown and all(shown[m] == api[m] for m in shown), (shown, api)
        summary = {
            r["measure"]: r
            for r in download(page, page.locator("#export-csv").get_attribute("href"))
        }
        assert all(number(summary[m]["value"]) == v for m, v in shown.items())

        tables = page.eval_on_selector_all(
            "table.figures[data-cut]:not([data-cut^=survey])",
            """els => els.map(t => [t.dataset.cut, t.closest('section').querySelector('a.csv').href,
                 t.closest('section').querySelector('a.xlsx').href,
                 [...t.querySelectorAll('tbody tr')].map(r => [r.dataset.key,
                   Object.fromEntries([...r.querySelectorAll('td[data-field]')].map(
                     c => [c.dataset.field, JSON.parse(c.dataset.value)]))])])""",
        )
        assert sorted(cut for cut, *_ in tables) == sorted(
            ["site", "service", "agency", "officer", "counter", "channel", "priority"]
        )
        for cut, href, xhref, rows in tables:
            assert f"table={cut}" in href and "channel=kiosk" in href, href
            got = {r["key"]: r for r in download(page, href)}
            sheet = workbook(deployment, xhref, TABLES[cut][0])
            assert len(got) == len(rows) == len(sheet), cut
            for key, cells in rows:
                assert cells, cut
                for field, value in cells.items():
                    assert number(got[key][field]) == value, (cut, key, field)
                    # (an XLSX cell holds 16 significant digits: XlsxWriter's "%.16G")
                    close = value if value is None else pytest.approx(value, rel=1e-15)
                    assert sheet[key][field] == close, (cut, key, field)
        sites = ok(deployment.admin, "/api/v1/reports/breakdown", by="site", **want)["rows"]
        assert [r["key"] for r in sites] == [A, B]
        # the chart's series (one day: per hour) and the heatmap, each with its CSV
        href = page.locator("#chart-csv").get_attribute("href")
        assert "table=intervals" in href
        hours = {r["start"][11:13]: r for r in download(page, href)}
        bars = page.eval_on_selector_all(
            "#chart rect.arrivals",
            "els => els.map(e => [e.dataset.label, +e.dataset.arrivals, +e.dataset.served])",
        )
        assert bars and all(
            (int(hours[h]["arrivals"]), int(hours[h]["served"])) == (a, s) for h, a, s in bars
        )
        heat = download(page, page.locator("a.csv[data-table=heatmap]").get_attribute("href"))
        titles = page.eval_on_selector_all(
            "#heatmap td[title]:not([title=''])", "els => els.map(e => e.title)"
        )
        assert sorted(titles) == sorted(f"{r['arrivals']} / {r['days']}" for r in heat)
        shot(page, "reports-sites")
        keep_screenshot("reports-sites")
        assert errors == []
    finally:
        context.close()


def test_the_survey_section(server: LiveServer, browser: Any) -> None:  # noqa: F811
    context, page, errors = reports_page(browser, server.url, "period=yesterday")
    try:
        page.locator("#t-survey tr[data-key=within]").wait_for()
        row = page.locator("#t-survey tr[data-key=within]")
        assert row.locator("td[data-field=respondents]").inner_text() == "6"
        assert row.locator("td[data-field=converted]").inner_text() == "100.00"
        assert row.locator("td[data-field=grade]").inner_text().startswith("A")
        above = page.locator("#t-survey tr[data-key=above]")
        assert above.locator("td[data-field=converted]").inner_text() == "54.17"
        assert above.locator("td[data-field='wait.p50']").get_attribute("data-value") == "950"
        assert (
            page.locator("#t-survey tr[data-row=total] td[data-field=respondents]").inner_text()
            == "12"
        )
        rows = download(page, page.locator("#survey-csv").get_attribute("href"))
        assert [(r["key"], r["converted"]) for r in rows] == [
            ("", "77.08"),
            ("above", "54.17"),
            ("within", "100.00"),
        ]
        # on paper (the A4 monthly report) the survey is there, its cut named
        page.emulate_media(media="print")
        assert page.locator("#survey").is_visible()
        assert page.locator("#survey-by").is_hidden()
        cut = page.locator("#survey-cut").inner_text()
        assert cut == "Menurut: Waktu tunggu (sesuai / melebihi target)"
        assert page.locator("#t-survey tr[data-key=within]").is_visible()
        assert page.pdf(format="A4").startswith(b"%PDF")
        page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi: page one
        shot(page, "reports-print")
        keep_screenshot("reports-print")
        page.set_viewport_size(HD)
        page.emulate_media(media="screen")
        page.locator("#survey").scroll_into_view_if_needed()
        shot(page, "reports-survey")
        keep_screenshot("reports-survey")
        assert_accessible(page, within="#survey", what="reports: the survey section")
        # a cut whose groups are too small: hidden, never a number
        page.locator("select[name=period]").select_option("range")
        page.locator("input[name=from]").fill(D1)
        page.locator("input[name=to]").fill(D1)
        page.locator("#survey-by").select_option("channel")
        page.wait_for_url("**survey=channel**")
        page.locator("body[data-loading]").wait_for(state="detached")
        assert (
            page.locator("#t-survey tr[data-key=kiosk] td[data-field=respondents]").inner_text()
            == "12"
        )
        # the section's XLSX and the whole workbook's survey sheet: the same cut
        xlsx = page.locator("#survey-xlsx").get_attribute("href")
        assert "format=xlsx" in xlsx and "by=channel" in xlsx, xlsx
        assert "survey=channel" in page.locator("#export-xlsx").get_attribute("href")
        url = urlsplit(xlsx)
        reply = signed_in(server.url, "admin").get(f"{url.path}?{url.query}")
        book = openpyxl.load_workbook(io.BytesIO(reply.raw), read_only=True)
        sheet = list(book["Kepuasan (SKM)"].iter_rows(values_only=True))
        assert [(r[1], r[3]) for r in sheet[1:]] == [(None, 12), ("kiosk", 12)]
        # where the answers were given: all twelve on the visitors' phones
        page.locator("#survey-by").select_option("answered_on")
        page.wait_for_url("**survey=answered_on**")
        page.locator("body[data-loading]").wait_for(state="detached")
        phone = page.locator("#t-survey tr[data-key=phone]")
        assert phone.locator("td").first.inner_text() == "Ponsel pengunjung"
        assert phone.locator("td[data-field=respondents]").inner_text() == "12"
        assert_accessible(page, within="#survey", what="reports: the survey by where answered")
        assert errors == []
    finally:
        context.close()


# Sites whose calendars differ. Kiritimati (UTC+14) is always one calendar day ahead of
# Honolulu (UTC-10), so their "yesterday" differs whenever the test runs; Jakarta
# (UTC+7) and Jayapura (UTC+9) differ from 15:00 to 17:00 UTC only.
ZONED = {
    "mpp-jakarta": ("MPP Jakarta", "Asia/Jakarta"),
    "mpp-jayapura": ("MPP Jayapura", "Asia/Jayapura"),
    "pos-honolulu": ("Pos Honolulu", "Pacific/Honolulu"),
    "pos-kiritimati": ("Pos Kiritimati", "Pacific/Kiritimati"),
}


async def _zoned(data_dir: Path, log_url: str) -> None:
    halls = []
    for site, (name, tz) in ZONED.items():
        hall = ReportsHall(time.time() - 86_400 * 3, tz=tz, site=site).set_up()
        hall.must(c.SetUpSite(site=site, name=name, timezone=tz))
        halls.append(hall)
    await store_at(log_url, *halls)
    async with open_accounts(Config(data_dir=data_dir, log_url=log_url)) as accounts:
        await accounts.add_user("admin", UserRole.ADMIN, (), PASSWORD, by="test")
        # (an admin's site picker lists the sites the accounts name, among others)
        await accounts.add_user("kepala", UserRole.VIEWER, tuple(ZONED), PASSWORD, by="test")


@pytest.fixture(scope="module")
def zoned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving_log(tmp_path_factory.mktemp("zoned"), _zoned) as live:
        yield live


def expected_lines(summary: dict[str, Any]) -> list[tuple[list[str], str, str, str, str]]:
    """The API's per-site periods, grouped by equal days: (sites, first, last, before's
    first, before's last), in the order of their first site."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for site, p in sorted(summary["scope"]["sites"].items()):
        q = summary["previous"]["scope"]["sites"][site]
        groups.setdefault((p["first"], p["last"], q["first"], q["last"]), []).append(site)
    return [(sites, d[0], d[1], d[2], d[3]) for d, sites in groups.items()]


def test_each_sites_own_period_when_calendars_differ(zoned: LiveServer, browser: Any) -> None:
    admin = signed_in(zoned.url, "admin")
    for pair in (["pos-honolulu", "pos-kiritimati"], ["mpp-jakarta", "mpp-jayapura"]):
        query = f"site={','.join(pair)}&period=yesterday"
        context, page, errors = reports_page(browser, zoned.url, query)
        try:
            summary = ok(admin, "/api/v1/reports/summary", site=pair, period="yesterday")
            want = expected_lines(summary)
            if pair[0] == "pos-honolulu":  # always a day apart
                assert [w[0] for w in want] == [[s] for s in pair], want
            lines = page.eval_on_selector_all(
                "#scope .line[data-sites]", "els => els.map(e => [e.dataset.sites, e.innerText])"
            )
            assert [sites for sites, _ in lines] == [",".join(w[0]) for w in want]
            for (_, text), (sites, first, last, pfirst, plast) in zip(lines, want, strict=True):
                if len(want) > 1:  # each line names its sites, Indonesian first
                    assert text.startswith(", ".join(ZONED[s][0] for s in sites) + ": ")
                assert f"{first} s.d. {last} (1 hari)" in text, text
                assert f"dibandingkan dengan {pfirst} s.d. {plast}" in text, text
            heading = page.locator("#scope .line:not([data-sites])")
            assert heading.count() == (len(want) > 1)
            # on paper (the A4 monthly report): each site's days too
            page.emulate_media(media="print")
            printed = page.locator("#print-period").inner_text()
            for sites, first, last, *_ in want:
                assert f"{first} \u2013 {last}" in printed  # an en dash
                if len(want) > 1:
                    assert all(ZONED[s][0] in printed for s in sites)
            page.emulate_media(media="screen")
            if len(want) > 1:
                shot(page, "reports-zones")
                keep_screenshot("reports-zones")
                page.locator("[data-lang-toggle]").click()  # English second
                english = page.locator("#scope").inner_text()
                assert "Each site's period in its own calendar" in english
                assert f"{want[1][1]} to {want[1][2]} (1 days)" in english, english
            assert errors == []
        finally:
            context.close()
