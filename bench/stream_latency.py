"""Press-to-display latency of the live server, side by side with python-socketio.

For each N (number of display connections) and each system, in this order:

- **qms** (`qms serve`, a real process started by tests/live_server.py, embedded
  SQLite log; with --redis-log also the Redis log): a hall set up over the HTTP
  API (tests/live_hall.py `live_hall`), officer "budi" signed in and holding
  counter L1; N display websockets (device token, audience display) in
  --client-procs other processes, each past its hello and snapshot. The officer
  presses on ONE keep-alive HTTP connection: `complete`, a pause, then
  `call-next` (the timed press), a pause (see below). The press is stamped with
  `time.monotonic()` just before the request is written; every client stamps the
  arrival of the `ticket_called` event of that version with `time.monotonic()`
  (CLOCK_MONOTONIC, one clock for every process on Linux) as soon as its socket
  is known to be readable, before it parses anything.
- **socketio** (bench/peer_socketio.py: `socketio.AsyncServer` +
  `AsyncRedisManager` on the same Redis, ASGI under uvicorn with the same uvicorn
  settings as qms): the same N clients in the same number of processes; the
  trigger is one keep-alive HTTP POST /emit that makes the server `emit` to every
  client, twice per cycle like qms (a "done" message, the pause, the timed "call"
  message, the pause). The payloads are qms's own display frames of that run
  (`ticket_completed` and `ticket_called`), so the JSON is the same size.

Latency = arrival - press, over every client and every timed press (warm-up
presses excluded); p50/p90/p99/max, the first arrival per press (min), the HTTP
round trip of the press, CPU of the server and of the clients per press, and
every failure: missing deliveries, gaps, disconnects with their close codes.

Clients (--clients): by default `raw`: one epoll loop per client process, no
asyncio and no websocket library (the handshake with a browser's headers, then
unmasked server frames parsed by hand); every socket that one poll reports
readable is stamped with the time that poll returned, so an arrival is not
delayed by the processing of the others of its batch, and the client side costs
less per message than the server side. `lean` is websockets' sans-I/O protocol on
asyncio (used for --deflate, which needs a decompressor); `library` uses the
libraries' own clients (`websockets.asyncio.client` for qms, `socketio.AsyncClient`
with the websocket transport for socketio) and stamps when the library hands the
message over. --deflate makes the clients offer permessage-deflate as a browser
does (`qms serve` declines it; uvicorn under socketio accepts it). The pause
after each message is twice the slowest drain of the warm-up (+10 ms), so the
system is idle when the next press comes; presses whose delivery overlapped a
heartbeat burst are counted.

    .venv/bin/python bench/stream_latency.py                          # N = 100,1000,5000
    .venv/bin/python bench/stream_latency.py --sizes 100 --presses 50 --systems qms
    .venv/bin/python bench/stream_latency.py --redis-log --deflate
    .venv/bin/python bench/stream_latency.py --systems qms --gc-log gc.txt   # full GCs vs presses
    .venv/bin/python bench/stream_latency.py --sizes 1000 --profile prof/   # py-spy the servers

Diagnostics and what-ifs: --gc-log and --gc-freeze put a sitecustomize of the
benchmark's own on the qms servers' PYTHONPATH (logging every full garbage
collection; calling gc.freeze() every S seconds); --qms-env passes settings
such as QMS_STREAM_HEARTBEAT_S; --profile runs `py-spy record` on the server
during the timed presses (raw collapsed stacks).

Bounded: every wait has a deadline, the whole run stops after --time-limit s;
servers and client processes are stopped in `finally`; Redis keys (qms's log
prefix) are deleted; socketio uses a pub/sub channel of its own (no keys).
Talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import bisect
import collections
import contextlib
import http.client
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (HERE, ROOT / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from _common import (  # noqa: E402
    delete_prefix,
    load_average,
    machine_info,
    md_table,
    percentile,
    redis_url,
    stop_child,
    unique,
)

REDIS_BASE = "redis://127.0.0.1:6379/0"
SITE = "s1"  # the site of tests/live_hall.set_up_hall
COUNTER = "L1"  # officer budi's counter (serves ktp, kk)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# =====================================================================================
# The client side: runs in worker processes
# =====================================================================================


@dataclass
class ClientSpec:
    """What one worker process opens."""

    system: str  # "qms" or "socketio"
    port: int
    n: int
    token: str = ""  # qms: the display device's token
    deflate: bool = False  # offer permessage-deflate (as browsers do)
    impl: str = "raw"  # "raw", "lean" or "library"
    concurrency: int = 64  # connections being opened at once
    connect_timeout: float = 180.0


class Sink:
    """Everything one worker process records."""

    def __init__(self) -> None:
        self.arrivals: dict[Any, list[float]] = collections.defaultdict(list)
        self.samples: dict[str, str] = {}  # a raw frame per message kind (payload sizes)
        self.gaps = 0
        self.frames = 0
        self.closed: collections.Counter[str] = collections.Counter()
        self.stopping = False
        self.ready_n = 0  # (raw clients) connections past their hello

    def arrive(self, key: Any, t: float) -> None:
        self.arrivals[key].append(t)

    def mark(self) -> float:
        """The measured phase starts: forget the warm-up; the CPU time now."""
        self.arrivals.clear()
        self.gaps = self.frames = 0
        self.closed.clear()
        return time.process_time()

    def collect(self, cpu0: float) -> dict[str, Any]:
        """What was recorded since the last collect (arrivals) or mark, for the parent."""
        out = {
            "arrivals": dict(self.arrivals),
            "samples": self.samples,
            "gaps": self.gaps,
            "frames": self.frames,
            "closed": dict(self.closed),
            "cpu_s": time.process_time() - cpu0,
        }
        self.arrivals.clear()
        return out


def _qms_text(client: Any, data: bytes | str, now: float) -> None:
    """One qms text frame: track the version, answer pings, record events."""
    sink: Sink = client.sink
    sink.frames += 1
    msg = json.loads(data)
    kind = msg["type"]
    if kind == "event":
        version = msg["version"]
        if client.version is not None and version != client.version + 1:
            sink.gaps += 1
        client.version = version
        sink.arrive(version, now)
        event = msg.get("event")
        etype = event.get("type") if isinstance(event, dict) else None
        if etype and etype not in sink.samples:
            sink.samples[etype] = data if isinstance(data, str) else bytes(data).decode()
    elif kind == "snapshot":
        client.version = msg["version"]
        client.set_ready()
    elif kind == "welcome":
        if msg.get("resume") == "current":
            client.version = msg["version"]
            client.set_ready()
    elif kind == "ping":
        sink.arrive("ping", now)
        client.send_text(b'{"type":"pong"}')


_EVENT_PREFIX = b'{"type":"event","version":'


def _qms_text_fast(client: Any, data: bytes, now: float) -> None:
    """The same as `_qms_text` for an event frame, without parsing the JSON: qms
    writes `{"type":"event","version":V,` first (audience.event_message)."""
    sink: Sink = client.sink
    if len(sink.samples) >= 2 and data.startswith(_EVENT_PREFIX):
        end = data.find(b",", 26)
        version = int(data[26:end] if end > 0 else data[26:-1])
        sink.frames += 1
        if client.version is not None and version != client.version + 1:
            sink.gaps += 1
        client.version = version
        sink.arrivals[version].append(now)
    else:
        _qms_text(client, data, now)


def _sio_text_fast(client: Any, data: bytes, now: float) -> None:
    """The same as `_sio_text` for an event, without parsing the JSON: the benchmark
    puts `"seq":I` last in every payload."""
    sink: Sink = client.sink
    if data[:2] == b"42" and len(sink.samples) >= 2:
        at = data.rfind(b'"seq":')
        event = data[4 : data.index(b'"', 4)].decode()
        sink.frames += 1
        sink.arrivals[(event, int(data[at + 6 : data.index(b"}", at)]))].append(now)
    else:
        _sio_text(client, data, now)


def _sio_text(client: Any, data: bytes | str, now: float) -> None:
    """One engine.io text frame: open -> connect to "/", ping -> pong, events recorded."""
    sink: Sink = client.sink
    sink.frames += 1
    raw = bytes(data) if not isinstance(data, str) else data.encode()
    if raw[:2] == b"42":
        event, payload = json.loads(raw[2:])[:2]
        sink.arrive((event, payload.get("seq")), now)
        if event not in sink.samples:
            sink.samples[event] = raw.decode()
    elif raw[:1] == b"2":
        sink.arrive("ping", now)
        client.send_text(b"3")
    elif raw[:2] == b"40":
        client.set_ready()
    elif raw[:1] == b"0":
        client.send_text(b"40")
    elif raw[:2] in (b"41", b"44"):
        sink.closed[f"sio {raw[:2].decode()}"] += 1


class LeanClient(asyncio.Protocol):
    """websockets' sans-I/O ClientProtocol on a bare asyncio Protocol."""

    def __init__(self, url: str, system: str, sink: Sink, deflate: bool) -> None:
        from websockets.client import ClientProtocol
        from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
        from websockets.uri import parse_uri

        # A browser offers "permessage-deflate; client_max_window_bits": so does this.
        extensions = [ClientPerMessageDeflateFactory()] if deflate else None
        self.proto = ClientProtocol(parse_uri(url), extensions=extensions, max_size=None)
        self.on_text = _qms_text if system == "qms" else _sio_text
        self.on_text_fast = _qms_text_fast if system == "qms" else _sio_text_fast
        self.fast = False  # after the handshake, without compression: frames parsed here
        self.buf = b""
        self.close_seen = False
        self.system = system
        self.sink = sink
        self.version: int | None = None
        self.ready = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def set_ready(self) -> None:
        if not self.ready.done():
            self.ready.set_result(None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        request = self.proto.connect()
        for name, value in BROWSER_HEADERS:
            if name not in ("Upgrade", "Sec-WebSocket-Version"):
                request.headers[name] = value
        del request.headers["User-Agent"]
        request.headers["User-Agent"] = BROWSER_HEADERS[2][1]
        request.headers["Origin"] = f"http://{request.headers['Host']}"
        self.proto.send_request(request)
        self._flush()

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if self.fast:
            self._frames(data, now)
            return
        from websockets.frames import Opcode
        from websockets.http11 import Response

        proto = self.proto
        proto.receive_data(data)
        for ev in proto.events_received():
            if isinstance(ev, Response):
                if proto.handshake_exc is not None:
                    self._fail(f"handshake {ev.status_code}")
                    continue
                # Server frames are never masked; without compression they are
                # parsed here from now on: a fraction of the cost of the library's
                # parser, so the clients stay much cheaper than the server.
                self.fast = not proto.extensions
                if self.system == "qms":
                    hello = b'{"type":"hello","audience":"display","epoch":null,"version":null}'
                    self.send_text(hello)
            elif ev.opcode is Opcode.TEXT:
                self.on_text(self, ev.data, now)
            elif ev.opcode is Opcode.CLOSE and not self.sink.stopping:
                rcvd = proto.close_rcvd
                self.sink.closed[str(rcvd.code if rcvd else 1006)] += 1
        self._flush()

    def send_text(self, data: bytes) -> None:
        self.proto.send_text(data)
        self._flush()

    def _frames(self, data: bytes, now: float) -> None:
        """Unmasked server frames: text to the handler; ping, close answered."""
        frames, self.buf = server_frames(self.buf + data if self.buf else data)
        for opcode, payload in frames:
            if opcode == TEXT:
                self.on_text_fast(self, payload, now)
            elif opcode == PING:
                self.proto.send_pong(payload)
                self._flush()
            elif opcode == CLOSE:
                self.close_seen = True
                if not self.sink.stopping:
                    self.sink.closed[str(close_code(payload))] += 1
                if self.transport is not None:
                    self.transport.close()
            elif opcode != PONG:  # fragments, binary: this benchmark never gets them
                self.sink.closed[f"unexpected opcode {opcode}"] += 1

    def _flush(self) -> None:
        assert self.transport is not None
        for chunk in self.proto.data_to_send():
            if chunk:
                self.transport.write(chunk)
            elif not self.transport.is_closing():
                self.transport.close()

    def _fail(self, why: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(why))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self._fail(f"connection lost before ready: {exc!r}")
        elif not self.sink.stopping and self.proto.close_rcvd is None and not self.close_seen:
            self.sink.closed["1006 (no close frame)"] += 1

    async def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            with contextlib.suppress(Exception):
                self.proto.send_close(1000)
                self._flush()
            self.transport.close()


class LibraryQmsClient:
    """qms through `websockets.asyncio.client` (the library tests/stream_client.py uses)."""

    def __init__(self, url: str, sink: Sink, deflate: bool) -> None:
        self.url, self.sink, self.deflate = url, sink, deflate
        self.version: int | None = None
        self.ready = asyncio.get_running_loop().create_future()
        self.ws: Any = None
        self.task: asyncio.Task[None] | None = None
        self.pending: set[asyncio.Future[None]] = set()

    def set_ready(self) -> None:
        if not self.ready.done():
            self.ready.set_result(None)

    def send_text(self, data: bytes) -> None:
        assert self.ws is not None
        task = asyncio.ensure_future(self.ws.send(data.decode()))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def start(self) -> None:
        import websockets

        self.ws = await websockets.connect(
            self.url,
            compression="deflate" if self.deflate else None,
            ping_interval=None,
            max_queue=None,
            open_timeout=60,
        )
        await self.ws.send('{"type":"hello","audience":"display","epoch":null,"version":null}')
        self.task = asyncio.create_task(self._read())
        await self.ready

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for frame in self.ws:
                _qms_text(self, frame, time.monotonic())
        except ConnectionClosed:
            pass
        finally:
            if not self.sink.stopping:
                rcvd = self.ws.close_rcvd
                self.sink.closed[str(rcvd.code if rcvd else 1006)] += 1
            if not self.ready.done():
                self.ready.set_exception(ConnectionError("closed before ready"))

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
        if self.task is not None:
            self.task.cancel()


class LibrarySioClient:
    """socketio through `socketio.AsyncClient` (websocket transport)."""

    def __init__(self, url: str, sink: Sink, session: Any) -> None:
        import socketio

        self.url, self.sink = url, sink
        self.sio = socketio.AsyncClient(reconnection=False, http_session=session)
        self.sio.on("call", self._on("call"))
        self.sio.on("done", self._on("done"))
        self.sio.on("disconnect", self._gone)

    def _on(self, event: str) -> Any:
        sink = self.sink

        async def handler(data: dict[str, Any]) -> None:
            sink.frames += 1
            sink.arrive((event, data.get("seq")), time.monotonic())

        return handler

    async def _gone(self, *args: Any) -> None:
        if not self.sink.stopping:
            self.sink.closed["sio disconnect"] += 1

    async def start(self) -> None:
        await self.sio.connect(self.url, transports=["websocket"], wait_timeout=60)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.sio.disconnect(), 5)


