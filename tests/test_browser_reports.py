"""The reports page (static/reports.html) in a real headless Chromium against a real
`qms serve` whose log holds two closed past days (tests/test_api_reports.py):
the period picker, the cards (their numbers are the API's and the CSV's), the
chart, the heatmap and the tables; today live; the A4 print of the month."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from api_client import PASSWORD
from browser_support import HD, keep_screenshot, shot
from reports_hall import SITE
from staff_pages import reports_page
from test_api_reports import D1, D2, TODAY, R, Served, get, ok, served_hall

from qms.reports.export import flatten

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_hall(tmp_path_factory.mktemp("browser_reports"), None) as hall:
        yield hall


def open_reports(served: Served, browser: Any, query: str = "") -> tuple[Any, Any, list[str]]:
    return reports_page(browser, served.server.url, f"site={SITE}{query}")


def cards(page: Any) -> dict[str, Any]:
    values = page.eval_on_selector_all(
        ".kpi", "els => els.map(e => [e.dataset.measure, e.dataset.value])"
    )
    return {measure: json.loads(value) for measure, value in values}


def test_cards_equal_the_api_and_the_export(served: Served, browser: Any) -> None:
    context, page, errors = open_reports(served, browser)
    try:
        page.locator("select[name=period]").select_option("range")
        page.locator("input[name=from]").fill(D2)
        page.locator("input[name=to]").fill(D1)
        page.locator("#picker button[type=submit]").click()
        page.locator("#scope", has_text=f"{D2}").wait_for()
        page.locator("body[data-loading]").wait_for(state="detached")
        api = flatten(ok(served.admin, f"{R}/summary", **{"from": D2, "to": D1})["measures"])
        shown = cards(page)
        assert shown and all(shown[m] == api[m] for m in shown), (shown, api)
        assert page.locator("#kpi-visits strong").inner_text() == "8"
        assert page.locator("#kpi-served strong").inner_text() == "6"
        # the CSV the page links to has the same numbers
        href = page.locator("#export-csv").get_attribute("href")
        assert href is not None and f"from={D2}" in href
        reply = get(served.admin, href.split("?")[0], **{
            k: v for k, v in (p.split("=") for p in href.split("?")[1].split("&"))
        })  # fmt: skip
        rows = {r["measure"]: r for r in csv.DictReader(io.StringIO(reply.raw.decode()[1:]))}
        for measure, value in shown.items():
            assert (None if rows[measure]["value"] == "" else float(rows[measure]["value"])) == (
                value
            ), measure
        # per day chart (two days), heatmap, tables per cut
        assert page.locator("#chart rect.arrivals").count() == 2
        assert page.locator("#chart-title").inner_text() == "Kedatangan dan dilayani per hari"
        filled = page.eval_on_selector_all("#heatmap td", "els => els.map(e => e.textContent)")
        assert sorted(x for x in filled if x) == ["3", "5"]  # one cell per day, 08:00
        service = page.locator("#t-service tr[data-key=ktp]")
        assert service.locator("td").nth(1).inner_text() == "8"
        assert page.locator("#t-officer tr[data-key=budi] td").nth(2).inner_text() == "6"
        assert "period" not in page.url and f"from={D2}" in page.url
        shot(page, "reports")
        keep_screenshot("reports")
        # English on a switch; the same numbers
        page.locator("[data-lang-toggle]").click()
        page.locator("#chart-title", has_text="Arrivals and served per day").wait_for()
        assert cards(page) == shown
        page.locator("[data-lang-toggle]").click()
        assert errors == []
    finally:
        context.close()


def test_today_is_live_and_filters_apply(served: Served, browser: Any) -> None:
    s = f"/api/v1/sites/{SITE}"
    served.admin.ok("POST", f"{s}/tickets", {"service": "kk"})
    context, page, errors = open_reports(served, browser)
    try:
        api = ok(served.admin, f"{R}/summary", period="today")["measures"]
        assert cards(page)["visits"] == api["visits"] >= 1
        assert page.locator("#chart-title").inner_text() == "Kedatangan dan dilayani per jam"
        page.locator("select[name=period]").select_option("last_month")
        page.locator("select[name=service]").select_option("kk")
        page.locator("#picker button[type=submit]").click()
        page.wait_for_url("**service=kk**")
        page.locator("body[data-loading]").wait_for(state="detached")
        want = ok(served.admin, f"{R}/summary", period="last_month", service="kk")["measures"]
        assert cards(page)["visits"] == want["visits"]
        assert errors == []
    finally:
        context.close()


def test_the_monthly_report_prints_on_a4(served: Served, browser: Any, tmp_path: Any) -> None:
    context, page, _ = open_reports(served, browser, f"&from={D2}&to={D1}")
    try:
        page.locator("#scope", has_text=D2).wait_for()
        page.emulate_media(media="print")
        assert page.locator(".letterhead").is_visible()
        assert page.locator("#picker").is_hidden()
        assert D2 in page.locator("#print-period").inner_text()
        assert page.locator("#print-hall").inner_text() == "MPP Uji"
        # the tables and the chart are on paper; the survey, with no answer, is not
        assert page.locator("#chart svg").is_visible()
        assert page.locator("#t-service table").is_visible()
        assert page.locator("#survey").is_hidden()
        # in Indonesian, even from a page shown in English (and English again after)
        page.emulate_media(media="screen")
        page.locator("[data-lang-toggle]").click()
        assert page.locator("#kpi-visits span").inner_text() == "Visits"
        page.emulate_media(media="print")
        page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
        assert page.locator(".letterhead h1").inner_text() == "Laporan Kinerja Pelayanan"
        assert page.locator("#kpi-visits span").inner_text() == "Kunjungan"
        assert page.locator("#print-period").inner_text().startswith("Periode: ")
        pdf = page.pdf(format="A4", print_background=True)
        assert pdf.startswith(b"%PDF") and b"/MediaBox [0 0 595" in pdf
        (tmp_path / "laporan.pdf").write_bytes(pdf)
        page.evaluate("window.dispatchEvent(new Event('afterprint'))")
        assert page.locator("#kpi-visits span").inner_text() == "Visits"
        # a whole month is named by its month, in Indonesian
        page.emulate_media(media="screen")
        page.locator("select[name=period]").select_option("last_month")
        page.locator("#picker button[type=submit]").click()
        page.wait_for_url("**period=last_month**")
        page.locator("body[data-loading]").wait_for(state="detached")
        page.locator("[data-lang-toggle]").click()  # Indonesian again
        month = date.fromisoformat(TODAY).replace(day=1) - timedelta(days=1)
        bulan = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
                 "September", "Oktober", "November", "Desember"][month.month - 1]  # fmt: skip
        want = f"Periode: {bulan} {month.year} ({month.replace(day=1)} \u2013 {month})"
        page.emulate_media(media="print")
        assert page.locator("#print-period").inner_text() == want
    finally:
        context.close()


def test_an_officer_is_not_let_in(served: Served, browser: Any) -> None:
    context = browser.new_context(viewport=HD)
    page = context.new_page()
    try:
        page.goto(f"{served.server.url}/reports?site={SITE}")
        page.locator("#signin input[name=username]").fill("budi")
        page.locator("#signin input[name=password]").fill(PASSWORD)
        page.locator("#signin button[type=submit]").click()
        page.locator("[data-banner]:not([hidden])").wait_for()
        assert page.locator("#app").is_hidden()
    finally:
        context.close()
