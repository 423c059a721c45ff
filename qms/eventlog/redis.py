"""The Redis backend: a Stream per site, the version as the stream ID, any number of processes.

Compare-and-append is one Lua script (`_APPEND`). Live entries come from ONE
reader task per `RedisLog` (a blocking XREAD over the streams of every site that
has local subscribers, on a connection of its own) fanned out in-process by
`Fanout`, which fills any gap from storage. The reader keeps, per site, the
stream ID of the last entry it delivered, so a reconnect resumes exactly there.
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

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import codec, keys
from ._fanout import Fanout
from .base import DecodeError, Entry, Event, EventLog, EventLogError, VersionConflict

logger = logging.getLogger(__name__)

COMMAND_TIMEOUT = 10.0  # seconds for any one command (and the margin above a blocking read)
READ_BLOCK_MS = 5_000  # one XREAD waits at most this long, then is issued again
READ_COUNT = 512  # entries per stream per XREAD
BACKOFF_BASE = 0.05  # seconds; reconnect delay is uniform in [0, min(cap, base * 2**n)]
BACKOFF_CAP = 2.0
_WAKE_TRIES = 100  # CLIENT UNBLOCK attempts (2 ms apart) to let a new site in at once

# KEYS: log, version, epoch. ARGV: expected version, epoch if absent, token, event...
# Redis' automatic retry may resend an append whose reply was lost: the token on
# its first entry tells "already appended by me" from a real conflict, so such a
# retry succeeds instead of leading the caller to decide (and call a ticket) twice.
_APPEND = """
local CONFLICT_ENTRIES = 64
local expected = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
local n = #ARGV - 3
if current ~= expected then
  if current >= expected + n then
    local id = string.format('%d-0', expected + 1)
    local first = redis.call('XRANGE', KEYS[1], id, id)[1]
    if first then
      local fields = first[2]
      for i = 1, #fields, 2 do
        if fields[i] == 't' and fields[i + 1] == ARGV[3] then
          return {1, expected + n}
        end
      end
    end
  end
  -- The conflict carries the entries the caller missed (a page of them), so the
  -- loser of a race catches up without another round trip and can retry at once.
  local missed = redis.call('XRANGE', KEYS[1], string.format('%d-0', expected + 1), '+',
    'COUNT', CONFLICT_ENTRIES)
  return {0, current, missed}
end
redis.call('SET', KEYS[3], ARGV[2], 'NX')
redis.call('XADD', KEYS[1], string.format('%d-0', expected + 1), 'd', ARGV[4], 't', ARGV[3])
for i = 2, n do
  redis.call('XADD', KEYS[1], string.format('%d-0', expected + i), 'd', ARGV[3 + i])
end
redis.call('SET', KEYS[2], expected + n)
return {1, expected + n}
"""

# KEYS: snapshot, version. ARGV: version, state. Returns {0, current} when ahead of
# the log; keeps a newer snapshot rather than replace it with an older one.
_SAVE_SNAPSHOT = """
local v = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if v > current then
  return {0, current}
