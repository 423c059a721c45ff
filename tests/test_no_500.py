"""No 500, ever, and no traceback storms: input that once reached the 500 handler or
logged a traceback answers a 4xx in the one error shape (or closes the websocket with
a documented code) and logs at most one line. Real servers, raw sockets.

The whole API is also fuzzed with every role's credentials (tests/test_schemathesis.py).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from api_client import Api, error
from live_hall import SITE, LiveHall, live_hall

S = f"/api/v1/sites/{SITE}"
SERVICE = {"agency": "dukcapil", "prefix": "Z", "name_id": "Uji", "name_en": "Test"}
# msgpack's integers end at 2^64 - 1 and -2^63; JSON clients' exact ones at 2^53.
HUGE = (2**64, 2**64 + 1, -(2**63) - 1, 10**30, 2**53, -(2**53))


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    with live_hall(tmp_path_factory.mktemp("no500")) as server:
        yield server


def new_lines(hall: LiveHall, before: str) -> list[str]:
    """The lines the server logged since its output was `before`."""
    now: str = hall.server.output_path.read_text(errors="replace")
    assert now.startswith(before)
    return now[len(before) :].splitlines()


def log_text(hall: LiveHall) -> str:
    return str(hall.server.output_path.read_text(errors="replace"))


# --- integers beyond msgpack ------------------------------------------------------------------


def _refuses_out_of_range_integers(admin: Api, version: Callable[[], int]) -> None:
    before = version()
    bodies: list[tuple[str, dict[str, Any], str]] = []
    for value in HUGE:
        bodies += [
            (f"{S}/services/uji", {**SERVICE, "daily_quota": value}, "daily_quota"),
            (f"{S}/services/uji", {**SERVICE, "target_wait_min": value}, "target_wait_min"),
            (
                f"{S}/services/uji",
                {**SERVICE, "hours": {"weekdays": [0, value]}},
                "hours.weekdays[1]",
            ),
            (S, {"name": "MPP", "priority_streak_max": value}, "priority_streak_max"),
        ]
    # The domain's own bounds, one past each end.
    for body, field in (
        ({**SERVICE, "daily_quota": 10_000}, "daily_quota"),
        ({**SERVICE, "daily_quota": -1}, "daily_quota"),
        ({**SERVICE, "target_wait_min": 0}, "target_wait_min"),
        ({**SERVICE, "target_wait_min": 24 * 60 + 1}, "target_wait_min"),
        ({**SERVICE, "hours": {"weekdays": [7]}}, "hours.weekdays[0]"),
        ({**SERVICE, "hours": {"weekdays": [-1]}}, "hours.weekdays[0]"),
    ):
        bodies.append((f"{S}/services/uji", body, field))
    for path, body, field in bodies:
        details = error(admin.put(path, body), 422, "invalid_command")["details"]
        assert details["field"] == field, (path, body, details)
    assert version() == before, "a refused command changed the log"
    # The bounds themselves are accepted.
    edge = {**SERVICE, "daily_quota": 9999, "target_wait_min": 1440}
    admin.ok("PUT", f"{S}/services/uji", {**edge, "hours": {"weekdays": [0, 6]}})
    admin.ok("PUT", S, {"name": "MPP", "priority_streak_max": 100})


def test_out_of_range_integers_are_invalid_command(tmp_path: Path) -> None:
    with live_hall(tmp_path) as hall:
        _refuses_out_of_range_integers(hall.admin, hall.version)
        assert "Traceback" not in hall.server.output(), hall.server.output()


@pytest.mark.redis
@pytest.mark.slow
def test_out_of_range_integers_are_invalid_command_across_processes(
    tmp_path: Path, redis_log_url: str
) -> None:
    """B relays its commands to A, the site's writer, packed as msgpack: an integer
    past 64 bits was packed before it was checked, and answered 500. The command's
    bounds are now checked when it is parsed, before anything is packed or decided."""
    env = {"QMS_SECRET_KEY": "k" * 64}  # one session key: the admin's cookie works on both
    with live_hall(tmp_path, log_url=redis_log_url, env=env, servers=2) as a:
        b = a.servers[1]
        admin_b = a.admin.at(b.url)
        assert admin_b.get(S).status == 200  # B follows the site; A writes it
        _refuses_out_of_range_integers(admin_b, a.version)
        for server in (a.server, b):
            assert "Traceback" not in server.output(), server.output()


def test_malformed_ids_are_refused_even_with_a_known_idempotency_key(hall: LiveHall) -> None:
    """A repeated Idempotency-Key answers the first result: an id the document forbids
    (the path's `{agency}` as "\x84") was answered 200 `repeated` instead of refused."""
    key = {"Idempotency-Key": "reused-key"}
    hall.admin.ok("PUT", f"{S}/agencies/reused", {"name": "Reused"}, headers=key)
    before = hall.version()
    named = {"name": "Reused"}
    for method, path, body in (
        ("PUT", f"{S}/agencies/%C2%84", named),
        ("PUT", f"{S}/services/a%20b", {**SERVICE, "agency": "reused"}),
        ("PUT", f"{S}/counters/" + "x" * 65, named),
        ("PUT", f"{S}/counters/a.b/services", {"services": []}),
        ("POST", f"{S}/counters/a%2Bb/call-next", {}),
        ("POST", f"{S}/tickets/%E2%82%AC/hold", {}),
    ):
        error(hall.admin.call(method, path, body, headers=key), 422, "invalid_command")
    assert hall.version() == before


# --- bodies: media types, JSON --------------------------------------------------------------


def test_media_types_are_case_insensitive(hall: LiveHall) -> None:
    body = json.dumps({"service": "ktp"}).encode()
    kiosk = hall.who["kiosk"]
    for ctype in ("Application/JSON", "APPLICATION/JSON; charset=UTF-8", "application/json"):
        reply = kiosk.post(f"{S}/tickets", raw=body, headers={"Content-Type": ctype})
        assert reply.status == 201, (ctype, reply)
    reply = kiosk.post(f"{S}/tickets", raw=body, headers={"Content-Type": "text/json"})
    error(reply, 415, "unsupported_media_type")


def test_nan_and_infinity_are_not_json(hall: LiveHall) -> None:
    json_type = {"Content-Type": "application/json"}
    before = hall.version()
    for raw in (b'{"text": NaN}', b'{"text": Infinity}', b'{"text": -Infinity}'):
        reply = hall.admin.post(f"{S}/broadcast", raw=raw, headers=json_type)
        error(reply, 400, "invalid_json")
    assert hall.version() == before


# --- a client that leaves in the middle of its body -----------------------------------------


def _half_a_body(url: str, path: str, headers: dict[str, str]) -> None:
    """Send the headers and half of a declared body, stop writing, and wait until the
    server has closed the connection (it read the end of the stream)."""
    parts = urlsplit(url)
    body = json.dumps({"username": "admin", "password": "x" * 40}).encode()
    head = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body[: len(body) // 2])
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):  # until the server closes (EOF), or the timeout fails the test
            pass


def test_a_client_leaving_mid_body_is_no_error(hall: LiveHall) -> None:
    """Starlette raises ClientDisconnect while the body is read: that went to the 500
    handler and wrote two tracebacks (~88 lines) per request, even without credentials."""
    before = log_text(hall)
    json_type = {"Content-Type": "application/json"}
    for _ in range(3):
        _half_a_body(hall.url, "/api/v1/session", json_type)  # anonymous: sign-in
        _half_a_body(hall.url, f"{S}/broadcast", {**json_type, **_cookie(hall.admin)})
    assert hall.admin.get(S).status == 200  # the server goes on; its log is written
    lines = new_lines(hall, before)
    assert not [line for line in lines if "Traceback" in line or "ERROR" in line], lines
    assert not [line for line in lines if "session" in line or "broadcast" in line], lines


def _cookie(api: Api) -> dict[str, str]:
    return {"Cookie": f"qms_session={api.cookie}", "Origin": api.base_url}


# --- a websocket text frame that is not UTF-8 -------------------------------------------------


def _frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (masked, as RFC 6455 requires of clients)."""
    mask = os.urandom(4)
    assert len(payload) < 126
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed before a whole frame")
        data += chunk
    return data


def _close_code(sock: socket.socket) -> int:
    """Read server frames until the close frame; its code."""
    while True:
        first, second = _read_exactly(sock, 2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(_read_exactly(sock, 2), "big")
        elif length == 127:
            length = int.from_bytes(_read_exactly(sock, 8), "big")
        payload = _read_exactly(sock, length)
        if first & 0x0F == 0x8:
            return int.from_bytes(payload[:2], "big")


def _open_stream(url: str, query: str = "") -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {S}/stream{query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(1)
        assert chunk, response
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def test_a_text_frame_not_in_utf8_closes_1007_with_one_log_line(hall: LiveHall) -> None:
    """uvicorn closes it with 1007 (invalid frame payload data) but logged an ERROR
    with a traceback; now one INFO line."""
    before = log_text(hall)
    token = hall.who["display"].token
    with _open_stream(hall.url, f"?token={token}") as sock:
        sock.sendall(_frame(0x1, b'{"type": "hello\xff\xfe"}'))
        assert _close_code(sock) == 1007
    # An anonymous client: refused (4401), or 1007 when its frame is read first.
    for _ in range(3):
        with _open_stream(hall.url) as sock:
            sock.sendall(_frame(0x1, b"\xc3\x28"))
            assert _close_code(sock) in (1007, 4401)
    deadline = time.monotonic() + 10
    while not any("UTF-8" in line for line in new_lines(hall, before)):
        assert time.monotonic() < deadline, new_lines(hall, before)
        time.sleep(0.05)
    lines = new_lines(hall, before)
    assert not [line for line in lines if "Traceback" in line or "ERROR" in line], lines
    utf8 = [line for line in lines if "UTF-8" in line]
    assert 1 <= len(utf8) <= 4 and all("1007" in line for line in utf8), lines