async def _open_clients(spec: ClientSpec, sink: Sink) -> tuple[list[Any], collections.Counter[str]]:
    loop = asyncio.get_running_loop()
    if spec.system == "qms":
        url = f"ws://127.0.0.1:{spec.port}/api/v1/sites/{SITE}/stream?token={spec.token}"
    else:
        url = f"ws://127.0.0.1:{spec.port}/socket.io/?EIO=4&transport=websocket"
    errors: collections.Counter[str] = collections.Counter()
    clients: list[Any] = []
    gate = asyncio.Semaphore(spec.concurrency)
    session = None
    if spec.impl == "library" and spec.system == "socketio":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def one() -> None:
        async with gate:
            try:
                if spec.impl == "lean":
                    _, client = await loop.create_connection(
                        lambda: LeanClient(url, spec.system, sink, spec.deflate),
                        "127.0.0.1",
                        spec.port,
                    )
                    clients.append(client)
                    await asyncio.wait_for(client.ready, 60)
                elif spec.system == "qms":
                    client = LibraryQmsClient(url, sink, spec.deflate)
                    clients.append(client)
                    await asyncio.wait_for(client.start(), 60)
                else:
                    base = f"http://127.0.0.1:{spec.port}"
                    client = LibrarySioClient(base, sink, session)
                    clients.append(client)
                    await asyncio.wait_for(client.start(), 60)
            except Exception as exc:
                errors[type(exc).__name__ + ": " + str(exc)[:80]] += 1

    try:
        await asyncio.wait_for(
            asyncio.gather(*(one() for _ in range(spec.n))), spec.connect_timeout
        )
    except TimeoutError:
        errors["connect phase timed out"] += 1
    if session is not None:
        clients.append(_SessionCloser(session))
    return clients, errors


