"""Every accounts rule: `decide(state, command, now) -> events`, and `evolve(state, event)`.

Pure: no I/O, no clock, no random source. A refused command raises
`AccountRejected` and yields no events. A command that changes nothing (revoking
a revoked device, a change to what already is) yields no events either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import singledispatch

from qms.accounts.commands import (
    AccountCommand,
    AddDevice,
    AddUser,
    ChangeUser,
    EndSession,
    RevokeDevice,
    SetPassword,
)
from qms.accounts.errors import AccountRejected
from qms.accounts.events import (
    AccountEvent,
    DeviceAdded,
    DeviceRevoked,
    PasswordSet,
    SessionEnded,
    UserAdded,
    UserChanged,
)
from qms.accounts.model import (
    DEVICE_RE,
    MAX_NAME,
    MAX_ZONE,
    SITE_RE,
    USERNAME_RE,
    AccountsState,
    Device,
    DeviceKind,
    User,
    UserRole,
)
from qms.accounts.passwords import is_password_hash
from qms.core.text import control_character

AGENCY_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")  # the hall's ids (qms.core.commands)
COUNTER_RE = AGENCY_RE

TOKEN_HASH_RE = re.compile(r"[0-9a-f]{64}")
SESSION_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def decide(state: AccountsState, command: AccountCommand, now: float) -> list[AccountEvent]:
    """The events `command` makes on `state`; raises `AccountRejected` when refused."""
    return _decide(command, state, now)


@singledispatch
def _decide(command: AccountCommand, state: AccountsState, now: float) -> list[AccountEvent]:
    raise AccountRejected("invalid_command", f"unknown command {type(command).__name__}")


@_decide.register
def _add_user(cmd: AddUser, state: AccountsState, now: float) -> list[AccountEvent]:
    _check_username(cmd.username)
    if cmd.username in state.users:
        raise AccountRejected("user_exists", f"user {cmd.username} exists", username=cmd.username)
    sites = _sites_for(cmd.role, cmd.sites)
    agencies = _agencies_for(cmd.role, cmd.agencies)
    _check_hash(cmd.password_hash)
    return [
        UserAdded(
            at=now,
            by=cmd.by,
            username=cmd.username,
            role=cmd.role,
            sites=sites,
            password_hash=cmd.password_hash,
            agencies=agencies,
        )
    ]


@_decide.register
def _change_user(cmd: ChangeUser, state: AccountsState, now: float) -> list[AccountEvent]:
    user = _user(state, cmd.username)
    role = user.role if cmd.role is None else cmd.role
    active = user.active if cmd.active is None else cmd.active
    if cmd.sites is not None:
        sites = _sites_for(role, cmd.sites)
    elif role is UserRole.ADMIN:
        sites = []
    else:  # keeps the sites it has; an admin made officer must be given some
        sites = _sites_for(role, user.sites)
    agencies = _agencies_for(role, user.agencies if cmd.agencies is None else cmd.agencies)
    if (role, sites, active, agencies) == (user.role, user.sites, user.active, user.agencies):
        return []
    was_admin = user.role is UserRole.ADMIN and user.active
    if (
        was_admin
        and not (role is UserRole.ADMIN and active)
        and state.active_admins() == [user.username]
    ):
        raise AccountRejected(
            "last_admin", f"{user.username} is the last active admin", username=user.username
        )
    return [
        UserChanged(
            at=now,
            by=cmd.by,
            username=user.username,
            role=role,
            sites=sites,
            active=active,
            agencies=agencies,
        )
    ]


@_decide.register
def _set_password(cmd: SetPassword, state: AccountsState, now: float) -> list[AccountEvent]:
    user = _user(state, cmd.username)
    _check_hash(cmd.password_hash)
    return [PasswordSet(at=now, by=cmd.by, username=user.username, password_hash=cmd.password_hash)]


@_decide.register
def _add_device(cmd: AddDevice, state: AccountsState, now: float) -> list[AccountEvent]:
    if DEVICE_RE.fullmatch(cmd.device) is None:
        raise AccountRejected(
            "invalid_device_id", "a device id is 1-64 of [a-z0-9-]", device=cmd.device
        )
    if cmd.device in state.devices:
        raise AccountRejected("device_exists", f"device {cmd.device} exists", device=cmd.device)
    _check_site(cmd.site)
    if len(cmd.zone) > MAX_ZONE or cmd.zone != cmd.zone.strip():
        raise AccountRejected("invalid_zone", f"a zone is at most {MAX_ZONE} characters")
    if len(cmd.name) > MAX_NAME:
        raise AccountRejected("invalid_command", f"a name is at most {MAX_NAME} characters")
    _check_text("zone", cmd.zone)
    _check_text("name", cmd.name)
    _check_counter(cmd.kind, cmd.counter)
    if TOKEN_HASH_RE.fullmatch(cmd.token_hash) is None:
        raise AccountRejected("invalid_command", "token_hash: expected 64 hex digits")
    if cmd.token_hash in state.by_token:
        raise AccountRejected("token_taken", "another device has this token")
    return [
        DeviceAdded(
            at=now,
            by=cmd.by,
            device=cmd.device,
            kind=cmd.kind,
            site=cmd.site,
            zone=cmd.zone,
            name=cmd.name,
            token_hash=cmd.token_hash,
            counter=cmd.counter,
        )
    ]


@_decide.register
def _revoke_device(cmd: RevokeDevice, state: AccountsState, now: float) -> list[AccountEvent]:
    device = state.devices.get(cmd.device)
    if device is None:
        raise AccountRejected("unknown_device", f"no device {cmd.device}", device=cmd.device)
    if device.revoked:
        return []
    return [DeviceRevoked(at=now, by=cmd.by, device=device.device)]


@_decide.register
def _end_session(cmd: EndSession, state: AccountsState, now: float) -> list[AccountEvent]:
    user = _user(state, cmd.username)
    if SESSION_ID_RE.fullmatch(cmd.session) is None:
        raise AccountRejected("invalid_command", "session: not a session id", field="session")
    if cmd.session in state.ended_sessions or cmd.expires_at <= now:
        return []  # ended already, or over by itself
    return [
        SessionEnded(
            at=now,
            by=cmd.by,
            username=user.username,
            session=cmd.session,
            expires_at=cmd.expires_at,
        )
    ]


# --- checks ------------------------------------------------------------------------------


def _user(state: AccountsState, username: str) -> User:
    user = state.users.get(username)
    if user is None:
        raise AccountRejected("unknown_user", f"no user {username}", username=username)
    return user


def _check_username(username: str) -> None:
    if USERNAME_RE.fullmatch(username) is None:
        raise AccountRejected(
            "invalid_username",
            "a username is 1-64 of a-z 0-9 . _ -, starting with a letter or digit",
            username=username,
        )


def _check_site(site: str) -> None:
    if SITE_RE.fullmatch(site) is None:
        raise AccountRejected(
            "invalid_site", "a site id is 1-64 of [A-Za-z0-9_-], not starting with _", site=site
        )


def _check_text(field: str, text: str) -> None:
    bad = control_character(text)
    if bad is not None:
        raise AccountRejected(
            "invalid_text",
            f"{field}: no control or bidi characters (found U+{ord(bad):04X})",
            field=field,
            character=f"U+{ord(bad):04X}",
        )


def _check_counter(kind: DeviceKind, counter: str) -> None:
    """A tablet serves exactly one counter, named when it is registered (moving it is a
    new registration); no other kind is bound to a counter."""
    if kind is not DeviceKind.TABLET:
        if counter:
            raise AccountRejected(
                "counter_for_tablets", "only a tablet is bound to a counter", kind=kind.value
            )
        return
    if not counter:
        raise AccountRejected("counter_required", "a tablet needs its counter", field="counter")
    if COUNTER_RE.fullmatch(counter) is None:
        raise AccountRejected(
            "invalid_counter", "a counter id is 1-64 of [A-Za-z0-9_-]", counter=counter
        )


def _sites_for(role: UserRole, sites: Iterable[str]) -> list[str]:
    """The sites as stored: sorted, unique; none for an admin (who has them all)."""
    if role is UserRole.ADMIN:
        return []
    unique = sorted(set(sites))
    for site in unique:
        _check_site(site)
    if not unique:
        raise AccountRejected("sites_required", f"the {role.value} role needs at least one site")
    return unique


def _agencies_for(role: UserRole, agencies: Iterable[str]) -> list[str]:
    """A viewer's agencies as stored (sorted, unique); other roles have none: they see
    every agency of their sites."""
    unique = sorted(set(agencies))
    if role is not UserRole.VIEWER:
        if unique:
            raise AccountRejected(
                "agencies_for_viewers", "only a viewer is limited to agencies", role=role.value
            )
        return []
    for agency in unique:
        if AGENCY_RE.fullmatch(agency) is None:
            raise AccountRejected(
                "invalid_agency", "an agency id is 1-64 of [A-Za-z0-9_-]", agency=agency
            )
    return unique


def _check_hash(password_hash: str) -> None:
    if not is_password_hash(password_hash):
        raise AccountRejected("invalid_password_hash", "not a password hash qms can verify")


# --- evolve --------------------------------------------------------------------------------


def evolve(state: AccountsState, event: AccountEvent) -> AccountsState:
    """Fold one recorded event into `state` (in place; returned). Never refuses."""
    match event:
        case UserAdded():
            state.users[event.username] = User(
                username=event.username,
                role=event.role,
                sites=list(event.sites),
                password_hash=event.password_hash,
                agencies=list(event.agencies),
                created_at=event.at,
                changed_at=event.at,
            )
        case UserChanged():
            user = state.users.get(event.username)
            if user is not None:
                user.role, user.sites, user.active = event.role, list(event.sites), event.active
                user.agencies = list(event.agencies)
                user.changed_at = event.at
        case PasswordSet():
            user = state.users.get(event.username)
            if user is not None:
                user.password_hash = event.password_hash
                user.password_epoch += 1
                user.changed_at = event.at
        case DeviceAdded():
            state.devices[event.device] = Device(
                device=event.device,
                kind=event.kind,
                site=event.site,
                zone=event.zone,
                name=event.name,
                counter=event.counter,
                token_hash=event.token_hash,
                created_at=event.at,
            )
            state.by_token[event.token_hash] = event.device
        case DeviceRevoked():
            device = state.devices.get(event.device)
            if device is not None:
                # Its token hash stays known: a revoked token is refused at once,
                # without a look at the log for news.
                device.revoked, device.revoked_at = True, event.at
        case SessionEnded():
            # Forget the ended sessions that have expired by now: memory stays at
            # about a day's sign-outs however long the log grows.
            ended = state.ended_sessions
            for session in [s for s, expiry in ended.items() if expiry <= event.at]:
                del ended[session]
            if event.expires_at > event.at:
                ended[event.session] = event.expires_at
    return state
