"""Turn plain mappings (JSON, msgpack) into typed dataclasses and back.

One small converter serves commands (strict: unknown or ill-typed fields are
refused) and events (tolerant: unknown fields are ignored, missing ones take
their defaults, so events written by an older or newer version still load).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Hashable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

MAX_STR = 200
MAX_LIST = 64


class SchemaError(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


Converter = typing.Callable[[Any, str], Any]  # (value, field name for errors) -> value


@functools.cache
def _converter(tp: Any, strict: bool) -> Converter:
    """The function converting a value to `tp`, worked out once per type.

    Why compiled: every process folds every event of its sites through here, so
    looking at type hints on each call (get_origin, dataclasses.fields) was most
    of the cost of following a busy site.
    """
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        optional = type(None) in args
        inner = _converter(next(a for a in args if a is not type(None)), strict)

        def union(value: Any, name: str) -> Any:
            if value is None and optional:
                return None
            return inner(value, name)

        return union
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        item = _converter(item_tp, strict)

        def a_list(value: Any, name: str) -> Any:
            if not isinstance(value, list | tuple):
                raise SchemaError(name, "expected a list")
            if strict and len(value) > MAX_LIST:  # untrusted input; a fact may be longer
                raise SchemaError(name, f"at most {MAX_LIST} items")
            return [item(v, f"{name}[{i}]") for i, v in enumerate(value)]

        return a_list
    if origin is dict:
        value_conv = _converter(typing.get_args(tp)[1], strict)

        def a_dict(value: Any, name: str) -> Any:
            if not isinstance(value, Mapping):
                raise SchemaError(name, "expected an object")
            return {str(k): value_conv(v, f"{name}.{k}") for k, v in value.items()}

        return a_dict
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        members = {m.value: m for m in tp}
        choices = ", ".join(str(m.value) for m in tp)

        def an_enum(value: Any, name: str) -> Any:
            member = members.get(value) if isinstance(value, Hashable) else None
            if member is not None:
                return member
            try:
                return tp(value)
            except ValueError:
                raise SchemaError(name, f"expected one of: {choices}") from None

        return an_enum
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        cls = tp

        def a_dataclass(value: Any, name: str) -> Any:
            if not isinstance(value, Mapping):
                raise SchemaError(name, "expected an object")
            return from_dict(cls, value, strict=strict, prefix=f"{name}.")

        return a_dataclass
    if tp is bool:

        def a_bool(value: Any, name: str) -> Any:
            if not isinstance(value, bool):
                raise SchemaError(name, "expected true or false")
            return value

        return a_bool
    if tp is int:

        def an_int(value: Any, name: str) -> Any:
            if isinstance(value, bool) or not isinstance(value, int):
                raise SchemaError(name, "expected an integer")
            return value

        return an_int
    if tp is float:

        def a_float(value: Any, name: str) -> Any:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SchemaError(name, "expected a number")
            return float(value)

        return a_float
    if tp is str:

        def a_str(value: Any, name: str) -> Any:
            if not isinstance(value, str):
                raise SchemaError(name, "expected a string")
            if strict and len(value) > MAX_STR:
                raise SchemaError(name, f"at most {MAX_STR} characters")
            return value

        return a_str
    if tp is Any:
        return lambda value, name: value

    def unsupported(value: Any, name: str) -> Any:  # only a field that is present is wrong
        raise TypeError(f"{name}: unsupported field type {tp!r}")

    return unsupported


@functools.cache
def _plan(cls: type, strict: bool) -> tuple[frozenset[str], list[tuple[str, bool, Converter]]]:
    """A class's init fields: the known names, and (name, required, converter) each."""
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    known = frozenset(f.name for f in fields) | {"type", "schema"}
    steps = [
        (
            f.name,
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            _converter(hints[f.name], strict),
        )
        for f in fields
    ]
    return known, steps


def from_dict(cls: type[T], data: Mapping[str, Any], *, strict: bool, prefix: str = "") -> T:
    """Build `cls` from `data`; `strict` refuses unknown fields and oversized strings and lists
    (for untrusted input; events and snapshots are facts: a day_closed may expire hundreds)."""
    known, steps = _plan(cls, strict)  # type: ignore[arg-type]  # classes are hashable
    if strict:
        unknown = sorted(set(data) - known)
        if unknown:
            raise SchemaError(prefix + unknown[0], "unknown field")
    kwargs: dict[str, Any] = {}
    for name, required, convert in steps:
        if name in data:
            kwargs[name] = convert(data[name], prefix + name)
        elif required:
            raise SchemaError(prefix + name, "required")
    return cls(**kwargs)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


_SCALARS = frozenset({str, int, float, bool, type(None)})


def to_dict(obj: Any) -> Any:
    """Plain data (dicts, lists, str, numbers) for msgpack or JSON.

    On every command and snapshot path: scalars are tested first, by exact type
    (an enum is not a plain str), and field names are cached per class.
    """
    cls = type(obj)
    if cls in _SCALARS:
        return obj
    if hasattr(cls, "__dataclass_fields__"):
        out = {}
        for name in _field_names(cls):  # most fields are scalars: no call for those
            value = getattr(obj, name)
            if type(value) in _SCALARS:
                out[name] = value
            elif isinstance(value, enum.Enum):
                out[name] = value.value
            else:
                out[name] = to_dict(value)
        return out
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj
