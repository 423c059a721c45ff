"""The one HTTP client of the tests (stdlib only), and account set-up by the CLI.

    admin = signed_in(server.url, "admin")             # POST /api/v1/session
    admin.ok("PUT", "/api/v1/sites/s1", {"name": "MPP"})
    kiosk = Api(server.url, token=token)               # Authorization: Bearer …
    assert kiosk.get("/api/v1/device").body["kind"] == "kiosk"

Its rules, for every test:
- a path is sent as written: the API's are `/api/v1/…` (`API` below), beside pages,
  `/static/…`, `/healthz` and `/readyz`;
- it keeps the cookies the server sets (`cookies`; `cookie` is the session's);
- it sends an Origin on unsafe methods, as a browser on the server's own pages
  does: the server's own unless told (`origin=None`: none, as a script);
- `Reply.body` is the parsed JSON (None when there is none), `Reply.raw` the bytes;
  it never raises on an error status: look at `reply.status`, or use `ok`.
Every reply is checked against the OpenAPI document (`openapi_check`).
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from email.message import Message
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from live_server import LiveServer
from openapi_check import check

API = "/api/v1"
PASSWORD = "correct-horse-battery"  # everyone's password unless a test says otherwise
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NO_BODY = object()


@dataclass
class Reply:
    status: int
    headers: Message
    raw: bytes

    @property
    def body(self) -> Any:
        """The parsed JSON body; None when it is empty or not JSON."""
        try:
            return json.loads(self.raw) if self.raw else None
        except ValueError:
            return None

    @property
    def code(self) -> str | None:
        """The error code of an error reply (the one error shape), else None."""
        body = self.body
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            code = body["error"].get("code")
            return code if isinstance(code, str) else None
        return None

    def set_cookie(self, name: str = "qms_session") -> str | None:
        """The raw Set-Cookie header for `name`, if the reply sets it."""
        for header in self.headers.get_all("set-cookie") or []:
            if header.startswith(name + "="):
                return str(header)
        return None

    def __repr__(self) -> str:
        return f"<Reply {self.status} {self.raw[:300]!r}>"


@dataclass
class Api:
    base_url: str
    token: str | None = None  # a device token, sent as a bearer token
    origin: str | None = ""  # "": the server's own origin; None: send no Origin
    cookies: dict[str, str] = field(default_factory=dict)
    forwarded_for: str | None = None  # X-Forwarded-For (uvicorn trusts it from 127.0.0.1)
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.origin == "":
            self.origin = self.base_url

    @property
    def cookie(self) -> str | None:
        """The session cookie's value, if signed in."""
        return self.cookies.get("qms_session")

    def at(self, base_url: str) -> Api:
        """The same caller (token, cookies) talking to another server (its own Origin)."""
        own = self.origin == self.base_url
        return replace(
            self,
            base_url=base_url,
            origin=base_url if own else self.origin,
            cookies=dict(self.cookies),
        )

    def call(
        self,
        method: str,
        path: str,
        body: Any = _NO_BODY,
        *,
        raw: bytes | Iterable[bytes] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Reply:
        url = urlsplit(self.base_url)
        sent: dict[str, str] = {}
        data: bytes | Iterable[bytes] | None = raw
        if body is not _NO_BODY:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.token is not None:
            sent["Authorization"] = f"Bearer {self.token}"
        if self.origin is not None and method in UNSAFE:
            sent["Origin"] = self.origin
        if self.forwarded_for is not None:
            sent["X-Forwarded-For"] = self.forwarded_for
        sent.update(headers or {})
        conn = http.client.HTTPConnection(
            url.hostname or "127.0.0.1", url.port, timeout=timeout or self.timeout
        )
        try:
            chunked = data is not None and not isinstance(data, bytes)
            conn.request(method, path, body=data, headers=sent, encode_chunked=chunked)
            resp = conn.getresponse()
            reply = Reply(resp.status, resp.headers, resp.read())
        finally:
            conn.close()
        self._keep_cookies(reply)
        check(method, path, reply.status, reply.headers.get("content-type", ""), reply.raw)
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

    def sign_in(self, username: str, password: str = PASSWORD, **kw: Any) -> Reply:
        """POST /api/v1/session; the session cookie is kept when it succeeds."""
        return self.post(f"{API}/session", {"username": username, "password": password}, **kw)


def signed_in(base_url: str, username: str, password: str = PASSWORD) -> Api:
    """A client signed in as `username` (fails the test when sign-in fails)."""
    client = Api(base_url)
    reply = client.sign_in(username, password)
    assert reply.status == 200, f"sign-in of {username}: {reply!r}"
    assert client.cookie is not None, f"sign-in of {username} set no qms_session cookie"
    return client


def error(reply: Reply, status: int, code: str) -> dict[str, Any]:
    """The error of a refused reply, after checking its status, code and one shape."""
    assert reply.status == status, reply
    assert set(reply.body) == {"error"}, reply
    assert set(reply.body["error"]) == {"code", "message", "details"}, reply
    assert reply.code == code, reply
    return dict(reply.body["error"])


def add_user(
    server: LiveServer, username: str, role: str, *sites: str, password: str = PASSWORD
) -> None:
    """`qms user add USERNAME --role ROLE --site S…` against the server's data dir and log."""
    flags = [flag for site in sites for flag in ("--site", site)]
    server.cli("user", "add", username, "--role", role, *flags, input=password + "\n")


def add_device(server: LiveServer, kind: str, site: str, zone: str | None = None) -> str:
    """`qms device add`; the device's token (from the link it prints)."""
    out = server.cli(
        "device", "add", "--kind", kind, "--site", site, *(["--zone", zone] if zone else [])
    )
    match = re.search(r"[?&]token=(\S+)", out)
    assert match, out
    return match.group(1)
