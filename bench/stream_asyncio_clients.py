"""The asyncio display clients: websockets' sans-I/O protocol, or the libraries' own.

`lean` (`LeanClient`) is websockets' sans-I/O ClientProtocol on a bare asyncio
Protocol: the handshake (and, with --deflate, every frame) through the library;
without compression the server frames are parsed by hand after the handshake
(stream_clients.FrameReader). `library` uses the libraries' own clients
(`websockets.asyncio.client` for qms, `socketio.AsyncClient` with the websocket
transport for socketio) and stamps when the library hands the message over.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import time
from multiprocessing.connection import Connection as Pipe
from typing import Any

from stream_clients import (
    HELLO,
    ClientSpec,
    FrameReader,
    Sink,
    qms_text,
    qms_text_fast,
    sio_text,
    sio_text_fast,
)
from ws_frames import BROWSER_HEADERS


class LeanClient(asyncio.Protocol, FrameReader):
    """websockets' sans-I/O ClientProtocol on a bare asyncio Protocol."""

    def __init__(self, url: str, system: str, sink: Sink, deflate: bool) -> None:
        from websockets.client import ClientProtocol
        from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
        from websockets.uri import parse_uri

        # A browser offers "permessage-deflate; client_max_window_bits": so does this.
        extensions = [ClientPerMessageDeflateFactory()] if deflate else None
        self.proto = ClientProtocol(parse_uri(url), extensions=extensions, max_size=None)
        self.on_text = qms_text if system == "qms" else sio_text
        self.on_text_fast = qms_text_fast if system == "qms" else sio_text_fast
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
            self.frames(data, now)
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
                    self.send_text(HELLO)
            elif ev.opcode is Opcode.TEXT:
                self.on_text(self, ev.data, now)
            elif ev.opcode is Opcode.CLOSE and not self.sink.stopping:
                rcvd = proto.close_rcvd
                self.sink.closed[str(rcvd.code if rcvd else 1006)] += 1
        self._flush()

    def send_text(self, data: bytes) -> None:
        self.proto.send_text(data)
        self._flush()

    def send_pong(self, payload: bytes) -> None:
        self.proto.send_pong(payload)
        self._flush()

    def answer_close(self, payload: bytes) -> None:
        if self.transport is not None:
            self.transport.close()

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
        await self.ws.send(HELLO.decode())
        self.task = asyncio.create_task(self._read())
        await self.ready

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for frame in self.ws:
                qms_text(self, frame, time.monotonic())
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


async def open_clients(spec: ClientSpec, sink: Sink) -> tuple[list[Any], collections.Counter[str]]:
    loop = asyncio.get_running_loop()
    url = f"ws://127.0.0.1:{spec.port}{spec.path()}"
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


async def asyncio_worker(spec: ClientSpec, pipe: Pipe) -> None:
    """spec.n asyncio clients (lean or library) in this process, until "stop"."""
    loop = asyncio.get_running_loop()
    sink = Sink()
    t0 = time.monotonic()
    clients, errors = await open_clients(spec, sink)
    gc.collect()
    gc.freeze()  # the clients are long-lived: keep the cyclic GC off them
    pipe.send(sink.ready_report(spec.n - sum(errors.values()), dict(errors), t0))
    commands: asyncio.Queue[Any] = asyncio.Queue()
    loop.add_reader(pipe.fileno(), lambda: commands.put_nowait(pipe.recv()))
    sink.cpu0 = time.process_time()
    try:
        while sink.obey(await commands.get(), pipe):
            pass
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