class _SessionCloser:
    def __init__(self, session: Any) -> None:
        self.session = session

    async def close(self) -> None:
        await self.session.close()


def worker_main(spec: ClientSpec, pipe: Pipe) -> None:
    """A client process: open spec.n clients, then obey the parent's commands."""
    try:
        if spec.impl == "raw" and not spec.deflate:
            raw_worker(spec, pipe)
        else:
            asyncio.run(_worker(spec, pipe))
    except Exception:
        with contextlib.suppress(Exception):
            pipe.send({"error": traceback.format_exc()})


# --- the raw client: one epoll loop, no asyncio, no websocket library ---------------------

CONNECTING, UPGRADING, HELLO, READY, CLOSED = range(5)

# What Chromium sends on a websocket handshake besides Host, Connection, Origin and
# the key (a TV's browser showing the display page): the server keeps the request's
# headers for the connection's lifetime, so their size counts in its memory.
BROWSER_HEADERS = [
    ("Pragma", "no-cache"),
    ("Cache-Control", "no-cache"),
    (
        "User-Agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
    ),
    ("Upgrade", "websocket"),
    ("Sec-WebSocket-Version", "13"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
    ("Accept-Language", "id-ID,id;q=0.9,en-US;q=0.8,en;q=0.7"),
]


TEXT, CLOSE, PING, PONG = 1, 8, 9, 10  # websocket opcodes (a fragment's first frame: TEXT | 0x80)


def server_frames(buf: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """The complete unmasked (server) frames at the start of `buf`, as (opcode,
    payload), and the bytes left over. A final text frame is TEXT; a text frame
    that is not final is TEXT | 0x80 (this benchmark never gets fragments)."""
    frames = []
    i, n = 0, len(buf)
    while n - i >= 2:
        b0, length, head = buf[i], buf[i + 1] & 0x7F, 2
        if length == 126:
            if n - i < 4:
                break
            length, head = int.from_bytes(buf[i + 2 : i + 4], "big"), 4
        elif length == 127:
            if n - i < 10:
                break
            length, head = int.from_bytes(buf[i + 2 : i + 10], "big"), 10
        if n - i < head + length:
            break
        opcode = b0 & 0x0F
        if opcode == TEXT and not b0 & 0x80:
            opcode |= 0x80
        frames.append((opcode, buf[i + head : i + head + length]))
        i += head + length
    return frames, buf[i:]


def close_code(payload: bytes) -> int:
    """The status code of a close frame's payload (1005: none given)."""
    return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005


def _client_frame(payload: bytes, opcode: int = 1) -> bytes:
    """A client frame: FIN, masked (with the all-zero key, so the payload is as is)."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    else:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    return head + b"\0\0\0\0" + payload


class RawConn:
    """One websocket over a non-blocking socket, driven by `raw_worker`'s epoll loop."""

    __slots__ = ("buf", "close_seen", "on_fast", "sink", "sock", "state", "version")

    def __init__(self, sock: Any, sink: Sink, system: str) -> None:
        self.sock = sock
        self.sink = sink
        self.state = CONNECTING
        self.buf = b""
        self.version: int | None = None
        self.close_seen = False
        self.on_fast = _qms_text_fast if system == "qms" else _sio_text_fast

    def set_ready(self) -> None:
        if self.state != READY:
            self.state = READY
            self.sink.ready_n += 1

    def send_text(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.send(_client_frame(data))

    def frames(self, data: bytes, now: float) -> None:
        frames, self.buf = server_frames(self.buf + data if self.buf else data)
        for opcode, payload in frames:
            if opcode == TEXT:
                self.on_fast(self, payload, now)
            elif opcode == PING:  # a protocol ping (uvicorn's keepalive): pong
                with contextlib.suppress(OSError):
                    self.sock.send(_client_frame(payload, PONG))
            elif opcode == CLOSE:
                self.close_seen = True
                if not self.sink.stopping:
                    self.sink.closed[str(close_code(payload))] += 1
                with contextlib.suppress(OSError):
                    self.sock.send(_client_frame(payload[:2], CLOSE))
            elif opcode != PONG:
                self.sink.closed[f"unexpected opcode {opcode}"] += 1


def raw_worker(spec: ClientSpec, pipe: Pipe) -> None:
    """spec.n websockets in one epoll loop. Every socket that epoll reports readable
    in one poll is stamped with the time the poll returned: the arrival time is not
    delayed by the processing of the other sockets of the same batch."""
    import gc
    import select
    import socket

    sink = Sink()
    ep = select.epoll()
    conns: dict[int, RawConn] = {}
    if spec.system == "qms":
        path = f"/api/v1/sites/{SITE}/stream?token={spec.token}"
    else:
        path = "/socket.io/?EIO=4&transport=websocket"
    host = f"127.0.0.1:{spec.port}"
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: Upgrade"]
    lines += [f"{k}: {v}" for k, v in BROWSER_HEADERS]
    lines += [f"Origin: http://{host}", "Sec-WebSocket-Key: cW1zYmVuY2gtc3RyZWFtLQ=="]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    hello = b'{"type":"hello","audience":"display","epoch":null,"version":null}'
    errors: collections.Counter[str] = collections.Counter()
    to_open, opening = spec.n, 0
    t0 = time.monotonic()
    connect_deadline = t0 + spec.connect_timeout
    reported = False
    pipe_fd = pipe.fileno()
    ep.register(pipe_fd, select.EPOLLIN)
    cpu0 = time.process_time()

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
                cmd = pipe.recv()
                if cmd == "mark":
                    cpu0 = sink.mark()
                    pipe.send({"marked": True})
                elif cmd == "collect":
                    pipe.send(sink.collect(cpu0))
                elif cmd == "stop":
                    running = False
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
                data = conn.sock.recv(262144)
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
                conn.state = HELLO
                if spec.system == "qms":
                    conn.send_text(hello)
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
            pipe.send(
                {
                    "ready": sink.ready_n,
                    "errors": dict(errors),
                    "connect_s": time.monotonic() - t0,
                    "closed": dict(sink.closed),
                }
            )
            reported = True
    sink.stopping = True
    for fd in list(conns):
        conn = conns[fd]
        with contextlib.suppress(OSError):
            conn.sock.send(_client_frame(b"\x03\xe8", 8))
        drop(fd, None)
    ep.close()
    pipe.send({"stopped": True})


async def _worker(spec: ClientSpec, pipe: Pipe) -> None:
    import gc

    loop = asyncio.get_running_loop()
    sink = Sink()
    t0 = time.monotonic()
    clients, errors = await _open_clients(spec, sink)
    gc.collect()
    gc.freeze()  # the clients are long-lived: keep the cyclic GC off them
    ok = spec.n - sum(errors.values())
    pipe.send(
        {
            "ready": ok,
            "errors": dict(errors),
            "connect_s": time.monotonic() - t0,
            "closed": dict(sink.closed),
        }
    )
    commands: asyncio.Queue[Any] = asyncio.Queue()
    loop.add_reader(pipe.fileno(), lambda: commands.put_nowait(pipe.recv()))
    cpu0 = time.process_time()
    try:
        while True:
            cmd = await commands.get()
            if cmd == "mark":  # the measured phase starts: forget the warm-up
                cpu0 = sink.mark()
                pipe.send({"marked": True})
            elif cmd == "collect":
                pipe.send(sink.collect(cpu0))
            elif cmd == "stop":
                break
    finally:
        loop.remove_reader(pipe.fileno())
        sink.stopping = True
        gate = asyncio.Semaphore(256)

        async def close(c: Any) -> None:
            async with gate:
                with contextlib.suppress(Exception):
                    await c.close()

        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*(close(c) for c in clients)), 30)
        pipe.send({"stopped": True})


class ClientFleet:
    """N clients spread over `procs` worker processes; always stopped on exit."""

    def __init__(self, spec: ClientSpec, procs: int) -> None:
        self.spec = spec
        self.procs = max(1, min(procs, spec.n))
        self.workers: list[tuple[mp.process.BaseProcess, Pipe]] = []

    def _each(self, what: Any, timeout: float) -> list[dict[str, Any]]:
        for _, pipe in self.workers:
            pipe.send(what)
        return [self._recv(pipe, timeout) for _, pipe in self.workers]

    @staticmethod
    def _recv(pipe: Pipe, timeout: float) -> dict[str, Any]:
        if not pipe.poll(timeout):
            raise TimeoutError(f"a client process did not answer in {timeout:.0f} s")
        reply = pipe.recv()
        if "error" in reply:
            raise RuntimeError("client process failed:\n" + reply["error"])
        return dict(reply)

    def start(self) -> dict[str, Any]:
        ctx = mp.get_context("spawn")
        share, extra = divmod(self.spec.n, self.procs)
        for i in range(self.procs):
            n = share + (1 if i < extra else 0)
            spec = ClientSpec(**{**self.spec.__dict__, "n": n})
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(spec, child), daemon=True)
            proc.start()
            child.close()
            self.workers.append((proc, parent))
        replies = [self._recv(p, self.spec.connect_timeout + 60) for _, p in self.workers]
        errors: collections.Counter[str] = collections.Counter()
        closed: collections.Counter[str] = collections.Counter()
        for r in replies:
            errors.update(r["errors"])
            closed.update(r["closed"])
        return {
            "ready": sum(r["ready"] for r in replies),
            "errors": dict(errors),
            "closed": dict(closed),
            "connect_s": max(r["connect_s"] for r in replies),
        }

    @property
    def pids(self) -> list[int]:
        return [p.pid for p, _ in self.workers if p.pid is not None]

    def mark(self) -> None:
        self._each("mark", 60)

    def collect(self) -> dict[str, Any]:
        replies = self._each("collect", 120)
        arrivals: dict[Any, list[float]] = collections.defaultdict(list)
        samples: dict[str, str] = {}
        closed: collections.Counter[str] = collections.Counter()
        for r in replies:
            for key, times in r["arrivals"].items():
                arrivals[key].extend(times)
            for k, v in r["samples"].items():
                samples.setdefault(k, v)
            closed.update(r["closed"])
        return {
            "arrivals": arrivals,
            "samples": samples,
            "gaps": sum(r["gaps"] for r in replies),
            "frames": sum(r["frames"] for r in replies),
            "closed": dict(closed),
            "client_cpu_s": [r["cpu_s"] for r in replies],
        }

    def stop(self) -> None:
        for _, pipe in self.workers:
            with contextlib.suppress(Exception):
                pipe.send("stop")
        for proc, pipe in self.workers:
            with contextlib.suppress(Exception):
                if pipe.poll(40):
                    pipe.recv()
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
            pipe.close()
        self.workers.clear()

    def __enter__(self) -> ClientFleet:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# =====================================================================================