end
local old = redis.call('HGET', KEYS[1], 'v')
if old and tonumber(old) > v then
  return {1, tonumber(old)}
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
return {1, v}
"""

StreamId = tuple[int, int]
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


def _parse_id(raw: bytes | str) -> StreamId:
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def _entry(site: str, raw_id: bytes | str, fields: Mapping[bytes, object]) -> Entry:
    try:
        version, seq = _parse_id(raw_id)
    except ValueError as exc:
        raise DecodeError(site, 0, f"stream ID {raw_id!r} is not <version>-0") from exc
    if seq != 0:
        raise DecodeError(site, version, f"stream ID {raw_id!r} is not <version>-0")
    data = fields.get(b"d")
    if data is None:
        raise DecodeError(site, version, "stream entry has no 'd' field")
    return version, codec.decode(site, version, data)


class RedisLog(EventLog):
    """`EventLog` in the Redis at `url`, every key under `prefix` (see `keys`)."""

    def __init__(self, url: str, prefix: str = keys.DEFAULT_PREFIX) -> None:
        self._url = url
        self._prefix = keys.check_prefix(prefix)
        # Default retries are kept: every command here is safe to resend (see _APPEND).
        # socket_timeout=None: see timed.
        self._redis = aioredis.Redis.from_url(url, protocol=2, socket_timeout=None)
        self._append_script = self._redis.register_script(_APPEND)
        self._snapshot_script = self._redis.register_script(_SAVE_SNAPSHOT)
        self._fanout = Fanout(self.read, watch=self._watch, unwatch=self._unwatch)
        self._closed = False
        # The reader: the last stream ID delivered per watched site, and its state.
        self._cursors: dict[str, StreamId] = {}
        self._muted: set[str] = set()  # sites left out of the XREAD (`mute`)
        self._reader: asyncio.Task[None] | None = None
        self._reader_id: int | None = None  # CLIENT ID of its connection while connected
        self._generation = 0  # bumped when a site is added to _cursors
        self._built_generation = 0  # the generation the pending XREAD was built from
        self._sites_added = asyncio.Event()
        self._reader_alive = False
        self._reader_error: BaseException | None = None
        self._failures = 0  # consecutive reader failures, for the backoff
        self._in_flight = 0  # commands on the shared client; close() lets them finish
        self._idle = asyncio.Event()
        self._idle.set()

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

    def shared(self) -> tuple[aioredis.Redis, str]:
        """The client and key prefix, for state the deployment's processes share
        beside the logs (sign-in throttles)."""
        return self._redis, self._prefix

    def blocking_client(self) -> aioredis.Redis:
        """A connection of its own for blocking reads (XREAD, BRPOP), without retries.

        Not the shared pool: a blocked command would hold a pooled connection, and
        redis-py's socket timeout would break it (time such a call with `timed`, a
        margin above its block time). The caller reconnects, and closes it.
        """
        client = aioredis.Redis.from_url(
            self._url,
            protocol=2,
            socket_timeout=None,
            retry=Retry(NoBackoff(), 0),
            single_connection_client=True,
        )
        # A URL's own socket_timeout wins over the argument above; here it must not
        # (it would cut every blocking read short, a reconnect each time).
        client.connection_pool.connection_kwargs["socket_timeout"] = None
        return client

    async def _call(self, command: Callable[[], Awaitable[_T]]) -> _T:
        """Run one command on the shared client, unless the log is closed.

        Counted so that close() closes the pool only once they are done: redis-py
        would otherwise hand a connection opened during its close back to a closed
        pool, leaking its socket.
        """
        if self._closed:
            raise EventLogError("the log is closed")
        self._in_flight += 1
        self._idle.clear()
        try:
            return await timed(command())
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    # -- EventLog ----------------------------------------------------------------------

    async def append(self, site: str, expected_version: int, events: Sequence[Event]) -> int:
        codec.check_site(site)
        codec.check_version("expected_version", expected_version)
        blobs = [codec.encode(event) for event in events]  # every check before any write
        if not blobs:
            return await self.version(site)
        site_keys = [
            self._key(site),
            keys.version(self._prefix, site),
            keys.epoch(self._prefix, site),
        ]
        args: list[int | str | bytes] = [
            expected_version,
            uuid.uuid4().hex,
            os.urandom(8).hex(),
            *blobs,
        ]
        reply: Any = await self._call(lambda: self._append_script(keys=site_keys, args=args))
        if not reply[0]:
            # Lua hands stream fields back as a flat [name, value, ...] list.
            missed = [
                _entry(site, raw_id, dict(zip(fields[::2], fields[1::2], strict=True)))
                for raw_id, fields in reply[2]
            ]
            raise VersionConflict(site, expected_version, int(reply[1]), missed)
        self._publish_own(site, expected_version, blobs)
        return int(reply[1])

    def _publish_own(self, site: str, base: int, blobs: Sequence[bytes]) -> None:
        """Hand this process's own append to its subscribers now, not via the reader.

        Only when the reader has delivered everything up to `base` (its cursor is
        there): then these are the next entries, and moving the cursor past them
        makes the reader skip them, undecoded, when its XREAD brings them back.
        Saves a decode and a fan-out per event and a lap of the reader before a
        process's own follower has its own events.
        """
        if self._cursors.get(site) != (base, 0):
            return  # the reader is behind (or not following this site): it delivers
        first = base + 1
        entries = [(first + i, codec.decode(site, first + i, b)) for i, b in enumerate(blobs)]
        self._cursors[site] = (base + len(blobs), 0)
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
        return [_entry(site, raw_id, fields) for raw_id, fields in items]

    def subscribe(self, site: str, after: int = 0) -> AsyncGenerator[Entry, None]:
        return self._fanout.subscribe(codec.check_site(site), after)

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
        self, site: str, version: int, state: Mapping[str, Any] | codec.Encoded
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
        await self._redis.aclose()

    # -- the reader --------------------------------------------------------------------

    async def _stop_reader(self, reader: asyncio.Task[None]) -> None:
        # Cancel until it ends: a URL that sets socket_timeout brings back the
        # swallowed cancel described in timed. The reader also stops on _closed.
        self._sites_added.set()
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
                self._cursors[site] = (current, 0)
                self._generation += 1
        if self._closed:
            return
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_forever(), name="qms-eventlog-reader")
        await self._wake_reader()

    @property
    def muted(self) -> frozenset[str]:
        """The sites the reader leaves out (`mute`)."""
        return frozenset(self._muted)

    def mute(self, site: str) -> None:
        """Leave `site` out of the reader's XREAD: for the process that is the site's
        one writer (`qms.relay`), whose appends reach its subscribers at once (see
        `_publish_own`) and would otherwise wake its reader again, one XREAD each.
        An entry another process appends is then delivered after `unmute` only."""
        self._muted.add(site)  # the pending XREAD still names it: one more wake at most

    async def unmute(self, site: str) -> None:
        """Read `site` again, from where the reader left it; delivered in order."""
        if site in self._muted:
            self._muted.discard(site)
            self._generation += 1
            await self._wake_reader()

    def _unwatch(self, site: str) -> None:
        # A pending XREAD may still name the site; its entries are ignored.
        self._cursors.pop(site, None)

    async def _wake_reader(self) -> None:
        """Make the reader's next XREAD include every watched site, now rather than later.

        A reader idle for want of sites waits on an event; one blocked in XREAD is
        released with CLIENT UNBLOCK (a timeout for it), and re-issues it with the
        new site. Until it has, the UNBLOCK may arrive before its XREAD does: retry.
        """
        target = self._generation
        self._sites_added.set()
        for _ in range(_WAKE_TRIES):
            reader_id = self._reader_id
            if self._built_generation >= target or reader_id is None or self._closed:
                return  # a reader (re)connecting builds its XREAD from the current sites
            try:
                if await self._call(partial(self._redis.client_unblock, reader_id)):
                    return
            except (RedisError, EventLogError):
                return  # the reader picks the site up after its block time at worst
            await asyncio.sleep(0.002)

    async def _read_forever(self) -> None:
        """The supervised reader: reconnects with backoff; ends only when the log closes."""
        while not self._closed:
            conn = self.blocking_client()  # this loop retries, and learns the new CLIENT ID
            try:
                self._reader_id = await timed(conn.client_id())
                if self._reader_error is not None:
                    logger.info("event log reader reconnected")
                self._reader_alive, self._reader_error = True, None
                await self._read_loop(conn)
            except Exception as exc:  # supervised: log, surface, back off, go on
                self._failures += 1
                self._reader_error = exc
                # Once per outage: the health check (reader_error) tells it lasts.
                log = logger.warning if self._failures == 1 else logger.debug
                log("event log reader failed (%r); reconnecting", exc)
            finally:
                self._reader_id = None
                self._reader_alive = False
                with contextlib.suppress(RedisError, OSError):
                    await conn.aclose()
            if self._closed:
                return
            # Full jitter: processes that lost the same server do not come back in step.
            cap = min(BACKOFF_CAP, BACKOFF_BASE * 2**self._failures)
            await asyncio.sleep(random.uniform(0, cap))

    async def _read_loop(self, conn: aioredis.Redis) -> None:
        """XREAD the watched sites' streams and deliver, until the connection fails."""
        while not self._closed:
            read = {site: c for site, c in self._cursors.items() if site not in self._muted}
            if not read:
                self._sites_added.clear()
                await self._sites_added.wait()
                continue
            self._built_generation = self._generation
            sites = {self._key(site): site for site in read}
            streams: dict[Any, Any] = {
                self._key(site): f"{ms}-{seq}" for site, (ms, seq) in read.items()
            }
            reply: Any = await timed(
                conn.xread(streams, count=READ_COUNT, block=READ_BLOCK_MS),
                READ_BLOCK_MS / 1000 + COMMAND_TIMEOUT,
            )
            self._failures = 0  # reset only once a read worked, so a failing read backs off
            for raw_key, items in reply or ():
                site = sites.get(raw_key.decode() if isinstance(raw_key, bytes) else raw_key)
                if site is not None:
                    self._deliver(site, items)

    def _deliver(self, site: str, items: Sequence[tuple[bytes, Mapping[bytes, object]]]) -> None:
        cursor = self._cursors.get(site)
        if cursor is None:
            return  # nobody subscribes any more
        entries: list[Entry] = []
        undecodable = False
        for raw_id, fields in items:
            stream_id = _parse_id(raw_id)
            if stream_id <= cursor:
                continue
            cursor = stream_id
            try:
                entries.append(_entry(site, raw_id, fields))
            except DecodeError:
                undecodable = True  # subscribers hit it in storage and raise, naming it
        self._cursors[site] = cursor
        self._fanout.publish(site, entries)
        if undecodable:
            self._fanout.resync(site)
