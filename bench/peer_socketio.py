"""The peer of the live-server benchmarks: python-socketio, the usual Python choice.

`socketio.AsyncServer` with its `AsyncRedisManager` (on the same Redis as qms's
Redis log, its own pub/sub channel per run), wrapped in `socketio.ASGIApp` and
served by uvicorn with the settings `qms serve` uses (default HTTP and websocket
implementations, asyncio loop, log level info). Besides Socket.IO it answers:

    POST /emit   {"event": E, "data": {...}}   -> `await sio.emit(E, data)` to every
                                                  client of "/", then 200 {"ok": true}
    GET  /healthz                               -> 200 once the app has started

so the benchmark presses it the same way it presses qms: one HTTP request on a
keep-alive connection that makes the server broadcast one message.

    .venv/bin/python bench/peer_socketio.py --port 8765 --redis-url redis://127.0.0.1:6379/0 \
        --channel qmsbench-sio-…          # normally started by bench/stream_latency.py

`PeerServer` starts it as a child process and always reaps it.

What it does not give (and qms does, docs/protocol.md): no version on a message,
so a client cannot see a gap and cannot resume from where it was (a reconnecting
client just gets the messages sent after it is back); no per-connection bound on
queued bytes (engine.io's per-socket asyncio.Queue is unbounded: a stalled client
grows the server's memory instead of being disconnected); no snapshot of the
state on (re)connect.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE.parent / "tests") not in sys.path:
    sys.path.insert(0, str(HERE.parent / "tests"))

from live_server import ChildServer  # noqa: E402


def make_app(redis_url: str | None, channel: str) -> Any:
    """The ASGI app: Socket.IO on /socket.io/, plus /emit and /healthz."""
    import socketio

    manager = (
        socketio.AsyncRedisManager(redis_url, channel=channel) if redis_url else None
    )  # None: the in-process manager (single server, no Redis)
    sio = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        cors_allowed_origins="*",
        transports=["websocket"],
        logger=False,
        engineio_logger=False,
    )

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        return True

    async def other(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # (ASGIApp answers the lifespan itself)
            return
        path, method = scope["path"], scope["method"]
        status, body = 404, b'{"error":"not found"}'
        if path == "/healthz":
            status, body = 200, b'{"status":"ok"}'
        elif path == "/emit" and method == "POST":
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            request = json.loads(b"".join(chunks))
            await sio.emit(request["event"], request["data"])
            status, body = 200, b'{"ok":true}'
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return socketio.ASGIApp(sio, other_asgi_app=other)


class PeerServer(ChildServer):
    """`bench/peer_socketio.py` as a child process on `port` (tests/live_server.py's
    life cycle: ready on /healthz, its output in errors, stopped and reaped)."""

    name = "the socket.io peer"

    def __init__(
        self, port: int, redis_url: str | None, channel: str, log_path: Path, python: str = ""
    ) -> None:
        super().__init__(port, log_path)
        self.redis_url = redis_url
        self.channel = channel
        self.python = python or sys.executable

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def launch(self) -> tuple[list[str], dict[str, str]]:
        cmd = [self.python, str(HERE / "peer_socketio.py"), "--port", str(self.port)]
        cmd += ["--channel", self.channel]
        if self.redis_url:
            cmd += ["--redis-url", self.redis_url]
        return cmd, {**os.environ, "PYTHONUNBUFFERED": "1"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--redis-url", default=None, help="AsyncRedisManager URL (default: none)")
    ap.add_argument("--channel", default="socketio")
    args = ap.parse_args()
    if args.host != "127.0.0.1":
        raise SystemExit("the benchmark peer only listens on 127.0.0.1")
    import uvicorn

    uvicorn.run(
        make_app(args.redis_url, args.channel),
        host=args.host,
        port=args.port,
        log_level="info",  # as `qms serve` (access log included)
        timeout_graceful_shutdown=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
