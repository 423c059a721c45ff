"""The satisfaction survey in the reports (`GET …/reports/survey`) against a real
`qms serve`, with figures worked out by hand.

Yesterday (D1) at L1, ktp (target 10 min): twelve tickets issued at 08:00, the
k-th called and completed at 08:00 + k x 100 s, so waits of 100 … 1,200 s:
k ≤ 6 within the target, k ≥ 7 above it. The six within answer 4 to every
element; of the six above, five answer 2 and one 3.

    within (6): NRR 4 each, IKM 4.000, converted 100.00, A; waits 100 … 600 s
    above  (6): NRR (5x2 + 3)/6 = 2.1666… → 2.167, converted 54.17, D; waits 700 … 1,200
    total (12): NRR (6x4 + 13)/12 = 37/12 = 3.0833… → 3.083, converted 77.08, B

The day before (D2), kk (target 15 min): nine tickets, waits k x 200 s: four
within, five above, everyone answers 3. By wait, within kk, the four are under
the minimum of 5, so they are hidden, and the five with them (otherwise the
total minus the five would give the four back); the total of 9 is shown. One
more D2 visit (ktp, a wait of 60 s) is rated the next morning: the answer is
dated by its visit's day and finds its visit, so D2 by wait is 5 within, 5 above.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped]
import pytest
from api_client import PASSWORD, signed_in
from live_server import LiveServer, serving_log
from reports_hall import SITE, ReportsHall, local, store_at
from test_api_reports import D1, D2, get, ok

from qms.accounts import UserRole
from qms.core import commands as c
from qms.reports.responses import SHEET
from qms.reports.routes import XLSX
from qms.server.auth import open_accounts
from qms.server.config import Config

R = f"/api/v1/sites/{SITE}/reports/survey"


def scores(value: int) -> dict[str, Any]:
    return {"answers": {f"U{i}": value for i in range(1, 10)}}


def ticket_of(hall: ReportsHall, token: str) -> str:
    return str(next(e["ticket"] for _, e in hall.entries if e.get("token") == token))


def serve(
    hall: ReportsHall, day: str, service: str, waits: list[int], start: str = "08:00"
) -> list[str]:
    """Issue len(waits) tickets at `start`, then call and complete each after its wait."""
    hall.now = local(day, start)
    tokens = [f"{day}-{service}-{i}" for i in range(len(waits))]
    for token in tokens:
        hall.must(c.IssueTicket(service=service, token=token))
    begin = hall.now
    for wait in waits:
        hall.now = begin + wait
        hall.must(c.CallNext(counter="L1"))
        hall.must(c.Complete(counter="L1"))
    return tokens


def answer(hall: ReportsHall, token: str, value: int) -> None:
    hall.must(c.SubmitSurvey(ticket=ticket_of(hall, token), token=token, response=scores(value)))


def played() -> ReportsHall:
    hall = ReportsHall(local(D2, "07:00")).set_up()
    hall.now = local(D2, "07:30")
    hall.must(c.OpenCounter(counter="L1", officer="budi"))
    for token in serve(hall, D2, "kk", [200 * k for k in range(1, 10)]):
        answer(hall, token, 3)
    (late,) = serve(hall, D2, "ktp", [60], start="16:00")
    hall.now = local(D2, "17:00")
    hall.must(c.CloseDay())
    hall.now = local(D1, "07:45")
    answer(hall, late, 4)  # rated the next morning
    hall.must(c.OpenCounter(counter="L1", officer="budi"))
    tokens = serve(hall, D1, "ktp", [100 * k for k in range(1, 13)])
    for i, token in enumerate(tokens):
        answer(hall, token, 4 if i < 6 else 3 if i == 11 else 2)
    hall.now = local(D1, "17:00")
    hall.must(c.CloseDay())
    return hall


async def _prepare(data_dir: Path, log_url: str) -> None:
    await store_at(log_url, played())
    async with open_accounts(Config(data_dir=data_dir, log_url=log_url)) as accounts:
        await accounts.add_user("admin", UserRole.ADMIN, (), PASSWORD, by="test")
        await accounts.add_user("kepala", UserRole.VIEWER, (SITE,), PASSWORD, by="test")
        await accounts.add_user("budi", UserRole.OFFICER, (SITE,), PASSWORD, by="test")
        await accounts.add_user(
            "koord", UserRole.VIEWER, (SITE,), PASSWORD, by="test", agencies=("dpmptsp",)
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving_log(tmp_path_factory.mktemp("survey"), _prepare) as live:
        yield live


def nrr(group: dict[str, Any]) -> set[str]:
    return {e["nrr"] for e in group["index"]["elements"]}


def test_the_index_by_wait_is_the_hand_computed_one(server: LiveServer) -> None:
    body = ok(signed_in(server.url, "kepala"), R, period="yesterday")
    assert body["by"] == "wait" and body["min_group"] == 5
    total = body["total"]
    assert total["respondents"] == 12 and nrr(total) == {"3.083"}
    assert (total["index"]["converted"], total["index"]["grade"]["letter"]) == ("77.08", "B")
    groups = {g["key"]: g for g in body["groups"]}
    assert set(groups) == {"within", "above"}
    within, above = groups["within"], groups["above"]
    assert within["respondents"] == 6 and nrr(within) == {"4.000"}
    assert (within["index"]["converted"], within["index"]["grade"]["letter"]) == ("100.00", "A")
    assert above["respondents"] == 6 and nrr(above) == {"2.167"}
    assert (above["index"]["converted"], above["index"]["grade"]["letter"]) == ("54.17", "D")
    # the wait and service times of the same visits
    assert within["visits"]["linked"] == 6 and within["visits"]["within_target"] == 6
    assert within["visits"]["wait"] == {"n": 6, "mean": 350.0, "p50": 350.0, "p90": 550.0}
    assert above["visits"]["wait"]["mean"] == 950.0 and above["visits"]["within_target"] == 0
    assert above["visits"]["service"] == {"n": 6, "mean": 0.0, "p50": 0.0, "p90": 0.0}
    assert total["visits"]["wait"]["n"] == 12


def test_a_group_under_the_minimum_is_hidden_with_its_complement(server: LiveServer) -> None:
    admin = signed_in(server.url, "admin")
    day = {"from": D2, "to": D2}
    body = ok(admin, R, service="kk", **day)
    assert body["total"]["respondents"] == 9
    assert [g["key"] for g in body["groups"]] == ["above", "within"]
    for group in body["groups"]:  # within: 4 (under 5), above: 5 (its complement)
        assert group == {
            "key": group["key"], "suppressed": True, "respondents": None, "index": None,
            "visits": None,
        }  # fmt: skip
    # the answer given the next morning is D2's, linked to its visit: 5 and 5, shown
    every = ok(admin, R, **day)["groups"]
    assert [(g["key"], g["respondents"]) for g in every] == [("above", 5), ("within", 5)]
    assert every[1]["visits"]["wait"]["p50"] == 400.0  # 60, 200, 400, 600, 800
    # a total under the minimum hides everything
    tiny = ok(admin, R, service="ktp", **day)
    assert tiny["total"]["suppressed"] and tiny["total"]["respondents"] is None
    assert all(g["suppressed"] for g in tiny["groups"])
    # over both days, by service: both shown (ktp 13, kk 9)
    both = ok(admin, R, by="service", **{"from": D2, "to": D1})["groups"]
    assert [(g["key"], g["respondents"]) for g in both] == [("kk", 9), ("ktp", 13)]
    assert nrr(both[0]) == {"3.000"}


def test_across_sites_and_as_csv(server: LiveServer) -> None:
    admin = signed_in(server.url, "admin")
    one = ok(admin, R, period="yesterday")
    across = ok(admin, "/api/v1/reports/survey", site=SITE, period="yesterday")
    assert across["sites"] == [SITE] and across["groups"] == one["groups"]
    reply = get(admin, R, period="yesterday", format="csv")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(reply.raw.decode("utf-8")[1:])))
    assert [(r["row"], r["key"], r["respondents"], r["converted"]) for r in rows] == [
        ("total", "", "12", "77.08"),
        ("group", "above", "6", "54.17"),
        ("group", "within", "6", "100.00"),
    ]
    assert float(rows[2]["wait.mean"]) == one["groups"][1]["visits"]["wait"]["mean"]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"by": "colour"}, 422, "invalid_dimension"),
        ({"format": "pdf"}, 422, "invalid_dimension"),
        ({"period": "someday"}, 422, "unknown_period"),
    ],
)
def test_bad_requests(server: LiveServer, params: dict[str, str], status: int, code: str) -> None:
    reply = get(signed_in(server.url, "admin"), R, **params)
    assert (reply.status, reply.code) == (status, code)


def test_officers_do_not_read_it_and_a_coordinator_reads_their_agency(
    server: LiveServer,
) -> None:
    assert get(signed_in(server.url, "budi"), R).status == 403
    # every answer here is of dukcapil's services: dpmptsp's coordinator sees none of them
    mine = ok(signed_in(server.url, "koord"), R, **{"from": D2, "to": D1})
    assert mine["scope"]["filters"] == {"agency": ["dpmptsp"]}
    assert mine["groups"] == [] and mine["total"]["suppressed"]
    reply = get(signed_in(server.url, "koord"), R, agency="dukcapil")
    assert (reply.status, reply.code) == (403, "forbidden")


def xlsx_text(raw: bytes) -> str:
    """Every part of an XLSX (a zip of XML files), as one text."""
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        return "".join(z.read(name).decode("utf-8") for name in z.namelist())


def sheet_rows(raw: bytes, title: str) -> list[dict[str, Any]]:
    book = openpyxl.load_workbook(io.BytesIO(raw), read_only=True)
    rows = list(book[title].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def same(cell: Any, text: str) -> bool:
    """An XLSX cell and the CSV's text of the same figure."""
    if text == "":
        return cell is None
    if isinstance(cell, bool):
        return text == str(cell)
    if isinstance(cell, int | float):  # (16 significant digits in a cell: "%.16G")
        return bool(cell == pytest.approx(float(text), rel=1e-15))
    return str(cell) == text


