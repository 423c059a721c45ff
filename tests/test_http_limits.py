"""Limits of a server a stranger can reach, against a real `qms serve` with raw sockets:
requests that never finish are cut after QMS_REQUEST_TIMEOUT (issue 12: 300 were
held open for 90 s), and X-Forwarded-For is believed only from the trusted proxy."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_client import Api, add_user
from live_server import LiveServer

TIMEOUT_S = 1.0  # QMS_REQUEST_TIMEOUT for these servers
WAIT_S = 15.0  # how long a test waits for the server to act (far above TIMEOUT_S)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {"QMS_REQUEST_TIMEOUT": str(TIMEOUT_S)}
    with LiveServer(tmp_path_factory.mktemp("limits") / "data", env=env) as live:
        yield live


def connect(server: LiveServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or WAIT_S passes)."""
    data = b""
    sock.settimeout(WAIT_S)
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk


def read_healthy(sock: socket.socket) -> None:
    """Read one 200 answer of /healthz, leaving the connection open (kept alive)."""
    sock.settimeout(WAIT_S)
    reply = b""
    while not reply.endswith(b'{"status":"ok"}'):
        chunk = sock.recv(4096)
        assert chunk, reply
        reply += chunk
    assert reply.startswith(b"HTTP/1.1 200 "), reply


def test_a_connection_that_sends_nothing_is_closed(server: LiveServer) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        answer = read_until_closed(sock)
        assert time.monotonic() - started < WAIT_S
    assert answer == b""  # closed without a word: nothing was asked


def test_headers_sent_slowly_are_cut_at_the_deadline(server: LiveServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: qms\r\n")
        sock.settimeout(TIMEOUT_S / 4)
        started, answer = time.monotonic(), None
        while answer is None and time.monotonic() - started < WAIT_S:
            try:
                sock.sendall(b"X")  # one header byte at a time, for ever
                answer = sock.recv(4096)  # b"" or the 408: the server ended it
            except TimeoutError:
                continue
            except OSError:
                answer = b""
        assert answer is not None, "the server kept a request without an end open"
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408 ")


def test_a_body_that_never_ends_is_cut(server: LiveServer) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /api/v1/session HTTP/1.1\r\nHost: qms\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"username": '
        )
        answer = read_until_closed(sock)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408 ")
    for _ in range(3):  # the app has heard of the disconnect by now
        assert Api(server.url).get("/healthz").status == 200
    assert "Traceback" not in server.output()  # a client that left is no server error


def test_many_unfinished_requests_do_not_hold_the_server(server: LiveServer) -> None:
    socks = [connect(server) for _ in range(100)]
    try:
        for sock in socks[::2]:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # half of them start a request
        for sock in socks:
            read_until_closed(sock)  # every one is closed by the server
    finally:
        for sock in socks:
            sock.close()
    assert Api(server.url).get("/healthz").status == 200


def test_a_complete_request_in_pieces_and_kept_alive_connections_work(
    server: LiveServer,
) -> None:
    with connect(server) as sock:
        for _ in range(3):  # three requests on one connection, each in two pieces
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")
            sock.sendall(b"Host: qms\r\n\r\n")
            read_healthy(sock)


def head_with(header_bytes: int) -> bytes:
    """A GET whose request line and headers are about `header_bytes` long."""
    start = b"GET /healthz HTTP/1.1\r\nHost: qms\r\n"
    filler = b"X-Filler: " + b"a" * (header_bytes - len(start) - 14) + b"\r\n"
    return start + filler + b"\r\n"


def test_request_headers_are_limited_to_16_kib(server: LiveServer) -> None:
    with connect(server) as sock:
        sock.sendall(head_with(15 * 1024))  # under the limit: answered, kept alive
        read_healthy(sock)
    for pieces in (1, 64):  # in one piece, and trickled in (each piece well under 16 KiB)
        with connect(server) as sock:
            head = head_with(17 * 1024)
            step = -(-len(head) // pieces)
            try:
                for i in range(0, len(head), step):
                    sock.sendall(head[i : i + step])
            except OSError:
                pass  # closed before the rest was sent: refused all the same
            answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert "Traceback" not in server.output()


def test_a_header_that_never_ends_is_refused_before_the_deadline(server: LiveServer) -> None:
    """One header line that keeps growing (the parser would gather it whole before
    calling back): refused once the head is far over the limit, not held in memory
    until the request deadline (which would answer 408). The server closes with our
    bytes unread, so the 400 may be overtaken by the connection's reset."""
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: qms\r\nX-Filler: ")
        try:
            for _ in range(128):  # up to 2 MiB, quickly: far within the deadline
                sock.sendall(b"a" * 16384)
            answer = read_until_closed(sock)
        except ConnectionError:  # reset, or a broken pipe while sending
            answer = b"(reset)"
    assert answer.startswith((b"HTTP/1.1 400 ", b"(reset)")), answer[:200]


def test_qms_serve_runs_the_timed_httptools_protocol_on_asyncio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `qms serve` hands uvicorn: our protocol (the deadline and the head limit
    above), and asyncio's loop by name: uvicorn's "auto" would take uvloop wherever it
    is installed, whose transports the Redis link (qms.eventlog.resp) refuses."""
    import uvicorn

    from qms import cli
    from qms.server.config import Config
    from qms.server.http import TimedHttpToolsProtocol

    given: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: given.update(kwargs))
    monkeypatch.setattr(os, "environ", dict(os.environ))  # _run_server exports QMS_*
    assert cli._run_server(Config(data_dir=tmp_path / "data")) == 0
    assert given["http"] is TimedHttpToolsProtocol
    assert given["loop"] == "asyncio"


# --- X-Forwarded-For: only from the trusted proxy ----------------------------------------------


def forwarded_tls(server: LiveServer) -> bool:
    """Whether the server believed `X-Forwarded-Proto: https` from us (the Secure flag)."""
    reply = Api(server.url).sign_in(
        "root", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    )
    assert reply.status == 200, reply.body
    return "Secure" in (reply.set_cookie() or "")


def place_of(server: LiveServer, forwarded_for: str) -> int:
    """The status of a 21st failed sign-in from `forwarded_for` after 20 from other
    forwarded addresses: 429 when they all counted as one place (our address)."""
    client = Api(server.url)
    for i in range(20):
        client.sign_in(f"nama{i}", "salah-sekali", headers={"X-Forwarded-For": f"198.51.100.{i}"})
    return client.sign_in("lain", "salah-sekali", headers={"X-Forwarded-For": forwarded_for}).status


def test_forwarded_addresses_are_believed_from_the_trusted_proxy(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "data") as server:  # by default, a proxy on this host
        add_user(server, "root", "admin")
        assert forwarded_tls(server)
        assert place_of(server, "192.0.2.1") == 401  # each forwarded address its own place


@pytest.mark.parametrize("trusted", ["10.255.255.1", ""])
def test_forwarded_addresses_from_anyone_else_are_ignored(tmp_path: Path, trusted: str) -> None:
    env = {"QMS_FORWARDED_ALLOW_IPS": trusted}
    with LiveServer(tmp_path / "data", env=env) as server:
        add_user(server, "root", "admin")
        assert not forwarded_tls(server)
        assert place_of(server, "192.0.2.1") == 429  # all of them were us: one place
