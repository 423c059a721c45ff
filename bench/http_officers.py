"""Officers over HTTP: qms against the simplest peer, measured from outside.

Four servers on 127.0.0.1, one after the other, each with the same hall and the
same client:

- peer: bench/peer_http.py (Starlette + asyncpg, UPDATE … FOR UPDATE SKIP
  LOCKED), 2 uvicorn workers, on a fresh table in PostgreSQL database `test`;
  uvicorn's defaults otherwise, so it writes an access log line per request
  as qms does (both to a file);
- peer1: the same with 1 worker, beside qms's one process (PostgreSQL still has
  its own processes);
- qms redis: ``qms serve --workers 2 --log-url redis://127.0.0.1:6379/0?prefix=…``
  (a fresh prefix);
- qms sqlite: ``qms serve``, the embedded default (one process, a temp data dir).

The hall: 4 counters on the services ktp/kk/akta, 4 officers signed in with
sessions (qms; the peer has no accounts), each counter opened by its officer,
then 2,000 tickets issued before the timing starts. Timed: 4 officers, each on
one keep-alive HTTP/1.1 connection (raw asyncio streams, as light a client as
can be), pressing call-next then complete until no ticket waits. Reported: pairs/s, the
latency of one request, the server's CPU per pair (utime + stime from
/proc/<pid>/stat of the server process and every descendant: uvicorn's
workers) and, apart, the store's (the peer's PostgreSQL backends; the
redis-server, which other users of the shared Redis also load; SQLite is inside
the server). Every configuration is run --repeat times, interleaved.

    flock /tmp/qms-bench.lock .venv/bin/python bench/http_officers.py
    flock /tmp/qms-bench.lock .venv/bin/python bench/http_officers.py --only redis --repeat 1

Bounded: each run stops after --duration seconds at most, servers get SIGTERM
(then SIGKILL) in finally; the peer's table is dropped, the Redis prefix
deleted, the data directories removed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    PG_DSN,
    REDIS_URL,
    ROOT,
    SHARED_SERVICES,
    cpu_of,
    delete_prefix,
    load_average,
    md_table,
    percentile,
    print_machine,
    progress,
    redis_url,
    stop_child,
    ticket_services,
    tree_cpu,
    unique,
    used,
)

SITE = "bench-hall"
OFFICERS = [f"L{i}" for i in range(1, 5)]  # counter L1 is officer petugas-l1, …
PASSWORD = "bench-password-not-secret"
READY_TIMEOUT = 30.0
CONFIGS = ("peer", "peer1", "redis", "sqlite")


# --- a minimal keep-alive HTTP/1.1 client -----------------------------------------------------


class Conn:
    """One officer's kept-alive connection: POST without a body, the JSON answer."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port = port
        self.head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Conn:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.writer.wait_closed(), 5)

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        assert self.reader is not None and self.writer is not None
        data = b"" if body is None else json.dumps(body).encode()
        ctype = "Content-Type: application/json\r\n" if body is not None else ""
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n{self.head}{ctype}"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        content = await self.reader.readexactly(length)
        return status, json.loads(content) if content else None