# The servers and their "press"
# =====================================================================================


class KeepAlive:
    """One keep-alive HTTP/1.1 connection (as an officer's browser keeps one)."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Content-Type": "application/json", **headers}

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        self.conn.request("POST", path, body=json.dumps(body), headers=self.headers)
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, (json.loads(data) if data else None)

    def touch(self, path: str) -> None:
        """A fresh connection and one GET on it (uvicorn closes idle ones after 5 s)."""
        self.conn.close()
        self.conn.request("GET", path, headers=self.headers)
        self.conn.getresponse().read()

    def close(self) -> None:
        self.conn.close()


def code_hash() -> str:
    """A short hash of the qms sources as they are on disk when a server starts (the
    stream may be changed while benchmarks run: each result says which code it had)."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted((ROOT / "qms").rglob("*.py")):
        h.update(path.relative_to(ROOT).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:10]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (from /proc, no psutil needed)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class QmsTarget:
    """A real `qms serve` with the test hall: budi holds L1, a display token, a kiosk."""

    system = "qms"

    def __init__(
        self, workdir: Path, log_url: str | None, label: str, env: dict[str, str] | None = None
    ) -> None:
        self.workdir = workdir
        self.log_url = log_url
        self.label = label
        self.env = env or {}
        self._stack = contextlib.ExitStack()
        self.hall: Any = None
        self.officer: KeepAlive | None = None
        self.samples: dict[str, str] = {}

    @property
    def pid(self) -> int:
        return int(self.hall.server.process.pid)

    @property
    def port(self) -> int:
        return int(self.hall.server.port)

    def start(self, tickets: int) -> None:
        from live_hall import STREAM, live_hall

        self.hall = self._stack.enter_context(
            live_hall(self.workdir, **STREAM, log_url=self.log_url, env=self.env)
        )
        for _ in range(tickets):
            self.hall.issue("ktp")
        officer = self.hall.who["officer"]
        self.officer = KeepAlive(
            self.port, {"Cookie": f"qms_session={officer.cookie}", "Origin": officer.base_url}
        )

    def client_spec(self, n: int, args: argparse.Namespace) -> ClientSpec:
        return ClientSpec(
            "qms",
            self.port,
            n,
            token=self.hall.tokens["display"],
            deflate=args.deflate,
            impl=args.clients,
        )

    def before_press(self, i: int) -> Any:
        assert self.officer is not None
        status, body = self.officer.post(f"/api/v1/sites/{SITE}/counters/{COUNTER}/complete", {})
        if status not in (200, 409):
            raise RuntimeError(f"complete: {status} {body}")
        return body["events"][0]["version"] if status == 200 and body["events"] else None

    def press(self, i: int) -> Any:
        """call-next; the key the clients record its event under (its version)."""
        assert self.officer is not None
        status, body = self.officer.post(f"/api/v1/sites/{SITE}/counters/{COUNTER}/call-next", {})
        if status != 200:
            raise RuntimeError(f"call-next: {status} {body}")
        called = [e for e in body["events"] if e["type"] == "ticket_called"]
        return called[0]["version"]

    def touch(self) -> None:
        assert self.officer is not None
        self.officer.touch("/api/v1/session")

    def server_metrics(self) -> dict[str, Any]:
        with contextlib.suppress(Exception):
            reply = self.hall.who["admin"].ok("GET", "/readyz")
            return dict(reply.get("stream", {}))
        return {}

    def stop(self) -> None:
        if self.officer is not None:
            self.officer.close()
        self._stack.close()


