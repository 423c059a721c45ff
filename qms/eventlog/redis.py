"""The Redis backend: a Stream per site, the version as the stream ID, any number of processes.

Compare-and-append is one Lua script (`redis_layout.APPEND`), which also PUBLISHes
the entries it added on the site's channel (`keys.push`). Live entries come from
ONE reader per `RedisLog`: a Pub/Sub connection of its own (`resp.RespConnection`,
lean on purpose: every append wakes every following process) subscribed to the
channels of the sites with local subscribers, fanned out in-process by `Fanout`,
which fills any gap from storage. Pub/Sub loses what is sent while a link is down,
so the reader keeps, per site, the version of the last entry it delivered and,
whenever it (re)subscribes, first reads from storage past it: a reconnect resumes
exactly there. Pushed, not polled with XREAD: a wake costs a receive, not two calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import msgpack  # type: ignore[import-untyped]
import redis.asyncio as aioredis
from redis.asyncio.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import codec, keys
from ._fanout import Fanout
from .base import Encoded, Event, EventLog
from .errors import DecodeError, Entry, EventLogError, VersionConflict
from .outage import Outage, outage_errors, unavailable
from .redis_layout import APPEND, APPEND_SHA, SAVE_SNAPSHOT, entry, parse_id
from .resp import RespConnection

logger = logging.getLogger(__name__)

OUTAGE_ERRORS = outage_errors(redis=True)
COMMAND_TIMEOUT = 10.0  # seconds for any one command
PING_S = 5.0  # a reader's link quiet this long is PINGed (a dead one is then noticed)
READER_NAME = "qms-log-reader"  # its connection's name in CLIENT LIST
APPENDER_NAME = "qms-log-commands"  # the lean command link's (`RedisLog.link`)
READ_COUNT = 512  # entries per storage read while the reader catches up
BACKOFF_BASE = 0.05  # seconds; reconnect delay is uniform in [0, min(cap, base * 2**n)]
BACKOFF_CAP = 2.0

_T = TypeVar("_T")


async def timed(call: Awaitable[_T], seconds: float = COMMAND_TIMEOUT) -> _T:
    """Await a Redis command with a deadline.

    The deadline is ours, not redis-py's `socket_timeout`: with one set, redis-py
    sends each command under `asyncio.wait_for`, which on Python 3.11 swallows a
    cancellation landing as the send completes (CPython gh-86296), so cancelling
    a subscriber or the reader would silently fail now and then. `asyncio.timeout`
    has no such race, and redis-py drops a connection interrupted mid-command.
    """
    try:
        async with asyncio.timeout(seconds):
            return await call
    except TimeoutError as exc:
        raise RedisTimeoutError(f"no reply from Redis within {seconds} s") from exc


class RedisLog(EventLog):
    """`EventLog` in the Redis at `url`, every key under `prefix` (see `keys`)."""

    def __init__(self, url: str, prefix: str = keys.DEFAULT_PREFIX) -> None:
        self._url = url
        self._prefix = keys.check_prefix(prefix)
        # Default retries are kept: every command here is safe to resend (see APPEND).
        # socket_timeout=None: see timed.
        self._redis = aioredis.Redis.from_url(url, protocol=2, socket_timeout=None)
        # The lean command link (`link`): appends, and the relay's publishes.
        self._link: RespConnection | None = None
        self._link_opening = asyncio.Lock()  # one link, however many callers wait for it
        timeout = parse_url(url).get("socket_timeout")
        self._reply_timeout = float(timeout) if isinstance(timeout, int | float) else None
        self._snapshot_script = self._redis.register_script(SAVE_SNAPSHOT)
        self._fanout = Fanout(self.read, watch=self._watch, unwatch=self._unwatch)
        self._closed = False
        # The reader: the version last delivered per followed site, and its state.
        self._cursors: dict[str, int] = {}
        self._muted: set[str] = set()  # sites whose channel it leaves (`mute`)
        self._channels: dict[bytes, str] = {}  # subscribed channel -> site, on its link
        self._changed = asyncio.Event()  # the sites to follow changed
        self._reader: asyncio.Task[None] | None = None
        self._reader_alive = False
        self._reader_error: BaseException | None = None
        self._failures = 0  # consecutive reader failures, for the backoff
        self._in_flight = 0  # commands on the shared client; close() lets them finish
        self._idle = asyncio.Event()
        self._idle.set()
        self.outage = Outage()

    @property
    def fanout(self) -> Fanout:
        """The in-process subscribers (for health checks and tests)."""
        return self._fanout

    @property
    def reader_alive(self) -> bool:
        """True while the reader is connected (False before the first subscription)."""
        return self._reader_alive

    @property
    def reader_error(self) -> BaseException | None:
        """Why the reader is down right now; None while it is connected or not needed."""
        return self._reader_error

    def _key(self, site: str) -> str:
        return keys.log(self._prefix, site)

    @property
    def url(self) -> str:
        """The server's URL (without the key prefix)."""
        return self._url

    @property
    def shared_by_processes(self) -> bool:
        return True

    def problems(self) -> dict[str, str]:
        error = self._reader_error
        return {} if error is None else {"log reader": repr(error)}

    def shared(self) -> tuple[aioredis.Redis, str]:
        """The client and key prefix, for state the deployment's processes share
        beside the logs (sign-in throttles)."""
        return self._redis, self._prefix

    async def _call(
        self, command: Callable[[], Awaitable[_T]], seconds: float | None = COMMAND_TIMEOUT
    ) -> _T:
        """Run one command on the shared client, unless the log is closed; with a
        deadline of `seconds` (None: the command has its own).

        Counted so that close() closes the pool only once they are done: redis-py
        would otherwise hand a connection opened during its close back to a closed
        pool, leaking its socket. Redis being down, restarting or loading raises
        `LogUnavailable`, and the outage is logged once (`self.outage`), not per call.
        """
        if self._closed:
            raise EventLogError("the log is closed")
        self._in_flight += 1
        self._idle.clear()
        try:
            result = await (command() if seconds is None else timed(command(), seconds))
        except OUTAGE_ERRORS as exc:
            self.outage.failed(exc)
            raise unavailable(exc) from exc
        else:
            self.outage.ok()
            return result
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    # -- EventLog ----------------------------------------------------------------------

    async def append(self, site: str, expected_version: int, events: Sequence[Event]) -> int:
        blobs = codec.encode_append(site, expected_version, events)  # checks before any write
        if not blobs:
            return await self.version(site)
        site_keys = [
            self._key(site),
            keys.version(self._prefix, site),
            keys.epoch(self._prefix, site),
            keys.push(self._prefix, site),
        ]
        nonce = os.urandom(24).hex()  # the epoch should the site be new, the append's token
        args: list[int | str | bytes] = [expected_version, nonce[:32], nonce[32:], *blobs]
        reply: Any = await self._call(lambda: self._append_script(site_keys, args), None)
        if not reply[0]:
            # Lua hands stream fields back as a flat [name, value, ...] list.
            missed = [
                entry(site, raw_id, dict(zip(fields[::2], fields[1::2], strict=True)))
                for raw_id, fields in reply[2]
            ]
            raise VersionConflict(site, expected_version, int(reply[1]), missed)
        self._publish_own(site, expected_version, blobs)
        return int(reply[1])

    async def _append_script(self, site_keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run `APPEND` on the lean connection (the writer's hottest call), pipelined.

        As redis-py would: a reply later than the URL's `socket_timeout` (else
        COMMAND_TIMEOUT) is given up and the link dropped, and a broken or timed-out
        append is sent once more on a new connection. Resending is safe: the token
        makes an append that had gone through answer as the first one did (see
        `APPEND`).
        """
        for attempt in range(3):
            conn: RespConnection | None = None
            try:
                async with asyncio.timeout(self._reply_timeout or COMMAND_TIMEOUT):
                    conn = self.link() or await self.open_link()
                    try:
                        return await conn.call(
                            "EVALSHA", APPEND_SHA, len(site_keys), *site_keys, *args
                        )
                    except NoScriptError:
                        if attempt == 2:
                            raise
                        await conn.call("SCRIPT", "LOAD", APPEND)  # a restart forgot it
            except (RedisConnectionError, TimeoutError) as exc:
                self.drop_link(conn)
                if attempt:
                    if isinstance(exc, TimeoutError):
                        raise RedisTimeoutError("Timeout reading from socket") from exc
                    raise
            except asyncio.CancelledError:  # given up on: its reply may come late, or never
                self.drop_link(conn)
                raise
        raise AssertionError("unreachable")

    def link(self) -> RespConnection | None:
        """The process's lean command link when it is open (appends go through it, the
        relay publishes on it), else None: then `open_link`."""
        link = self._link
        return link if link is not None and not link.closed.done() else None

    async def open_link(self) -> RespConnection:
        """The lean command link, connecting it when there is none."""
        async with self._link_opening:
            if self._closed:
                raise EventLogError("the log is closed")
            link = self.link()
            if link is None:
                link = self._link = await RespConnection.open(self._url, name=APPENDER_NAME)
            return link

    def drop_link(self, conn: RespConnection | None) -> None:
        """`conn` failed or timed out: close it; the next caller opens another."""
        if conn is not None:
            conn.close()
            if self._link is conn:
                self._link = None

    def _publish_own(self, site: str, base: int, blobs: Sequence[bytes]) -> None:
        """Hand this process's own append to its subscribers now, not via the reader.

        Only when the reader has delivered everything up to `base` (its cursor is
        there): then these are the next entries, and moving the cursor past them
        makes the reader skip them, undecoded, when they are pushed back.
        Saves a decode and a fan-out per event and a lap of the reader before a
        process's own follower has its own events.
        """
        if self._cursors.get(site) != base:
            return  # the reader is behind (or not following this site): it delivers
        first = base + 1
        entries = [(first + i, codec.decode_own(b)) for i, b in enumerate(blobs)]
        self._cursors[site] = base + len(blobs)
        self._fanout.publish(site, entries)

    async def read(self, site: str, after: int = 0, limit: int | None = None) -> list[Entry]:
        codec.check_site(site)
        if limit is not None and limit <= 0:
            return []
        # redis-py's reply types are unions over protocols; _entry checks what came back.
        first = f"{max(after, 0) + 1}-0"
        items: Any = await self._call(
            lambda: self._redis.xrange(self._key(site), first, "+", count=limit)
        )
        return [entry(site, raw_id, fields) for raw_id, fields in items]

    def subscribe(
        self, site: str, after: int = 0, *, direct: Callable[[Entry], None] | None = None
    ) -> AsyncGenerator[Entry, None]:
        return self._fanout.subscribe(codec.check_site(site), after, direct)

    async def version(self, site: str) -> int:
        key = keys.version(self._prefix, codec.check_site(site))
        value = await self._call(lambda: self._redis.get(key))
        return 0 if value is None else int(value)

    async def epoch(self, site: str) -> str:
        key = keys.epoch(self._prefix, codec.check_site(site))
        return await self._call(lambda: self._get_or_set_epoch(key))

    async def _get_or_set_epoch(self, key: str) -> str:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(key, uuid.uuid4().hex, nx=True)  # SET NX GET needs Redis 7; MULTI does not
            pipe.get(key)
            _, value = await pipe.execute()
        return bytes(value).decode()

    async def save_snapshot(
        self, site: str, version: int, state: Mapping[str, Any] | Encoded
    ) -> None:
        codec.check_site(site)
        codec.check_version("version", version)
        site_keys = [keys.snapshot(self._prefix, site), keys.version(self._prefix, site)]
        args: list[int | bytes] = [version, codec.encode_state(state)]
        ok, current = await self._call(lambda: self._snapshot_script(keys=site_keys, args=args))
        if not ok:
            raise ValueError(f"site {site!r}: snapshot at {version} is ahead of the log {current}")

    async def load_snapshot(self, site: str) -> tuple[int, dict[str, Any]] | None:
        codec.check_site(site)
        key = keys.snapshot(self._prefix, site)
        reply: Any = await self._call(lambda: self._redis.hmget(key, "v", "d"))
        raw_version, data = reply
        if raw_version is None or data is None:
            return None
        version = int(raw_version)
        return version, codec.decode_state(site, data, version)

    async def drop(self, site: str) -> None:
        site_keys = keys.all_of_site(self._prefix, codec.check_site(site))
        await self._call(lambda: self._redis.delete(*site_keys))
        self._fanout.reset(site)

    async def ping(self) -> None:
        await self._call(lambda: self._redis.ping())

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._fanout.close()
        if self._reader is not None:
            await self._stop_reader(self._reader)
            self._reader = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(COMMAND_TIMEOUT):
                await self._idle.wait()
        async with self._link_opening:  # after this, nobody opens one again
            if self._link is not None:
                await self._link.aclose()
        await self._redis.aclose()

    # -- the reader --------------------------------------------------------------------

    async def _stop_reader(self, reader: asyncio.Task[None]) -> None:
        self._changed.set()
        while not reader.done():
            reader.cancel()
            await asyncio.wait([reader], timeout=0.1)  # unlike `await`, never raises its cancel

    async def _watch(self, site: str) -> None:
        """A subscriber registered for `site`: make sure the reader follows it from now on."""
        if site not in self._cursors:
            # Read after the subscriber registered: whatever is appended later is above it,
            # whatever is below it the subscriber reads as backlog.
            current = await self.version(site)
            if site not in self._cursors and self._fanout.count(site):
                self._cursors[site] = current
        if self._closed:
            return
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_forever(), name="qms-eventlog-reader")
        self._changed.set()

    @property
    def muted(self) -> frozenset[str]:
        """The sites the reader leaves out (`mute`)."""
        return frozenset(self._muted)

    def mute(self, site: str) -> None:
        """Stop following `site`'s channel: for the process that is the site's one
        writer (`qms.relay`), whose appends reach its subscribers at once (see
        `_publish_own`) and would otherwise wake it again, once each. An entry
        another process appends is then delivered after `unmute` only."""
        self._muted.add(site)
        self._changed.set()

    async def unmute(self, site: str) -> None:
        """Follow `site` again, from where the reader left it; delivered in order."""
        if site in self._muted:
            self._muted.discard(site)
            self._changed.set()

    def _unwatch(self, site: str) -> None:
        self._cursors.pop(site, None)
        self._changed.set()

    async def _read_forever(self) -> None:
        """The supervised reader: reconnects with backoff; ends only when the log closes."""
        while not self._closed:
            conn: RespConnection | None = None
            try:
                conn = await timed(RespConnection.open(self._url, self._pushed, name=READER_NAME))
                if self._reader_error is not None:
                    logger.info("event log reader reconnected")
                self._reader_alive, self._reader_error = True, None
                await self._follow(conn)
            except Exception as exc:  # supervised: log, surface, back off, go on
                self._failures += 1
                self._reader_error = exc
                # Once per outage: the health check (reader_error) tells it lasts.
                log = logger.warning if self._failures == 1 else logger.debug
                log("event log reader failed (%r); reconnecting", exc)
            finally:
                self._channels = {}
                self._reader_alive = False
                if conn is not None:
                    await conn.aclose()
            if self._closed:
                return
            # Full jitter: processes that lost the same server do not come back in step.
            cap = min(BACKOFF_CAP, BACKOFF_BASE * 2**self._failures)
            await asyncio.sleep(random.uniform(0, cap))

    async def _follow(self, conn: RespConnection) -> None:
        """Keep the channel subscriptions in step with the followed sites, until the
        connection fails. A site newly subscribed is first read from storage up to
        now: what was appended before the subscription took, or while the link was
        down. A quiet link is PINGed, so a dead one is noticed."""
        while not self._closed:
            self._changed.clear()
            want = {
                keys.push(self._prefix, site).encode(): site
                for site in self._cursors
                if site not in self._muted
            }
            for channel in [c for c in self._channels if c not in want]:
                del self._channels[channel]  # its messages are ignored from now on
                await timed(conn.call("UNSUBSCRIBE", channel))
            for channel, site in want.items():
                if channel not in self._channels:
                    self._channels[channel] = site  # before: a message may follow the reply
                    await timed(conn.call("SUBSCRIBE", channel))
                    await self._fill(site)
            self._failures = 0  # reset only once it worked, so a failing link backs off
            changed = asyncio.ensure_future(self._changed.wait())
            try:
                done, _ = await asyncio.wait(
                    [changed, conn.closed], timeout=PING_S, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                changed.cancel()
            if conn.closed.done():
                raise RedisConnectionError("the event log reader's connection closed")
            if not done:
                await timed(conn.call("PING"))

    async def _fill(self, site: str) -> None:
        """Deliver `site`'s entries from storage past the reader's cursor, page by page."""
        while (cursor := self._cursors.get(site)) is not None:
            first = f"{cursor + 1}-0"
            read = partial(self._redis.xrange, self._key(site), first, "+", count=READ_COUNT)
            items: Any = await self._call(read)
            # An ID other than <version>-0, or no 'd': delivered as unreadable (None).
            entries = []
            for raw_id, fields in items:
                version, seq = parse_id(raw_id)
                entries.append((version, fields.get(b"d") if seq == 0 else None))
            self._deliver(site, entries)
            if len(items) < READ_COUNT:
                return

    def _pushed(self, channel: bytes, data: bytes) -> None:
        """A message on a site's channel: the entries one append added (`redis_layout.APPEND`)."""
        site = self._channels.get(channel)
        if site is None:
            return  # unsubscribed meanwhile
        try:
            first, *blobs = msgpack.unpackb(data, raw=True)
            version = int(first)
        except Exception:  # not ours to crash on: storage has the truth
            logger.warning("site %s: unreadable message on its channel", site)
            self._fanout.resync(site)
            return
        self._deliver(site, [(version + i, blob) for i, blob in enumerate(blobs)])

    def _deliver(self, site: str, items: Sequence[tuple[int, object]]) -> None:
        """Publish the entries (version, stored bytes or None when unreadable) past the
        cursor. One that does not follow on from the cursor (pushed while we were
        subscribing) is published all the same: each subscriber reads a gap from
        storage (`Fanout`)."""
        cursor = self._cursors.get(site)
        if cursor is None:
            return  # nobody subscribes any more
        entries: list[Entry] = []
        undecodable = False
        for version, data in items:
            if version <= cursor:
                continue
            cursor = version
            try:
                if data is None:
                    raise DecodeError(site, version, "not a <version>-0 entry with a 'd' field")
                entries.append((version, codec.decode(site, version, data)))
            except DecodeError:
                undecodable = True  # subscribers hit it in storage and raise, naming it
        self._cursors[site] = cursor
        if entries:
            self._fanout.publish(site, entries)
        if undecodable:
            self._fanout.resync(site)
