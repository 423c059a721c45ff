"""The one way tests start a live hall: servers, people, devices, sites set up.

    with live_hall(tmp_path) as hall:                 # `qms serve`, SITE and OTHER_SITE
        hall.admin.ok("PUT", f"{API}/sites/s1", {"name": "MPP"})
        hall.who["kiosk"].post(f"{API}/sites/s1/tickets", {"service": "ktp"})
        display = hall.client("display")               # a stream client (stream_client.py)

Options: `servers` (more than one share a Redis `log_url`; the others start after the
set-up, as machines that join), `env`, `sites`, `ticket_in_hand` (a ticket of SITE
called at L1), `revoked_kind`, `more_devices`, `clock` (the app in this process,
its clock moved by the test), and `demo_hall` for a `qms demo` server (the browser
tests), whose people and devices are the ones it prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from api_client import API, PASSWORD, Api, signed_in
from live_server import LiveServer
from redis_server import free_port
from stream_client import StreamClient

from qms.accounts import DeviceKind, UserRole
from qms.server.app import create_app
from qms.server.auth import open_accounts
from qms.server.config import Config

SITE = "s1"
OTHER_SITE = "s2"

# Who the tests speak as: the roles of the authorisation matrix.
PRINCIPALS = (
    "admin",
    "supervisor",  # of SITE
    "supervisor_elsewhere",  # of OTHER_SITE only
    "officer",  # signed in to counter L1
    "officer_elsewhere",  # an officer of SITE signed in to counter L2
    "display",  # display device of SITE
    "kiosk",  # kiosk device of SITE
    "tablet",  # counter tablet of SITE at counter L1
    "revoked",  # a device of SITE whose token was revoked (a kiosk unless told)
    "anonymous",
)
USERS = {
    "admin": ("admin", UserRole.ADMIN, ()),
    "supervisor": ("sup", UserRole.SUPERVISOR, (SITE,)),
    "supervisor_elsewhere": ("sup2", UserRole.SUPERVISOR, (OTHER_SITE,)),
    "officer": ("budi", UserRole.OFFICER, (SITE,)),
    "officer_elsewhere": ("sari", UserRole.OFFICER, (SITE,)),
}
# The devices every hall has: name, kind, site, counter, zone.
Device = tuple[str, DeviceKind, str, str, str]
DEVICES: tuple[Device, ...] = (
    ("display", DeviceKind.DISPLAY, SITE, "", ""),
    ("display_b", DeviceKind.DISPLAY, SITE, "", "B"),  # of zone B
    ("kiosk", DeviceKind.KIOSK, SITE, "", ""),
    ("tablet", DeviceKind.TABLET, SITE, "L1", ""),
)
# The stream tests' halls: SITE alone, nothing in hand, the revoked device a display.
STREAM: dict[str, Any] = {
    "sites": (SITE,),
    "ticket_in_hand": False,
    "revoked_kind": DeviceKind.DISPLAY,
}


@dataclass
class LiveHall:
    servers: list[Any]  # LiveServer, or InProcessServer (with a clock)
    who: dict[str, Api]  # the PRINCIPALS (people signed in on servers[0])
    tokens: dict[str, str] = field(default_factory=dict)  # device tokens by name
    devices: dict[str, str] = field(default_factory=dict)  # the same devices' ids
    passwords: dict[str, str] = field(default_factory=dict)  # a demo's printed ones
    ticket: str = ""  # a ticket of SITE in hand at counter L1 (`ticket_in_hand`)
    ref: str = ""  # its public ref
    opened: list[StreamClient] = field(default_factory=list)  # by `client`

    @property
    def server(self) -> Any:
        return self.servers[0]

    @property
    def url(self) -> str:
        return str(self.server.url)

    @property
    def admin(self) -> Api:
        return self.who["admin"]

    def version(self, site: str = SITE) -> int:
        return int(self.admin.ok("GET", f"{API}/sites/{site}")["version"])

    def counter(self, counter: str, site: str = SITE) -> dict[str, Any]:
        rows = self.admin.ok("GET", f"{API}/sites/{site}/counters")["counters"]
        return next(c for c in rows if c["counter"] == counter)

    def sign_in_counters(self) -> None:
        """Counter L1 open with the officer, L2 with the officer elsewhere (as set up)."""
        for counter, who in (("L1", "officer"), ("L2", "officer_elsewhere")):
            name = USERS[who][0]
            now = self.counter(counter)
            if now["state"] == "open" and now["officer"] == name:
                continue
            if now["state"] == "open" or now["officer"] not in (None, name):
                self.admin.ok("POST", f"{API}/sites/{SITE}/counters/{counter}/close")
            self.admin.ok("POST", f"{API}/sites/{SITE}/counters/{counter}/open", {"officer": name})

    def read_printed(self) -> None:
        """A demo's printed passwords and device tokens."""
        output = self.server.output()
        self.passwords.update(re.findall(r"(\w+)\s+kata sandi / password: (\S+)", output))
        self.tokens.update(re.findall(r"/(display|kiosk)\?token=(\S+)", output))

    # --- the stream -------------------------------------------------------------------

    def metrics(self, server: int = 0) -> dict[str, int]:
        reply = Api(self.servers[server].url).ok("GET", "/readyz")
        return dict(reply["stream"])

    def client(
        self, who: str, audience: str = "display", *, server: int = 0, **kw: Any
    ) -> StreamClient:
        """A stream client of `who`: a device by its token, a person by their cookie."""
        base = self.servers[server].ws_url
        if who in self.tokens:
            client = StreamClient(base, SITE, audience, token=self.tokens[who], **kw)
        elif who == "anonymous":
            client = StreamClient(base, SITE, audience, **kw)
        else:
            client = StreamClient(base, SITE, audience, cookie=self.who[who].cookie, **kw)
        self.opened.append(client)
        return client

    async def close_clients(self) -> None:
        """Close every client `client` made (also after a failed test: no stray sockets)."""
        clients, self.opened = self.opened, []
        for client in clients:
            await client.abort()

    # --- the floor --------------------------------------------------------------------

    def issue(self, service: str = "ktp", **body: Any) -> dict[str, Any]:
        path = f"{API}/sites/{SITE}/tickets"
        return dict(self.who["kiosk"].ok("POST", path, {"service": service, **body})["ticket"])

    def call_next(self, who: str, counter: str) -> dict[str, Any]:
        """Complete the ticket in hand at `counter`, if any, and call the next one."""
        self.who[who].post(f"{API}/sites/{SITE}/counters/{counter}/complete", {})  # 409 if none
        return self.press(who, counter, "call-next")

    def press(self, who: str, counter: str, verb: str, body: Any = None) -> dict[str, Any]:
        path = f"{API}/sites/{SITE}/counters/{counter}/{verb}"
        return dict(self.who[who].ok("POST", path, {} if body is None else body))


def set_up_hall(admin: Api, site: str = SITE) -> None:
    """A small hall: two agencies, three services, three counters."""
    at = f"{API}/sites/{site}"
    admin.ok("PUT", at, {"name": f"MPP {site}", "timezone": "Asia/Jakarta"})
    admin.ok("PUT", f"{at}/agencies/dukcapil", {"name": "Disdukcapil"})
    admin.ok("PUT", f"{at}/agencies/samsat", {"name": "Samsat"})
    services = [
        ("ktp", "dukcapil", "A", "KTP-el", "ID card"),
        ("kk", "dukcapil", "B", "Kartu Keluarga", "Family card"),
        ("pkb", "samsat", "F", "Pajak Kendaraan", "Vehicle tax"),
    ]
    for service, agency, prefix, name_id, name_en in services:
        admin.ok(
            "PUT",
            f"{at}/services/{service}",
            {"agency": agency, "prefix": prefix, "name_id": name_id, "name_en": name_en},
        )
    counters = [("L1", "A", ["ktp", "kk"]), ("L2", "A", ["ktp", "pkb"]), ("L3", "B", ["pkb"])]
    for counter, zone, served in counters:
        admin.ok(
            "PUT",
            f"{at}/counters/{counter}",
            {"name": f"Loket {counter[1:]}", "zone": zone, "services": served},
        )


def served(hall: LiveHall, service: str = "ktp", counter: str = "L1") -> dict[str, Any]:
    """A ticket issued at the kiosk, called at `counter` by its officer, served and
    completed (the hall's officer holds L1): the issued ticket as the kiosk got it."""
    ticket = hall.issue(service)
    officer = hall.who["officer"]
    at = f"{API}/sites/{SITE}/counters/{counter}"
    officer.ok("POST", f"{at}/call", {"ticket": ticket["ticket"]})
    officer.ok("POST", f"{at}/start")
    officer.ok("POST", f"{at}/complete")
    return ticket