def _post_json(url: str, body: Any, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    req = urllib.request.Request(
        url,
        json.dumps(body).encode(),
        {"Content-Type": "application/json", **headers},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, dict(resp.headers.items())


def sign_in(base: str, username: str) -> str:
    """A session cookie of `username` (as the console gets it)."""
    req = urllib.request.Request(
        base + "/api/v1/session",
        json.dumps({"username": username, "password": PASSWORD}).encode(),
        {"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        for header in resp.headers.get_all("set-cookie") or []:
            name, _, rest = header.partition("=")
            if name.strip() == "qms_session":
                return rest.split(";")[0]
    raise RuntimeError(f"sign-in of {username} set no cookie")


# --- the timed part: the same for every server ----------------------------------------------


async def officers(port: int, headers: list[dict[str, str]], deadline: float) -> dict[str, Any]:
    """Each officer presses call-next then complete at its counter until none waits."""
    latencies: list[float] = []
    problems: list[str] = []

    async def officer(counter: str, head: dict[str, str]) -> int:
        at = f"/api/v1/sites/{SITE}/counters/{counter}"
        pairs = 0
        async with Conn(port, head) as conn:
            while time.monotonic() < deadline:
                t0 = time.perf_counter()
                status, body = await conn.request("POST", at + "/call-next")
                t1 = time.perf_counter()
                if status != 200:
                    code = (body or {}).get("error", {}).get("code")
                    if code not in ("no_ticket_waiting", "no_ticket"):
                        problems.append(f"call-next {status} {code}")
                    break
                status, body = await conn.request("POST", at + "/complete")
                latencies.extend((t1 - t0, time.perf_counter() - t1))
                if status != 200:
                    problems.append(f"complete {status} {body}")
                    break
                pairs += 1
        return pairs

    start = time.perf_counter()
    counts = await asyncio.gather(*(officer(c, h) for c, h in zip(OFFICERS, headers, strict=True)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "pairs": sum(counts),
        "elapsed": elapsed,
        "p50": percentile(latencies, 50) * 1e3,
        "p99": percentile(latencies, 99) * 1e3,
        "problems": sorted(set(problems)),
    }


# --- servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(cmd: list[str], port: int, env: dict[str, str], log: Path) -> Iterator[int]:
    """A server process on `port`, ready on /readyz; its pid. Stopped in finally."""
    out = log.open("ab")
    proc = subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env}, cwd=ROOT
    )
    out.close()
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[:3]} exited {proc.returncode}: {log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"not ready: {log.read_text()[-3000:]}") from None
                time.sleep(0.1)
        yield proc.pid
    finally:
        stop_child(proc)


PY_SPY: list[str] = []  # --py-spy: the profiler's command and where it writes


def measure(
    pid: int, store_pids: list[int], port: int, headers: list[dict[str, str]], cap: float
) -> dict[str, Any]:
    spy = None
    if PY_SPY:  # sample the server (and its workers) while the officers press
        out = f"{PY_SPY[1]}-{pid}.txt"
        cmd = [PY_SPY[0], "record", "--pid", str(pid), "--subprocesses", "--nonblocking"]
        spy = subprocess.Popen(
            [*cmd, "--format", "raw", "--output", out], stdout=subprocess.DEVNULL
        )
        time.sleep(1.0)  # let it attach
    before, store_before = tree_cpu(pid), cpu_of(store_pids)
    res = asyncio.run(officers(port, headers, time.monotonic() + cap))
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)
    cpu, store = used(before, tree_cpu(pid)), used(store_before, cpu_of(store_pids))
    pairs = res["pairs"]
    res["pairs_s"] = pairs / res["elapsed"]
    res["cpu"] = cpu / pairs * 1e3 if pairs else float("nan")
    res["store_cpu"] = store / pairs * 1e3 if pairs and store_pids else float("nan")
    res["processes"] = len(tree_cpu(pid))
    return res


async def _pg_setup(table: str, tickets: int) -> None:
    import asyncpg
    from peer_postgres import set_up

    conn = await asyncpg.connect(PG_DSN)
    try:
        await set_up(conn, table, tickets, audit=False)
        await conn.execute(
            f"CREATE INDEX {table}_called ON {table} (counter) WHERE status = 'called'"
        )
    finally:
        await conn.close()


async def _pg(sql: str) -> list[Any]:
    import asyncpg

    conn = await asyncpg.connect(PG_DSN)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


def run_peer(tickets: int, cap: float, tmp: Path, workers: int) -> dict[str, Any]:
    table = unique("http").replace("-", "_")
    port = free_port()
    asyncio.run(_pg_setup(table, tickets))
    try:
        cmd = [sys.executable, "-m", "uvicorn", "--app-dir", "bench", "peer_http:app"]
        cmd += ["--workers", str(workers), "--host", "127.0.0.1", "--port", str(port)]
        env = {"PEER_TABLE": table, "PEER_DSN": PG_DSN, "PEER_SERVICES": ",".join(SHARED_SERVICES)}
        with server(cmd, port, env, tmp / "peer.log") as pid:
            rows = asyncio.run(
                _pg(
                    "SELECT pid FROM pg_stat_activity"
                    f" WHERE application_name = 'qmsbench-peer-{table}'"
                )
            )
            res = measure(pid, [r["pid"] for r in rows], port, [{}] * len(OFFICERS), cap)
        done = asyncio.run(_pg(f"SELECT count(*) AS n FROM {table} WHERE status = 'done'"))[0]["n"]
        if done != res["pairs"]:
            res["problems"].append(f"{done} done rows for {res['pairs']} pairs")
        return res
    finally:
        asyncio.run(_pg(f"DROP TABLE IF EXISTS {table}"))


async def _add_users(data_dir: Path, log_url: str) -> None:
    from qms.accounts import UserRole
    from qms.server.auth import open_accounts
    from qms.server.config import Config

    async with open_accounts(Config(data_dir=data_dir, log_url=log_url)) as store:
        await store.add_user("bench-admin", UserRole.ADMIN, (), PASSWORD, by="bench")
        for counter in OFFICERS:
            await store.add_user(
                f"petugas-{counter.lower()}", UserRole.OFFICER, (SITE,), PASSWORD, by="bench"
            )


async def _set_up_hall(port: int, admin: dict[str, str], tickets: int) -> None:
    """Site, services, counters; then the tickets, over one kept-alive connection."""
    at = f"/api/v1/sites/{SITE}"
    async with Conn(port, admin) as conn:
        calls: list[tuple[str, str, Any]] = [
            ("PUT", at, {"name": "Bench hall", "timezone": "Asia/Jakarta"}),
            ("PUT", f"{at}/agencies/dukcapil", {"name": "Disdukcapil"}),
        ]
        for i, service in enumerate(SHARED_SERVICES):
            body = {
                "agency": "dukcapil",
                "prefix": "ABC"[i],
                "name_id": service,
                "name_en": service,
            }
            calls.append(("PUT", f"{at}/services/{service}", body))
        for counter in OFFICERS:
            body = {"name": f"Loket {counter[1:]}", "services": SHARED_SERVICES}
            calls.append(("PUT", f"{at}/counters/{counter}", body))
        calls += [
            ("POST", f"{at}/tickets", {"service": service}) for service in ticket_services(tickets)
        ]
        for method, path, body in calls:
            status, reply = await conn.request(method, path, body)
            if status not in (200, 201):
                raise RuntimeError(f"{method} {path}: {status} {reply}")


def run_qms(config: str, tickets: int, cap: float, tmp: Path) -> dict[str, Any]:
    prefix = unique("http")
    data_dir = tmp / f"data-{prefix}"
    log_url = redis_url(prefix) if config == "redis" else ""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        data_dir.mkdir(mode=0o700)
        asyncio.run(_add_users(data_dir, log_url))
        cmd = [sys.executable, "-m", "qms", "serve", "--port", str(port)]
        cmd += ["--data-dir", str(data_dir)]
        if config == "redis":
            cmd += ["--log-url", log_url, "--workers", "2"]
        env = {"QMS_SIMULATE": "0"}
        with server(cmd, port, env, tmp / f"{config}.log") as pid:
            admin = {"Cookie": f"qms_session={sign_in(base, 'bench-admin')}", "Origin": base}
            heads = [
                {"Cookie": f"qms_session={sign_in(base, f'petugas-{c.lower()}')}", "Origin": base}
                for c in OFFICERS
            ]
            asyncio.run(_set_up_hall(port, admin, tickets))
            for counter, head in zip(OFFICERS, heads, strict=True):
                status, _ = _post_json(
                    f"{base}/api/v1/sites/{SITE}/counters/{counter}/open", {}, head
                )
                if status != 200:
                    raise RuntimeError(f"open {counter}: {status}")
            store = []
            if config == "redis":
                store = [int(_redis_info("process_id"))]
            return measure(pid, store, port, heads, cap)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        if config == "redis":
            asyncio.run(delete_prefix(prefix))


def _redis_info(field: str) -> str:
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    try:
        return str(r.info("server")[field])
    finally:
        r.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tickets", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--duration", type=float, default=60.0, help="time cap of one run, s")
    ap.add_argument("--only", default=",".join(CONFIGS), help="peer,peer1,redis,sqlite")
    ap.add_argument(
        "--py-spy",
        nargs=2,
        metavar=("PY_SPY", "OUT"),
        help="profile each server while timed: py-spy's path, output prefix (raw stacks)",
    )
    args = ap.parse_args()
    PY_SPY[:] = args.py_spy or []
    configs = [c for c in args.only.split(",") if c]
    print("## Officers over HTTP: qms and the simplest peer\n")
    print_machine()
    print(
        f"{len(OFFICERS)} officers, one keep-alive connection each, call-next + complete; "
        f"{args.tickets} tickets issued before the timing; cap {args.duration:g} s per run; "
        f"load average {load_average()}\n",
        flush=True,
    )
    names = {
        "peer": "peer: Starlette + asyncpg, SKIP LOCKED, 2 workers",
        "peer1": "peer: the same, 1 worker (as one qms process)",
        "redis": "qms serve --workers 2, Redis log",
        "sqlite": "qms serve, embedded SQLite (1 process)",
    }
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="qmsbench-http-"))
    try:
        for run in range(1, args.repeat + 1):
            for config in configs:
                if config in ("peer", "peer1"):
                    res = run_peer(args.tickets, args.duration, tmp, 2 if config == "peer" else 1)
                else:
                    res = run_qms(config, args.tickets, args.duration, tmp)
                check = (
                    "ok"
                    if res["pairs"] == args.tickets and not res["problems"]
                    else (f"PROBLEM: {res['pairs']} pairs; " + "; ".join(res["problems"]))
                )
                progress(
                    f"run {run} {config}: {res['pairs_s']:.0f} pairs/s, server CPU "
                    f"{res['cpu']:.2f} ms/pair, {check}",
                )
                rows.append((names[config], run, res, check))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        md_table(
            [
                "server",
                "run",
                "pairs",
                "elapsed s",
                "pairs/s",
                "server CPU ms/pair",
                "store CPU ms/pair",
                "processes",
                "p50 ms",
                "p99 ms",
                "check",
            ],
            [
                (
                    name,
                    run,
                    r["pairs"],
                    r["elapsed"],
                    r["pairs_s"],
                    r["cpu"],
                    r["store_cpu"],
                    r["processes"],
                    r["p50"],
                    r["p99"],
                    check,
                )
                for name, run, r, check in rows
            ],
        )
    )
    print()
    print("| server | pairs/s (runs) | server CPU ms/pair (runs) |\n|---|---|---|")
    for config in configs:
        mine = [r for name, _, r, _ in rows if name == names[config]]
        rates = sorted(r["pairs_s"] for r in mine)
        cpus = sorted(r["cpu"] for r in mine)
        print(
            f"| {names[config]} | {rates[0]:,.0f}-{rates[-1]:,.0f} | {cpus[0]:.2f}-{cpus[-1]:.2f} |"
        )
    print()


if __name__ == "__main__":
    main()
