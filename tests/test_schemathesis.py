"""Schemathesis fuzzes every HTTP route of a live hall with each role's credentials.

For admin, supervisor, officer, display, kiosk and anonymous callers in turn, it
runs the examples, coverage (boundary and schema-violating values, undeclared
methods) and fuzzing phases with a fixed seed and a bounded number of examples,
and checks every answer: no 5xx, the status, content type, headers and body as the
OpenAPI document says, and no request the document forbids accepted (a missing or
malformed header, parameter or body field, an out-of-range number, a wrong type).
`positive_data_acceptance` is left out: a valid request may still be refused by the
hall's state (409 counter_busy, 404 for an id nobody set up).

The websocket stream is not HTTP (tests/test_stream.py covers it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_client import Api
from live_hall import SITE, USERS, LiveHall, live_hall

ROLES = ("admin", "supervisor", "officer", "display", "kiosk", "tablet", "anonymous")
SEED = 20261205
MAX_EXAMPLES = 5  # per operation in fuzzing (coverage adds its own): ~1,300 requests a role
CHECKS = "all"
SKIPPED_CHECKS = "positive_data_acceptance"
TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    with live_hall(tmp_path_factory.mktemp("schemathesis")) as server:
        yield server


def _config(hall: LiveHall, api: Api) -> str:
    """schemathesis.toml: this caller's credentials for the matching security scheme, and
    the hall's real ids, drawn often but not always (random ids are only ever 404)."""
    real = {
        "site": [SITE],
        "counter": ["L1", "L2", "L3"],
        "service": ["ktp", "kk", "pkb"],
        "agency": ["dukcapil", "samsat"],
        "ticket": [hall.ticket],
        "ref": [hall.ref],
    }
    lines = []
    for name, values in real.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}"]
    lines.append("[parameters]")
    for name in real:
        lines.append(f'"path.{name}" = {{ dictionary = "{name}", probability = 0.5 }}')
    for field, name in (
        ("service", "service"),
        ("agency", "agency"),
        ("ticket", "ticket"),
        ("to_service", "service"),
        ("to_counter", "counter"),
    ):
        lines.append(f'"body.{field}" = {{ dictionary = "{name}", probability = 0.5 }}')
    if api.cookie is not None:
        lines += ["[auth.openapi.session]", f"api_key = {json.dumps(api.cookie)}"]
    elif api.token is not None:
        lines += ["[auth.openapi.device]", f"bearer = {json.dumps(api.token)}"]
    return "\n".join(lines) + "\n"


def _protected(hall: LiveHall) -> list[str]:
    """The test's own users and devices: the fuzzer must not sign them out."""
    names = [username for username, _, _ in USERS.values()]
    device = hall.admin.ok("GET", "/api/v1/devices")["devices"]
    return names + [d["device"] for d in device]


def _still_signed_in(api: Api, role: str) -> bool:
    if role == "anonymous":
        return True
    path = "/api/v1/device" if api.token is not None else "/api/v1/session"
    if role == "tablet":  # its own routes only
        return api.get("/api/v1/tablet/survey").status == 200
    reply = api.get(path)
    return reply.status == 200 and (api.token is not None or reply.body["role"] == role)


def _failures(output: str) -> str:
    start = output.find("=== FAILURES ===")
    start = output.find("=== ERRORS ===") if start < 0 else start
    return output[start - 40 :] if start >= 0 else output[-6000:]


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("role", ROLES)
def test_schemathesis_finds_nothing(hall: LiveHall, role: str, tmp_path: Path) -> None:
    api = hall.who[role]
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(hall, api))
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
        "QMS_ST_PROTECTED": ",".join(_protected(hall)),
    }
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{hall.url}/api/v1/openapi.json",
        # A browser's Origin: cookie sessions need it on unsafe methods (CSRF defence).
        "--header",
        f"Origin: {hall.url}",
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--phases",
        "examples,coverage,fuzzing",
        "--checks",
        CHECKS,
        "--exclude-checks",
        SKIPPED_CHECKS,
        "--workers",
        "1",
        "--request-timeout",
        "10",
        # Signing out ends the caller's session on the server: every later request
        # would test the 401 path only (tests/test_api_accounts.py covers sign-out).
        "--exclude-operation-id",
        "sign_out",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=280, env=env, cwd=tmp_path
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"schemathesis as {role}:\n{_failures(output)}"
    assert "Tested: " in output, output[-3000:]
    # The run spoke with the role's credentials to the end.
    assert _still_signed_in(api, role), f"the {role}'s credentials were lost during the run"
    assert "Traceback" not in hall.server.output(), hall.server.output()
