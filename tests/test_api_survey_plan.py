"""The survey's follow-up plan (rencana tindak lanjut) over HTTP against a real `qms serve`:
an admin writes it per period, anyone reads it with the published result
(docs/survey.md "Follow-up plan")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_client import error
from live_hall import SITE, LiveHall, live_hall

S = f"/api/v1/sites/{SITE}"
PLAN = {
    "period": "2026-Q1",
    "elements": ["U9", "U3"],
    "text": "Menambah kursi tunggu.\nTarget: April.",
}


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    with live_hall(tmp_path_factory.mktemp("api_survey_plan")) as server:
        yield server


def test_admin_writes_plans_and_anyone_reads_their_history(hall: LiveHall) -> None:
    admin, anon = hall.admin, hall.who["anonymous"]
    before = hall.version()
    written = admin.ok("PUT", f"{S}/survey/plan", PLAN)
    # the elements come back in the instrument's order, the text as written
    assert written["plan"] == {**PLAN, "elements": ["U3", "U9"]}
    assert hall.version() == before + 1
    admin.ok("PUT", f"{S}/survey/plan", {**PLAN, "period": "2025-Q4", "text": "Lama"})
    # a second plan for a period replaces it on the page (the log keeps both)
    admin.ok("PUT", f"{S}/survey/plan", {**PLAN, "text": "<b>Tambah</b> loket"})
    plans = anon.ok("GET", f"/api/v1/survey/{SITE}")["plans"]
    assert [p["period"] for p in plans] == ["2026-Q1", "2025-Q4"]
    assert plans[0] == {
        "period": "2026-Q1",
        "elements": ["U3", "U9"],
        "text": "<b>Tambah</b> loket",
    }
    assert plans[1]["text"] == "Lama"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({**PLAN, "text": "a\x1b[2Jb"}, 422, "invalid_text"),
        ({**PLAN, "text": "kanan\u202ekiri"}, 422, "invalid_text"),
        ({**PLAN, "text": "x" * 2001}, 422, "text_too_long"),
        ({**PLAN, "text": "  \n "}, 422, "invalid_plan"),
        ({**PLAN, "text": 5}, 422, "invalid_plan"),
        ({**PLAN, "period": "2026-Q5"}, 422, "invalid_plan"),
        ({**PLAN, "period": "kemarin"}, 422, "invalid_plan"),
        ({**PLAN, "elements": []}, 422, "invalid_plan"),
        ({**PLAN, "elements": ["U1", "U1"]}, 422, "invalid_plan"),
        ({**PLAN, "elements": ["X1"]}, 422, "invalid_plan"),
        ({**PLAN, "by": "me"}, 422, "invalid_plan"),
        ([PLAN], 422, "invalid_request"),
    ],
)
def test_bad_plans_record_nothing(hall: LiveHall, body: object, status: int, code: str) -> None:
    before = hall.version()
    error(hall.admin.put(f"{S}/survey/plan", body), status, code)
    assert hall.version() == before


def test_only_admins_write_plans(hall: LiveHall) -> None:
    error(hall.who["supervisor"].put(f"{S}/survey/plan", PLAN), 403, "forbidden")
    error(hall.who["officer"].put(f"{S}/survey/plan", PLAN), 403, "forbidden")
    error(hall.who["anonymous"].put(f"{S}/survey/plan", PLAN), 401, "not_authenticated")
    error(hall.admin.put("/api/v1/sites/nosite/survey/plan", PLAN), 404, "unknown_site")
