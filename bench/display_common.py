"""What the hall-display benchmarks share (not a benchmark): a `qms demo` hall on a
free port of 127.0.0.1, a keep-alive HTTP client for the officer and the kiosk,
and headless Chromium with display pages open.

The browser is Debian's Chromium driven by Playwright, started as a hall TV is
(tests/browser_support.py ARGS: --autoplay-policy=no-user-gesture-required).
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from api_client import Api  # noqa: E402
from browser_support import ARGS, CHROMIUM, SITE  # noqa: E402
from live_hall import LiveHall, demo_hall  # noqa: E402

P = f"/api/v1/sites/{SITE}"
LIVE = "() => document.querySelector('[data-conn]').dataset.conn === 'live'"


class KeepAlive:
    """One keep-alive HTTP connection to 127.0.0.1 (an officer's browser does the same)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=10)
        self.headers = {"Content-Type": "application/json", "Origin": url, **headers}

    def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        for attempt in (1, 2):
            try:
                self.conn.request("POST", path, json.dumps(body or {}), self.headers)
                reply = self.conn.getresponse()
                data = reply.read()
                return reply.status, json.loads(data) if data else None
            except (ConnectionError, http.client.HTTPException):
                # uvicorn closes a keep-alive connection idle for 5 s: connect again
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class Desk:
    """The demo kiosk and officer petugas1 at counter L1, over keep-alive connections."""

    def __init__(self, hall: LiveHall, officer: str = "petugas1", counter: str = "L1") -> None:
        self.kiosk = KeepAlive(hall.url, {"Authorization": f"Bearer {hall.tokens['kiosk']}"})
        client = Api(hall.url)
        assert client.sign_in(officer, hall.passwords[officer]).status == 200
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        self.officer = KeepAlive(hall.url, {"Cookie": cookie})
        self.at = f"{P}/counters/{counter}"
        self.officer.post(f"{self.at}/open")

    def issue(self, service: str) -> None:
        status, body = self.kiosk.post(f"{P}/tickets", {"service": service})
        assert status == 201, body

    def complete(self) -> None:
        self.officer.post(f"{self.at}/complete")  # nothing in hand the first time: a 409

    def press(self, action: str) -> tuple[int, str]:
        """`call-next` or `recall`: the version and number of the call."""
        status, body = self.officer.post(f"{self.at}/{action}")
        assert status == 200, body
        return int(body["version"]), str(body["counter"]["ticket"]["number"])


def hall_and_browser(playwright: Any) -> tuple[LiveHall, Any, Path]:
    tmp = Path(tempfile.mkdtemp(prefix="qmsbench-display-"))
    hall = demo_hall(tmp / "data").__enter__()  # the caller stops hall.server
    env = {**os.environ, "HOME": str(tmp), "XDG_CONFIG_HOME": str(tmp / "config")}
    env["XDG_CACHE_HOME"] = str(tmp / "cache")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, env=env)
    return hall, browser, tmp


def open_display(browser: Any, hall: LiveHall, query: str = "") -> Any:
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{hall.url}/display?token={hall.tokens['display']}{query}")
    page.wait_for_function(LIVE, timeout=20_000)
    return page


def clock_offset_ms(page: Any) -> float:
    """The page's clock (timeOrigin + now) minus this process's time.time(), in ms."""
    best: tuple[float, float] | None = None
    for _ in range(5):
        t0 = time.time()
        theirs = page.evaluate("() => performance.timeOrigin + performance.now()")
        t1 = time.time()
        if best is None or t1 - t0 < best[1]:
            best = (theirs - (t0 + t1) * 500, t1 - t0)
    assert best is not None
    return best[0]


def machine() -> str:
    cpus = os.cpu_count()
    version = "?"
    try:
        import subprocess

        version = subprocess.run(
            [CHROMIUM, "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except OSError:
        pass
    return f"{cpus} CPUs, {version}"
