"""Settings from the environment: one loader for every QMS_* variable.

A settings class is a frozen dataclass; each field `name` is read from
``{prefix}{NAME}`` and parsed by its annotated type (str, int, float, bool,
Path, or a comma-separated tuple of str). A value that does not parse stops the
server at start with the variable's name, never a traceback from deep inside.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

_S = TypeVar("_S")
FALSE = ("", "0", "false", "no", "off")


class SettingError(ValueError):
    """A QMS_* variable whose value cannot be used."""


def env_name(prefix: str, field: str) -> str:
    return f"{prefix}{field.upper()}"


def parse(kind: Any, raw: str, name: str) -> Any:
    """`raw` as a value of type `kind`; SettingError naming the variable otherwise."""
    try:
        if kind is bool:
            return raw.strip().lower() not in FALSE
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is Path:
            return Path(raw)
        if typing.get_origin(kind) is tuple:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if kind is str:
            return raw.strip()
    except ValueError:
        raise SettingError(f"{name} must be {kind.__name__}, got {raw!r}") from None
    raise TypeError(f"no parser for {name}'s type {kind!r}")


def load(cls: type[_S], env: Mapping[str, str], prefix: str) -> dict[str, Any]:
    """The fields of `cls` set in `env`, parsed (a field that is not set is left out)."""
    hints = typing.get_type_hints(cls)
    values = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = env_name(prefix, field.name)
        if name in env:
            values[field.name] = parse(hints[field.name], env[name], name)
    return values


def dump(settings: Any, prefix: str) -> dict[str, str]:
    """The environment that `load` reads back as `settings` (for uvicorn's workers)."""
    out = {}
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, tuple):
            text = ",".join(value)
        elif isinstance(value, float):
            text = repr(value)
        else:
            text = str(value)
        out[env_name(prefix, field.name)] = text
    return out
