"""What an admin (or a user, for their own password) asks of the accounts.

Commands carry hashes, never passwords or tokens: hashing needs a random salt
and the device token a random source, so the caller (`store.AccountsStore`)
draws them and `decide` stays pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from qms.accounts.errors import AccountRejected
from qms.accounts.model import DeviceKind, UserRole
from qms.eventsourcing.schema import SchemaError, from_dict

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class AccountCommand:
    by: str | None = None  # who asks (a username, or "cli"), recorded on the events


@dataclass(frozen=True, kw_only=True)
class AddUser(AccountCommand):
    username: str
    role: UserRole
    sites: list[str]
    password_hash: str
    agencies: list[str] = field(default_factory=list)  # a viewer's (empty: every agency)


@dataclass(frozen=True, kw_only=True)
class ChangeUser(AccountCommand):
    """Change what is given (None: unchanged)."""

    username: str
    role: UserRole | None = None
    sites: list[str] | None = None
    active: bool | None = None
    agencies: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class SetPassword(AccountCommand):
    username: str
    password_hash: str


@dataclass(frozen=True, kw_only=True)
class AddDevice(AccountCommand):
    device: str
    kind: DeviceKind
    site: str
    token_hash: str
    zone: str = ""
    name: str = ""


@dataclass(frozen=True, kw_only=True)
class RevokeDevice(AccountCommand):
    device: str


@dataclass(frozen=True, kw_only=True)
class EndSession(AccountCommand):
    username: str
    session: str
    expires_at: float


def parse(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build `cls` (a command or a request body) strictly from untrusted data."""
    try:
        return from_dict(cls, data, strict=True)
    except SchemaError as exc:
        raise AccountRejected(
            "invalid_command", str(exc), field=exc.field, problem=exc.problem
        ) from None
