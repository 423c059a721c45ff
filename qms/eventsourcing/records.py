"""Events and commands as typed records: one registry of types, one wire form.

The hall (`qms.core`) and the accounts (`qms.accounts`) are two event-sourced
cores; both name each record class by its ``TYPE`` and write an event as
``{"type", "schema", **fields}``. A record written by any version of qms loads
(unknown fields are ignored, missing ones take their defaults).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, TypeVar

from qms.eventsourcing.schema import SchemaError, from_dict, to_dict


class Typed(Protocol):
    TYPE: ClassVar[str]


R = TypeVar("R", bound=Typed)


class UnknownEvent(ValueError):
    """An event this version cannot read: an unknown type, or a field of the wrong type."""


def registry(base: type[R]) -> dict[str, type[R]]:
    """Every class under `base` that has a ``TYPE`` (the base itself has none), by it, in
    the order they are defined (a class before its subclasses)."""
    found: dict[str, type[R]] = {}

    def visit(cls: type[R]) -> None:
        if cls.TYPE:
            found[cls.TYPE] = cls
        for sub in cls.__subclasses__():
            visit(sub)

    visit(base)
    return found


def event_to_dict(event: Any) -> dict[str, Any]:
    """An event's wire form: its type, its schema version and its fields."""
    data: dict[str, Any] = {"type": event.TYPE, "schema": event.SCHEMA}
    data.update(to_dict(event))
    return data


def event_from_dict(
    types: Mapping[str, type[R]], data: Mapping[str, Any], what: str = "event"
) -> R:
    """The typed event of `data`, one of `types`; `UnknownEvent` when it cannot be read
    (`what` names the kind of event in the message: whose log it came from)."""
    cls = types.get(str(data.get("type", "")))
    if cls is None:
        raise UnknownEvent(f"unknown {what} type {data.get('type')!r}")
    try:
        return from_dict(cls, data, strict=False)
    except SchemaError as exc:
        raise UnknownEvent(f"{cls.TYPE}: {exc}") from None
