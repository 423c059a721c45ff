"""Who may call what: every route in `qms.server.api.ROUTES` x every kind of caller.

`MATRIX` has one row per route: the request to send (its ids filled in, a body
that would be valid) and, per caller, ``OK`` (allowed: anything but 401/403; a
409 or 422 domain answer is fine), 401 or 403. A route without a row, or a row
without a route, fails `test_every_route_has_a_row`. One live server serves
the whole module; before each request the officers are signed in to their
counters again (a row may have closed the day or a counter).

Callers (tests/live_hall.py): admin; supervisor of the site; supervisor of
another site; the officer signed in to counter L1; an officer of the site
signed in to L2 (a counter other than the one named); display and kiosk devices
of the site; the counter tablet of L1, refused everywhere but its own three routes (even
the public ones anonymous callers may use); a revoked kiosk; anonymous.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from api_client import signed_in
from live_hall import PRINCIPALS, SITE, LiveHall, live_hall
from live_hall import USERS as ACCOUNTS

from qms.server.api import ROUTES as API

OK = "ok"
Outcome = str | int

USERS = ("admin", "supervisor", "supervisor_elsewhere", "officer", "officer_elsewhere")
DEVICES = ("display", "kiosk")  # the tablet is no device of /device: its routes only


def only(*allowed: str) -> dict[str, Outcome]:
    """`allowed` may; other signed-in callers get 403; revoked devices and anonymous 401."""
    unknown = set(allowed) - set(PRINCIPALS)
    assert not unknown, unknown
    out: dict[str, Outcome] = {}
    for who in PRINCIPALS:
        if who in allowed:
            out[who] = OK
        elif who in ("revoked", "anonymous"):
            out[who] = 401
        else:
            out[who] = 403
    return out


EVERYONE: dict[str, Outcome] = {
    **dict.fromkeys(PRINCIPALS, OK),
    "tablet": 403,
}  # anyone but a counter tablet
TABLET = only("tablet")
ADMIN = only("admin")
MANAGERS = only("admin", "supervisor")  # of the site named in the path
ANY_MANAGER = only("admin", "supervisor", "supervisor_elsewhere")  # no site in the path
AT_COUNTER = only("admin", "supervisor", "officer")  # L1: the officer's own counter
SITE_STAFF = only("admin", "supervisor", "officer", "officer_elsewhere")
ISSUERS = only("admin", "supervisor", "officer", "officer_elsewhere", "kiosk")
READERS = only("admin", "supervisor", "officer", "officer_elsewhere", "display", "kiosk")
ALL_STAFF = only(*USERS)
ONLY_DEVICES = only(*DEVICES)


@dataclass(frozen=True)
class Row:
    expect: dict[str, Outcome]
    body: dict[str, Any] | None = None


SERVICE = {"agency": "dukcapil", "prefix": "A", "name_id": "KTP-el", "name_en": "ID card"}
L1 = {"name": "Loket 1", "zone": "A", "services": ["ktp", "kk"]}
C = "/sites/{site}/counters/{counter}"
T = "/sites/{site}/tickets/{ticket}"

MATRIX: dict[tuple[str, str], Row] = {
    # hall: set-up
    ("PUT", "/sites/{site}"): Row(ADMIN, {"name": f"MPP {SITE}"}),
    ("PUT", "/sites/{site}/agencies/{agency}"): Row(MANAGERS, {"name": "Disdukcapil"}),
    ("PUT", "/sites/{site}/services/{service}"): Row(MANAGERS, SERVICE),
    ("PUT", C): Row(MANAGERS, L1),
    ("PUT", C + "/services"): Row(MANAGERS, {"services": ["ktp", "kk"]}),
    # hall: tickets and counters
    ("POST", "/sites/{site}/tickets"): Row(ISSUERS, {"service": "ktp"}),
    ("POST", C + "/open"): Row(AT_COUNTER, {}),
    ("POST", C + "/pause"): Row(AT_COUNTER),
    ("POST", C + "/close"): Row(AT_COUNTER),
    ("POST", C + "/call-next"): Row(AT_COUNTER),
    ("POST", C + "/call"): Row(AT_COUNTER, {"ticket": "{ticket}"}),
    ("POST", C + "/recall"): Row(AT_COUNTER),
    ("POST", C + "/start"): Row(AT_COUNTER),
    ("POST", C + "/complete"): Row(AT_COUNTER),
    ("POST", C + "/no-show"): Row(AT_COUNTER),
    ("POST", C + "/return"): Row(AT_COUNTER),
    ("POST", T + "/transfer"): Row(AT_COUNTER, {"to_service": "kk"}),
    ("POST", T + "/hold"): Row(AT_COUNTER),
    ("POST", T + "/unhold"): Row(AT_COUNTER),
    ("POST", T + "/cancel"): Row(AT_COUNTER),
    ("POST", "/sites/{site}/broadcast"): Row(MANAGERS, {"text": "Selamat datang"}),
    ("POST", "/sites/{site}/close-day"): Row(MANAGERS),
    # hall: queries
    ("GET", "/sites/{site}"): Row(READERS),
    ("GET", "/sites/{site}/queues"): Row(READERS),
    ("GET", "/sites/{site}/counters"): Row(READERS),
    ("GET", "/sites/{site}/tickets"): Row(SITE_STAFF),
    ("GET", "/tickets/{ref}"): Row(EVERYONE),
    # survey (the ticket's ref is its only credential; the results are the managers')
    ("GET", "/tickets/{ref}/survey"): Row(EVERYONE),
    ("POST", "/tickets/{ref}/survey"): Row(EVERYONE, {"answers": {}}),
    ("GET", "/sites/{site}/survey"): Row(MANAGERS),
    ("PUT", "/sites/{site}/survey"): Row(ADMIN, {"enabled": True}),
    ("GET", "/sites/{site}/survey/results"): Row(MANAGERS),
    ("GET", "/sites/{site}/survey/export"): Row(MANAGERS),
    ("GET", "/survey/{hall}"): Row(EVERYONE),
    ("GET", "/survey/{hall}/walk-up/{service}"): Row(EVERYONE),
    ("POST", "/survey/{hall}/walk-up/{service}"): Row(EVERYONE, {"answers": {}}),
    ("PUT", "/sites/{site}/survey/plan"): Row(
        ADMIN, {"period": "2026", "elements": ["U1"], "text": "x"}
    ),
    ("GET", "/openapi.json"): Row(EVERYONE),
    # the counter tablet: its own counter's last visit, nobody else's (no site in the path)
    ("GET", "/tablet/survey"): Row(TABLET),
    ("POST", "/tablet/survey"): Row(TABLET, {"closes_at": 0, "answers": {}}),
    ("POST", "/tablet/survey/skip"): Row(TABLET, {"closes_at": 0}),
    # reports
    ("GET", "/sites/{site}/reports/summary"): Row(MANAGERS),
    ("GET", "/sites/{site}/reports/breakdown"): Row(MANAGERS),
    ("GET", "/sites/{site}/reports/intervals"): Row(MANAGERS),
    ("GET", "/sites/{site}/reports/heatmap"): Row(MANAGERS),
    ("GET", "/sites/{site}/reports/staff"): Row(MANAGERS),
    ("GET", "/sites/{site}/reports/export"): Row(MANAGERS),
    # across sites: every site the caller may read (a site named in the query string
    # that is not one of them is a 403: tests/test_api_reports_sites.py)
    ("GET", "/reports/sites"): Row(ANY_MANAGER),
    ("GET", "/reports/summary"): Row(ANY_MANAGER),
    ("GET", "/reports/breakdown"): Row(ANY_MANAGER),
    ("GET", "/reports/intervals"): Row(ANY_MANAGER),
    ("GET", "/reports/heatmap"): Row(ANY_MANAGER),
    ("GET", "/reports/staff"): Row(ANY_MANAGER),
    ("GET", "/reports/export"): Row(ANY_MANAGER),
    ("GET", "/sites/{site}/reports/survey"): Row(MANAGERS),
    ("GET", "/reports/survey"): Row(ANY_MANAGER),
    # accounts (bodies that are refused after the guard, so nothing changes)
    ("POST", "/session"): Row(EVERYONE, {}),
    ("GET", "/session"): Row(EVERYONE),
    ("DELETE", "/session"): Row(EVERYONE),
    ("POST", "/session/password"): Row(ALL_STAFF, {}),
    ("GET", "/users"): Row(ANY_MANAGER),
    ("POST", "/users"): Row(ADMIN, {}),
    ("PUT", "/users/{username}"): Row(ADMIN, {"role": "nobody"}),
    ("POST", "/users/{username}/password"): Row(ADMIN, {}),
    ("GET", "/devices"): Row(ANY_MANAGER),
    ("POST", "/devices"): Row(ADMIN, {}),
    ("DELETE", "/devices/{device}"): Row(ADMIN),
    ("GET", "/device"): Row(ONLY_DEVICES),
}


def test_every_route_has_a_row() -> None:
    routes = {(r.method, r.path) for r in API}
    missing = sorted(routes - set(MATRIX))
    stale = sorted(set(MATRIX) - routes)
    assert not missing, f"routes without a row in MATRIX: {missing}"
    assert not stale, f"rows in MATRIX without a route: {stale}"


def test_every_row_names_every_caller() -> None:
    for key, row in MATRIX.items():
        assert set(row.expect) == set(PRINCIPALS), key
        assert all(v in (OK, 401, 403) for v in row.expect.values()), key


def test_the_table_agrees_with_the_declared_roles() -> None:
    """A caller the route's `allow` lets through is never expected to get 401."""
    for r in API:
        row = MATRIX.get((r.method, r.path))
        if row is None:
            continue
        for who, outcome in row.expect.items():
            role = {"supervisor_elsewhere": "supervisor", "officer_elsewhere": "officer"}.get(
                who, "kiosk" if who == "revoked" else who
            )
            if outcome == OK:
                assert role in {a.value for a in r.allow}, (r.method, r.path, who)


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    with live_hall(tmp_path_factory.mktemp("authz")) as server:
        yield server


