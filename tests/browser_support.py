"""Headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against a
real `qms demo` server, for the browser-app tests.

Fixtures (registered by conftest.py):
- `hall`: a `qms demo` server on a free port (module scope) with the printed
  passwords and device tokens (`hall.passwords["petugas1"]`, `hall.tokens["display"]`);
- `browser`: one Chromium per test module; `context()` makes a fresh profile;
- `shot(page, name)`: saves a screenshot to artifacts/screenshots/ (CI keeps it).

Never `playwright install`: the browser is Debian's package, which
`scripts/test` installs when it is missing (see scripts/_chromium).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_hall import LiveHall, demo_hall

CHROMIUM = os.environ.get("QMS_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # as a hall TV is started (docs/deploy-display.md)
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
SITE = "mpp-bengkulu"
HD = {"width": 1920, "height": 1080}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    with demo_hall(tmp_path_factory.mktemp("hall") / "data") as hall:
        yield hall


# Module scope, not session: Playwright's sync API runs an event loop of its own
# while it is open, and pytest-asyncio cannot run the async tests of other
# modules beside it ("cannot be called from a running event loop").
@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        raise AssertionError(f"no Chromium at {CHROMIUM}: scripts/test installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("chromium-home")
    env: dict[str, str | float | bool] = {**os.environ, "HOME": str(home)}
    env["XDG_CONFIG_HOME"] = str(home / "config")
    env["XDG_CACHE_HOME"] = str(home / "cache")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, env=env)
        try:
            yield chromium
        finally:
            chromium.close()


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def keep_screenshot(name: str, docs_name: str | None = None) -> None:
    """Copy an artifact into docs/screenshots/ (only when QMS_UPDATE_SCREENSHOTS=1)."""
    if os.environ.get("QMS_UPDATE_SCREENSHOTS") != "1":
        return
    docs = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
    docs.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ARTIFACTS / f"{name}.png", docs / f"{docs_name or name}.png")


def js_errors(errors: list[str]) -> list[str]:
    """`watch`'s errors without Chromium's own log of failed or refused requests
    ("Failed to load resource: … 409"), which some tests cause on purpose."""
    return [e for e in errors if "Failed to load resource" not in e]


# What Chromium logs while the server is down or restarting: the connection is
# refused, or (a race with the listening socket coming back) not connected.
SERVER_DOWN = ("ERR_CONNECTION_REFUSED", "ERR_SOCKET_NOT_CONNECTED", "ERR_CONNECTION_RESET")


def without_server_down(errors: list[str]) -> list[str]:
    """`errors` without the failed connections of a server that was down on purpose."""
    return [e for e in errors if not any(code in e for code in SERVER_DOWN)]


SERVER_DOWN_BANNER = "Server tidak dapat dihubungi"


def open_with_server_down(page: Any, url: str, screenshot: str | None = None) -> None:
    """Open `url` while every API call fails (the server is down): the page says so,
    not a blank page (`screenshot`: its name, if one is kept); then the server comes
    back and the page finds out by itself (the banner goes). `without_server_down`
    leaves Chromium's errors of the refused calls out."""
    page.route("**/api/v1/**", lambda route: route.abort("connectionrefused"))
    page.goto(url)
    page.locator("[data-banner]", has_text=SERVER_DOWN_BANNER).wait_for()
    if screenshot is not None:
        shot(page, screenshot)
    page.unroute("**/api/v1/**")
    page.locator("[data-banner]", has_text=SERVER_DOWN_BANNER).wait_for(state="hidden")


def watch(page: Any) -> list[str]:
    """Collect the page's uncaught errors and console errors (a test asserts none)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    return errors