@pytest.mark.parametrize(
    ("params", "hidden"),
    [
        ({"period": "yesterday"}, 0),
        ({"service": "kk", "from": D2, "to": D2}, 2),  # both groups hidden (4 and 5)
        ({"by": "service", "from": D2, "to": D1}, 0),
    ],
)
def test_the_survey_xlsx_is_the_csv_and_the_api(
    server: LiveServer, params: dict[str, str], hidden: int
) -> None:
    admin = signed_in(server.url, "admin")
    api = ok(admin, R, **params)
    text = get(admin, R, format="csv", **params).raw.decode("utf-8")[1:]
    table = list(csv.DictReader(io.StringIO(text)))
    reply = get(admin, R, format="xlsx", **params)
    assert reply.status == 200, reply
    assert reply.headers["content-type"].startswith(XLSX)
    assert f"-{api['by']}.xlsx" in reply.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(reply.raw), read_only=True)
    assert book.sheetnames == ["Laporan", SHEET]
    sheet = sheet_rows(reply.raw, SHEET)
    assert len(sheet) == len(table) == 1 + len(api["groups"])
    for cells, row in zip(sheet, table, strict=True):
        assert list(cells) == list(row)
        assert [k for k, v in row.items() if not same(cells[k], v)] == [], (cells, row)
    for cells, group in zip(sheet, [api["total"], *api["groups"]], strict=True):
        assert cells["respondents"] == group["respondents"]
        if group["suppressed"]:  # a hidden group: no figure at all, in the file too
            assert cells["suppressed"] is True
            assert [k for k, v in cells.items() if v is not None] == ["row", "key", "suppressed"]
        else:
            assert cells["converted"] == float(group["index"]["converted"])
            assert cells["wait.p50"] == group["visits"]["wait"]["p50"]
    assert sum(1 for c in sheet if c["suppressed"]) == hidden