def _fill(text: str, hall: LiveHall) -> str:
    ids = {
        "{site}": SITE,
        "{hall}": SITE,
        "{counter}": "L1",
        "{ticket}": hall.ticket,
        "{ref}": hall.ref,
        "{agency}": "dukcapil",
        "{service}": "ktp",
        "{username}": "victim",
        "{device}": "no-such-device",
    }
    for placeholder, value in ids.items():
        text = text.replace(placeholder, value)
    assert "{" not in text, f"no value for a parameter of {text}"
    return text


def _body(body: Any, hall: LiveHall) -> Any:
    if isinstance(body, dict):
        return {k: _body(v, hall) for k, v in body.items()}
    if isinstance(body, str):
        return _fill(body, hall)
    return body


CASES = [
    pytest.param(key, who, id=f"{key[0]} {key[1]} as {who}") for key in MATRIX for who in PRINCIPALS
]


@pytest.mark.parametrize(("key", "who"), CASES)
def test_matrix(hall: LiveHall, key: tuple[str, str], who: str) -> None:
    method, path = key
    row = MATRIX[key]
    hall.sign_in_counters()
    api = hall.who[who]
    if key == ("DELETE", "/session") and api.cookie is not None:
        # Signing out ends the session on the server: sign out of a session of its own.
        api = signed_in(hall.url, ACCOUNTS[who][0])
    if row.body is None:
        reply = api.call(method, "/api/v1" + _fill(path, hall))
    else:
        reply = api.call(method, "/api/v1" + _fill(path, hall), _body(row.body, hall))
    expected = row.expect[who]
    assert reply.status < 500, reply
    if expected == OK:
        assert reply.status not in (401, 403), f"{who} was refused: {reply!r}"
    else:
        assert reply.status == expected, f"{who}: expected {expected}, got {reply!r}"
