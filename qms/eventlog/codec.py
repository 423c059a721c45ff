"""What may be stored in a log, and its bytes: msgpack of one event, checked both ways.

The log does not interpret events beyond ``type`` (non-empty str) and ``schema``
(int >= 1); every other key is stored and returned as is, so fields added by a
later version of qms survive a round trip through an older reader. msgpack has
no tuple: a tuple comes back as a list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import msgpack  # type: ignore[import-untyped]

from .base import Encoded, Event
from .errors import DecodeError

# One oversized command must not bloat a log that every client replays.
MAX_EVENT_BYTES = 64 * 1024

_SITE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")

# What msgpack raises on bytes it cannot read (ValueError covers UnicodeDecodeError,
# ExtraData, FormatError, StackError; TypeError an unhashable map key).
_UNPACK_ERRORS = (ValueError, TypeError, msgpack.UnpackException)


def check_site(site: str) -> str:
    """Return `site` if it is a valid site id, else raise ValueError.

    Site ids end up in Redis key names (inside a ``{hash tag}``) and file rows,
    so both backends accept only ``[A-Za-z0-9_-]{1,64}``.
    """
    if not isinstance(site, str) or _SITE_RE.fullmatch(site) is None:
        raise ValueError(f"invalid site id {site!r}: expected 1-64 of [A-Za-z0-9_-]")
    return site


def check_version(name: str, value: int) -> int:
    """Return `value` if it is a version number (an int >= 0), else raise ValueError."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return value


_is_str = str.__instancecheck__


def _event_problem(event: object) -> str | None:
    """Why `event` is not a storable event, or None when it is."""
    if type(event) is not dict and not isinstance(event, Mapping):  # ABC check: slow
        return f"an event is a map, got {type(event).__name__}"
    if not all(map(_is_str, event)):  # every process checks every event: kept in C
        bad = next(k for k in event if not isinstance(k, str))
        return f"event keys must be str, got {bad!r}"
    kind = event.get("type")
    if not isinstance(kind, str) or not kind:
        return f"'type' must be a non-empty str, got {kind!r}"
    schema = event.get("schema")
    # bool is an int subclass; True is not a schema number.
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        return f"'schema' must be an int >= 1, got {schema!r}"
    return None


def _pack(value: Mapping[str, Any], what: str) -> bytes:
    try:
        data = msgpack.packb(dict(value), use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{what} cannot be encoded: {exc}") from exc
    if not isinstance(data, bytes):  # packb returns bytes unless autoreset=False
        raise ValueError(f"{what} cannot be encoded")
    return data


def _unpack(data: object) -> object:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValueError(f"stored value is {type(data).__name__}, not bytes")
    return msgpack.unpackb(bytes(data), raw=False, strict_map_key=False)


def _unpack_map(site: str, version: int, data: object, what: str) -> dict[str, Any]:
    """The map stored as `data` (an event or a snapshot); `DecodeError` when it is not one."""
    try:
        value = _unpack(data)
    except _UNPACK_ERRORS as exc:
        raise DecodeError(site, version, f"{what} is not msgpack: {exc}") from exc
    if not isinstance(value, dict):
        raise DecodeError(site, version, f"{what} is not a map: {type(value).__name__}")
    return value


def encode(event: Event) -> bytes:
    """The stored bytes of one event; ValueError when it does not conform or is too big."""
    problem = _event_problem(event)
    if problem is not None:
        raise ValueError(f"invalid event: {problem}")
    data = _pack(event, "event")
    if len(data) > MAX_EVENT_BYTES:
        raise ValueError(
            f"event {event['type']!r} is {len(data)} bytes encoded, over the limit of "
            f"{MAX_EVENT_BYTES}"
        )
    return data


def encode_append(site: str, expected_version: int, events: Iterable[Event]) -> list[bytes]:
    """The stored bytes of an append's events, after every check of the append (site,
    version, each event): a backend calls this before it writes anything."""
    check_site(site)
    check_version("expected_version", expected_version)
    return [encode(event) for event in events]


def decode_own(data: bytes) -> dict[str, Any]:
    """A fresh copy of an event this process has just encoded (`encode` checked it)."""
    event: dict[str, Any] = msgpack.unpackb(data, raw=False, strict_map_key=False)
    return event


def decode(site: str, version: int, data: object) -> dict[str, Any]:
    """The event stored at (`site`, `version`); `DecodeError` naming both when unreadable.

    `data` is whatever the store returned (bytes, or a TEXT someone wrote by hand).
    """
    event = _unpack_map(site, version, data, "event")
    problem = _event_problem(event)
    if problem is not None:
        raise DecodeError(site, version, problem)
    return event


class MapWriter:
    """Encodes a msgpack map an entry at a time.

    A busy day's state is mostly its tickets: encoded a few at a time between
    commands, it never pauses the event loop for long, and no plain-dict copy of
    every ticket is alive at once (which also kept the garbage collector busy).
    The bytes are those `msgpack.packb` makes of the whole map.
    """

    def __init__(self) -> None:
        self._packer = msgpack.Packer(use_bin_type=True)
        self._parts: list[bytes] = []

    def map_header(self, size: int) -> None:
        self._parts.append(self._packer.pack_map_header(size))

    def array_header(self, size: int) -> None:
        self._parts.append(self._packer.pack_array_header(size))

    def key(self, key: str) -> None:
        self._parts.append(self._packer.pack(key))

    def item(self, value: Any) -> None:
        try:
            self._parts.append(self._packer.pack(value))
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"state item cannot be encoded: {exc}") from exc

    def entry(self, key: str, value: Any) -> None:
        try:
            self._parts += (self._packer.pack(key), self._packer.pack(value))
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"state entry {key!r} cannot be encoded: {exc}") from exc

    def done(self) -> Encoded:
        return Encoded(b"".join(self._parts))


def encode_state(state: Mapping[str, Any] | Encoded) -> bytes:
    """The stored bytes of a snapshot's state (no size limit: a state is one per site)."""
    if isinstance(state, Encoded):
        return bytes(state)
    if not isinstance(state, Mapping):
        raise ValueError(f"a state is a map, got {type(state).__name__}")
    return _pack(state, "state")


def decode_state(site: str, data: object, version: int = 0) -> dict[str, Any]:
    """A snapshot's state; `DecodeError` (with the snapshot's version) when unreadable."""
    return _unpack_map(site, version, data, "snapshot")