class SioTarget:
    """bench/peer_socketio.py with AsyncRedisManager on a channel of its own."""

    system = "socketio"

    def __init__(
        self, workdir: Path, redis: str | None, label: str, payloads: dict[str, Any]
    ) -> None:
        self.workdir = workdir
        self.redis = redis
        self.label = label
        self.payloads = payloads
        self.server: Any = None
        self.conn: KeepAlive | None = None

    @property
    def pid(self) -> int:
        return int(self.server.pid)

    @property
    def port(self) -> int:
        return int(self.server.port)

    def start(self, tickets: int) -> None:
        from peer_socketio import PeerServer
        from redis_server import free_port

        self.workdir.mkdir(parents=True, exist_ok=True)
        channel = unique("sio")
        self.server = PeerServer(
            free_port(), self.redis, channel, self.workdir / "socketio.log"
        ).start()
        self.conn = KeepAlive(self.port, {})

    def client_spec(self, n: int, args: argparse.Namespace) -> ClientSpec:
        return ClientSpec("socketio", self.port, n, deflate=args.deflate, impl=args.clients)

    def _emit(self, event: str, i: int) -> None:
        assert self.conn is not None
        data = {**self.payloads[event], "seq": i}
        status, body = self.conn.post("/emit", {"event": event, "data": data})
        if status != 200:
            raise RuntimeError(f"emit: {status} {body}")

    def before_press(self, i: int) -> Any:
        self._emit("done", i)
        return ("done", i)

    def press(self, i: int) -> Any:
        self._emit("call", i)
        return ("call", i)

    def touch(self) -> None:
        assert self.conn is not None
        self.conn.touch("/healthz")

    def server_metrics(self) -> dict[str, Any]:
        return {}

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.server is not None:
            self.server.stop()


# A display's ticket_called / ticket_completed frames as qms sends them (used only when
# socketio runs without a qms run before it: normally the payloads come from that run).
FALLBACK = {
    "call": {
        "type": "event",
        "version": 1,
        "event": {
            "type": "ticket_called",
            "at": 1795000000.0,
            "ticket": "2026-11-27-00001",
            "counter": "L1",
            "number": "A001",
            "service": "ktp",
            "zone": "A",
        },
        "queues": [{"queue": "ktp", "waiting": 99}],
    },
    "done": {
        "type": "event",
        "version": 2,
        "event": {
            "type": "ticket_completed",
            "at": 1795000000.0,
            "ticket": "2026-11-27-00001",
            "counter": "L1",
            "number": "A001",
            "service": "ktp",
        },
    },
}


# =====================================================================================
# One measured run
# =====================================================================================


@dataclass
class RunResult:
    system: str
    n: int
    presses: int
    latencies_ms: list[float] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)  # first arrival of each press
    last_ms: list[float] = field(default_factory=list)  # last arrival of each press
    http_ms: list[float] = field(default_factory=list)  # the press's HTTP round trip
    press_t0: list[float] = field(default_factory=list)  # time.monotonic() of each press
    expected: int = 0
    missing: int = 0
    gaps: int = 0
    closed: dict[str, int] = field(default_factory=dict)
    connect_errors: dict[str, int] = field(default_factory=dict)
    ready: int = 0
    connect_s: float = 0.0
    server_cpu_ms: float = 0.0  # per press cycle (both messages)
    client_cpu_ms: float = 0.0  # per press cycle, all client processes together
    rss_mib: float = 0.0
    frame_bytes: int = 0
    gap_s: float = 0.0
    warm_drain_ms: float = float("nan")
    busy_before: float = float("nan")  # machine busy fraction just before the timed presses
    other_cpu_pct: float = float("nan")  # CPU not ours during the timed presses, % of one core
    metrics: dict[str, Any] = field(default_factory=dict)
    repeats: int = 1
    code: str = ""  # code_hash() of the qms sources at the server's start
    p50_range: str = ""  # over the repeats
    p99_range: str = ""
    gc_count: int = 0  # (--gc-log) full collections of the server during the timed presses
    gc_ms: list[float] = field(default_factory=list)
    gc_hit: int = 0  # presses whose delivery overlapped one
    pings: int = 0  # heartbeat pings received by clients during the timed phase
    ping_hit: int = 0  # presses during whose delivery pings were arriving too
    clean_latencies_ms: list[float] = field(default_factory=list)  # the other presses
    error: str = ""

    def pct(self, p: float) -> float:
        return percentile(sorted(self.latencies_ms), p)


