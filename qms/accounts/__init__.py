"""People and devices, as events in the reserved `_accounts` log.

Same shape as the hall (`qms.core` + `qms.engine`): a pure core
(`decide(state, command, now) -> events`, `evolve`) with typed rejections
(`AccountRejected`), and `AccountsStore`, which runs it on the event log with
compare-and-append. Passwords (`passwords`), session cookies (`sessions`) and
sign-in throttling (`throttle`) are pure helpers the server uses.
"""

from qms.accounts.commands import (
    AccountCommand,
    AddDevice,
    AddUser,
    ChangeUser,
    RevokeDevice,
    SetPassword,
)
from qms.accounts.decide import decide, evolve
from qms.accounts.errors import CODES, AccountRejected
from qms.accounts.events import EVENT_TYPES, AccountEvent, event_from_dict, event_to_dict
from qms.accounts.model import ACCOUNTS_SITE, AccountsState, Device, DeviceKind, User, UserRole
from qms.accounts.store import AccountsStore, token_hash

__all__ = [
    "ACCOUNTS_SITE",
    "CODES",
    "EVENT_TYPES",
    "AccountCommand",
    "AccountEvent",
    "AccountRejected",
    "AccountsState",
    "AccountsStore",
    "AddDevice",
    "AddUser",
    "ChangeUser",
    "Device",
    "DeviceKind",
    "RevokeDevice",
    "SetPassword",
    "User",
    "UserRole",
    "decide",
    "event_from_dict",
    "event_to_dict",
    "evolve",
    "token_hash",
]
