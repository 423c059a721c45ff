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
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")

MAX_STR = 200
MAX_LIST = 64


class SchemaError(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(tp: Any, value: Any, name: str, strict: bool) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, name, strict)
    if origin is list:
        if not isinstance(value, list | tuple):
            raise SchemaError(name, "expected a list")
        if strict and len(value) > MAX_LIST:  # untrusted input; a recorded fact may be longer
            raise SchemaError(name, f"at most {MAX_LIST} items")
        (item,) = typing.get_args(tp)
        return [_convert(item, v, f"{name}[{i}]", strict) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise SchemaError(name, "expected an object")
        _, item = typing.get_args(tp)
        return {str(k): _convert(item, v, f"{name}.{k}", strict) for k, v in value.items()}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            choices = ", ".join(str(m.value) for m in tp)
            raise SchemaError(name, f"expected one of: {choices}") from None
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, Mapping):
            raise SchemaError(name, "expected an object")
        return from_dict(tp, value, strict=strict, prefix=f"{name}.")
    if tp is bool:
        if not isinstance(value, bool):
            raise SchemaError(name, "expected true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(name, "expected an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SchemaError(name, "expected a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise SchemaError(name, "expected a string")
        if strict and len(value) > MAX_STR:
            raise SchemaError(name, f"at most {MAX_STR} characters")
        return value
    if tp is Any:
        return value
    raise TypeError(f"{name}: unsupported field type {tp!r}")


def from_dict(cls: type[T], data: Mapping[str, Any], *, strict: bool, prefix: str = "") -> T:
    """Build `cls` from `data`; `strict` refuses unknown fields and oversized strings and lists
    (for untrusted input; events and snapshots are facts: a day_closed may expire hundreds)."""
    hints = _hints(cls)  # type: ignore[arg-type]  # classes are hashable
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    if strict:
        unknown = sorted(set(data) - set(fields) - {"type", "schema"})
        if unknown:
            raise SchemaError(prefix + unknown[0], "unknown field")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], prefix + name, strict)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
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
        return {name: to_dict(getattr(obj, name)) for name in _field_names(cls)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj
