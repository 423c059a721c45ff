"""Sign-in throttling that slows guessing without letting a stranger lock a user out.

The rules (docs/security.md, "Sign-in throttling", says the same):

- **A trusted browser** (a valid device cookie naming the user: it signed in as
  them before) is held only to its own count: `PER_DEVICE`, 5 failures per
  15 minutes for that browser and user. Strangers' failures never reach it.
- **Anyone else** is held to three counts, each failure counted in all three:
  - `PER_USER_AND_PLACE`: 5 failures per 15 minutes for one username from one
    address group (IPv6 by /64): guessing from one place stops there, and only
    that place is refused;
  - `PER_PLACE`: 20 failures per 5 minutes from one address group, whatever the
    usernames (higher than per user: a whole hall is often one NAT address);
  - `PER_USER`: once a username has 10 failures in an hour from anywhere,
    each further attempt must wait after the last failure: 1 s, doubling every
    10 failures more, at most 30 s. This holds a distributed guesser to about
    120 attempts an hour and is never a lock-out: it lasts seconds. Places the
    user signed in from in the last 30 days (`Places`) are spared it.

While refused (429 with Retry-After), an attempt is not checked at all: a right
password is refused too. A failure is recorded *before* the slow password check
and taken back when the attempt is refused or succeeds, so parallel guesses
cannot share one free slot.

Pure rules (`Limit`, `Slowdown`) and a small async `SignInGuard` over the
stores of `qms.accounts.throttle`; the clock comes in as `now`. The server makes
its guard in its one throttle (`qms.server.throttle`, whose `LIMITS` names these
rules beside its others).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from qms.accounts.sessions import DeviceClaims
from qms.accounts.throttle import FailureLog, Places


@dataclass(frozen=True)
class Limit:
    """At most `count` failures per `window_s`: then wait until the oldest counted leaves."""

    count: int
    window_s: float

    @property
    def keep(self) -> int:
        return self.count

    def wait(self, before: Sequence[float], now: float) -> float:
        """Seconds until another attempt may be checked (0: now), given the
        failure times `before` this attempt (oldest first)."""
        recent = [t for t in before if t > now - self.window_s]
        if len(recent) < self.count:
            return 0.0
        return max(0.0, recent[-self.count] + self.window_s - now)


@dataclass(frozen=True)
class Slowdown:
    """After `after` failures within `window_s`, each attempt waits `delay(n)` after
    the last failure: `first_s`, doubled every `step` failures more, at most `max_s`."""

    after: int
    window_s: float
    first_s: float
    step: int
    max_s: float

    @property
    def keep(self) -> int:
        # Enough failures to reach the longest delay; more change nothing.
        return self.after + self.step * math.ceil(math.log2(self.max_s / self.first_s) + 1)

    def delay(self, failures: int) -> float:
        if failures < self.after:
            return 0.0
        doublings = (failures - self.after) // self.step
        return float(min(self.max_s, self.first_s * 2.0**doublings))

    def wait(self, before: Sequence[float], now: float) -> float:
        recent = [t for t in before if t > now - self.window_s]
        if not recent:
            return 0.0
        return max(0.0, recent[-1] + self.delay(len(recent)) - now)


PER_USER_AND_PLACE = Limit(count=5, window_s=900.0)
PER_PLACE = Limit(count=20, window_s=300.0)
PER_USER = Slowdown(after=10, window_s=3600.0, first_s=1.0, step=10, max_s=30.0)
PER_DEVICE = Limit(count=5, window_s=900.0)


SIGN_IN_REFUSED = "too many failed sign-ins"


class Throttled(Exception):
    """Too many: refused without a look, for `wait_s` seconds. The server's one 429
    (`qms.server.errors`); `retry_after` is the wait in whole seconds, at least 1."""

    def __init__(self, what: str, wait_s: float) -> None:
        self.retry_after = max(1, math.ceil(wait_s))
        super().__init__(f"{what}; try again in {self.retry_after} s")


@dataclass
class Attempt:
    """One sign-in attempt being checked: its failure marks, taken back on success."""

    username: str
    place: str
    trusted: bool
    marks: list[tuple[FailureLog, str, str]] = field(default_factory=list)


@dataclass
class Stores:
    """Where the counts live (one process's memory, or Redis beside the log)."""

    per_user_and_place: FailureLog
    per_place: FailureLog
    per_user: FailureLog
    per_device: FailureLog
    places: Places


class SignInGuard:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    async def enter(
        self, username: str, place: str, device: DeviceClaims | None, now: float
    ) -> Attempt:
        """Count this attempt as a failure in advance; `Throttled` when it may not be checked."""
        if device is not None and username in device.users:
            attempt = Attempt(username, place, trusted=True)
            key = f"{device.device}\0{username}"
            if await self._count(attempt, self.stores.per_device, key, PER_DEVICE, now) == 0:
                return attempt
            await self._take_back(attempt)  # this browser failed too often: a stranger now
        attempt = Attempt(username, place, trusted=False)
        waits = [
            await self._count(
                attempt,
                self.stores.per_user_and_place,
                f"{username}\0{place}",
                PER_USER_AND_PLACE,
                now,
            ),
            await self._count(attempt, self.stores.per_place, place, PER_PLACE, now),
        ]
        slowed = await self._count(attempt, self.stores.per_user, username, PER_USER, now)
        if slowed > 0 and not await self.stores.places.known(username, place, now):
            waits.append(slowed)
        wait = max(waits)
        if wait > 0:
            await self._take_back(attempt)
            raise Throttled(SIGN_IN_REFUSED, wait)
        return attempt

    async def succeeded(self, attempt: Attempt, now: float) -> None:
        """The password was right: its failures are taken back, the place remembered."""
        await self._take_back(attempt)
        if not attempt.trusted:
            # The user's own typos from here no longer count against this place.
            await self.stores.per_user_and_place.forget(f"{attempt.username}\0{attempt.place}")
        await self.stores.places.remember(attempt.username, attempt.place, now)

    async def _count(
        self, attempt: Attempt, log: FailureLog, key: str, rule: Limit | Slowdown, now: float
    ) -> float:
        mark, before = await log.add(key, now)
        attempt.marks.append((log, key, mark))
        return rule.wait(before, now)

    async def _take_back(self, attempt: Attempt) -> None:
        for log, key, mark in attempt.marks:
            await log.remove(key, mark)
        attempt.marks.clear()