async def _make_accounts(
    config: Config, devices: tuple[Device, ...], revoked_kind: DeviceKind
) -> tuple[dict[str, str], dict[str, str]]:
    """Users and devices straight into the log (as `qms user add` does): tokens, ids."""
    tokens: dict[str, str] = {}
    ids: dict[str, str] = {}
    async with open_accounts(config) as store:
        for username, role, sites in USERS.values():
            await store.add_user(username, role, sites, PASSWORD, by="test")
        await store.add_user("victim", UserRole.OFFICER, (SITE,), PASSWORD, by="test")
        for name, kind, site, counter, zone in (
            *devices,
            ("revoked", revoked_kind, SITE, "", ""),
        ):
            device, token = await store.add_device(
                kind, site, counter=counter, zone=zone, name=name, by="test"
            )
            tokens[name], ids[name] = token, device.device
            if name == "revoked":
                await store.revoke_device(device.device, by="test")
    return tokens, ids


class InProcessServer:
    """The real app under uvicorn in a thread of this process, so that a test can move
    the hall's clock (`clock` is set before any site's engine opens: they all read it)."""

    def __init__(self, data_dir: Path, clock: Callable[[], float]) -> None:
        self.port = free_port()
        self.app = create_app(Config(data_dir=data_dir, port=self.port))
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.clock = clock

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def __enter__(self) -> InProcessServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "no server started"
            time.sleep(0.02)
        self.app.state.hall.clock = self.clock
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@contextlib.contextmanager
def live_hall(
    root: Path,
    *,
    log_url: str | None = None,
    servers: int = 1,
    env: dict[str, str] | None = None,
    sites: tuple[str, ...] = (SITE, OTHER_SITE),
    ticket_in_hand: bool = True,
    revoked_kind: DeviceKind = DeviceKind.KIOSK,
    more_devices: tuple[Device, ...] = (),
    clock: Callable[[], float] | None = None,
) -> Iterator[LiveHall]:
    """A live server with every kind of caller, `sites` set up, the officers signed in
    to L1 and L2 (and with `ticket_in_hand` one ticket called at L1)."""
    data_dir = root / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    config = Config(data_dir=data_dir, log_url=log_url or "")
    devices = (*DEVICES, *more_devices)
    tokens, ids = asyncio.run(_make_accounts(config, devices, revoked_kind))
    # One session key: a cookie works on every server.
    env = {"QMS_SECRET_KEY": "live-hall-" + "k" * 54, **(env or {})}
    with contextlib.ExitStack() as stack:
        if clock is not None:
            first: Any = stack.enter_context(InProcessServer(data_dir, clock))
        else:
            first = stack.enter_context(LiveServer(data_dir, log_url=log_url, env=env))
        base = first.url
        who = {key: signed_in(base, username) for key, (username, _, _) in USERS.items()}
        who |= {name: Api(base, token=tokens[name]) for name in ("display", "kiosk", "tablet")}
        who["revoked"] = Api(base, token=tokens["revoked"])
        who["anonymous"] = Api(base)
        hall = LiveHall([first], who, tokens, ids)
        for site in sites:
            set_up_hall(hall.admin, site)
        hall.sign_in_counters()
        if ticket_in_hand:
            issued = hall.issue("ktp")
            hall.ticket, hall.ref = issued["ticket"], issued["ref"]
            call = f"{API}/sites/{SITE}/counters/L1/call"
            who["officer"].ok("POST", call, {"ticket": hall.ticket})
        for i in range(1, servers):
            more = LiveServer(root / f"data{i}", log_url=log_url, env=env)
            hall.servers.append(stack.enter_context(more))
        yield hall


@pytest.fixture(autouse=True)
async def close_stream_clients(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every stream client a test made on the module's `hall` is closed, also when the
    test fails (a stream test module imports this fixture)."""
    yield
    if "hall" in request.fixturenames:
        await request.getfixturevalue("hall").close_clients()


@contextlib.contextmanager
def demo_hall(data_dir: Path, **server_kw: Any) -> Iterator[LiveHall]:
    """A `qms demo` server: its people's passwords and devices' tokens as it prints them."""
    with LiveServer(data_dir, command="demo", **server_kw) as server:
        hall = LiveHall([server], {})
        hall.read_printed()
        yield hall
