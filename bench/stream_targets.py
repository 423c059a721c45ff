"""The servers the stream benchmarks measure, and their "press".

`QmsTarget`: a real `qms serve` (tests/live_hall.py `live_hall`) with the test
hall, officer budi holding counter L1 on one keep-alive HTTP connection; a press
is `complete` then `call-next`. `SioTarget`: bench/peer_socketio.py (python-
socketio with AsyncRedisManager, or none) pressed with POST /emit, carrying qms's
own display frames (`FALLBACK` until a qms run gave them).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for p in (HERE, HERE.parent / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from _common import unique  # noqa: E402
from stream_clients import COUNTER, SITE, ClientSpec  # noqa: E402


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