def test_the_workbook_ends_with_the_survey_sheet(server: LiveServer) -> None:
    admin = signed_in(server.url, "admin")
    for by in ("wait", "service"):
        reply = get(admin, f"/api/v1/sites/{SITE}/reports/export", format="xlsx", survey=by,
                    period="yesterday")  # fmt: skip
        assert reply.status == 200, reply
        book = openpyxl.load_workbook(io.BytesIO(reply.raw), read_only=True)
        assert book.sheetnames[-1] == SHEET
        section = get(admin, R, format="xlsx", by=by, period="yesterday").raw
        assert sheet_rows(reply.raw, SHEET) == sheet_rows(section, SHEET)
    reply = get(admin, f"/api/v1/sites/{SITE}/reports/export", format="xlsx", survey="colour")
    assert (reply.status, reply.code) == (422, "invalid_dimension")
    # one table asked for: that table only
    one = get(admin, f"/api/v1/sites/{SITE}/reports/export", format="xlsx", table="service")
    assert openpyxl.load_workbook(io.BytesIO(one.raw)).sheetnames == ["Laporan", "Per layanan"]


def test_no_file_of_the_survey_names_a_ticket(server: LiveServer) -> None:
    """Issue 15 §4: the responses' exports (one row per response, U1…U9, profile, service,
    period; the calculation sheet) and the reports' survey files never hold a ticket's
    id, number or token."""
    hall = played()
    secrets = {v for _, e in hall.entries if e["type"] == "ticket_issued"
               for v in (e["ticket"], e["number"], e["token"])}  # fmt: skip
    assert len(secrets) > 2 * 22  # (a number may come back on another day)
    admin = signed_in(server.url, "admin")
    span = {"from": D2, "to": D1}
    export = f"/api/v1/sites/{SITE}/survey/export"
    files = {
        "responses.csv": get(admin, export, format="csv", first=D2, last=D1).raw.decode(
            "utf-8-sig"
        ),
        "responses.xlsx": xlsx_text(get(admin, export, format="xlsx", first=D2, last=D1).raw),
        "survey.csv": get(admin, R, format="csv", **span).raw.decode("utf-8"),
        "survey.xlsx": xlsx_text(get(admin, R, format="xlsx", by="service", **span).raw),
    }
    responses = files["responses.csv"].strip().split("\r\n")
    assert responses[0].startswith(
        "period,service,agency,channel,answered_on,U1,U2,U3,U4,U5,U6,U7,U8,U9,"
    )
    assert len(responses) == 1 + 22  # one row per response
    assert (
        "Perhitungan IKM" in files["responses.xlsx"] and "NRR tertimbang" in files["responses.xlsx"]
    )
    for name, text in files.items():
        found = sorted(s for s in secrets if s in text)
        assert found == [], (name, found)
