"""A/B: qms's lean Redis link (`qms/eventlog/resp.py`) against redis-py's asyncio client.

Everything else equal: one process, one connection to the same local Redis, the
same commands. Three workloads, each timed by the process's own CPU (what a busy
2-core hall pays) and by the wall clock:

- `call`:    one command at a time, awaited (EVALSHA of a tiny script: the shape of
             an append);
- `pipeline`: 64 commands written at once, then awaited (the relay's PUBLISHes);
- `pubsub`:  N messages PUBLISHed by a second connection, received through a
             subscription (every following process's wake per event).

    .venv/bin/python bench/resp_ab.py [--n 20000] [--repeat 3]

Talks to 127.0.0.1:6379 only, uses its own key and channel names, deletes them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import redis.asyncio as aioredis
from _common import REDIS_URL, unique

from qms.eventlog.resp import RespConnection

SCRIPT = "return redis.call('INCR', KEYS[1])"
PIPELINE = 64

Workload = Callable[[int], Awaitable[None]]


async def _timed(work: Workload, n: int) -> tuple[float, float]:
    """(CPU µs per op, wall µs per op) of `work(n)`."""
    cpu, wall = time.process_time(), time.perf_counter()
    await work(n)
    return (
        (time.process_time() - cpu) / n * 1e6,
        (time.perf_counter() - wall) / n * 1e6,
    )


async def lean(key: str, channel: str) -> dict[str, Workload]:
    conn = await RespConnection.open(REDIS_URL)
    sha = await conn.call("SCRIPT", "LOAD", SCRIPT)

    async def call(n: int) -> None:
        for _ in range(n):
            await conn.call("EVALSHA", sha, 1, key)

    async def pipeline(n: int) -> None:
        for _ in range(n // PIPELINE):
            await asyncio.gather(*[conn.call("PUBLISH", channel, b"x") for _ in range(PIPELINE)])

    async def pubsub(n: int) -> None:
        done = asyncio.Event()
        seen = 0

        def on_message(_: bytes, __: bytes) -> None:
            nonlocal seen
            seen += 1
            if seen == n:
                done.set()

        sub = await RespConnection.open(REDIS_URL, on_message)
        await sub.call("SUBSCRIBE", channel)
        await _publish(channel, n)
        await done.wait()
        await sub.aclose()

    return {"call": call, "pipeline": pipeline, "pubsub": pubsub}


async def redis_py(key: str, channel: str) -> dict[str, Workload]:
    r = aioredis.Redis.from_url(REDIS_URL)
    script = r.register_script(SCRIPT)

    async def call(n: int) -> None:
        for _ in range(n):
            await script(keys=[key])

    async def pipeline(n: int) -> None:
        for _ in range(n // PIPELINE):
            async with r.pipeline(transaction=False) as pipe:
                for _ in range(PIPELINE):
                    pipe.publish(channel, b"x")
                await pipe.execute()

    async def pubsub(n: int) -> None:
        ps = r.pubsub(ignore_subscribe_messages=True)
        await ps.subscribe(channel)
        await ps.get_message(timeout=1.0)  # the subscribe confirmation
        publisher = asyncio.create_task(_publish(channel, n))
        seen = 0
        while seen < n:
            message = await ps.get_message(ignore_subscribe_messages=True, timeout=5.0)
            if message is not None:
                seen += 1
        await publisher
        await ps.aclose()

    return {"call": call, "pipeline": pipeline, "pubsub": pubsub}


async def _publish(channel: str, n: int) -> None:
    """N messages from another connection, pipelined (its cost is not the reader's)."""
    pub = await RespConnection.open(REDIS_URL)
    for start in range(0, n, 500):
        await asyncio.gather(
            *[pub.call("PUBLISH", channel, b"m") for _ in range(min(500, n - start))]
        )
    await pub.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    key, channel = unique("resp-key"), unique("resp-chan")
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    clients: dict[str, Callable[[str, str], Awaitable[dict[str, Workload]]]] = {
        "lean (resp.py)": lean,
        "redis-py asyncio": redis_py,
    }
    try:
        for _ in range(args.repeat):
            for name, make in clients.items():  # interleaved: drift hits both alike
                works = await make(key, channel)
                for work_name, work in works.items():
                    results.setdefault((work_name, name), []).append(await _timed(work, args.n))
    finally:
        r: Any = aioredis.Redis.from_url(REDIS_URL)
        await r.delete(key)
        await r.aclose()
    print(f"n={args.n} per run, {args.repeat} runs each, interleaved; median (min-max)")
    print(f"{'workload':10} {'client':18} {'CPU µs/op':>22} {'wall µs/op':>22}")
    for (work_name, name), runs in results.items():
        cpu = [c for c, _ in runs]
        wall = [w for _, w in runs]
        print(
            f"{work_name:10} {name:18} "
            f"{statistics.median(cpu):8.1f} ({min(cpu):5.1f}-{max(cpu):5.1f}) "
            f"{statistics.median(wall):8.1f} ({min(wall):5.1f}-{max(wall):5.1f})"
        )


if __name__ == "__main__":
    asyncio.run(main())
