"""The exports (CSV, XLSX) through a real `qms serve`: the same numbers as the API.

The served hall of tests/test_api_reports.py (two closed days in the log before
the start, today played through the API) is asked for the same period and
filters as JSON, as CSV and as XLSX; every figure must be the same value.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import openpyxl  # type: ignore[import-untyped]
import pytest
from api_client import Api
from reports_hall import SITE
from test_api_reports import D1, D2, R, Served, get, ok, served_hall

from qms.reports.export import TABLES, flatten
from qms.reports.responses import SHEET


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_hall(tmp_path_factory.mktemp("export"), None) as hall:
        yield hall


SPAN = {"from": D2, "to": D1}


def csv_rows(who: Api, **params: Any) -> list[dict[str, str]]:
    reply = get(who, f"{R}/export", **params)
    assert reply.status == 200, reply
    assert reply.headers["content-type"].startswith("text/csv")
    assert "attachment" in reply.headers["content-disposition"]
    text = reply.raw.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def number(text: str) -> float | None:
    return None if text == "" else float(text)


def test_the_summary_csv_is_the_apis_summary(served: Served) -> None:
    api = ok(served.admin, f"{R}/summary", **SPAN)
    rows = {r["measure"]: r for r in csv_rows(served.admin, table="summary", **SPAN)}
    for kind, data in (("value", api["measures"]), ("previous", api["previous"]["measures"])):
        for measure, value in flatten(data).items():
            assert number(rows[measure][kind]) == value, (kind, measure)
    assert number(rows["visits"]["change"]) == api["change"]["visits"]
    assert rows["visits"]["label"] == "Kunjungan / Visits"


@pytest.mark.parametrize("cut", ["service", "officer", "day"])
def test_a_cut_csv_is_the_apis_breakdown(served: Served, cut: str) -> None:
    api = ok(served.admin, f"{R}/breakdown", by=cut, **SPAN)["rows"]
    rows = csv_rows(served.admin, table=cut, **SPAN)
    assert len(rows) == len(api)
    for got, want in zip(rows, api, strict=True):
        for key, value in flatten(want).items():
            if key == "key":
                assert got[key] == ("" if value is None else str(value))
            else:
                assert number(got[key]) == value, (cut, key)


def test_the_visits_csv_has_one_row_per_visit(served: Served) -> None:
    rows = csv_rows(served.admin, table="visits", **SPAN)
    assert len(rows) == 8
    assert {r["day"] for r in rows} == {D1, D2}
    assert sum(r["outcome"] == "served" for r in rows) == 6


def test_the_xlsx_has_every_table_with_the_apis_numbers(served: Served) -> None:
    reply = get(served.admin, f"{R}/export", format="xlsx", **SPAN)
    assert reply.status == 200, reply
    book = openpyxl.load_workbook(io.BytesIO(reply.raw), read_only=True)
    # every table, then the survey section's (tests/test_api_reports_survey.py)
    assert book.sheetnames == ["Laporan", *(title for title, _ in TABLES.values()), SHEET]
    api = ok(served.admin, f"{R}/summary", **SPAN)

    def sheet(title: str) -> list[dict[str, Any]]:
        rows = list(book[title].iter_rows(values_only=True))
        return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]

    summary = {r["measure"]: r for r in sheet("Ringkasan")}
    for measure, value in flatten(api["measures"]).items():
        assert summary[measure]["value"] == value, measure
    services = ok(served.admin, f"{R}/breakdown", by="service", **SPAN)["rows"]
    per_service = sheet("Per layanan")
    assert [r["key"] for r in per_service] == [r["key"] for r in services]
    assert [r["wait.p90"] for r in per_service] == [r["wait"]["p90"] for r in services]
    staff = ok(served.admin, f"{R}/staff", by="officer", **SPAN)["rows"]
    assert [r["busy_s"] for r in sheet("Waktu petugas")] == [r["busy_s"] for r in staff]
    assert len(sheet("Kunjungan")) == 8


def test_bad_export_requests_are_422(served: Served) -> None:
    bad = ({"format": "pdf"}, {"table": "nope"}, {"period": "someday"},
           {"format": "xlsx", "survey": "colour"})  # fmt: skip
    for params in bad:
        reply = get(served.admin, f"{R}/export", **params)
        assert reply.status == 422, reply
    assert get(served.who["budi"], f"{R}/export").status == 403
    assert get(served.admin, f"/api/v1/sites/{SITE}/reports/export", table="summary").status == 200
