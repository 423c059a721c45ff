"""Typed records from plain mappings (JSON, msgpack) and back, and their JSON schemas.

One small converter serves commands (strict: unknown or ill-typed fields are
refused) and events (tolerant: unknown fields are ignored, missing ones take
their defaults, so events written by an older or newer version still load).
The API's OpenAPI document is made from the same types by `json_schema`: both
look at a type through one walker (`shape`), so both say the same.

A field's domain beyond its type is a `Constraint` in its annotation
(``Annotated[int, Constraint(minimum=0, maximum=6)]``): strict parsing refuses
values outside it, and the schema states it. Every integer parsed strictly is
within ±`MAX_INT` even without one: untrusted numbers never reach msgpack (whose
integers end at 64 bits) or a JSON client (whose end at 2^53).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
import types
import typing
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

T = TypeVar("T")

MAX_STR = 200
MAX_LIST = 64
MAX_INT = 2**53 - 1  # the largest integer every JSON client reads exactly


@dataclass(frozen=True)
class Constraint:
    """What a field's value may be beyond its type (checked only when parsing strictly)."""

    minimum: int | None = None  # integers
    maximum: int | None = None
    pattern: str | None = None  # strings: a regular expression the whole value matches
    unique_items: bool = False  # lists: no item twice
    meaning: str = ""  # the pattern in words, for the error message

    def problem(self, value: Any) -> str | None:
        """Why `value` (already of the field's type) is refused, or None."""
        if isinstance(value, int):
            low = self.minimum is not None and value < self.minimum
            high = self.maximum is not None and value > self.maximum
            if low or high:
                if self.minimum is None:
                    return f"at most {self.maximum}"
                if self.maximum is None:
                    return f"at least {self.minimum}"
                return f"between {self.minimum} and {self.maximum}"
        if isinstance(value, str) and self.pattern and not re.fullmatch(self.pattern, value):
            return self.meaning or f"must match {self.pattern}"
        if isinstance(value, list) and self.unique_items and len(set(value)) != len(value):
            return "an item is listed twice"
        return None