GC_HOOK = """# Written by bench/stream_latency.py --gc-log / --gc-freeze (a what-if, not qms code):
# logs each full garbage collection; calls gc.freeze() every QMS_GC_FREEZE_S seconds.
import gc, os, threading, time
_every = float(os.environ.get("QMS_GC_FREEZE_S") or 0)
if _every > 0:
    def _freezer():
        while True:
            time.sleep(_every)
            gc.freeze()
    threading.Thread(target=_freezer, daemon=True, name="gc-freezer").start()
_path = os.environ.get("QMS_GC_LOG")
if _path:
    _start = [0.0]
    def _hook(phase, info):
        if info.get("generation") != 2:
            return
        if phase == "start":
            _start[0] = time.monotonic()
        else:
            with open(_path, "a") as f:
                f.write(f"{_start[0]:.4f} {time.monotonic() - _start[0]:.4f} {os.getpid()}\\n")
    gc.callbacks.append(_hook)
"""


def gc_overlaps(res: RunResult, path: Path) -> None:
    """Full collections of the server (from --gc-log) during the timed presses."""
    if not path.exists() or not res.press_t0:
        return
    gcs = []
    for line in path.read_text().splitlines():
        start, took, _ = line.split()
        gcs.append((float(start), float(took)))
    lo, hi = res.press_t0[0] - 1.0, res.press_t0[-1] + 2.0
    during = [(s, d) for s, d in gcs if lo <= s <= hi]
    res.gc_count = len(during)
    res.gc_ms = [1000 * d for _, d in during]
    for t0, last in zip(res.press_t0, res.last_ms, strict=False):
        end = t0 + last / 1000
        res.gc_hit += any(s < end and s + d > t0 for s, d in during)


def warm_gap(n: int) -> float:
    """The pause during the warm-up: generous (50 ms + 0.4 ms per client)."""
    return 0.05 + n * 0.0004


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    return sum(parts) - idle, sum(parts)


def wait_for_quiet(limit: float, busy_max: float = 0.15) -> float:
    """Wait (at most `limit` s) until the machine is idle (other work skews every number).

    Returns the busy fraction of the last second looked at."""
    t_end = time.monotonic() + limit
    while True:
        b0, t0 = machine_jiffies()
        time.sleep(1.0)
        b1, t1 = machine_jiffies()
        busy = (b1 - b0) / max(1, t1 - t0)
        if busy <= busy_max or time.monotonic() > t_end:
            return busy


def measure(target: Any, n: int, args: argparse.Namespace, deadline: float) -> RunResult:
    res = RunResult(target.label, n, args.n_presses)
    warm = args.warmup
    fleet: ClientFleet | None = None
    profiler: subprocess.Popen[bytes] | None = None
    try:
        log(f"{target.label} N={n}: starting the server")
        res.code = code_hash()
        target.start(args.n_presses + warm + 5)
        spec = target.client_spec(n, args)
        spec.connect_timeout = max(30.0, min(300.0, deadline - time.monotonic() - 60))
        fleet = ClientFleet(spec, args.client_procs)
        log(f"{target.label} N={n}: opening {n} clients in {fleet.procs} processes")
        ready = fleet.start()
        res.ready, res.connect_errors, res.connect_s = (
            ready["ready"],
            ready["errors"],
            ready["connect_s"],
        )
        log(
            f"{target.label} N={n}: {res.ready} ready in {res.connect_s:.1f} s {res.connect_errors}"
        )
        if res.ready == 0:
            raise RuntimeError("no client connected")
        time.sleep(1.0)  # let the connect burst settle (logs, GC)
        # Warm-up with a generous pause; then the pause is set from how long the
        # warm-up's messages took to reach every client, so the system drains
        # between messages (unless --gap-ms says otherwise).
        slow = warm_gap(n)
        fleet.mark()
        warm_keys = []
        for i in range(warm):
            warm_keys.append((target.before_press(-1 - i), time.monotonic()))
            time.sleep(slow)
            t0 = time.monotonic()
            warm_keys.append((target.press(-1 - i), t0))
            time.sleep(slow)
        time.sleep(slow)
        seen = fleet.collect()["arrivals"]
        drains = [max(seen[k]) - t for k, t in warm_keys[2:] if seen.get(k)]
        res.warm_drain_ms = 1000 * max(drains) if drains else float("nan")
        if args.gap_ms is not None:
            res.gap_s = args.gap_ms / 1000
        else:
            res.gap_s = max(0.02, min(2 * slow, 2 * max(drains, default=slow) + 0.01))
        log(
            f"{target.label} N={n}: warm-up drain {res.warm_drain_ms:.1f} ms -> pause "
            f"{1000 * res.gap_s:.0f} ms"
        )
        quiet = wait_for_quiet(args.quiet_wait) if args.quiet_wait > 0 else float("nan")
        res.busy_before = quiet
        target.touch()
        fleet.mark()
        if args.profile:
            profiler = start_profile(target, n, args)
        presses: list[tuple[Any, float, float]] = []
        srv0, me0, (busy0, all0) = cpu_s(target.pid), time.process_time(), machine_jiffies()
        for i in range(args.n_presses):
            if time.monotonic() > deadline:
                res.error = f"time limit: stopped after {i} presses"
                break
            target.before_press(i)
            time.sleep(res.gap_s)
            t0 = time.monotonic()
            key = target.press(i)
            t1 = time.monotonic()
            presses.append((key, t0, t1))
            time.sleep(res.gap_s)
        time.sleep(max(1.0, 2 * res.gap_s))  # drain
        srv1, me1, (busy1, all1) = cpu_s(target.pid), time.process_time(), machine_jiffies()
        res.rss_mib = rss_kib(target.pid) / 1024
        if profiler is not None:
            stop_profile(profiler)
            profiler = None
        got = fleet.collect()
        res.presses = len(presses)
        res.server_cpu_ms = 1000 * (srv1 - srv0) / max(1, len(presses))
        res.client_cpu_ms = 1000 * sum(got["client_cpu_s"]) / max(1, len(presses))
        # The machine's busy CPU over the timed phase, and the share not ours (other
        # work on the machine, plus redis-server when it is used).
        ticks = os.sysconf("SC_CLK_TCK")
        machine_busy_s = (busy1 - busy0) / ticks
        ours_s = (srv1 - srv0) + sum(got["client_cpu_s"]) + (me1 - me0)
        res.other_cpu_pct = (
            100
            * max(0.0, machine_busy_s - ours_s)
            / max(1e-9, (all1 - all0) / ticks / (os.cpu_count() or 1))
        )
        res.gaps, res.closed = got["gaps"], got["closed"]
        target.samples = got["samples"]
        arrivals = got["arrivals"]
        pings = sorted(arrivals.get("ping", []))
        res.pings = len(pings)
        for key, t0, t1 in presses:
            times = arrivals.get(key, [])
            res.expected += res.ready
            res.missing += max(0, res.ready - len(times))
            res.http_ms.append(1000 * (t1 - t0))
            res.press_t0.append(t0)
            if times:
                lat = [1000 * (t - t0) for t in times]
                res.latencies_ms.extend(lat)
                res.first_ms.append(min(lat))
                res.last_ms.append(max(lat))
                # Was a heartbeat burst on its way while this press was? (A burst
                # keeps the server busy after its last ping went out: the clients'
                # pongs come back, so the window opens a second before the press.)
                end = max(times)
                i = bisect.bisect_left(pings, t0 - 1.0)
                if i < len(pings) and pings[i] <= end:
                    res.ping_hit += 1
                else:
                    res.clean_latencies_ms.extend(lat)
        if target.system == "qms":
            sample = got["samples"].get("ticket_called", "")
        else:
            sample = got["samples"].get("call", "")
        res.frame_bytes = len(sample.encode())
        res.metrics = target.server_metrics()
        if args.gc_log and target.system == "qms":
            gc_overlaps(res, Path(args.gc_log))
    except Exception as exc:
        res.error = f"{type(exc).__name__}: {exc}"
        log(f"{target.label} N={n}: FAILED {res.error}\n{traceback.format_exc()}")
    finally:
        if profiler is not None:
            stop_profile(profiler)
        if fleet is not None:
            fleet.stop()
        target.stop()
    return res


