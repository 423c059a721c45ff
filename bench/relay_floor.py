"""The floor under "one writer per site" with several processes: the same messages
through the same Redis, with nothing of qms in between.

Why: with four processes on one site qms measures a p99 of 10-20 ms where the
issue asks for 5 ms (docs/performance.md, section 1). This script asks whether
any Python implementation of that design could do better on this machine. Each
process is a bare asyncio loop with hand-written RESP connections (hiredis
parses; no redis-py, no engine, no core): the least a process can do and still
take part in the design.

- Process 0 is the site's writer. Its own counters' commands, and the requests
  the others PUBLISH to its channel, are appended in group commits: one Lua call
  that XADDs the events (1 for a call, 2 for a complete, ~150 bytes each, as
  qms writes them) and PUBLISHes them on the site's channel (push delivery).
- Every other process follows the site on that channel (one wake per append,
  each event msgpack-decoded) and sends its counters' commands to the writer; a
  command is answered when its events come back on the channel.
- Counters press call then complete at an offered rate (pairs/s in all), as
  `engine_throughput.py --rate` does, or flat out (--rate 0).

    .venv/bin/python bench/relay_floor.py --procs 1,2,4 --rate 250,500,1000

Talks to 127.0.0.1 only, stops after --duration seconds, deletes its keys.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import resource
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import hiredis
import msgpack  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, md_table, percentile, print_machine, unique

from qms.eventlog.resp import pack  # the RESP encoding qms writes (nothing else of qms)

HOST, PORT = "127.0.0.1", 6379
COUNTERS_PER_SITE = 8

# KEYS: stream, push channel. ARGV: first version, events...
_APPEND = """
local v = tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], string.format('%d-0', v + i - 2), 'd', ARGV[i])
end
local push = {v}
for i = 2, #ARGV do push[i] = ARGV[i] end
redis.call('PUBLISH', KEYS[2], cmsgpack.pack(push))
return v + #ARGV - 2
"""


class Resp(asyncio.Protocol):
    """One RESP connection: replies matched in order, or pushed messages to `on_push`."""

    def __init__(self, on_push: Any = None) -> None:
        self.reader = hiredis.Reader()
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.on_push = on_push
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            if self.on_push is not None and isinstance(reply, list) and reply[0] == b"message":
                self.on_push(reply[1], reply[2])
            elif self.waiting:
                self.waiting.popleft().set_result(reply)

    def send(self, *args: bytes | str | int) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        assert self.transport is not None
        self.transport.write(pack(*args))
        return future


async def _connect(on_push: Any = None) -> Resp:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(lambda: Resp(on_push), HOST, PORT)
    return proto


class Node:
    def __init__(self, index: int, procs: int, prefix: str) -> None:
        self.index = index
        self.is_writer = index == 0
        self.stream = f"{prefix}:{{site}}:log"
        self.push = f"{prefix}:{{site}}:push"
        self.requests = f"{prefix}:{{site}}:req"
        self.version = 0
        self.pending: dict[bytes, asyncio.Future[None]] = {}
        self.batch: list[tuple[bytes, int, asyncio.Future[None] | None]] = []
        self.sha = b""

    async def start(self) -> None:
        self.cmd = await _connect()
        self.sub = await _connect(self._pushed)
        self.sha = await self.cmd.send("SCRIPT", "LOAD", _APPEND)
        channel = self.requests if self.is_writer else self.push
        self.sub.waiting.append(asyncio.get_running_loop().create_future())
        assert self.sub.transport is not None
        self.sub.transport.write(pack("SUBSCRIBE", channel))
        await self.sub.waiting[-1]

    def _pushed(self, channel: bytes, data: bytes) -> None:
        if self.is_writer:  # a request: [command id, events]
            cid, n = msgpack.unpackb(data)
            self._queue(cid, n, None)
            return
        first, *events = msgpack.unpackb(data, raw=True)
        self.version = first + len(events) - 1
        for blob in events:  # what a follower must do with each event at least
            future = self.pending.pop(msgpack.unpackb(blob)["cid"], None)
            if future is not None and not future.done():
                future.set_result(None)

    @staticmethod
    def _event(cid: bytes) -> bytes:
        return bytes(msgpack.packb({"type": "ticket_called", "ticket": "x" * 100, "cid": cid}))

    def _queue(self, cid: bytes, n: int, future: asyncio.Future[None] | None) -> None:
        if not self.batch:
            asyncio.get_running_loop().call_soon(self._commit)
        self.batch.append((cid, n, future))

    def _commit(self) -> None:
        batch, self.batch = self.batch, []
        events: list[bytes] = []
        for cid, n, _ in batch:
            events.extend(self._event(cid) for _ in range(n))
        first = self.version + 1
        self.version += len(events)
        reply = self.cmd.send("EVALSHA", self.sha, 2, self.stream, self.push, first, *events)

        def done(r: asyncio.Future[Any]) -> None:
            if isinstance(r.result(), Exception):
                print("APPEND FAILED", r.result(), file=sys.stderr)
            for _, _, future in batch:
                if future is not None and not future.done():
                    future.set_result(None)

        reply.add_done_callback(done)

    async def command(self, cid: bytes, n: int) -> None:
        future = asyncio.get_running_loop().create_future()
        if self.is_writer:
            self._queue(cid, n, future)
        else:
            self.pending[cid] = future
            self.cmd.send("PUBLISH", self.requests, msgpack.packb([cid, n]))
        await future


async def _worker(
    index: int, procs: int, prefix: str, rate: float, duration: float, ready: Any
) -> Any:
    node = Node(index, procs, prefix)
    await node.start()
    await asyncio.to_thread(ready.wait, 30)  # every process listens before anyone sends
    counters = [c for c in range(COUNTERS_PER_SITE) if c % procs == index]
    latencies: list[float] = []
    cpu0 = _cpu()
    t_end = time.perf_counter() + duration
    pairs = 0

    async def counter(c: int) -> None:
        nonlocal pairs
        per = rate / COUNTERS_PER_SITE
        due = time.perf_counter() + (random.uniform(0, 1 / per) if per else 0.0)
        k = 0
        while time.perf_counter() < t_end:
            if per:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                due += 1 / per
            for n in (1, 2):  # call (1 event), complete (2 events)
                k += 1
                t0 = time.perf_counter()
                await node.command(b"|%d-%d-%d|" % (index, c, k), n)
                latencies.append(time.perf_counter() - t0)
            pairs += 1

    await asyncio.gather(*(counter(c) for c in counters))
    cpu = _cpu() - cpu0
    await asyncio.to_thread(ready.wait, 30)  # the writer serves until every sender is done
    return latencies, pairs, cpu


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _run_worker(
    index: int, procs: int, prefix: str, rate: float, duration: float, q: Any, ready: Any
) -> None:
    q.put(asyncio.run(_worker(index, procs, prefix, rate, duration, ready)))


async def _redis_cpu() -> float:
    conn = await _connect()
    info = (await conn.send("INFO", "cpu")).decode()
    assert conn.transport is not None
    conn.transport.close()
    fields = dict(line.split(":") for line in info.splitlines() if ":" in line)
    return float(fields["used_cpu_sys"]) + float(fields["used_cpu_user"])


async def _delete(prefix: str) -> None:
    conn = await _connect()
    await conn.send("DEL", f"{prefix}:{{site}}:log")
    assert conn.transport is not None
    conn.transport.close()


def measure(procs: int, rate: float, duration: float) -> dict[str, Any]:
    prefix = unique("floor")
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    ready = ctx.Barrier(procs)
    workers = [
        ctx.Process(target=_run_worker, args=(i, procs, prefix, rate, duration, q, ready))
        for i in range(procs)
    ]
    redis0 = asyncio.run(_redis_cpu())
    try:
        for w in workers:
            w.start()
        results = [q.get(timeout=duration + 60) for _ in workers]
    finally:
        for w in workers:
            w.join(timeout=10)
            if w.is_alive():
                w.terminate()
        asyncio.run(_delete(prefix))
    redis_cpu = asyncio.run(_redis_cpu()) - redis0
    lat = sorted(x * 1000 for r in results for x in r[0])
    pairs = sum(r[1] for r in results)
    return {
        "procs": procs,
        "rate": rate or "flat out",
        "pairs_s": pairs / duration,
        "cpu_pair": sum(r[2] for r in results) / pairs * 1000,
        "redis_pair": redis_cpu / pairs * 1000,
        "p50": percentile(lat, 50),
        "p99": percentile(lat, 99),
        "max": lat[-1],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--procs", default="1,2,4")
    ap.add_argument("--rate", default="250,500,1000", help="offered pairs/s; 0 = flat out")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    print_machine()
    print("\n## The floor of one writer per site (bare asyncio + hiredis)\n")
    print(f"load average {load_average()}\n")
    rows = []
    for procs in (int(p) for p in args.procs.split(",")):
        for rate in (float(r) for r in args.rate.split(",")):
            for _ in range(args.repeat):
                r = measure(procs, rate, args.duration)
                got = f"{r['pairs_s']:.0f} pairs/s, p99 {r['p99']:.2f} ms"
                print(f"procs={procs} rate={rate:g}: {got}", flush=True)
                rows.append(r)
    print()
    print(
        md_table(
            [
                "processes",
                "offered pairs/s",
                "got pairs/s",
                "client CPU ms/pair",
                "redis CPU ms/pair",
                "p50 ms",
                "p99 ms",
                "max ms",
            ],
            [
                [
                    r["procs"],
                    r["rate"],
                    r["pairs_s"],
                    r["cpu_pair"],
                    r["redis_pair"],
                    r["p50"],
                    r["p99"],
                    r["max"],
                ]
                for r in rows
            ],
        )
    )
    print(f"\nload average after: {load_average()}")


if __name__ == "__main__":
    main()
