"""What the processes of one site say to each other (docs/architecture.md, "One writer
per site"): the request's guard and deadline, the answer for an outcome, and how a
PUBLISH's reply is read. No lease and no sockets here: `site.SiteRelay` does those.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import msgpack  # type: ignore[import-untyped]
from redis.exceptions import ConnectionError as RedisConnectionError

from qms.core import Command, HallState, Rejected
from qms.engine import EngineBusy
from qms.eventlog import EventLogError
from qms.eventlog.outage import is_outage
from qms.guards import GUARD_KINDS, Guard, WireGuard

PROTOCOL = 2  # bumped when a request or an answer changes shape (2: `via`, "unavailable")


class Expired(Exception):
    """The writer reached a request after its sender stopped waiting for it."""


class NotHeard(Exception):
    """Nobody listens on the writer's channel: it is gone."""


class Silent(Exception):
    """The writer heard the request (PUBLISH said so) but did not answer in time."""


# A PUBLISH's outcome: (how many listened, None) or (0, the error).
OnReply = Callable[[int, Exception | None], None]


def packb(obj: Any) -> bytes:
    return bytes(msgpack.packb(obj, use_bin_type=True))


def answer_for(exc: BaseException) -> dict[str, Any] | None:
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


def replied(on_reply: OnReply, reply: asyncio.Future[Any]) -> None:
    """PUBLISH answered: pass on how many listened, or why it failed."""
    error = retrieve(reply)
    if error is not None:
        on_reply(0, error)
    else:
        on_reply(int(reply.result()), None)


def retrieve(reply: asyncio.Future[Any]) -> Exception | None:
    """Why `reply` failed, if it did. Also the callback of a reply nobody waits for (an
    answer, a nudge: a lost one costs its receiver a timeout), so that asyncio does
    not log "exception never retrieved"."""
    if reply.cancelled():
        return RedisConnectionError("the PUBLISH was cancelled")
    error = reply.exception()
    if error is None or isinstance(error, Exception):
        return error
    return RedisConnectionError(repr(error))


def expire(answered: asyncio.Future[Any]) -> None:
    if not answered.done():
        answered.set_exception(Silent("the writer did not answer in time"))


def rebuild(wire: Any, cmd: Command) -> WireGuard | None:
    if wire is None:
        return None
    kind, data = wire
    cls = GUARD_KINDS.get(kind)
    if cls is None:
        raise EventLogError(f"unknown guard kind {kind!r}")
    return cls.from_wire(data, cmd)


def deadline(until: float, inner: Guard | None) -> Guard:
    """The request's guard, refusing once its sender has stopped waiting."""

    def guard(state: HallState) -> None:
        if time.time() > until:
            raise Expired()
        if inner is not None:
            inner(state)

    return guard
