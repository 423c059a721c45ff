"""A site relay's Pub/Sub channel: hearing its own, publishing to the others'.

A lean connection (`RespConnection`) listens on the process's own channel and is
PINGed when quiet, so a dead one is noticed; messages go out at once, pipelined
on the log's command link, or queued until a link is open (no task per message).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from qms.eventlog import EventLogError
from qms.eventlog.redis import PING_S, RedisLog, timed
from qms.eventlog.resp import RespConnection
from qms.relay.messages import OnReply, replied, retrieve

log = logging.getLogger(__name__)

BACKOFF_CAP = 2.0
ERRORS = (RedisError, EventLogError, OSError, TimeoutError)


class Channel:
    """The channel `name` of `site`'s relay in this process."""

    def __init__(
        self,
        log: RedisLog,
        site: str,
        name: str,
        on_message: Callable[[Any], None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self.log = log
        self.site = site
        self.name = name
        self.on_message = on_message
        self.spawn = spawn
        self.listening = asyncio.Event()  # subscribed (Redis confirmed it)
        self.conn: RespConnection | None = None  # the listening link, while it is open
        self.stopped = False
        self._outbox: list[tuple[str, bytes, OnReply | None]] = []

    async def listen(self) -> None:
        """Receive requests (as the writer) and answers (as a sender), reconnecting.
        A lean connection (`RespConnection`): the writer hears every forwarded command."""
        failures = 0
        while True:
            conn: RespConnection | None = None
            try:
                conn = await timed(
                    RespConnection.open(self.log.url, lambda _, data: self.on_message(data))
                )
                self.conn = conn
                await timed(conn.call("SUBSCRIBE", self.name))
                self.listening.set()  # once Redis confirms, not when the command is sent
                failures = 0
                while not self.stopped:  # a quiet link is PINGed: a dead one is noticed
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
                self.conn = None
                self.listening.clear()
                if conn is not None:
                    await conn.aclose()
            await asyncio.sleep(random.uniform(0, min(BACKOFF_CAP, 0.05 * 2**failures)))

    async def unsubscribe(self) -> None:
        """Stop listening without dropping what was heard: replies come in order, so
        every message before Redis' confirmation is handled (one published after it
        is heard by nobody, and its sender runs it itself)."""
        self.stopped = True
        conn = self.conn
        if conn is not None and self.listening.is_set():
            with contextlib.suppress(*ERRORS):
                await timed(conn.call("UNSUBSCRIBE", self.name), 1.0)

    def publish(self, channel: str, payload: bytes, on_reply: OnReply | None) -> None:
        """Send a message now on the open connection (no task: this is every forwarded
        command's path); else queue it for `flush`, which connects first. `on_reply`
        gets how many listened, or why the PUBLISH failed."""
        sender = self.log.link()  # the log's lean command link, when it is open
        if sender is not None and not self._outbox:
            reply = sender.call("PUBLISH", channel, payload)
            if on_reply is not None:
                reply.add_done_callback(partial(replied, on_reply))
            else:
                reply.add_done_callback(retrieve)
            return
        if not self._outbox:
            asyncio.get_running_loop().call_soon(lambda: self.spawn(self.flush()))
        self._outbox.append((channel, payload, on_reply))

    async def flush(self) -> None:
        batch, self._outbox = self._outbox, []
        if not batch:
            return
        counts: list[Any]
        sender: RespConnection | None = None
        try:
            sender = await timed(self.log.open_link())  # EventLogError once the log closed
            # One write per message, read back in order: pipelined by the connection.
            replies = [sender.call("PUBLISH", channel, payload) for channel, payload, _ in batch]
            counts = await timed(asyncio.gather(*replies, return_exceptions=True))
        except ERRORS as exc:
            counts = [exc] * len(batch)
            self.log.drop_link(sender)  # a link that timed out is not trusted again
        for (_, _, on_reply), count in zip(batch, counts, strict=True):
            if on_reply is None:
                continue
            if isinstance(count, Exception):
                on_reply(0, count)
            elif isinstance(count, BaseException):
                on_reply(0, RedisConnectionError(repr(count)))
            else:
                on_reply(int(count), None)
