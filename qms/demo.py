"""`qms demo`: set up the demo hall, its people and devices (once), then serve it.

The devices: a display, a kiosk and a counter tablet at the counter left to people
(`HUMAN_COUNTER`), each printed once with its link."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator

from qms.accounts import DeviceKind, UserRole
from qms.demo_hall import COUNTERS, SITE, setup_commands
from qms.engine import SiteEngine
from qms.eventlog import open_log
from qms.server.auth import device_link, ensure_user, open_accounts
from qms.server.config import Config
from qms.server.hall import Hall
from qms.simulate import run_day

log = logging.getLogger(__name__)

SITE_ID = SITE["site"]
# The first counter is left to the people trying the demo; the simulation staffs the rest.
HUMAN_COUNTER = COUNTERS[0][0]
SIMULATED_COUNTERS = [c[0] for c in COUNTERS[1:]]
LIVE_SPEED = 20.0  # the simulated hall runs this many times faster than a real one

PEOPLE = [
    ("admin", UserRole.ADMIN),
    ("supervisor", UserRole.SUPERVISOR),
    ("petugas1", UserRole.OFFICER),
    ("petugas2", UserRole.OFFICER),
    ("petugas3", UserRole.OFFICER),
]


async def prepare(config: Config) -> list[str]:
    """Create what is missing; the lines to print (passwords and links only when new)."""
    lines: list[str] = []
    event_log = open_log(config.effective_log_url)
    try:
        engine = await SiteEngine(event_log, SITE_ID).open()
        if engine.state.site is None:
            for cmd in setup_commands():
                await engine.execute({**cmd, "by": "demo"})
            lines.append(f"Aula demo / demo hall: {SITE['name']} ({len(COUNTERS)} loket)")
    finally:
        await event_log.close()
    async with open_accounts(config) as store:
        for username, role in PEOPLE:
            password = secrets.token_urlsafe(9)
            sites = () if role is UserRole.ADMIN else (SITE_ID,)
            if await ensure_user(store, username, role, sites, password, by="demo"):
                lines.append(f"  {role.value:<10} {username:<11} kata sandi / password: {password}")
        kinds = {d.kind for d in store.devices() if d.site == SITE_ID and not d.revoked}
        for kind in (DeviceKind.DISPLAY, DeviceKind.KIOSK, DeviceKind.TABLET):
            if kind not in kinds:
                # the tablet faces the visitors of the people's counter: it asks the
                # survey of each visit completed there (docs/survey.md "The counter tablet")
                counter = HUMAN_COUNTER if kind is DeviceKind.TABLET else ""
                device, token = await store.add_device(
                    kind, SITE_ID, name=f"demo {kind.value}", counter=counter
                )
                at = f" (loket / counter {counter})" if counter else ""
                lines.append(f"  {kind.value:<10} {device_link(config, device, token)}{at}")
    if len(lines) > 0:
        lines.insert(0, "Dicetak sekali saja / printed once only; keep them:")
    else:
        lines.append("Demo sudah disiapkan / demo already set up (reset: `qms user passwd NAME`).")
    lines.append(
        f"Loket {HUMAN_COUNTER} menunggu Anda / is yours: {config.base_url}/console as petugas1; "
        f"the other counters are simulated with --simulate."
    )
    return lines


async def simulate_live(hall: Hall, rng: random.Random | None = None) -> None:
    """Visitors and officers for the demo hall, in real time (run as a task)."""
    engine = await hall.engine(SITE_ID)
    if engine.state.site is None:
        log.warning("simulation: site %s is not set up; nothing to simulate", SITE_ID)
        return
    await run_day(
        engine,
        time.time(),
        None,
        rng or random.Random(),
        counters=SIMULATED_COUNTERS,
        live_speed=LIVE_SPEED,
    )


@contextlib.asynccontextmanager
async def simulation(hall: Hall, enabled: bool) -> AsyncIterator[None]:
    """Run the live simulation for the duration of the block when enabled."""
    task = asyncio.create_task(simulate_live(hall)) if enabled else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
