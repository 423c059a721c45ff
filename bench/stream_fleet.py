"""The fleet of display clients: N clients spread over worker processes.

Each worker (spawned, `worker_main`) opens its share of the clients (the raw
epoll client by default, stream_raw_client.py; the asyncio ones otherwise,
stream_asyncio_clients.py) and obeys the parent's commands over a pipe: "mark"
(the measured phase starts), "collect" (what was recorded), "stop".
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import multiprocessing as mp
import traceback
from multiprocessing.connection import Connection as Pipe
from typing import Any

from stream_clients import ClientSpec


def worker_main(spec: ClientSpec, pipe: Pipe) -> None:
    """A client process: open spec.n clients, then obey the parent's commands."""
    try:
        if spec.impl == "raw" and not spec.deflate:
            from stream_raw_client import raw_worker

            raw_worker(spec, pipe)
        else:
            from stream_asyncio_clients import asyncio_worker

            asyncio.run(asyncio_worker(spec, pipe))
    except Exception:
        with contextlib.suppress(Exception):
            pipe.send({"error": traceback.format_exc()})


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
