"""One writer per site: a deployment's processes forward a site's commands to one of them.

Why and how are in docs/architecture.md, "One writer per site": the lease (key
``leader``, renewed each third of its TTL), a Pub/Sub channel per process, the
writer queueing forwarded commands in its engine (group commit, no task per
request), events as the answer (`via` on the first one), one request per
command id at a time (`_share`), and a sender that runs the command itself when
the writer is gone, silent or failing, its command id and deadline making that
safe. Redis only: the embedded SQLite log is one process anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Mapping
from functools import partial
from typing import Any

import msgpack  # type: ignore[import-untyped]

from qms.core import Command, HallState, Rejected, parse_command
from qms.core.commands import command_to_dict
from qms.core.errors import ALL_CODES
from qms.engine import EngineBusy, Result, SiteEngine
from qms.eventlog import EventLogError, keys
from qms.eventlog.redis import RedisLog, timed
from qms.guards import Guard, WireGuard
from qms.idempotency import CID, CID_COUNT, VIA, fingerprint
from qms.relay.channel import ERRORS as _ERRORS
from qms.relay.channel import Channel
from qms.relay.messages import (
    PROTOCOL,
    NotHeard,
    Silent,
    answer_for,
    deadline,
    expire,
    packb,
    rebuild,
)

log = logging.getLogger(__name__)

LEASE_MS = 3_000  # the writer's lease; a writer that died is replaced within this
FORWARD_TIMEOUT = 2.0  # s a sender waits for the writer before running the command itself
SHUN_S = 10.0  # a writer that did not answer gets nothing more for this long
CATCH_UP_S = 1.0  # s to wait for the follower to bring a forwarded command's events
LOG_CHECK_S = 0.0  # s at least between the writer's log checks; 0: at each lease check

# KEYS: lease. ARGV: node, ttl ms. Renew only one's own lease.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
# KEYS: lease. ARGV: node. Give up only one's own lease.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class SiteRelay:
    """Forwards `engine`'s commands to the site's writer, or is the writer (module doc)."""

    def __init__(
        self,
        engine: SiteEngine,
        log: RedisLog,
        *,
        lease_ms: int = LEASE_MS,
        timeout: float = FORWARD_TIMEOUT,
        log_check_s: float = LOG_CHECK_S,
    ) -> None:
        self.engine = engine
        self.node = uuid.uuid4().hex[:16]
        self.lease_ms = lease_ms
        self.timeout = timeout
        self.log_check_s = log_check_s  # on the lease's checks (`_tick`); inf: never
        self._log_checked = time.monotonic()  # when it last checked
        self._log = log
        self._redis, self._prefix = log.shared()
        self._lease = keys.leader(self._prefix, engine.site)
        self._channel = keys.relay(self._prefix, engine.site, self.node)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)
        self.writer: str | None = None  # the node id holding the lease, as last seen
        self.channel = Channel(log, engine.site, self._channel, self._received, self._spawn)
        self.listening = self.channel.listening  # our channel is subscribed
        self._shunned: dict[str, float] = {}  # writer -> monotonic time it is trusted again
        # Requests out, by command id: settled by an answer message, or by the
        # command's events arriving through the follower (`_on_event`).
        self._pending: dict[str, asyncio.Future[Result | dict[str, Any]]] = {}
        # The same ids, for their duplicates (`_share`): the command, and its outcome
        # once known (None when it failed: a duplicate then runs on its own).
        self._forwarding: dict[str, tuple[Command, asyncio.Future[Result | None]]] = {}
        self._collecting: tuple[str, int, list[tuple[int, dict[str, Any]]]] | None = None
        self._ids = 0  # for the command ids made here
        self._requests: set[asyncio.Task[None]] = set()  # catching up, and the like
        self._serving: set[asyncio.Future[Result]] = set()  # requests in the engine
        self._catching_up = False
        # Counts, for benchmarks and the health view.
        self.forwarded = 0
        self.served = 0
        self.fallbacks = 0

    @property
    def site(self) -> str:
        return self.engine.site

    @property
    def is_writer(self) -> bool:
        return self.writer == self.node

    def attach(self) -> None:
        """Route the engine's commands through this relay (then run `run`)."""
        self.engine.relay = self
        self.engine.listeners.append(self._on_event)

    def detach(self) -> None:
        self.engine.relay = None
        with contextlib.suppress(ValueError):
            self.engine.listeners.remove(self._on_event)

    def view(self) -> dict[str, Any]:
        """For the health view: who writes, and what went where."""
        return {
            "writer": "here" if self.is_writer else "elsewhere" if self.writer else "none",
            "forwarded": self.forwarded,
            "served": self.served,
            "fallbacks": self.fallbacks,
        }

    async def run(self) -> None:
        """Listen on our channel and keep the lease, until cancelled."""
        listener = asyncio.create_task(self.channel.listen(), name=f"qms-relay-{self.site}")
        failures = 0
        try:
            await self.listening.wait()  # a writer must hear its requests
            while True:
                try:
                    await self._tick()
                    failures = 0
                except _ERRORS as exc:
                    failures += 1
                    if failures == 1:
                        log.warning("site %s: relay lease check failed (%r)", self.site, exc)
                    self._set_writer(None)  # commands run here meanwhile
                await asyncio.sleep(self.lease_ms / 3000)
        finally:
            await self._stop(listener)

    # --- the lease -----------------------------------------------------------------

    async def _tick(self) -> None:
        if self.is_writer:
            if await timed(self._renew(keys=[self._lease], args=[self.node, self.lease_ms])):
                # Each `log_check_s`: appends by another process whose nudge got lost?
                if time.monotonic() - self._log_checked >= self.log_check_s:
                    self._log_checked = time.monotonic()
                    self._nudged(await self.engine.log.version(self.site))
                return
            log.warning("site %s: writer lease lost (a pause longer than it?)", self.site)
            self._set_writer(None)
        if await timed(self._redis.set(self._lease, self.node, nx=True, px=self.lease_ms)):
            self._set_writer(self.node)
            return
        raw = await timed(self._redis.get(self._lease))
        self._set_writer(raw.decode() if isinstance(raw, bytes) else raw)

    def _set_writer(self, writer: str | None) -> None:
        """Who writes. While it is us, our log reader leaves the site out (`mute`):
        every append is ours and reaches the engine at once; without that, each of
        them woke the reader for nothing, a fifth of the writer's CPU."""
        was = self.is_writer
        self.writer = writer
        if self.is_writer and not was:
            self._log.mute(self.site)
        elif was and not self.is_writer:
            self._spawn(self._log.unmute(self.site))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    def _nudged(self, version: int) -> None:
        """Another process appended up to `version`: have the engine read it in."""
        if version > self.engine.version and not self._catching_up:
            self._catching_up = True
            self._spawn(self._read_in(version))

    async def _read_in(self, version: int) -> None:
        try:
            await self._log.unmute(self.site)  # the reader delivers it, in order
            try:
                async with asyncio.timeout(CATCH_UP_S):
                    await self.engine.wait_for_version(version)
            except TimeoutError:
                await self.engine.catch_up()
        except _ERRORS as exc:
            log.warning("site %s: reading in another process's append failed (%r)", self.site, exc)
        finally:
            self._catching_up = False
            if self.is_writer:
                self._log.mute(self.site)

    async def _stop(self, listener: asyncio.Task[None]) -> None:
        """Stop listening without dropping what was heard (`Channel.unsubscribe`)."""
        await self.channel.unsubscribe()
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        for future in self._pending.values():
            if not future.done():
                future.set_exception(NotHeard())
        if self.is_writer:
            with contextlib.suppress(*_ERRORS):
                await timed(self._release(keys=[self._lease], args=[self.node]), 1.0)
        self._set_writer(None)
        if self._serving:  # answer what was received
            await asyncio.wait(list(self._serving), timeout=self.timeout)
        for task in list(self._requests):
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, self.timeout)
        await self.channel.flush()

    # --- the channel's messages ------------------------------------------------------

    def _received(self, raw: Any) -> None:
        try:
            message = msgpack.unpackb(raw, raw=False)
            kind = message["k"]
        except Exception:  # not ours to crash on: its sender falls back after its timeout
            log.warning("site %s: unreadable relay message dropped", self.site)
            return
        if kind == "req":
            self._serve(message)
        elif kind == "nudge" and self.is_writer:
            self._nudged(int(message.get("v", 0)))
        elif kind == "ans":
            future = self._pending.get(message.get("cid", ""))
            if future is not None and not future.done():
                future.set_result(message)

    def _on_heard(
        self, answered: asyncio.Future[Result | dict[str, Any]], count: int, error: Exception | None
    ) -> None:
        """A request's PUBLISH was answered: nobody listening (the writer is gone) or a
        failed link settle the request now; else its answer is on its way (or, as the
        reply and the command's events come on different links, already here)."""
        if error is None and count:
            self.forwarded += 1
        if answered.done():
            return
        if error is not None:
            answered.set_exception(error)
        elif not count:
            answered.set_exception(NotHeard())

    # --- sending ---------------------------------------------------------------------

    async def execute(self, cmd: Command, guard: Guard | None) -> Result:
        """The command's result, from the site's writer, or from this process when it
        is the writer, there is none, or the guard cannot travel."""
        writer = self.writer
        if (
            writer is None
            or writer == self.node
            or self.channel.stopped
            or self._shunned.get(writer, 0.0) > time.monotonic()
            or not self.listening.is_set()
            or (guard is not None and not isinstance(guard, WireGuard))
        ):
            return await self._run_here(cmd, guard)
        # Running it here after a timeout must not act twice: it needs an id.
        cid = cmd.command_id
        if cid and cid in self._forwarding:
            return await self._share(cid, cmd, guard)
        if not cid:
            self._ids += 1
            cid = f"relay-{self.node}-{self._ids}"
            cmd = dataclasses.replace(cmd, command_id=cid)
        outcome: asyncio.Future[Result | None] = asyncio.get_running_loop().create_future()
        self._forwarding[cid] = (cmd, outcome)
        try:
            result = await self._forward(cmd, guard, writer, cid)
        except BaseException:
            outcome.set_result(None)
            raise
        else:
            outcome.set_result(result)
            return result
        finally:
            del self._forwarding[cid]

    async def _share(self, cid: str, cmd: Command, guard: Guard | None) -> Result:
        """A duplicate of a command this process is forwarding: once the first one is
        answered, its answer as a repeat (no second request, no timeout, nobody
        shunned). When the first failed, or this is another command under its id,
        it is decided on its own (and then refused as `idempotency_key_reused` when
        the first one made events)."""
        first, outcome = self._forwarding[cid]
        result = await asyncio.shield(outcome)
        if result is not None and fingerprint(first) == fingerprint(cmd):
            return dataclasses.replace(result, repeated=True)
        return await self.execute(cmd, guard)

    async def _forward(self, cmd: Command, guard: Guard | None, writer: str, cid: str) -> Result:
        """Send `cmd` (with its id `cid`) to the writer and wait for its answer; run it
        here when nobody listens, the link fails, or the writer stays silent."""
        request = {
            "k": "req",
            "v": PROTOCOL,
            "from": self.node,
            "cmd": command_to_dict(cmd),
            "guard": [guard.kind, guard.to_wire()] if isinstance(guard, WireGuard) else None,
            "until": time.time() + self.timeout,
        }
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[Result | dict[str, Any]] = loop.create_future()
        self._pending[cid] = answered
        # One future and one timer per request, awaited once: PUBLISH's reply settles
        # it only when nobody listened or the link failed (`_on_heard`).
        expiry = loop.call_later(self.timeout * 1.1, expire, answered)
        try:
            self.channel.publish(
                keys.relay(self._prefix, self.site, writer),
                packb(request),
                partial(self._on_heard, answered),
            )
            answer = await answered
        except NotHeard:  # it stopped listening (a restart): ask the lease again
            if self.writer == writer:
                self._set_writer(None)
            return await self._run_here(cmd, guard, fallback=True)
        except Silent as exc:  # it heard, but did not answer: leave it alone for a while
            now = time.monotonic()
            self._shunned = {w: t for w, t in self._shunned.items() if t > now}
            self._shunned[writer] = now + SHUN_S
            log.warning("site %s: writer %s did not answer (%s)", self.site, writer, exc)
            return await self._run_here(cmd, guard, fallback=True)
        except _ERRORS:
            # The PUBLISH failed: our link (or Redis) is down, not the writer. Run it
            # here: done, or refused as an outage (logged once, by the log).
            return await self._run_here(cmd, guard, fallback=True)
        finally:
            expiry.cancel()
            self._pending.pop(cid, None)
        if isinstance(answer, Result):
            return answer
        if answer.get("x") in ("error", "unavailable"):
            # The writer failed (its Redis calls timed out, say): run it here, with the
            # same id, so the caller sees this process's own outcome (and error types).
            if answer.get("x") == "error":
                log.warning("site %s: the writer failed (%s)", self.site, answer.get("message"))
            return await self._run_here(cmd, guard, fallback=True)
        return await self._result(answer)

    async def _run_here(
        self, cmd: Command, guard: Guard | None, *, fallback: bool = False
    ) -> Result:
        """Decide the command in this process. Not being the writer, tell the writer
        (whose reader leaves the site out) that the log has grown: a nudge."""
        self.fallbacks += fallback
        result = await self.engine.execute_here(cmd, guard=guard)
        writer = self.writer
        if result.events and writer is not None and writer != self.node:
            nudge = packb({"k": "nudge", "v": result.version})
            self.channel.publish(keys.relay(self._prefix, self.site, writer), nudge, None)
        return result

    def _on_event(self, version: int, data: Mapping[str, Any], state: HallState) -> None:
        """An engine listener: the events of a command we forwarded are its answer.

        The writer sends no message for a command that made events (most of them):
        they come through the log, which the follower reads anyway, and once they
        are here the state includes them. Saves a publish and a read per command.
        """
        if self._collecting is not None:
            mine, last, events = self._collecting
            events.append((version, dict(data)))
            if version >= last:
                self._collecting = None
                self._settle(mine, events)
            return
        cid = data.get(CID)
        if not isinstance(cid, str) or cid not in self._pending or data.get(VIA) != self.node:
            return  # not a command of ours, or the same id decided for someone else
        count = int(data.get(CID_COUNT, 1))
        if count <= 1:
            self._settle(cid, [(version, dict(data))])
        else:
            self._collecting = (cid, version + count - 1, [(version, dict(data))])

    def _settle(self, cid: str, events: list[tuple[int, dict[str, Any]]]) -> None:
        future = self._pending.get(cid)
        if future is not None and not future.done():
            future.set_result(Result(version=events[-1][0], events=events))

    async def _result(self, answer: Mapping[str, Any]) -> Result:
        kind = answer.get("x")
        if kind == "ok":
            result = Result(
                version=int(answer["version"]),
                events=[(int(v), e) for v, e in answer["events"]],
                repeated=bool(answer["repeated"]),
            )
            # The caller may read the state next (the API's answer does): have it
            # include the command's events. The follower brings them within a
            # millisecond or so; catch up here if it does not.
            if self.engine.version < result.version:
                try:
                    async with asyncio.timeout(CATCH_UP_S):
                        await self.engine.wait_for_version(result.version)
                except TimeoutError:
                    await self.engine.catch_up()
            return result
        if kind == "rejected" and answer.get("code") in ALL_CODES:
            raise Rejected(str(answer["code"]), str(answer["message"]), **answer["details"])
        if kind == "busy":
            raise EngineBusy(str(answer.get("message")))
        raise EventLogError(f"site {self.site}: the writer failed: {answer.get('message')}")

    # --- writing ---------------------------------------------------------------------

    def _serve(self, request: Mapping[str, Any]) -> None:
        """Queue a forwarded command in the engine (group commit with the rest) and
        answer when it is decided. No task per request: a callback answers."""
        try:
            sender, cid = str(request["from"]), str(request["cmd"]["command_id"])
        except (KeyError, TypeError):
            log.warning("site %s: relay request without a sender or an id dropped", self.site)
            return
        self.served += 1
        try:
            if request.get("v") != PROTOCOL:
                raise EventLogError(f"relay protocol {request.get('v')!r}, expected {PROTOCOL}")
            cmd = parse_command(request["cmd"])
            guard = deadline(float(request["until"]), rebuild(request.get("guard"), cmd))
        except Exception as exc:
            answer = answer_for(exc)
            if answer is not None:
                self._answer(sender, cid, answer)
            return
        decided = self.engine.submit(cmd, guard, via=sender)
        self._serving.add(decided)
        decided.add_done_callback(partial(self._decided, sender, cid))

    def _decided(self, sender: str, cid: str, decided: asyncio.Future[Result]) -> None:
        self._serving.discard(decided)
        if decided.cancelled():
            return  # the engine stopped (the loop is closing): the sender falls back
        error = decided.exception()
        answer: dict[str, Any] | None
        if error is None:
            result = decided.result()
            if result.events and not result.repeated:
                return  # its events in the log are the answer (see `_on_event`)
            events = [[v, e] for v, e in result.events]
            answer = {"x": "ok", "version": result.version, "events": events}
            answer["repeated"] = result.repeated
        else:
            answer = answer_for(error)
        if answer is not None:
            self._answer(sender, cid, answer)

    def _answer(self, sender: str, cid: str, answer: dict[str, Any]) -> None:
        answer.update(k="ans", cid=cid)
        self.channel.publish(keys.relay(self._prefix, self.site, sender), packb(answer), None)


@contextlib.asynccontextmanager
async def relaying(engine: SiteEngine) -> AsyncIterator[SiteRelay | None]:
    """Run a `SiteRelay` for `engine` for the block (None, and nothing, on a log
    that one process has to itself). The one way relays start, in the server
    (`qms.server.hall`), in tests and in benchmarks."""
    log = engine.log
    if not log.shared_by_processes:
        yield None
        return
    assert isinstance(log, RedisLog)  # the only log shared by processes
    relay = SiteRelay(engine, log)
    relay.attach()
    task = asyncio.create_task(relay.run(), name=f"qms-relay-lease-{engine.site}")
    try:
        yield relay
    finally:
        relay.detach()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
