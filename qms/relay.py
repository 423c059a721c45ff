"""One writer per site: a deployment's processes forward a site's commands to one of them.

Why: any process can decide any command (the append is compare-and-set), but
processes deciding for one site at the same time lose races to each other and
decide again after catching up: with four processes on two cores, a third of
the commands lost a race and p99 was 70-120 ms (docs/performance.md, section 1).
With one writer per site every command of the site goes through one group
commit, and nothing conflicts.

How (Redis only: the embedded SQLite log is one process anyway):

- The lease: key ``leader`` holds the writer's node id with a TTL. Every node
  checks it each third of the TTL: the writer renews it (compare-and-PEXPIRE),
  the others take it when it is free. A writer that closes gives it up.
- Each node listens on its own Pub/Sub channel (`keys.relay`). A node that is
  not the writer publishes each command to the writer's channel and waits for
  the answer on its own. PUBLISH says how many listened: none means the writer
  is gone, and the command runs here at once.
- The writer queues each request in its engine (`SiteEngine.submit`, from the
  channel's callback: no task per request), where requests group-commit with
  its own commands. A command that made events needs no answer message:
  the sender's follower brings them (matched by command id and by the sender's
  node id the writer puts on the first event, `via`: the same id given to the
  writer's own caller makes events that are not this request's answer,
  `_on_event`), and then the sender's state includes them, so what its caller
  reads next agrees. Refusals, repeats and errors are published back.
- One request per command id at a time: a duplicate (a double tap reaching
  this process twice) waits for the first one's answer and shares it as a
  repeat (`_share`), instead of sending again. Messages go out at once on
  the log's lean command link (`RedisLog.link`), pipelined: no task per message.
- The writer's log reader leaves the site out (`RedisLog.mute`): all appends
  are its own. A process that decides a command itself nudges the writer, and
  the writer compares versions once a second, to read in anything else.
- A writer whose own Redis calls failed answers "error" (or "unavailable"), and
  the sender runs the command itself (same id), so its caller sees this
  process's own outcome. A request whose PUBLISH fails (the link, or Redis, is
  down) runs here too, without blaming the writer.
- Every forwarded command carries a command id (one is made when the caller gave
  none). When the writer does not answer in time, the sender executes the
  command itself (and sends the writer nothing more for a while): the id makes
  sure a command the writer did run is not run again, and the request's
  deadline, checked by the writer on the very state it decides on, makes sure
  a late writer does not act after the sender gave up (wall-clock time: keep
  the hosts' clocks in step). A lost message costs a wait, never a double or a
  missing command.
- Compare-and-append stays underneath: two nodes that both think they are the
  writer (a lease lapsing during a long pause) are slower, never wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from functools import partial
from typing import Any

import msgpack  # type: ignore[import-untyped]
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from qms.core import Command, HallState, Rejected, parse_command
from qms.core.commands import command_to_dict
from qms.core.errors import ALL_CODES
from qms.engine import GUARD_KINDS, EngineBusy, Guard, Result, SiteEngine, WireGuard
from qms.eventlog import EventLogError, keys
from qms.eventlog.outage import is_outage
from qms.eventlog.redis import PING_S, RedisLog, timed
from qms.eventlog.resp import RespConnection
from qms.idempotency import CID, CID_COUNT, VIA, fingerprint

log = logging.getLogger(__name__)

PROTOCOL = 2  # bumped when a request or an answer changes shape (2: `via`, "unavailable")
LEASE_MS = 3_000  # the writer's lease; a writer that died is replaced within this
FORWARD_TIMEOUT = 2.0  # s a sender waits for the writer before running the command itself
SHUN_S = 10.0  # a writer that did not answer gets nothing more for this long
CATCH_UP_S = 1.0  # s to wait for the follower to bring a forwarded command's events
BACKOFF_CAP = 2.0
_ERRORS = (RedisError, EventLogError, OSError, TimeoutError)

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


class Expired(Exception):
    """The writer reached a request after its sender stopped waiting for it."""


class _NotHeard(Exception):
    """Nobody listens on the writer's channel: it is gone."""


class _Silent(Exception):
    """The writer heard the request (PUBLISH said so) but did not answer in time."""


# A PUBLISH's outcome: (how many listened, None) or (0, the error).
OnReply = Callable[[int, Exception | None], None]


def _packb(obj: Any) -> bytes:
    return bytes(msgpack.packb(obj, use_bin_type=True))


class SiteRelay:
    """Forwards `engine`'s commands to the site's writer, or is the writer (see module doc)."""

    def __init__(
        self,
        engine: SiteEngine,
        log: RedisLog,
        *,
        lease_ms: int = LEASE_MS,
        timeout: float = FORWARD_TIMEOUT,
    ) -> None:
        self.engine = engine
        self.node = uuid.uuid4().hex[:16]
        self.lease_ms = lease_ms
        self.timeout = timeout
        self._log = log
        self._redis, self._prefix = log.shared()
        self._lease = keys.leader(self._prefix, engine.site)
        self._channel = keys.relay(self._prefix, engine.site, self.node)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)
        self.writer: str | None = None  # the node id holding the lease, as last seen
        self.listening = asyncio.Event()  # our channel is subscribed
        self._shunned: dict[str, float] = {}  # writer -> monotonic time it is trusted again
        # Requests out, by command id: settled by an answer message, or by the
        # command's events arriving through the follower (`_on_event`).
        self._pending: dict[str, asyncio.Future[Result | dict[str, Any]]] = {}
        # The same ids, for their duplicates (`_share`): the command, and its outcome
        # once known (None when it failed: a duplicate then runs on its own).
        self._forwarding: dict[str, tuple[Command, asyncio.Future[Result | None]]] = {}
        self._collecting: tuple[str, int, list[tuple[int, dict[str, Any]]]] | None = None
        self._ids = 0  # for the command ids made here
        self._outbox: list[tuple[str, bytes, OnReply | None]] = []
        self._requests: set[asyncio.Task[None]] = set()  # catching up, and the like
        self._serving: set[asyncio.Future[Result]] = set()  # requests in the engine
        self._catching_up = False
        self._listener: RespConnection | None = None  # our channel's link, while listening
        self._stopped = False
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
        listener = asyncio.create_task(self._listen(), name=f"qms-relay-{self.site}")
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
                # Once a second: has another process appended (a sender that ran a
                # command itself and whose nudge got lost)? Then read it in.
                newest = await self.engine.log.version(self.site)
                if newest > self.engine.version:
                    self._nudged(newest)
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
        """Stop listening without dropping what was heard: UNSUBSCRIBE, and the
        listener handles every message up to Redis' confirmation (a message
        published after it is heard by nobody, and its sender runs it itself)."""
        self._stopped = True
        conn = self._listener
        if conn is not None and self.listening.is_set():
            with contextlib.suppress(*_ERRORS):
                # Replies come in order: every message before the confirmation is handled.
                await timed(conn.call("UNSUBSCRIBE", self._channel), 1.0)
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        for future in self._pending.values():
            if not future.done():
                future.set_exception(_NotHeard())
        if self.is_writer:
            with contextlib.suppress(*_ERRORS):
                await timed(self._release(keys=[self._lease], args=[self.node]), 1.0)
        self._set_writer(None)
        if self._serving:  # answer what was received
            await asyncio.wait(list(self._serving), timeout=self.timeout)
        for task in list(self._requests):
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, self.timeout)
        await self._flush()

    # --- the channel -----------------------------------------------------------------

    async def _listen(self) -> None:
        """Receive requests (as the writer) and answers (as a sender), reconnecting.
        A lean connection (`RespConnection`): the writer hears every forwarded command."""
        failures = 0
        while True:
            conn: RespConnection | None = None
            try:
                conn = await timed(
                    RespConnection.open(self._log.url, lambda _, data: self._received(data))
                )
                self._listener = conn
                await timed(conn.call("SUBSCRIBE", self._channel))
                self.listening.set()  # once Redis confirms, not when the command is sent
                failures = 0
                while not self._stopped:  # a quiet link is PINGed: a dead one is noticed
                    done, _ = await asyncio.wait([conn.closed], timeout=PING_S)
                    if done:
                        raise RedisConnectionError("the relay channel's connection closed")
                    await timed(conn.call("PING"))
                await asyncio.Future()  # stopping: `_stop` unsubscribes, then cancels us
            except (RedisError, OSError) as exc:
                failures += 1
                if failures == 1:
                    log.warning("site %s: relay channel failed (%r)", self.site, exc)
            finally:
                self._listener = None
                self.listening.clear()
                if conn is not None:
                    await conn.aclose()
            await asyncio.sleep(random.uniform(0, min(BACKOFF_CAP, 0.05 * 2**failures)))

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

    def _publish(self, channel: str, payload: bytes, on_reply: OnReply | None) -> None:
        """Send a message now on the open connection (no task: this is every forwarded
        command's path); else queue it for `_flush`, which connects first. `on_reply`
        gets how many listened, or why the PUBLISH failed."""
        sender = self._log.link()  # the log's lean command link, when it is open
        if sender is not None and not self._outbox:
            reply = sender.call("PUBLISH", channel, payload)
            if on_reply is not None:
                reply.add_done_callback(partial(_replied, on_reply))
            else:
                reply.add_done_callback(_retrieve)
            return
        if not self._outbox:
            asyncio.get_running_loop().call_soon(lambda: self._spawn(self._flush()))
        self._outbox.append((channel, payload, on_reply))

    async def _flush(self) -> None:
        batch, self._outbox = self._outbox, []
        if not batch:
            return
        counts: list[Any]
        sender: RespConnection | None = None
        try:
            sender = await timed(self._log.open_link())  # EventLogError once the log closed
            # One write per message, read back in order: pipelined by the connection.
            replies = [sender.call("PUBLISH", channel, payload) for channel, payload, _ in batch]
            counts = await timed(asyncio.gather(*replies, return_exceptions=True))
        except _ERRORS as exc:
            counts = [exc] * len(batch)
            self._log.drop_link(sender)  # a link that timed out is not trusted again
        for (_, _, on_reply), count in zip(batch, counts, strict=True):
            if on_reply is None:
                continue
            if isinstance(count, Exception):
                on_reply(0, count)
            elif isinstance(count, BaseException):
                on_reply(0, RedisConnectionError(repr(count)))
            else:
                on_reply(int(count), None)

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
            answered.set_exception(_NotHeard())

    # --- sending ---------------------------------------------------------------------

    async def execute(self, cmd: Command, guard: Guard | None) -> Result:
        """The command's result, from the site's writer, or from this process when it
        is the writer, there is none, or the guard cannot travel."""
        writer = self.writer
        if (
            writer is None
            or writer == self.node
            or self._stopped
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
        expiry = loop.call_later(self.timeout * 1.1, _expire, answered)
        try:
            self._publish(
                keys.relay(self._prefix, self.site, writer),
                _packb(request),
                partial(self._on_heard, answered),
            )
            answer = await answered
        except _NotHeard:  # it stopped listening (a restart): ask the lease again
            if self.writer == writer:
                self._set_writer(None)
            return await self._run_here(cmd, guard, fallback=True)
        except _Silent as exc:  # it heard, but did not answer: leave it alone for a while
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
            nudge = _packb({"k": "nudge", "v": result.version})
            self._publish(keys.relay(self._prefix, self.site, writer), nudge, None)
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
            guard = _deadline(float(request["until"]), _rebuild(request.get("guard"), cmd))
        except Exception as exc:
            answer = _answer_for(exc)
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
            answer = {
                "x": "ok",
                "version": result.version,
                "events": [[v, e] for v, e in result.events],
                "repeated": result.repeated,
            }
        else:
            answer = _answer_for(error)
        if answer is not None:
            self._answer(sender, cid, answer)

    def _answer(self, sender: str, cid: str, answer: dict[str, Any]) -> None:
        answer.update(k="ans", cid=cid)
        self._publish(keys.relay(self._prefix, self.site, sender), _packb(answer), None)


def _answer_for(exc: BaseException) -> dict[str, Any] | None:
    """The answer message for a request that failed with `exc` (None: send none)."""
    if isinstance(exc, Expired):
        return None  # its sender has stopped waiting and runs it itself
    if isinstance(exc, Rejected):
        return {"x": "rejected", **exc.to_dict()}
    if isinstance(exc, EngineBusy):
        return {"x": "busy", "message": str(exc)}
    if is_outage(exc):  # the sender tries itself, without a warning (the log logs it once)
        return {"x": "unavailable", "message": repr(exc)}
    return {"x": "error", "message": repr(exc)}


def _replied(on_reply: OnReply, reply: asyncio.Future[Any]) -> None:
    """PUBLISH answered: pass on how many listened, or why it failed."""
    error = _retrieve(reply)
    if error is not None:
        on_reply(0, error)
    else:
        on_reply(int(reply.result()), None)


def _retrieve(reply: asyncio.Future[Any]) -> Exception | None:
    """Why `reply` failed, if it did. Also the callback of a reply nobody waits for (an
    answer, a nudge: a lost one costs its receiver a timeout), so that asyncio does
    not log "exception never retrieved"."""
    if reply.cancelled():
        return RedisConnectionError("the PUBLISH was cancelled")
    error = reply.exception()
    if error is None or isinstance(error, Exception):
        return error
    return RedisConnectionError(repr(error))


def _expire(answered: asyncio.Future[Any]) -> None:
    if not answered.done():
        answered.set_exception(_Silent("the writer did not answer in time"))


def _rebuild(wire: Any, cmd: Command) -> WireGuard | None:
    if wire is None:
        return None
    kind, data = wire
    cls = GUARD_KINDS.get(kind)
    if cls is None:
        raise EventLogError(f"unknown guard kind {kind!r}")
    return cls.from_wire(data, cmd)


def _deadline(until: float, inner: Guard | None) -> Guard:
    """The request's guard, refusing once its sender has stopped waiting."""

    def guard(state: HallState) -> None:
        if time.time() > until:
            raise Expired()
        if inner is not None:
            inner(state)

    return guard


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
