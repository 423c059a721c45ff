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
from typing import Any
from urllib.parse import urlsplit

import openpyxl  # type: ignore[import-untyped]
import pytest
from axe_check import assert_accessible
from browser_support import keep_screenshot, shot
from live_server import LiveServer
from staff_pages import reports_page
from test_api_reports import D1, ok
from test_api_reports_sites import DAY, A, B, Deployment, deployment  # noqa: F401 (fixture)
from test_api_reports_survey import server  # noqa: F401 (fixture)

from qms.reports.export import TABLES, flatten

pytestmark = pytest.mark.timeout(120)


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


def test_two_sites_and_every_tables_csv(deployment: Deployment, browser: Any) -> None:  # noqa: F811
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
        assert errors == []
    finally:
        context.close()
