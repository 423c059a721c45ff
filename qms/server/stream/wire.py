"""The live stream's wire format: close codes, frame encoding, the client's hello,
and the choice between replaying missed events and sending a snapshot.

Pure: no I/O, no clock. The protocol itself is described in docs/protocol.md.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgpack  # type: ignore[import-untyped]

from qms.server.stream.facts import Kind

Frame = str | bytes  # a text frame (JSON) or a binary frame (msgpack)

MAX_CLIENT_FRAME = 4096  # bytes; a client only ever sends hello and pings
MAX_REASON = 120  # bytes: a close reason must fit 123 bytes of UTF-8


class Close(enum.IntEnum):
    """Close codes of the stream (docs/protocol.md lists what a client does on each)."""

    GOING_AWAY = 1001  # the server is shutting down or restarting: resume elsewhere / later
    MESSAGE_TOO_BIG = 1009  # a client frame over MAX_CLIENT_FRAME bytes
    INTERNAL_ERROR = 1011  # unexpected server error: resume with backoff
    TRY_AGAIN_LATER = 1013  # the site's log cannot be read right now: resume with backoff
    SLOW_CONSUMER = 4008  # the send queue overflowed: resume at once
    PROTOCOL_ERROR = 4400  # a malformed or unexpected message: fix the client
    NOT_AUTHENTICATED = 4401  # no valid session or token: sign in / new token
    FORBIDDEN = 4403  # not allowed: origin, role, site, zone or counter
    NOT_FOUND = 4404  # no such site or counter
    TIMEOUT = 4408  # no hello in time, or the client fell silent


def clip_reason(reason: str) -> str:
    """A close reason cut to fit the frame (at most MAX_REASON bytes of UTF-8)."""
    return reason.encode()[:MAX_REASON].decode(errors="ignore")


class Format(enum.StrEnum):
    JSON = "json"
    MSGPACK = "msgpack"


SUBPROTOCOLS = {"qms.json.v1": Format.JSON, "qms.msgpack.v1": Format.MSGPACK}


def choose_subprotocol(offered: Iterable[str]) -> tuple[str | None, Format]:
    """The first subprotocol the client offered that we speak; JSON without one."""
    for name in offered:
        if name in SUBPROTOCOLS:
            return name, SUBPROTOCOLS[name]
    return None, Format.JSON


def encode(message: Mapping[str, Any], fmt: Format) -> Frame:
    if fmt is Format.MSGPACK:
        packed: bytes = msgpack.packb(message, use_bin_type=True)
        return packed
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


class ProtocolError(Exception):
    """A client message the protocol does not allow; closes with `code`."""

    def __init__(self, reason: str, code: Close = Close.PROTOCOL_ERROR) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = clip_reason(reason)


def decode(data: str | bytes) -> dict[str, Any]:
    """A client frame as a message: JSON in a text frame, msgpack in a binary frame."""
    size = len(data.encode()) if isinstance(data, str) else len(data)
    if size > MAX_CLIENT_FRAME:
        raise ProtocolError(
            f"frame of {size} bytes; at most {MAX_CLIENT_FRAME}", Close.MESSAGE_TOO_BIG
        )
    try:
        if isinstance(data, str):
            message = json.loads(data)
        else:
            message = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception as exc:  # every decoding failure (also too deep nesting) is the client's
        raise ProtocolError(f"not a valid message: {type(exc).__name__}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("a message is an object with a string 'type'")
    return message


@dataclass(frozen=True)
class Hello:
    """The client's first message: who it listens as, and what it has seen."""

    audience: Kind
    epoch: str | None = None
    version: int | None = None
    counter: str | None = None
    zone: str | None = None
    snapshot: bool = False  # a snapshot even when a replay would do (it keeps its calls owed)


def _optional_str(message: Mapping[str, Any], name: str) -> str | None:
    value = message.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 200:
        raise ProtocolError(f"hello: '{name}' must be a non-empty string or null")
    return value


def parse_hello(message: Mapping[str, Any]) -> Hello:
    """Validate a hello (unknown fields are ignored, for newer clients)."""
    if message.get("type") != "hello":
        raise ProtocolError(f"expected a hello first, got {str(message.get('type'))[:40]!r}")
    try:
        audience = Kind(str(message.get("audience")))
    except ValueError:
        raise ProtocolError("hello: 'audience' must be display, console or supervisor") from None
    version = message.get("version")
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 0
    ):
        raise ProtocolError("hello: 'version' must be a non-negative integer or null")
    counter = _optional_str(message, "counter")
    if audience is Kind.CONSOLE and counter is None:
        raise ProtocolError("hello: a console names its 'counter'")
    snapshot = message.get("snapshot", False)
    if not isinstance(snapshot, bool):
        raise ProtocolError("hello: 'snapshot' must be true or false")
    return Hello(
        audience=audience,
        epoch=_optional_str(message, "epoch"),
        version=version,
        counter=counter if audience is Kind.CONSOLE else None,
        zone=_optional_str(message, "zone") if audience is Kind.DISPLAY else None,
        snapshot=snapshot,
    )


class Resume(enum.StrEnum):
    CURRENT = "current"  # the client has seen everything: live events follow
    REPLAY = "replay"  # the missed events follow, in order
    SNAPSHOT = "snapshot"  # a snapshot of the audience's view follows


def plan_resume(hello: Hello, epoch: str, version: int, base: int, max_replay: int) -> Resume:
    """How to bring a client from what it has seen to `version`.

    `base` is the last version *not* in the server's ring of recent events: the
    ring holds base+1..version. A client of another epoch, or one that has seen
    nothing, behind the ring, too far behind or ahead of the log gets a snapshot, and
    so does one that asks for it.
    """
    if hello.snapshot or hello.epoch != epoch or hello.version is None or hello.version > version:
        return Resume.SNAPSHOT
    if hello.version == version:
        return Resume.CURRENT
    if hello.version < base or version - hello.version > max_replay:
        return Resume.SNAPSHOT
    return Resume.REPLAY
