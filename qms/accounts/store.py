"""The accounts on the event log: the `_accounts` log, compare-and-append, catch up, follow.

`AccountsStore(log)` keeps the accounts state in memory, like `SiteEngine` does
a hall's: `execute(command)` decides on the state at version v and appends at v;
when another process got there first it catches up and decides again. It also
draws what `decide` may not (password salts, device ids and tokens) and runs
the slow password hash in a worker thread.

Other processes' changes arrive by `follow()` (a subscription: live on Redis,
in-process only on SQLite) and by `refresh()`, a cheap look at the log's version
that catches up when it moved: at most once per `max_age`, or at once when a
name or token is not known here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import random
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from qms.accounts.commands import (
    AccountCommand,
    AddDevice,
    AddUser,
    ChangeUser,
    EndSession,
    RevokeDevice,
    SetPassword,
)
from qms.accounts.decide import decide, evolve
from qms.accounts.errors import AccountRejected
from qms.accounts.events import event_from_dict, event_to_dict
from qms.accounts.model import ACCOUNTS_SITE, AccountsState, Device, DeviceKind, User, UserRole
from qms.accounts.passwords import check_password, dummy_hash, hash_password, verify_password
from qms.engine import EngineBusy
from qms.eventlog import Entry, EventLog, VersionConflict
from qms.eventlog.follower import LogFollower

log = logging.getLogger(__name__)

TOKEN_PREFIX = "qmsd_"  # device tokens are recognisable (secret scanners, logs)
HASH_THREADS = 4  # scrypt at once: 16 MiB and ~50 ms each


def token_hash(token: str) -> str:
    """What is stored of a device token: sha256 hex (the token has 256 random bits)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class AccountsStore(LogFollower):
    def __init__(
        self,
        log: EventLog,
        *,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 50,
    ) -> None:
        super().__init__(log, ACCOUNTS_SITE)
        self.clock = clock
        self.max_attempts = max_attempts
        self.state = AccountsState()
        self._lock = asyncio.Lock()  # one decision in flight per process
        self._refresh_lock = asyncio.Lock()
        self._checked_at = -float("inf")  # monotonic start of the last finished version check
        self._hashing = asyncio.Semaphore(HASH_THREADS)

    # --- state from the log ---------------------------------------------------------------

    async def open(self) -> AccountsStore:
        await asyncio.to_thread(dummy_hash)  # made once, off the event loop
        await self.catch_up()
        self._checked_at = time.monotonic()
        return self

    def _fold(self, data: Mapping[str, Any]) -> None:
        evolve(self.state, event_from_dict(data))

    async def refresh(self, max_age: float = 1.0) -> None:
        """Catch up if the log moved, unless a check finished less than `max_age` s ago.

        `max_age=0` asks for a check that started after this call; concurrent
        callers share one.
        """
        asked = time.monotonic()
        if asked - self._checked_at < max_age:
            return
        async with self._refresh_lock:
            if self._checked_at >= asked:
                return
            started = time.monotonic()
            if await self.log.version(ACCOUNTS_SITE) > self.version:
                await self.catch_up()
            self._checked_at = started

    # --- commands -------------------------------------------------------------------------

    async def execute(self, command: AccountCommand) -> list[Entry]:
        """Decide and append; the entries written (none when nothing changed)."""
        async with self._lock:
            fresh = False
            for attempt in range(self.max_attempts):
                try:
                    events = decide(self.state, command, self.clock())
                except AccountRejected:
                    if fresh or await self.log.version(ACCOUNTS_SITE) == self.version:
                        raise
                    await self.catch_up()  # decide again on what another process wrote
                    fresh = True
                    continue
                if not events:
                    return []
                data = [event_to_dict(ev) for ev in events]
                base = self.version
                try:
                    await self.log.append(ACCOUNTS_SITE, base, data)
                except VersionConflict:
                    await asyncio.sleep(random.uniform(0, min(0.02, 0.001 * 2**attempt)))
                    await self.catch_up()
                    fresh = True
                    continue
                entries = [(base + 1 + i, d) for i, d in enumerate(data)]
                for version, d in entries:
                    self.apply(version, d)
                return entries
        raise EngineBusy(f"{ACCOUNTS_SITE}: gave up after {self.max_attempts} conflicts")

    # --- passwords ------------------------------------------------------------------------

    async def hash_password(self, password: str, username: str) -> str:
        check_password(password, username)  # at once, before waiting for a thread
        async with self._hashing:
            return await asyncio.to_thread(hash_password, password)

    async def verify(self, password: str, encoded: str) -> bool:
        async with self._hashing:
            return await asyncio.to_thread(verify_password, password, encoded)

    async def authenticate(self, username: str, password: str) -> User | None:
        """The user when `password` is theirs (active or not); None otherwise.

        An unknown name costs one hash too, so timing does not tell which names exist.
        """
        user = await self.user(username)
        ok = await self.verify(password, user.password_hash if user else dummy_hash())
        return user if ok and user is not None else None

    # --- people -----------------------------------------------------------------------------

    async def user(self, username: str) -> User | None:
        """The user, looking at the log first when the name is not known here."""
        user = self.state.users.get(username)
        if user is None:
            await self.refresh(max_age=0)
            user = self.state.users.get(username)
        return user

    def users(self) -> list[User]:
        return sorted(self.state.users.values(), key=lambda u: u.username)

    async def add_user(
        self,
        username: str,
        role: UserRole,
        sites: Iterable[str],
        password: str,
        *,
        by: str | None = None,
        agencies: Iterable[str] = (),
    ) -> User:
        command = AddUser(
            by=by,
            username=username,
            role=role,
            sites=list(sites),
            password_hash=dummy_hash(),
            agencies=list(agencies),
        )
        check_password(password, username)
        decide(self.state, command, self.clock())  # fail fast: a bad name costs no hash
        hashed = await self.hash_password(password, username)
        await self.execute(dataclasses.replace(command, password_hash=hashed))
        return self.state.users[username]

    async def change_user(
        self,
        username: str,
        *,
        role: UserRole | None = None,
        sites: Iterable[str] | None = None,
        active: bool | None = None,
        by: str | None = None,
        agencies: Iterable[str] | None = None,
    ) -> User:
        listed = None if sites is None else list(sites)
        limited = None if agencies is None else list(agencies)
        await self.execute(
            ChangeUser(
                by=by, username=username, role=role, sites=listed, active=active, agencies=limited
            )
        )
        return self.state.users[username]

    async def set_password(self, username: str, password: str, *, by: str | None = None) -> User:
        if await self.user(username) is None:
            raise AccountRejected("unknown_user", f"no user {username}", username=username)
        hashed = await self.hash_password(password, username)
        await self.execute(SetPassword(by=by, username=username, password_hash=hashed))
        return self.state.users[username]

    async def end_session(
        self, username: str, session: str, expires_at: float, *, by: str | None = None
    ) -> None:
        """Record that `session` of `username` is over (signed out), on every process."""
        await self.execute(
            EndSession(by=by, username=username, session=session, expires_at=expires_at)
        )

    # --- devices ----------------------------------------------------------------------------

    def devices(self) -> list[Device]:
        return sorted(self.state.devices.values(), key=lambda d: (d.site, d.kind, d.device))

    async def add_device(
        self,
        kind: DeviceKind,
        site: str,
        *,
        zone: str = "",
        name: str = "",
        counter: str = "",
        by: str | None = None,
    ) -> tuple[Device, str]:
        """A new device and its token: the token is returned here once and stored nowhere."""
        for _ in range(10):
            token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            device_id = f"{kind.value}-{secrets.token_hex(3)}"
            command = AddDevice(
                by=by,
                device=device_id,
                kind=kind,
                site=site,
                zone=zone,
                name=name,
                counter=counter,
                token_hash=token_hash(token),
            )
            try:
                await self.execute(command)
            except AccountRejected as exc:
                if exc.code in ("device_exists", "token_taken"):
                    continue  # drew a taken id: draw again
                raise
            return self.state.devices[device_id], token
        raise EngineBusy("could not draw a free device id")

    async def revoke_device(self, device: str, *, by: str | None = None) -> Device:
        if device not in self.state.devices:
            await self.refresh(max_age=0)
        await self.execute(RevokeDevice(by=by, device=device))
        return self.state.devices[device]

    async def device_for_token(self, token: str) -> Device | None:
        """The device with this token (revoked or not), looking at the log when unknown here."""
        hashed = token_hash(token)
        found = self.state.device_by_token_hash(hashed)
        if found is None:
            await self.refresh(max_age=0)
            found = self.state.device_by_token_hash(hashed)
        return found
