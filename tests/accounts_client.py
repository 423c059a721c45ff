"""Signing in from tests: a small stdlib HTTP client with a cookie, and account set-up helpers.

    with LiveServer(tmp_path) as server:
        add_user(server, "root", "admin")                   # `qms user add` (CLI)
        admin = signed_in(server, "root")                   # POST /api/v1/session
        admin.post("/api/v1/users", {"username": "budi", "role": "officer",
                                     "sites": ["mpp-bengkulu"], "password": PASSWORD})
        budi = signed_in(server, "budi")
        token = add_device(server, "display", "mpp-bengkulu")  # `qms device add`
        tv = Client(server.url, token=token)                # Authorization: Bearer …
        assert budi.get("/api/v1/session").json["role"] == "officer"

A `Client` keeps the `qms_session` cookie it is given, sends the server's own
Origin (as a browser on the server's pages does; pass `origin=None` for none),
and never raises on an HTTP error status: look at `reply.status`.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from http.cookies import SimpleCookie
from typing import Any

from live_server import LiveServer
from openapi_check import check

PASSWORD = "rahasia-123"  # the password the helpers give everyone unless told otherwise


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def code(self) -> str | None:
        """The error code of an error reply (the one error shape), else None."""
        data = self.json
        return data["error"]["code"] if isinstance(data, dict) and "error" in data else None

    def cookie(self, name: str = "qms_session") -> str | None:
        """The raw Set-Cookie header for `name`, if the reply sets it."""
        for header in self.headers.get_all("set-cookie") or []:
            if header.startswith(name + "="):
                return str(header)
        return None


@dataclass
class Client:
    base_url: str
    token: str | None = None  # a device token, sent as a bearer token
    origin: str | None = ""  # "": the server's own origin; None: send no Origin
    cookies: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.origin == "":
            self.origin = self.base_url

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.origin is not None:
            request.add_header("Origin", self.origin)
        if self.token is not None:
            request.add_header("Authorization", f"Bearer {self.token}")
        if self.cookies:
            request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                reply = Reply(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            reply = Reply(error.code, error.headers, error.read())
        self._keep_cookies(reply)
        check(method, path, reply.status, reply.headers.get("content-type", ""), reply.body)
        return reply

    def _keep_cookies(self, reply: Reply) -> None:
        for header in reply.headers.get_all("set-cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value or morsel.value == '""':
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, {} if body is None else body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("PUT", path, {} if body is None else body, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.request("DELETE", path, **kw)

    def sign_in(self, username: str, password: str = PASSWORD, **kw: Any) -> Reply:
        return self.post("/api/v1/session", {"username": username, "password": password}, **kw)


def add_user(
    server: LiveServer, username: str, role: str, *sites: str, password: str = PASSWORD
) -> None:
    """`qms user add USERNAME --role ROLE --site S…` against the server's data dir and log."""
    flags = [flag for site in sites for flag in ("--site", site)]
    server.cli("user", "add", username, "--role", role, *flags, input=password + "\n")


def add_device(server: LiveServer, kind: str, site: str, zone: str | None = None) -> str:
    """`qms device add`; the device's token (from the link it prints)."""
    out = server.cli(
        "device", "add", "--kind", kind, "--site", site, *(["--zone", zone] * bool(zone))
    )
    match = re.search(r"[?&]token=(\S+)", out)
    assert match, out
    return match.group(1)


def signed_in(server: LiveServer, username: str, password: str = PASSWORD) -> Client:
    """A client signed in as `username` (fails the test when sign-in fails)."""
    client = Client(server.url)
    reply = client.sign_in(username, password)
    assert reply.status == 200, reply.body
    return client
