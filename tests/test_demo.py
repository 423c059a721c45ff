"""The README's demo command end to end: `qms demo` starts a working hall.

Start it, wait for /readyz, sign in as the demo officer, issue a ticket from the
demo kiosk, call it at the officer's counter, and see the call arrive on the
demo display's socket.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from api_client import Api
from live_server import LiveServer
from stream_client import StreamClient

SITE = "mpp-bengkulu"


def _printed(output: str) -> tuple[dict[str, str], dict[str, str]]:
    passwords = dict(re.findall(r"(\w+)\s+kata sandi / password: (\S+)", output))
    tokens = dict(re.findall(r"/(display|kiosk|tablet)\?token=(\S+)", output))
    return passwords, tokens


@pytest.mark.timeout(90)
async def test_demo_hall_serves_a_call_from_kiosk_to_display(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "data", command="demo") as server:
        passwords, tokens = _printed(server.output())
        assert {"admin", "supervisor", "petugas1"} <= set(passwords)
        assert set(tokens) == {"display", "kiosk", "tablet"}
        assert re.search(r"/tablet\?token=\S+ \(loket / counter L1\)", server.output())

        display = StreamClient(server.ws_url, SITE, "display", token=tokens["display"])
        welcome = await display.connect()
        assert welcome["type"] == "welcome"

        kiosk = Api(server.url, token=tokens["kiosk"], origin=None)
        issued = kiosk.post(f"/api/v1/sites/{SITE}/tickets", {"service": "ktp"})
        assert issued.status == 201, issued.body
        number = issued.body["ticket"]["number"]

        officer = Api(server.url)
        assert officer.sign_in("petugas1", passwords["petugas1"]).status == 200
        opened = officer.post(f"/api/v1/sites/{SITE}/counters/L1/open", {})
        assert opened.status == 200, opened.body
        called = officer.post(f"/api/v1/sites/{SITE}/counters/L1/call-next", {})
        assert called.status == 200, called.body

        await display.read_until(called.body["version"])
        calls = [e for e in display.typed("ticket_called") if e.get("counter") == "L1"]
        assert [c.get("number") for c in calls] == [number]
        await display.close()

        # The counter tablet at L1 asks the visitor the survey once the visit is completed.
        tablet = Api(server.url, token=tokens["tablet"], origin=None)
        assert tablet.get("/api/v1/tablet/survey").body["status"] == "idle"
        done = officer.post(f"/api/v1/sites/{SITE}/counters/L1/complete", {})
        assert done.status == 200, done.body
        shown = tablet.get("/api/v1/tablet/survey").body
        assert shown["status"] == "open" and shown["counter"] == "Loket 1"

    # A second start finds the hall set up and prints no password again.
    with LiveServer(tmp_path / "data", command="demo") as again:
        passwords_again, tokens_again = _printed(again.output().split("qms: log")[-2])
        assert passwords_again == {} and tokens_again == {}
