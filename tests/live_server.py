"""A real `qms serve` process on a free port, for tests that talk HTTP and websockets to it.

    with LiveServer(tmp_path) as server:
        httpx.get(server.url + "/readyz")

Readiness is waited for on /readyz with a deadline; on failure the server's
output is part of the error. The process is always reaped. `ChildServer` is that
life cycle for any server process (the benchmarks' peers use it too). `serving_log`
is a server over a log the test fills first.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from redis_server import free_port


class ChildServer(ABC):
    """A server as a child process on 127.0.0.1:`port`: started, waited for on a health
    URL with a deadline (its output in the error), stopped and always reaped."""

    name = "server"
    health = "/healthz"

    def __init__(self, port: int, output_path: Path, ready_timeout: float = 20.0) -> None:
        self.port = port
        self.output_path = output_path
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self, cmd: list[str], env: dict[str, str]) -> None:
        out = self.output_path.open("ab")
        self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        out.close()
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited {self.process.returncode}:\n{self.output()}"
                )
            try:
                with urllib.request.urlopen(self.url + self.health, timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} not ready in {self.ready_timeout}s:\n{self.output()}")

    def output(self) -> str:
        try:
            return self.output_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    @abstractmethod
    def launch(self) -> tuple[list[str], dict[str, str]]:
        """The command line and environment of this server."""

    def start(self) -> Self:
        self.spawn(*self.launch())
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class LiveServer(ChildServer):
    name = "qms serve"
    health = "/readyz"

    def __init__(
        self,
        data_dir: Path,
        *,
        log_url: str | None = None,
        port: int | None = None,
        workers: int = 1,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        ready_timeout: float = 20.0,
        command: str = "serve",
    ) -> None:
        self.command = command  # "serve", or "demo" (which takes no --workers)
        self.data_dir = Path(data_dir)
        self.log_url = log_url
        self.workers = workers
        self.env = env or {}
        self.args = args
        port = port or free_port()
        super().__init__(port, self.data_dir.parent / f"server-{port}.log", ready_timeout)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def cli(self, *args: str, input: str | None = None) -> str:
        """Run `qms ARGS` against this server's data dir and log; its stdout."""
        cmd = [sys.executable, "-m", "qms", *args, "--data-dir", str(self.data_dir)]
        if self.log_url:
            cmd += ["--log-url", self.log_url]
        done = subprocess.run(
            cmd, input=input, capture_output=True, text=True, timeout=60, env=self._env()
        )
        if done.returncode != 0:
            raise RuntimeError(f"qms {' '.join(args)} failed: {done.stderr}{done.stdout}")
        return done.stdout

    def _env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}

    def launch(self) -> tuple[list[str], dict[str, str]]:
        cmd = [sys.executable, "-m", "qms", self.command, "--port", str(self.port)]
        cmd += ["--data-dir", str(self.data_dir), *self.args]
        if self.command == "serve":
            cmd += ["--workers", str(self.workers)]
        if self.log_url:
            cmd += ["--log-url", self.log_url]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return cmd, self._env()


def apart(make: Callable[[], Coroutine[Any, Any, Any]]) -> None:
    """Run the coroutine `make()` to its end on a thread of its own: the browser tests'
    thread may already run an event loop (Playwright's)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(make())).result()


@contextlib.contextmanager
def serving_log(
    root: Path,
    fill: Callable[[Path, str], Coroutine[Any, Any, Any]],
    log_url: str | None = None,
) -> Iterator[LiveServer]:
    """A live server over a log filled beforehand: `fill(data_dir, log_url)` runs to its
    end first (`apart`). The log is `log_url`, by default SQLite in `root/data`."""
    data_dir = root / "data"
    data_dir.mkdir()
    url = log_url or f"sqlite:///{data_dir / 'qms.db'}"
    apart(lambda: fill(data_dir, url))
    with LiveServer(data_dir, log_url=url) as server:
        yield server
