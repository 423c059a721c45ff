"""A websocket client of the live stream for tests: it keeps (epoch, version) across
reconnects, checks every message for a gap or a repeat, and keeps every raw frame.

    client = StreamClient(server.ws_url, "s1", token=display_token)
    welcome = await client.connect()            # hello with what it has seen so far
    await client.read_until(version=42)          # fails on a gap, a repeat or a timeout
    code = await client.read_until_closed()      # the server's close code

Every wait is bounded by a timeout; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import msgpack  # type: ignore[import-untyped]
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

MSGPACK = "qms.msgpack.v1"
JSON = "qms.json.v1"


class Gap(AssertionError):
    pass


class StreamClient:
    def __init__(
        self,
        base_ws_url: str,
        site: str,
        audience: str = "display",
        *,
        token: str | None = None,
        cookie: str | None = None,
        origin: str | None = None,
        subprotocol: str | None = None,
        counter: str | None = None,
        zone: str | None = None,
    ) -> None:
        self.base_ws_url = base_ws_url
        self.site = site
        self.audience = audience
        self.token = token
        self.cookie = cookie
        self.origin = origin
        self.subprotocol = subprotocol
        self.counter = counter
        self.zone = zone
        self.ws: ClientConnection | None = None
        self.epoch: str | None = None
        self.version: int | None = None
        self.events: list[tuple[int, dict[str, Any] | None]] = []  # (version, event or None)
        self.frames: list[str | bytes] = []  # every raw frame received, in order
        self.event_frames: list[str | bytes] = []  # the raw frames of event messages
        self.welcomes: list[dict[str, Any]] = []
        self.snapshots: list[dict[str, Any]] = []
        self.pings: list[int] = []
        self.answer_pings = True

    @property
    def url(self) -> str:
        url = f"{self.base_ws_url}/api/v1/sites/{self.site}/stream"
        return url + (f"?token={self.token}" if self.token else "")

    async def open(self, *, sock: socket.socket | None = None, max_queue: int = 16) -> None:
        """Open the socket only (no hello)."""
        if self.ws is not None:  # the previous connection, e.g. to a server that died
            await asyncio.wait_for(self.ws.wait_closed(), 10)
        headers = {"Cookie": f"qms_session={self.cookie}"} if self.cookie else {}
        kw: dict[str, Any] = {}
        if sock is not None:
            kw["sock"] = sock
        self.ws = await asyncio.wait_for(
            websockets.connect(
                self.url,
                additional_headers=headers,
                origin=self.origin,  # type: ignore[arg-type]
                subprotocols=[self.subprotocol] if self.subprotocol else None,  # type: ignore[list-item]
                max_queue=max_queue,
                open_timeout=10,
                ping_interval=None,
                **kw,
            ),
            15,
        )

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        if self.subprotocol == MSGPACK:
            await self.ws.send(msgpack.packb(message))
        else:
            await self.ws.send(json.dumps(message))

    async def connect(
        self, *, sock: socket.socket | None = None, max_queue: int = 16, **hello: Any
    ) -> dict[str, Any]:
        """Open and say hello with the (epoch, version) seen so far; the welcome."""
        await self.open(sock=sock, max_queue=max_queue)
        message: dict[str, Any] = {"type": "hello", "audience": self.audience}
        message.update(epoch=self.epoch, version=self.version)
        if self.counter:
            message["counter"] = self.counter
        if self.zone:
            message["zone"] = self.zone
        message.update(hello)
        await self.send(message)
        welcome = await self.recv()
        assert welcome["type"] == "welcome", welcome
        return welcome

    def decode(self, frame: str | bytes) -> dict[str, Any]:
        if self.subprotocol == MSGPACK:
            assert isinstance(frame, bytes), f"expected a binary frame, got {frame!r}"
            data = msgpack.unpackb(frame)
        else:
            assert isinstance(frame, str), f"expected a text frame, got {frame!r}"
            data = json.loads(frame)
        assert isinstance(data, dict)
        return data

    async def recv(self, within: float = 10.0) -> dict[str, Any]:
        """The next message; checks it against what was seen (gap, repeat, epoch).

        Server pings are answered with a pong (unless `answer_pings` is off)."""
        assert self.ws is not None
        frame = await asyncio.wait_for(self.ws.recv(), within)
        self.frames.append(frame)
        message = self.decode(frame)
        kind = message["type"]
        if kind == "welcome":
            self.welcomes.append(message)
            if message["resume"] == "snapshot":
                self.epoch = message["epoch"]
            else:
                assert message["epoch"] == self.epoch, message
        elif kind == "snapshot":
            self.snapshots.append(message)
            self.epoch, self.version = message["epoch"], message["version"]
        elif kind == "event":
            version = message["version"]
            expected = (self.version or 0) + 1
            if version != expected:
                raise Gap(f"expected version {expected}, got {version}")
            self.version = version
            self.events.append((version, message.get("event")))
            self.event_frames.append(frame)
        elif kind in ("ping", "pong"):
            if kind == "ping":
                self.pings.append(message["version"])
                if self.answer_pings:
                    await self.send({"type": "pong"})
            if message["version"] != self.version:
                raise Gap(f"{kind} at version {message['version']}, client at {self.version}")
        return message

    async def read_until(self, version: int, within: float = 10.0) -> None:
        """Read until the client has seen `version`."""
        async with asyncio.timeout(within):
            while (self.version or 0) < version:
                await self.recv(within)

    async def read_until_closed(self, within: float = 10.0) -> int | None:
        """Read (checking every message) until the server closes; its close code."""
        assert self.ws is not None
        try:
            async with asyncio.timeout(within):
                while True:
                    await self.recv(within)
        except ConnectionClosed as closed:
            # Let the TCP connection end too, or the test's loop may close over it.
            await asyncio.wait_for(self.ws.wait_closed(), within)
            return closed.rcvd.code if closed.rcvd is not None else None

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            await asyncio.wait_for(self.ws.wait_closed(), 10)

    async def abort(self) -> None:
        """Close whatever state the connection is in, without failing."""
        if self.ws is None:
            return
        try:
            await asyncio.wait_for(self.close(), 2)
        except Exception:
            self.ws.transport.abort()

    def event_versions(self) -> list[int]:
        return [v for v, _ in self.events]

    def typed(self, kind: str) -> list[dict[str, Any]]:
        return [e for _, e in self.events if e is not None and e["type"] == kind]


class StalledClient:
    """A display that stops reading: websockets' sans-I/O protocol over a blocking
    socket with a tiny receive buffer, read only when `drain` is called. (An asyncio
    client would keep reading up to 256 KiB into its own buffers.)"""

    def __init__(
        self,
        base_ws_url: str,
        site: str,
        token: str,
        rcvbuf: int | None = 4096,
        maxseg: int | None = 536,
    ) -> None:
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        self.url = f"{base_ws_url}/api/v1/sites/{site}/stream?token={token}"
        self.protocol = ClientProtocol(parse_uri(self.url), max_size=None)
        self.sock = socket.socket()
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        # A small segment size keeps the server's send buffer small too: Linux sizes
        # it from the congestion window in segments, and loopback segments are 64 KiB.
        # (None: a plain socket, as a TV's, whose server side the kernel lets grow.)
        if maxseg is not None:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, maxseg)
        self.sock.settimeout(10)
        self.version: int | None = None
        self.epoch: str | None = None
        self.messages: list[dict[str, Any]] = []

    def _flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.sock.sendall(chunk)

    def _pump(self) -> bool:
        """Read one chunk into the protocol; False at the end of the stream."""
        data = self.sock.recv(65536)
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        self._flush()
        return bool(data)

    def _take(self) -> None:
        from websockets.frames import Frame, Opcode

        for event in self.protocol.events_received():
            if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                message = json.loads(bytes(event.data))
                self.messages.append(message)
                if message["type"] == "welcome":
                    self.epoch = message["epoch"]
                elif message["type"] == "snapshot":
                    self.version = message["version"]
                elif message["type"] == "event":
                    expected = (self.version or 0) + 1
                    if message["version"] != expected:
                        raise Gap(f"expected version {expected}, got {message['version']}")
                    self.version = message["version"]

    def connect(self) -> None:
        """Handshake, hello, and the welcome with its snapshot; then reads nothing more."""
        host, port = self.url.split("//", 1)[1].split("/", 1)[0].split(":")
        self.sock.connect((host, int(port)))
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        hello = {"type": "hello", "audience": "display", "epoch": None, "version": None}
        while self.version is None:
            self._pump()
            if self.protocol.handshake_exc is not None:
                raise self.protocol.handshake_exc
            self._take()
            if self.protocol.state.name == "OPEN" and not self.messages and hello:
                self.protocol.send_text(json.dumps(hello).encode())
                self._flush()
                hello = {}

    def drain(self) -> int | None:
        """Read everything until the server closes; its close code (checks every message)."""
        while self._pump():
            self._take()
            if self.protocol.close_rcvd is not None:
                break
        self._take()
        rcvd = self.protocol.close_rcvd
        self.sock.close()
        return rcvd.code if rcvd is not None else None
