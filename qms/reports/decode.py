"""Events read back from a site's own log, decoded without checking them again.

Rebuilding a year folds ~2.4 million events; `event_from_dict` checks every field's
type (each was checked when the command was decided and the event written) and
builds the frozen dataclass through its `__init__`: ~3 µs of the fold's ~15 µs an
event. For the events whose fields are all plain (text, numbers, yes/no, a
priority or channel: every ticket and counter event), `decode` takes the known
fields as they are (numbers made floats where the field is a float, enums made
enums), the defaults for the missing ones, and sets them on a new instance
directly: ~1.5 µs. Anything else (set-up with nested records, a day's close with
its list, an unknown type, a value that does not convert) goes through
`event_from_dict` as before, so an odd entry is refused exactly as it was.
tests/test_reports_decode.py checks both give equal events over played days.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from qms.core import events as e
from qms.core.events import event_from_dict
from qms.eventsourcing.schema import init_fields

Step = tuple[str, Callable[[Any], Any] | None]  # (field, conversion; None: as it is)


def _plan(cls: type[e.Event]) -> tuple[dict[str, Any], tuple[str, ...], list[Step]] | None:
    """The defaults, the required fields and the steps of a class whose fields are all
    plain; else None."""
    steps: list[Step] = []
    required = tuple(f.name for f, _, needed in init_fields(cls) if needed)
    for field, hint, _ in init_fields(cls):
        args = [hint]
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1:
            return None
        kind = args[0]
        if kind in (str, int, bool):
            steps.append((field.name, None))
        elif kind is float:
            steps.append((field.name, float))
        elif isinstance(kind, type) and issubclass(kind, enum.Enum):
            steps.append((field.name, kind))
        else:
            return None
    defaults = {
        f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING
    }
    return defaults, required, steps


_PLANS: dict[str, tuple[type[e.Event], dict[str, Any], tuple[str, ...], list[Step]]] = {}
for _cls in e.EVENT_TYPES.values():
    _found = _plan(_cls)
    if _found is not None:
        _PLANS[_cls.TYPE] = (_cls, *_found)


def decode(entry: Mapping[str, Any]) -> e.Event:
    """The event of a log entry written by qms (see the module's text)."""
    plan = _PLANS.get(entry.get("type"))  # type: ignore[arg-type]
    if plan is None:
        return event_from_dict(entry)
    cls, defaults, required, steps = plan
    for name in required:
        if name not in entry:
            return event_from_dict(entry)  # refused as before
    values = dict(defaults)
    try:
        for name, convert in steps:
            if name in entry:
                value = entry[name]
                values[name] = value if convert is None or value is None else convert(value)
    except (TypeError, ValueError):
        return event_from_dict(entry)  # refused (or read) as before
    event = object.__new__(cls)
    event.__dict__.update(values)  # a frozen dataclass's fields, as its __init__ sets them
    return event