# --- py-spy -------------------------------------------------------------------------


def start_profile(target: Any, n: int, args: argparse.Namespace) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        log("py-spy not found: no profile")
        return None
    out = Path(args.profile) / f"{target.label.replace(' ', '_')}-{n}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [spy, "record", "--pid", str(target.pid), "--format", "raw", "--rate", "250"]
    cmd += ["--output", str(out), "--nonblocking"]
    log("profiling: " + " ".join(cmd))
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profile(proc: subprocess.Popen[bytes]) -> None:
    import signal

    stop_child(proc, signal.SIGINT, 30)


# =====================================================================================
# Report
# =====================================================================================


def report(results: list[RunResult], args: argparse.Namespace) -> str:
    out = []
    headers = [
        "system", "N", "presses", "p50 ms", "p90 ms", "p99 ms", "max ms", "first p50 ms",
        "last p50 ms", "HTTP p50 ms", "delivered", "server CPU ms/cycle",
        "client CPU ms/cycle", "server RSS MiB",
    ]  # fmt: skip
    rows = []
    for r in results:
        first, last, httpm = sorted(r.first_ms), sorted(r.last_ms), sorted(r.http_ms)
        delivered = f"{r.expected - r.missing:,}/{r.expected:,}" if r.expected else "-"
        rows.append(
            [
                r.system, r.n, r.presses, r.pct(50), r.pct(90), r.pct(99),
                max(r.latencies_ms) if r.latencies_ms else float("nan"),
                percentile(first, 50), percentile(last, 50), percentile(httpm, 50),
                delivered, r.server_cpu_ms, r.client_cpu_ms, r.rss_mib,
            ]
        )  # fmt: skip
    out.append(md_table(headers, rows))
    out.append("")
    hb_rows = []
    for r in results:
        if not r.latencies_ms:
            continue
        clean = sorted(r.clean_latencies_ms)
        hb_rows.append(
            [
                r.system, r.n, f"{r.ping_hit}/{r.presses}", percentile(clean, 50),
                percentile(clean, 99), r.warm_drain_ms, 1000 * r.gap_s, r.other_cpu_pct,
                r.repeats, r.p50_range or "-", r.p99_range or "-",
            ]
        )  # fmt: skip
    if hb_rows:
        out.append(
            md_table(
                [
                    "system", "N", "presses met by a heartbeat burst",
                    "p50 ms without those", "p99 ms without those", "warm-up drain ms",
                    "pause ms", "other work on the machine, % of a core", "runs",
                    "p50 range ms", "p99 range ms",
                ],
                hb_rows,
            )
        )  # fmt: skip
        out.append("")
    # socketio / qms ratios at each N
    by = {(r.system, r.n): r for r in results}
    ratio_rows = []
    for r in results:
        if r.system.startswith("qms"):
            peer = by.get(("socketio", r.n))
            if peer is None or not peer.latencies_ms or not r.latencies_ms:
                continue
            ratio_rows.append([r.system, r.n, r.pct(50) / peer.pct(50), r.pct(99) / peer.pct(99)])
    if ratio_rows:
        out.append(md_table(["qms variant", "N", "p50 qms/socketio", "p99 qms/socketio"],
                            ratio_rows))  # fmt: skip
        out.append("")
    problems = []
    for r in results:
        notes = []
        if r.error:
            notes.append(f"error: {r.error}")
        if r.connect_errors:
            notes.append(f"connect errors: {r.connect_errors}")
        if r.ready and r.ready < r.n:
            notes.append(f"only {r.ready}/{r.n} clients connected")
        if r.missing:
            notes.append(f"{r.missing:,} of {r.expected:,} deliveries missing")
        if r.gc_count:
            notes.append(
                f"{r.gc_count} full (generation 2) garbage collections of the server during "
                f"the timed presses, {min(r.gc_ms):.0f}-{max(r.gc_ms):.0f} ms each; "
                f"{r.gc_hit} presses overlapped one"
            )
        if r.gaps:
            notes.append(f"{r.gaps} version gaps seen by clients")
        if r.closed:
            notes.append(f"clients closed by the server: {r.closed}")
        slow = r.metrics.get("slow_consumers")
        if slow:
            notes.append(f"server counted {slow} slow consumers")
        if r.last_ms and max(r.last_ms) > 1000 * r.gap_s:
            notes.append(
                f"the slowest press took {max(r.last_ms):.0f} ms to reach every client, "
                f"more than the {1000 * r.gap_s:.0f} ms pause: presses overlapped"
            )
        if notes:
            problems.append(f"- {r.system} N={r.n}: " + "; ".join(notes))
    out.append("Failures and warnings:\n")
    out.append("\n".join(problems) if problems else "- none: every client got every press, "
               "no gap, no disconnect")  # fmt: skip
    out.append("")
    codes = sorted({r.code for r in results if r.code})
    out.append(
        "qms sources (sha256 of qms/**/*.py, first 10 hex digits) when the servers started: "
        + ", ".join(codes)
        + ("" if len(codes) <= 1 else " (the code changed during the run)")
        + "\n"
    )
    sizes = {r.system: r.frame_bytes for r in results if r.frame_bytes}
    pauses = ", ".join(f"{r.system} N={r.n}: {1000 * r.gap_s:.0f} ms" for r in results)
    others = ", ".join(f"{r.system} N={r.n}: {r.other_cpu_pct:.0f}%" for r in results)
    out.append(
        "Frame of the timed message (bytes on the wire, before websocket framing): "
        + ", ".join(f"{k} {v}" for k, v in sizes.items())
        + f". Pause between messages: {pauses}. Clients: {args.clients}, "
        + f"{args.client_procs} processes, permessage-deflate "
        + ("offered" if args.deflate else "not offered")
        + ". CPU used by other work on the machine during the timed presses (% of one "
        + f"core): {others}."
    )
    return "\n".join(out)


