"""A small HTTP client for tests (stdlib only) and a live hall with people and devices.

    with hall_server(tmp_path) as hall:
        hall.admin.put("/sites/s1", {"name": "MPP"})
        hall.who["kiosk"].post("/sites/s1/tickets", {"service": "ktp"})

`Api` keeps one caller's credentials: a session cookie (and the server's own
Origin on unsafe methods, as a browser would send it), a device token, or none.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from live_server import LiveServer
from openapi_check import check

from qms.accounts import DeviceKind, UserRole
from qms.server.auth import open_accounts
from qms.server.config import Config

SITE = "s1"
OTHER_SITE = "s2"
PASSWORD = "correct-horse-battery"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NO_BODY = object()

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
    "revoked",  # a kiosk of SITE whose token was revoked
    "anonymous",
)
USERS = {
    "admin": ("admin", UserRole.ADMIN, ()),
    "supervisor": ("sup", UserRole.SUPERVISOR, (SITE,)),
    "supervisor_elsewhere": ("sup2", UserRole.SUPERVISOR, (OTHER_SITE,)),
    "officer": ("budi", UserRole.OFFICER, (SITE,)),
    "officer_elsewhere": ("sari", UserRole.OFFICER, (SITE,)),
}


@dataclass
class Reply:
    status: int
    body: Any
    headers: Message
    raw: bytes

    @property
    def code(self) -> str | None:
        """The error code of an error reply."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            code = self.body["error"].get("code")
            return code if isinstance(code, str) else None
        return None

    def __repr__(self) -> str:
        return f"<Reply {self.status} {self.raw[:300]!r}>"


