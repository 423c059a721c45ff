"""What every display client of the stream benchmarks shares, whatever its kind.

A worker process opens `ClientSpec.n` clients of one kind (stream_raw_client.py:
one epoll loop, no library; stream_asyncio_clients.py: websockets' sans-I/O
protocol, or the libraries' own clients) and records into one `Sink`. The frame
handlers here read qms's and engine.io's text frames; `FrameReader` is the one
loop over server frames (ws_frames.server_frames) the hand-parsing clients share.
"""

from __future__ import annotations

import abc
import collections
import json
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from typing import Any

from ws_frames import CLOSE, PING, PONG, TEXT, close_code, server_frames

SITE = "s1"  # the site of tests/live_hall.set_up_hall
COUNTER = "L1"  # officer budi's counter (serves ktp, kk)
HELLO = b'{"type":"hello","audience":"display","epoch":null,"version":null}'


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

    def path(self) -> str:
        """The path of the websocket URL."""
        if self.system == "qms":
            return f"/api/v1/sites/{SITE}/stream?token={self.token}"
        return "/socket.io/?EIO=4&transport=websocket"


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
        self.cpu0 = time.process_time()  # the CPU time at the start of what is measured

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

    def ready_report(self, ready: int, errors: dict[str, int], t0: float) -> dict[str, Any]:
        """The worker's first reply: its clients are open (or failed)."""
        return {
            "ready": ready,
            "errors": errors,
            "connect_s": time.monotonic() - t0,
            "closed": dict(self.closed),
        }

    def obey(self, cmd: Any, pipe: Pipe) -> bool:
        """One command of the parent (stream_fleet.ClientFleet); False on "stop"."""
        if cmd == "mark":  # the measured phase starts: forget the warm-up
            self.cpu0 = self.mark()
            pipe.send({"marked": True})
        elif cmd == "collect":
            pipe.send(self.collect(self.cpu0))
        elif cmd == "stop":
            return False
        return True


def qms_text(client: Any, data: bytes | str, now: float) -> None:
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


def qms_text_fast(client: Any, data: bytes, now: float) -> None:
    """The same as `qms_text` for an event frame, without parsing the JSON: qms
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
        qms_text(client, data, now)


def sio_text_fast(client: Any, data: bytes, now: float) -> None:
    """The same as `sio_text` for an event, without parsing the JSON: the benchmark
    puts `"seq":I` last in every payload."""
    sink: Sink = client.sink
    if data[:2] == b"42" and len(sink.samples) >= 2:
        at = data.rfind(b'"seq":')
        event = data[4 : data.index(b'"', 4)].decode()
        sink.frames += 1
        sink.arrivals[(event, int(data[at + 6 : data.index(b"}", at)]))].append(now)
    else:
        sio_text(client, data, now)


def sio_text(client: Any, data: bytes | str, now: float) -> None:
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


class FrameReader(abc.ABC):
    """Server frames parsed by hand (ws_frames.server_frames): text to `on_text_fast`,
    a ping answered, a close recorded. The class mixing it in sets the four slots and
    gives the two answers."""

    __slots__ = ("buf", "close_seen", "on_text_fast", "sink")

    buf: bytes
    sink: Sink
    close_seen: bool
    on_text_fast: Any

    @abc.abstractmethod
    def send_pong(self, payload: bytes) -> None: ...

    @abc.abstractmethod
    def answer_close(self, payload: bytes) -> None: ...

    def frames(self, data: bytes, now: float) -> None:
        frames, self.buf = server_frames(self.buf + data if self.buf else data)
        for opcode, payload in frames:
            if opcode == TEXT:
                self.on_text_fast(self, payload, now)
            elif opcode == PING:  # a protocol ping (uvicorn's keepalive): pong
                self.send_pong(payload)
            elif opcode == CLOSE:
                self.close_seen = True
                if not self.sink.stopping:
                    self.sink.closed[str(close_code(payload))] += 1
                self.answer_close(payload)
            elif opcode != PONG:  # fragments, binary: this benchmark never gets them
                self.sink.closed[f"unexpected opcode {opcode}"] += 1