def stop_on_sigterm() -> None:
    """SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so every `finally` runs."""
    import signal

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


def least_disturbed(runs: list[RunResult]) -> RunResult:
    """Of repeated runs, the one during which other work on the machine used the
    least CPU (the machine is shared: other load only ever slows a run down), with
    the range of p50 and p99 over all of them; a failed run always counts."""
    failed = [r for r in runs if r.error or r.missing or r.closed]
    pool = failed or runs

    def other(r: RunResult) -> float:
        return r.other_cpu_pct if r.other_cpu_pct == r.other_cpu_pct else 1e9

    best = min(pool, key=other)
    ok = [r for r in runs if r.latencies_ms]
    best.repeats = len(runs)
    if len(ok) > 1:
        best.p50_range = f"{min(r.pct(50) for r in ok):.1f}-{max(r.pct(50) for r in ok):.1f}"
        best.p99_range = f"{min(r.pct(99) for r in ok):.1f}-{max(r.pct(99) for r in ok):.1f}"
    return best


def main() -> int:
    stop_on_sigterm()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,1000,5000", help="numbers of clients N")
    ap.add_argument("--presses", default="100,100,50",
                    help="timed presses per run: one number, or one per size")  # fmt: skip
    ap.add_argument("--warmup", type=int, default=5, help="untimed presses first")
    ap.add_argument("--gap-ms", type=float, default=None,
                    help="pause after each message (default: twice the warm-up's slowest "
                    "drain + 10 ms)")  # fmt: skip
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=60,
        help="before timing, wait up to this long for the machine to be idle",
    )
    ap.add_argument("--systems", default="qms,socketio",
                    help="qms, socketio, socketio-local (no Redis manager)")  # fmt: skip
    ap.add_argument("--redis-log", action="store_true", help="also qms on the Redis log")
    ap.add_argument("--client-procs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of each system and N; the least disturbed is reported")  # fmt: skip
    ap.add_argument("--clients", choices=["raw", "lean", "library"], default="raw")
    ap.add_argument("--deflate", action="store_true", help="clients offer permessage-deflate")
    ap.add_argument("--time-limit", type=float, default=1800, help="for the whole run (s)")
    ap.add_argument("--profile", default=None, help="py-spy the server into this directory")
    ap.add_argument("--json", default=None, help="also write the raw results here")
    ap.add_argument("--tmp-dir", default=None,
                    help="where the servers' data go (e.g. /dev/shm: no fsync cost)")  # fmt: skip
    ap.add_argument("--gc-log", default=None,
                    help="log the qms servers' full GCs here; report presses they hit")  # fmt: skip
    ap.add_argument("--gc-freeze", type=float, default=0, metavar="S",
                    help="what-if: the qms servers call gc.freeze() every S seconds")  # fmt: skip
    ap.add_argument("--qms-env", action="append", default=[], metavar="NAME=VALUE",
                    help="environment of `qms serve` (QMS_STREAM_HEARTBEAT_S=3600)")  # fmt: skip
    args = ap.parse_args()
    qms_env = dict(kv.split("=", 1) for kv in args.qms_env)
    if args.gc_log or args.gc_freeze:  # a sitecustomize of our own in the qms servers
        gc_dir = tempfile.mkdtemp(prefix="qmsbench-gc-")
        atexit.register(shutil.rmtree, gc_dir, True)
        Path(gc_dir, "sitecustomize.py").write_text(GC_HOOK)
        qms_env["PYTHONPATH"] = gc_dir
        if args.gc_log:
            qms_env["QMS_GC_LOG"] = str(Path(args.gc_log).resolve())
            Path(args.gc_log).unlink(missing_ok=True)
        if args.gc_freeze:
            qms_env["QMS_GC_FREEZE_S"] = str(args.gc_freeze)
    args.sizes = [int(s) for s in args.sizes.split(",")]
    counts = [int(p) for p in str(args.presses).split(",")]
    presses_for = {n: counts[min(i, len(counts) - 1)] for i, n in enumerate(args.sizes)}
    systems = args.systems.split(",")
    deadline = time.monotonic() + args.time_limit
    results: list[RunResult] = []
    payloads = dict(FALLBACK)
    print(f"load average before: {load_average()}\n", file=sys.stderr)
    print("Machine: " + "; ".join(f"{k} {v}" for k, v in machine_info().items()) + "\n")
    print("Command: " + " ".join([".venv/bin/python", *sys.argv]) + "\n")
    with tempfile.TemporaryDirectory(prefix="qmsbench-stream-", dir=args.tmp_dir) as tmp:
        for n in args.sizes:
            plan: list[tuple[str, Any]] = []
            for system in systems:
                if system == "qms":
                    plan.append(("qms", None))
                    if args.redis_log:
                        plan.append(("qms-redis", None))
                elif system in ("socketio", "socketio-local"):
                    plan.append((system, None))
            for label, _ in plan:
                runs: list[RunResult] = []
                for rep in range(args.repeat):
                    if time.monotonic() > deadline:
                        log("time limit reached: stopping")
                        break
                    workdir = Path(tmp) / f"{label}-{n}-{rep}"
                    prefix = None
                    if label == "qms":
                        target: Any = QmsTarget(workdir, None, "qms", qms_env)
                    elif label == "qms-redis":
                        prefix = unique("stream")
                        url = redis_url(prefix, REDIS_BASE)
                        target = QmsTarget(workdir, url, "qms-redis", qms_env)
                    else:
                        redis = REDIS_BASE if label == "socketio" else None
                        target = SioTarget(workdir, redis, label, payloads)
                    try:
                        args.n_presses = presses_for[n]
                        res = measure(target, n, args, deadline)
                    finally:
                        if prefix is not None:
                            asyncio.run(delete_prefix(prefix, REDIS_BASE))
                    runs.append(res)
                    if label.startswith("qms") and "ticket_called" in target.samples:
                        payloads["call"] = json.loads(target.samples["ticket_called"])
                        if "ticket_completed" in target.samples:
                            payloads["done"] = json.loads(target.samples["ticket_completed"])
                    log(
                        f"{label} N={n}: p50 {res.pct(50):.2f} ms p99 {res.pct(99):.2f} ms "
                        f"missing {res.missing} closed {res.closed} {res.error} "
                        f"(other work {res.other_cpu_pct:.0f}% of a core)"
                    )
                if runs:
                    results.append(least_disturbed(runs))
    print(report(results, args))
    if args.json:
        Path(args.json).write_text(
            json.dumps([{k: v for k, v in r.__dict__.items()} for r in results], indent=1)
        )
    print(f"\nload average after: {load_average()}", file=sys.stderr)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