class SchemaError(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class Shape:
    """A field type as both the converter and the JSON schema see it.

    kind: "annotated" (args: the base type; constraints), "union" (args: the
    members but None; optional: None is one), "list" (args: the item type),
    "dict" (args: the value type), "enum", "dataclass", "bool", "int", "float",
    "str", "any", or "unsupported".
    """

    kind: str
    tp: Any
    args: tuple[Any, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    optional: bool = False


def shape(tp: Any) -> Shape:
    """What `tp` is, for the two walkers over field types (the only place that asks)."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        base, *extras = typing.get_args(tp)
        constraints = tuple(x for x in extras if isinstance(x, Constraint))
        return Shape("annotated", tp, (base,), constraints)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        members = tuple(a for a in args if a is not type(None))
        return Shape("union", tp, members, optional=type(None) in args)
    if origin is list:
        return Shape("list", tp, typing.get_args(tp))
    if origin is dict:
        return Shape("dict", tp, typing.get_args(tp)[1:])
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return Shape("enum", tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return Shape("dataclass", tp)
    for scalar, kind in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str")):
        if tp is scalar:
            return Shape(kind, tp)
    return Shape("any" if tp is Any else "unsupported", tp)


def init_fields(cls: type) -> list[tuple[dataclasses.Field[Any], Any, bool]]:
    """A dataclass's init fields, each with its type hint and whether it is required."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return [
        (
            f,
            hints[f.name],
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
        if f.init
    ]


Converter = typing.Callable[[Any, str], Any]  # (value, field name for errors) -> value


@functools.cache
def _converter(tp: Any, strict: bool) -> Converter:
    """The function converting a value to `tp`, worked out once per type.

    Why compiled: every process folds every event of its sites through here, so
    looking at type hints on each call (get_origin, dataclasses.fields) was most
    of the cost of following a busy site.
    """
    s = shape(tp)
    if s.kind == "annotated":
        convert = _converter(s.args[0], strict)
        constraints = s.constraints
        if not strict or not constraints:  # events are facts: they load as they were written
            return convert

        def check(value: Any, name: str) -> None:
            for constraint in constraints:
                problem = constraint.problem(value)
                if problem is not None:
                    raise SchemaError(name, problem)

        def constrained(value: Any, name: str) -> Any:
            if type(value) is int:  # the field's own bounds say more than the general one
                check(value, name)
            value = convert(value, name)
            check(value, name)
            return value

        return constrained
    if s.kind == "union":
        optional = s.optional
        inner = _converter(s.args[0], strict)

        def union(value: Any, name: str) -> Any:
            if value is None and optional:
                return None
            return inner(value, name)

        return union
    if s.kind == "list":
        item = _converter(s.args[0], strict)

        def a_list(value: Any, name: str) -> Any:
            if not isinstance(value, list | tuple):
                raise SchemaError(name, "expected a list")
            if strict and len(value) > MAX_LIST:  # untrusted input; a fact may be longer
                raise SchemaError(name, f"at most {MAX_LIST} items")
            return [item(v, f"{name}[{i}]") for i, v in enumerate(value)]

        return a_list
    if s.kind == "dict":
        value_conv = _converter(s.args[0], strict)

        def a_dict(value: Any, name: str) -> Any:
            if not isinstance(value, Mapping):
                raise SchemaError(name, "expected an object")
            return {str(k): value_conv(v, f"{name}.{k}") for k, v in value.items()}

        return a_dict
    if s.kind == "enum":
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
    if s.kind == "dataclass":
        cls = tp

        def a_dataclass(value: Any, name: str) -> Any:
            if not isinstance(value, Mapping):
                raise SchemaError(name, "expected an object")
            return from_dict(cls, value, strict=strict, prefix=f"{name}.")

        return a_dataclass
    if s.kind == "bool":

        def a_bool(value: Any, name: str) -> Any:
            if not isinstance(value, bool):
                raise SchemaError(name, "expected true or false")
            return value

        return a_bool
    if s.kind == "int":

        def an_int(value: Any, name: str) -> Any:
            if isinstance(value, bool) or not isinstance(value, int):
                raise SchemaError(name, "expected an integer")
            if strict and not -MAX_INT <= value <= MAX_INT:
                raise SchemaError(name, f"between {-MAX_INT} and {MAX_INT}")
            return value

        return an_int
    if s.kind == "float":

        def a_float(value: Any, name: str) -> Any:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SchemaError(name, "expected a number")
            return float(value)

        return a_float
    if s.kind == "str":

        def a_str(value: Any, name: str) -> Any:
            if not isinstance(value, str):
                raise SchemaError(name, "expected a string")
            if strict and len(value) > MAX_STR:
                raise SchemaError(name, f"at most {MAX_STR} characters")
            return value

        return a_str
    if s.kind == "any":
        return lambda value, name: value

    def unsupported(value: Any, name: str) -> Any:  # only a field that is present is wrong
        raise TypeError(f"{name}: unsupported field type {tp!r}")

    return unsupported


@functools.cache
def _plan(cls: type, strict: bool) -> tuple[frozenset[str], list[tuple[str, bool, Converter]]]:
    """A class's init fields: the known names, and (name, required, converter) each."""
    fields = init_fields(cls)
    known = frozenset(f.name for f, _, _ in fields) | {"type", "schema"}
    steps = [(f.name, required, _converter(hint, strict)) for f, hint, required in fields]
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


# --- JSON schemas of the same types (the API's OpenAPI document) ----------------------


def json_schema(tp: Any) -> dict[str, Any]:
    """The JSON schema of a field type as `from_dict` parses it strictly."""
    s = shape(tp)
    if s.kind == "annotated":
        out = dict(json_schema(s.args[0]))
        for constraint in s.constraints:
            out.update(constraint_schema(constraint))
        return out
    if s.kind == "union":
        inner = [json_schema(a) for a in s.args]
        if s.optional:
            inner.append({"type": "null"})
        return inner[0] if len(inner) == 1 else {"anyOf": inner}
    if s.kind == "list":
        return {"type": "array", "items": json_schema(s.args[0]), "maxItems": MAX_LIST}
    if s.kind == "dict":
        return {"type": "object", "additionalProperties": json_schema(s.args[0])}
    if s.kind == "enum":
        return {"type": "string", "enum": [m.value for m in tp]}
    if s.kind == "dataclass":
        return dataclass_schema(tp)
    if s.kind == "int":
        return {"type": "integer", "minimum": -MAX_INT, "maximum": MAX_INT}
    if s.kind == "str":
        return {"type": "string", "maxLength": MAX_STR}
    simple = {"bool": "boolean", "float": "number"}
    return {"type": simple[s.kind]} if s.kind in simple else {}


def constraint_schema(constraint: Constraint) -> dict[str, Any]:
    """A `Constraint` in JSON schema words (its patterns are anchored, as the parser's are)."""
    out: dict[str, Any] = {}
    if constraint.minimum is not None:
        out["minimum"] = constraint.minimum
    if constraint.maximum is not None:
        out["maximum"] = constraint.maximum
    if constraint.pattern is not None:
        out["pattern"] = constraint.pattern
    if constraint.unique_items:
        out["uniqueItems"] = True
    return out


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return dataclasses.MISSING
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value.value if isinstance(value, enum.Enum) else value


def dataclass_schema(cls: type, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """An object schema of `cls`'s init fields (less `exclude`); no other properties."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f, hint, needed in init_fields(cls):
        if f.name in exclude:
            continue
        schema = dict(json_schema(hint))
        if needed:
            required.append(f.name)
        else:
            schema["default"] = _default(f)
        properties[f.name] = schema
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    out["additionalProperties"] = False
    return out
