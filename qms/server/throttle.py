"""The server's one throttle: every rate rule in `LIMITS`, counted in one store.

`Throttle(log)` is made once, in the app's lifespan (`app.state.throttle`). It
keeps each rule's counts where every process of the deployment sees them: in
Redis beside a Redis log (the log's `shared()` store), else in this single
process's memory (`qms.accounts.throttle` has both kinds). It serves:

- sign-in (`throttle.sign_in`, the `SignInGuard` of `qms.accounts.guard`, which
  the server's `Accounts` takes): the four sign-in rules;
- anything else counted per caller (`await throttle.count(rate, key, now)`):
  each try is counted *before* it is looked at, so parallel tries from one
  caller each see the ones before them; past the rate it is taken back at once
  and `Throttled` is raised, and a try that turned out fine is taken back with
  `count.take_back()` (a ticket ref found, a walk-up answer refused).

`Throttled` is the one "too many": 429 `too_many_requests` with `Retry-After`
(`qms.server.errors`). The rules and what they protect: docs/security.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from qms.accounts.guard import (
    PER_DEVICE,
    PER_PLACE,
    PER_USER,
    PER_USER_AND_PLACE,
    SIGN_IN_REFUSED,
    Limit,
    SignInGuard,
    Slowdown,
    Stores,
    Throttled,
)
from qms.accounts.throttle import (
    FailureLog,
    LocalFailures,
    LocalPlaces,
    Places,
    RedisFailures,
    RedisPlaces,
)
from qms.eventlog import EventLog

__all__ = ["LIMITS", "TICKET_MISS", "WALK_UP", "Count", "Rate", "Throttle", "Throttled"]


Rule = TypeVar("Rule", bound=Limit | Slowdown, covariant=True)


@dataclass(frozen=True)
class Rate(Generic[Rule]):
    """A rule with its name (its counts' name in the store, so keep it stable) and
    what a refusal says: "<what>; try again in N s"."""

    name: str
    rule: Rule
    what: str


SIGN_IN_USER_AND_PLACE = Rate("user-place", PER_USER_AND_PLACE, SIGN_IN_REFUSED)
SIGN_IN_PLACE = Rate("place", PER_PLACE, SIGN_IN_REFUSED)
SIGN_IN_USER = Rate("user", PER_USER, SIGN_IN_REFUSED)  # the slowdown, strangers only
SIGN_IN_DEVICE = Rate("device", PER_DEVICE, SIGN_IN_REFUSED)
# Unknown ticket refs per address (the public ticket status and its survey).
TICKET_MISS = Rate("ticket-miss", Limit(count=20, window_s=60.0), "too many unknown tickets")
# Walk-up survey answers accepted per address: a household may answer a few times,
# a script may not flood the figures. Refused answers are not counted.
WALK_UP = Rate("walk-up", Limit(count=5, window_s=3600.0), "too many answers from here")

LIMITS: dict[str, Rate[Limit | Slowdown]] = {
    rate.name: rate
    for rate in (
        SIGN_IN_USER_AND_PLACE,
        SIGN_IN_PLACE,
        SIGN_IN_USER,
        SIGN_IN_DEVICE,
        TICKET_MISS,
        WALK_UP,
    )
}


@dataclass
class Count:
    """One counted try; `take_back()` when it turned out fine (it then never counted)."""

    store: FailureLog
    key: str
    mark: str

    async def take_back(self) -> None:
        await self.store.remove(self.key, self.mark)


class Throttle:
    """Every rule of `LIMITS` over one store: the log's shared one, or this process's."""

    def __init__(self, log: EventLog) -> None:
        shared = log.shared()
        self._stores: dict[str, FailureLog] = {}
        for name, rate in LIMITS.items():
            keep, window = rate.rule.keep, rate.rule.window_s
            self._stores[name] = (
                LocalFailures(keep, window)
                if shared is None
                else RedisFailures(shared[0], shared[1], name, keep, window)
            )
        places: Places = LocalPlaces() if shared is None else RedisPlaces(*shared)
        self.sign_in = SignInGuard(
            Stores(
                per_user_and_place=self._stores[SIGN_IN_USER_AND_PLACE.name],
                per_place=self._stores[SIGN_IN_PLACE.name],
                per_user=self._stores[SIGN_IN_USER.name],
                per_device=self._stores[SIGN_IN_DEVICE.name],
                places=places,
            )
        )

    async def count(self, rate: Rate[Limit | Slowdown], key: str, now: float) -> Count:
        """Count one try of `key` (an address…) at `now`; `Throttled` past `rate`
        (the try is then not counted). `rate` is one of `LIMITS` (else KeyError)."""
        store = self._stores[rate.name]
        mark, before = await store.add(key, now)
        wait = rate.rule.wait(before, now)
        if wait > 0:
            await store.remove(key, mark)
            raise Throttled(rate.what, wait)
        return Count(store, key, mark)