@dataclass
class Api:
    base_url: str
    cookie: str | None = None
    token: str | None = None
    origin: str | None = None  # sent on unsafe methods (the browser's Origin)
    forwarded_for: str | None = None  # X-Forwarded-For (uvicorn trusts it from 127.0.0.1)
    extra_headers: dict[str, str] = field(default_factory=dict)

    def call(
        self,
        method: str,
        path: str,
        body: Any = _NO_BODY,
        *,
        raw: bytes | Iterable[bytes] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> Reply:
        url = urlsplit(self.base_url)
        full = path if path.startswith(("/api/", "/healthz", "/readyz")) else "/api/v1" + path
        sent: dict[str, str] = {**self.extra_headers}
        data: bytes | Iterable[bytes] | None = raw
        if body is not _NO_BODY:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        if self.cookie is not None:
            sent["Cookie"] = f"qms_session={self.cookie}"
        if self.token is not None:
            sent["Authorization"] = f"Bearer {self.token}"
        if self.origin is not None and method in UNSAFE:
            sent["Origin"] = self.origin
        if self.forwarded_for is not None:
            sent["X-Forwarded-For"] = self.forwarded_for
        sent.update(headers or {})
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
        try:
            chunked = data is not None and not isinstance(data, bytes)
            conn.request(method, full, body=data, headers=sent, encode_chunked=chunked)
            resp = conn.getresponse()
            content = resp.read()
        finally:
            conn.close()
        check(method, full, resp.status, resp.headers.get("content-type", ""), content)
        try:
            parsed = json.loads(content) if content else None
        except ValueError:
            parsed = None
        return Reply(resp.status, parsed, resp.headers, content)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = _NO_BODY, **kw: Any) -> Reply:
        return self.call("POST", path, body, **kw)

    def put(self, path: str, body: Any = _NO_BODY, **kw: Any) -> Reply:
        return self.call("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.call("DELETE", path, **kw)

    def ok(self, method: str, path: str, body: Any = _NO_BODY, **kw: Any) -> Any:
        """The JSON body of a 2xx reply; fails the test otherwise."""
        reply = self.call(method, path, body, **kw)
        assert 200 <= reply.status < 300, f"{method} {path}: {reply!r}"
        return reply.body


def error(reply: Reply, status: int, code: str) -> dict[str, Any]:
    """The error of a refused reply, after checking its status, code and one shape."""
    assert reply.status == status, reply
    assert set(reply.body) == {"error"}, reply
    assert set(reply.body["error"]) == {"code", "message", "details"}, reply
    assert reply.code == code, reply
    return dict(reply.body["error"])


def served(hall: HallServer, service: str = "ktp", counter: str = "L1") -> dict[str, Any]:
    """A ticket issued at the kiosk, called at `counter` by its officer, served and
    completed (the hall's officer holds L1): the issued ticket as the kiosk got it."""
    ticket = hall.who["kiosk"].ok("POST", f"/sites/{SITE}/tickets", {"service": service})
    officer = hall.who["officer"]
    at = f"/sites/{SITE}/counters/{counter}"
    officer.ok("POST", f"{at}/call", {"ticket": ticket["ticket"]["ticket"]})
    officer.ok("POST", f"{at}/start")
    officer.ok("POST", f"{at}/complete")
    return dict(ticket["ticket"])


def sign_in(base_url: str, username: str, password: str = PASSWORD) -> Api:
    reply = Api(base_url).post("/session", {"username": username, "password": password})
    assert reply.status == 200, f"sign-in of {username}: {reply!r}"
    for header in reply.headers.get_all("set-cookie") or []:
        name, _, rest = header.partition("=")
        if name.strip() == "qms_session":
            return Api(base_url, cookie=rest.split(";")[0], origin=base_url)
    raise AssertionError(f"sign-in of {username} set no qms_session cookie")


async def _make_accounts(data_dir: Path, log_url: str | None) -> dict[str, str]:
    """Users and devices straight into the log (as `qms user add` does); the device tokens."""
    tokens: dict[str, str] = {}
    async with open_accounts(Config(data_dir=data_dir, log_url=log_url or "")) as store:
        for username, role, sites in USERS.values():
            await store.add_user(username, role, sites, PASSWORD, by="test")
        await store.add_user("victim", UserRole.OFFICER, (SITE,), PASSWORD, by="test")
        for kind in ("display", "kiosk", "revoked", "tablet"):
            device_kind = DeviceKind(kind) if kind != "revoked" else DeviceKind.KIOSK
            counter = "L1" if kind == "tablet" else ""
            device, token = await store.add_device(
                device_kind, SITE, name=kind, counter=counter, by="test"
            )
            tokens[kind] = token
            if kind == "revoked":
                await store.revoke_device(device.device, by="test")
    return tokens


@dataclass
class HallServer:
    server: LiveServer
    who: dict[str, Api]
    ticket: str = ""  # a ticket of SITE in hand at counter L1 when set up
    ref: str = ""  # its public ref

    @property
    def admin(self) -> Api:
        return self.who["admin"]

    @property
    def url(self) -> str:
        return self.server.url

    def api(self, **kw: Any) -> Api:
        return Api(self.server.url, **kw)

    def version(self, site: str = SITE) -> int:
        return int(self.admin.ok("GET", f"/sites/{site}")["version"])

    def counter(self, counter: str, site: str = SITE) -> dict[str, Any]:
        rows = self.admin.ok("GET", f"/sites/{site}/counters")["counters"]
        return next(c for c in rows if c["counter"] == counter)

    def sign_in_counters(self) -> None:
        """Counter L1 open with the officer, L2 with the officer elsewhere (as set up)."""
        for counter, who in (("L1", "officer"), ("L2", "officer_elsewhere")):
            name = USERS[who][0]
            now = self.counter(counter)
            if now["state"] == "open" and now["officer"] == name:
                continue
            if now["state"] == "open" or now["officer"] not in (None, name):
                self.admin.ok("POST", f"/sites/{SITE}/counters/{counter}/close")
            self.admin.ok("POST", f"/sites/{SITE}/counters/{counter}/open", {"officer": name})


def set_up_hall(admin: Api, site: str = SITE) -> None:
    """A small hall: two agencies, three services, three counters."""
    admin.ok("PUT", f"/sites/{site}", {"name": f"MPP {site}", "timezone": "Asia/Jakarta"})
    admin.ok("PUT", f"/sites/{site}/agencies/dukcapil", {"name": "Disdukcapil"})
    admin.ok("PUT", f"/sites/{site}/agencies/samsat", {"name": "Samsat"})
    services = [
        ("ktp", "dukcapil", "A", "KTP-el", "ID card"),
        ("kk", "dukcapil", "B", "Kartu Keluarga", "Family card"),
        ("pkb", "samsat", "F", "Pajak Kendaraan", "Vehicle tax"),
    ]
    for service, agency, prefix, name_id, name_en in services:
        admin.ok(
            "PUT",
            f"/sites/{site}/services/{service}",
            {"agency": agency, "prefix": prefix, "name_id": name_id, "name_en": name_en},
        )
    counters = [("L1", "A", ["ktp", "kk"]), ("L2", "A", ["ktp", "pkb"]), ("L3", "B", ["pkb"])]
    for counter, zone, served in counters:
        admin.ok(
            "PUT",
            f"/sites/{site}/counters/{counter}",
            {"name": f"Loket {counter[1:]}", "zone": zone, "services": served},
        )


@contextlib.contextmanager
def hall_server(
    tmp_path: Path, log_url: str | None = None, **server_kw: Any
) -> Iterator[HallServer]:
    """A live server with every kind of caller, SITE and OTHER_SITE set up, and the
    officers signed in to L1 and L2 with one ticket in hand at L1."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    tokens = asyncio.run(_make_accounts(data_dir, log_url))
    with LiveServer(data_dir, log_url=log_url, **server_kw) as server:
        base = server.url
        who = {key: sign_in(base, username) for key, (username, _, _) in USERS.items()}
        who["display"] = Api(base, token=tokens["display"])
        who["kiosk"] = Api(base, token=tokens["kiosk"])
        who["revoked"] = Api(base, token=tokens["revoked"])
        who["tablet"] = Api(base, token=tokens["tablet"])
        who["anonymous"] = Api(base)
        hall = HallServer(server, who)
        set_up_hall(hall.admin, SITE)
        set_up_hall(hall.admin, OTHER_SITE)
        hall.sign_in_counters()
        issued = who["kiosk"].ok("POST", f"/sites/{SITE}/tickets", {"service": "ktp"})
        hall.ticket, hall.ref = issued["ticket"]["ticket"], issued["ticket"]["ref"]
        who["officer"].ok("POST", f"/sites/{SITE}/counters/L1/call", {"ticket": hall.ticket})
        yield hall
