"""The raw display client: one epoll loop per process, no asyncio, no websocket library.

The handshake with a browser's headers, then unmasked server frames parsed by hand
(stream_clients.FrameReader). Every socket that one poll reports readable is
stamped with the time that poll returned, so an arrival is not delayed by the
processing of the others of its batch, and the client side costs less per
message than the server side.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import os
import select
import socket
import time
from multiprocessing.connection import Connection as Pipe
from typing import Any

from stream_clients import HELLO, ClientSpec, FrameReader, Sink, qms_text_fast, sio_text_fast
from ws_frames import BROWSER_HEADERS, CLOSE, PONG, client_frame

CONNECTING, UPGRADING, HELLO_SENT, READY, CLOSED = range(5)


class RawConn(FrameReader):
    """One websocket over a non-blocking socket, driven by `raw_worker`'s epoll loop."""

    __slots__ = ("sock", "state", "version")

    def __init__(self, sock: Any, sink: Sink, system: str) -> None:
        self.sock = sock
        self.sink = sink
        self.state = CONNECTING
        self.buf = b""
        self.version: int | None = None
        self.close_seen = False
        self.on_text_fast = qms_text_fast if system == "qms" else sio_text_fast

    def set_ready(self) -> None:
        if self.state != READY:
            self.state = READY
            self.sink.ready_n += 1

    def send_text(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.send(client_frame(data))

    def send_pong(self, payload: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.send(client_frame(payload, PONG))

    def answer_close(self, payload: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.send(client_frame(payload[:2], CLOSE))


def handshake(spec: ClientSpec) -> bytes:
    """The upgrade request, with a browser's headers."""
    host = f"127.0.0.1:{spec.port}"
    lines = [f"GET {spec.path()} HTTP/1.1", f"Host: {host}", "Connection: Upgrade"]
    lines += [f"{k}: {v}" for k, v in BROWSER_HEADERS]
    lines += [f"Origin: http://{host}", "Sec-WebSocket-Key: cW1zYmVuY2gtc3RyZWFtLQ=="]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def raw_worker(spec: ClientSpec, pipe: Pipe) -> None:
    """spec.n websockets in one epoll loop. Every socket that epoll reports readable
    in one poll is stamped with the time the poll returned: the arrival time is not
    delayed by the processing of the other sockets of the same batch."""
    sink = Sink()
    ep = select.epoll()
    # One receive buffer for every socket, each read copied out at its size: a
    # recv(262144) per read mallocs 256 KiB and shrinks it, and depending on the
    # heap's layout glibc then gives the top back and takes it again, page faults
    # on every read (it doubled the clients' CPU: bench/results/2026-12-06-streamsplit.md).
    rbuf = bytearray(262144)
    rview = memoryview(rbuf)
    conns: dict[int, RawConn] = {}
    request = handshake(spec)
    errors: collections.Counter[str] = collections.Counter()
    to_open, opening = spec.n, 0
    t0 = time.monotonic()
    connect_deadline = t0 + spec.connect_timeout
    reported = False
    pipe_fd = pipe.fileno()
    ep.register(pipe_fd, select.EPOLLIN)
    sink.cpu0 = time.process_time()

    def drop(fd: int, why: str | None) -> None:
        conn = conns.pop(fd)
        with contextlib.suppress(OSError, ValueError):
            ep.unregister(fd)
        conn.sock.close()
        if why is not None:
            errors[why] += 1
        elif conn.state == READY and not sink.stopping and not conn.close_seen:
            sink.closed["1006 (no close frame)"] += 1
        if conn.state == READY:
            sink.ready_n -= 1
        conn.state = CLOSED

    running = True
    while running:
        while to_open and opening < spec.concurrency:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with contextlib.suppress(BlockingIOError):
                sock.connect(("127.0.0.1", spec.port))
            conns[sock.fileno()] = RawConn(sock, sink, spec.system)
            ep.register(sock.fileno(), select.EPOLLOUT)
            to_open -= 1
            opening += 1
        events = ep.poll(0.2)
        now = time.monotonic()
        for fd, _ in events:
            if fd == pipe_fd:
                running = sink.obey(pipe.recv(), pipe) and running
                continue
            conn = conns.get(fd)
            if conn is None:
                continue
            if conn.state == CONNECTING:
                err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    drop(fd, f"connect: {os.strerror(err)}")
                    continue
                conn.sock.send(request)
                conn.state = UPGRADING
                ep.modify(fd, select.EPOLLIN)
                continue
            try:
                data = rview[: conn.sock.recv_into(rbuf)].tobytes()
            except BlockingIOError:
                continue
            except OSError as exc:
                data = b""
                if conn.state != READY:
                    drop(fd, f"recv: {exc}")
                    continue
            if not data:
                if conn.state != READY:
                    drop(fd, "closed during the handshake")
                else:
                    drop(fd, None)
                continue
            if conn.state == UPGRADING:
                data = conn.buf + data
                end = data.find(b"\r\n\r\n")
                if end < 0:
                    conn.buf = data
                    continue
                status = data[: data.find(b"\r\n")]
                if b" 101 " not in status:
                    drop(fd, f"handshake: {status[:40].decode(errors='replace')}")
                    continue
                conn.buf = b""
                conn.state = HELLO_SENT
                if spec.system == "qms":
                    conn.send_text(HELLO)
                data = data[end + 4 :]
                if not data:
                    continue
            conn.frames(data, now)
        if opening:  # how many are still on their way
            opening = (spec.n - to_open) - sink.ready_n - sum(errors.values())
        if not reported and ((not to_open and not opening) or time.monotonic() > connect_deadline):
            if opening:
                errors["not ready before the deadline"] += opening
            gc.collect()
            gc.freeze()
            pipe.send(sink.ready_report(sink.ready_n, dict(errors), t0))
            reported = True
    sink.stopping = True
    for fd in list(conns):
        conn = conns[fd]
        with contextlib.suppress(OSError):
            conn.sock.send(client_frame(b"\x03\xe8", CLOSE))
        drop(fd, None)
    ep.close()
    pipe.send({"stopped": True})
