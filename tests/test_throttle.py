"""The server's one throttle (qms/server/throttle.py): every rate rule named in
`LIMITS`, counted in the log's shared store (Redis) or this process's memory with
the same behaviour, one `Throttled` for every "too many", answered as the only
429 (`too_many_requests`, Retry-After and `details.retry_after`), and no module
building a limiter of its own."""

from __future__ import annotations

import ast
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_client import Api, Reply, error
from conftest import BACKENDS, module_log_url
from live_hall import SITE, LiveHall, live_hall

from qms.accounts import guard
from qms.accounts.guard import Limit, Slowdown
from qms.eventlog import EventLog, open_log
from qms.server.errors import exception_handlers
from qms.server.throttle import (
    LIMITS,
    TICKET_MISS,
    WALK_UP,
    Rate,
    Throttle,
    Throttled,
)
from qms.survey.instrument import ELEMENT_KEYS

ROOT = Path(__file__).resolve().parent.parent
NOW = 1_795_000_000.0


# --- the table ------------------------------------------------------------------------------


def test_limits_name_every_rule() -> None:
    assert {name: rate.name for name, rate in LIMITS.items()} == {n: n for n in LIMITS}
    rules = {name: rate.rule for name, rate in LIMITS.items()}
    assert rules == {
        "user-place": guard.PER_USER_AND_PLACE,
        "place": guard.PER_PLACE,
        "user": guard.PER_USER,
        "device": guard.PER_DEVICE,
        "ticket-miss": guard.Limit(count=20, window_s=60.0),
        "walk-up": guard.Limit(count=5, window_s=3600.0),
    }
    # Every rule the sign-in guard holds is one of the table's.
    held = [v for v in vars(guard).values() if isinstance(v, guard.Limit | guard.Slowdown)]
    assert held and all(any(r is rule for r in rules.values()) for rule in held)


# --- the throttle on each store -------------------------------------------------------------


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
async def throttle(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Throttle]:
    """A throttle over the embedded log (this process's memory) or a Redis log (Redis)."""
    if request.param == "local":
        url = f"sqlite:///{tmp_path / 'qms.db'}"
    else:
        url = request.getfixturevalue("redis_log_url")
    log: EventLog = open_log(url)
    assert (log.shared() is None) == (request.param == "local")
    yield Throttle(log)
    await log.close()


async def script(throttle: Throttle) -> list[Any]:
    """The same tries on any store; what each answered."""
    seen: list[Any] = []

    async def attempt(
        rate: Rate[Limit | Slowdown], key: str, now: float, take_back: bool = False
    ) -> None:
        try:
            count = await throttle.count(rate, key, now)
        except Throttled as exc:
            seen.append((rate.name, key, now, str(exc), exc.retry_after))
            return
        seen.append((rate.name, key, now, "ok"))
        if take_back:
            await count.take_back()

    for i in range(WALK_UP.rule.count + 2):
        await attempt(WALK_UP, "10.0.0.1", NOW + i)
    await attempt(WALK_UP, "10.0.0.2", NOW + 10)  # per key
    for _ in range(50):
        await attempt(TICKET_MISS, "10.0.0.1", NOW, take_back=True)  # found: not counted
    for i in range(TICKET_MISS.rule.count + 1):
        await attempt(TICKET_MISS, "10.0.0.1", NOW + i / 10)  # refused at the 21st
    await attempt(TICKET_MISS, "10.0.0.1", NOW + 59.2)  # 0.8 s left: 1 s
    await attempt(TICKET_MISS, "10.0.0.1", NOW + 60.05)  # the oldest left the window
    await attempt(WALK_UP, "10.0.0.1", NOW + 3600.5)
    return seen


async def test_a_rate_refuses_past_its_limit_and_the_refusal_does_not_count(
    throttle: Throttle,
) -> None:
    seen = await script(throttle)
    walk_up = [s for s in seen if s[0] == "walk-up" and s[1] == "10.0.0.1"]
    assert [s[3] == "ok" for s in walk_up] == [True] * 5 + [False, False, True]
    assert walk_up[5][3:] == ("too many answers from here; try again in 3595 s", 3595)
    assert walk_up[6][4] == 3594  # the refused try did not count: still the first's window
    assert ("walk-up", "10.0.0.2", NOW + 10, "ok") in seen
    misses = [s for s in seen if s[0] == "ticket-miss"]
    assert all(s[3] == "ok" for s in misses[:50])  # taken back: never counted
    assert [s[3] == "ok" for s in misses[50:]] == [True] * 20 + [False, False, True]
    assert misses[70][3:] == ("too many unknown tickets; try again in 58 s", 58)
    assert misses[71][3:] == ("too many unknown tickets; try again in 1 s", 1)


@pytest.mark.redis
async def test_the_local_and_the_redis_store_behave_the_same(
    tmp_path: Path, redis_log_url: str
) -> None:
    answers = []
    for url in (f"sqlite:///{tmp_path / 'qms.db'}", redis_log_url):
        log = open_log(url)
        try:
            answers.append(await script(Throttle(log)))
        finally:
            await log.close()
    assert answers[0] == answers[1]


@pytest.mark.redis
async def test_two_throttles_on_one_redis_log_count_together(redis_log_url: str) -> None:
    """Two processes' throttles on one Redis log: one count, not one each."""
    logs = [open_log(redis_log_url), open_log(redis_log_url)]
    try:
        one, two = (Throttle(log) for log in logs)
        for i in range(WALK_UP.rule.count):
            await (one if i % 2 else two).count(WALK_UP, "10.0.0.9", NOW)
        with pytest.raises(Throttled):
            await one.count(WALK_UP, "10.0.0.9", NOW)
        with pytest.raises(Throttled):
            await two.count(WALK_UP, "10.0.0.9", NOW)
    finally:
        for log in logs:
            await log.close()


async def test_sign_in_is_guarded_by_the_same_throttle(throttle: Throttle) -> None:
    for _ in range(guard.PER_USER_AND_PLACE.count):
        await throttle.sign_in.enter("budi", "192.0.2.1", None, NOW)  # each a failure
    with pytest.raises(Throttled) as refused:
        await throttle.sign_in.enter("budi", "192.0.2.1", None, NOW + 0.5)
    assert str(refused.value) == "too many failed sign-ins; try again in 900 s"
    # …and a success there takes its count back: the place is free again.
    attempt = await throttle.sign_in.enter("budi", "198.51.100.1", None, NOW)
    await throttle.sign_in.succeeded(attempt, NOW)
    for _ in range(guard.PER_USER_AND_PLACE.count - 1):
        await throttle.sign_in.enter("budi", "198.51.100.1", None, NOW + 1)


def test_retry_after_is_whole_seconds_rounded_up_at_least_one() -> None:
    assert Throttled("x", 0.01).retry_after == 1
    assert Throttled("x", 1.0).retry_after == 1
    assert Throttled("x", 1.2).retry_after == 2
    assert str(Throttled("too many", 59.5)) == "too many; try again in 60 s"


async def test_throttled_is_the_only_429() -> None:
    handler = exception_handlers(redis=False)[Throttled]
    response = await handler(None, Throttled("too many unknown tickets", 12.3))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "13"
    assert json.loads(response.body) == {
        "error": {
            "code": "too_many_requests",
            "message": "too many unknown tickets; try again in 13 s",
            "details": {"retry_after": 13},
        }
    }


# --- over HTTP ------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def hall(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveHall]:
    log_url = module_log_url(request, "tthr")
    with live_hall(tmp_path_factory.mktemp("throttle"), log_url=log_url) as server:
        yield server


def refused(reply: Reply, what: str, most: int) -> None:
    """The one 429: its code, Retry-After, details.retry_after and message agree."""
    err = error(reply, 429, "too_many_requests")
    retry = int(reply.headers["Retry-After"])
    assert 1 <= retry <= most and err["details"] == {"retry_after": retry}, reply
    assert err["message"] == f"{what}; try again in {retry} s", reply


def test_sign_in_refuses_past_its_limit(hall: LiveHall) -> None:
    client = Api(hall.url, forwarded_for="192.0.2.41")
    for i in range(guard.PER_USER_AND_PLACE.count):
        error(client.sign_in("victim", f"salah-{i}"), 401, "bad_credentials")
    refused(client.sign_in("victim"), "too many failed sign-ins", 900)  # the right one too
    assert Api(hall.url, forwarded_for="192.0.2.42").sign_in("victim").status == 200


def test_ticket_misses_refuse_past_their_limit(hall: LiveHall) -> None:
    guesser = Api(hall.url, forwarded_for="192.0.2.51")
    for i in range(TICKET_MISS.rule.count):
        error(guesser.get(f"/api/v1/tickets/{SITE}.guess{i}"), 404, "unknown_ticket")
    refused(guesser.get(f"/api/v1/tickets/{SITE}.more"), "too many unknown tickets", 60)
    refused(guesser.get(f"/api/v1/tickets/{hall.ref}"), "too many unknown tickets", 60)
    assert (
        Api(hall.url, forwarded_for="192.0.2.52").get(f"/api/v1/tickets/{hall.ref}").status == 200
    )


def test_a_found_ticket_takes_its_count_back(hall: LiveHall) -> None:
    visitor = Api(hall.url, forwarded_for="192.0.2.61")
    for _ in range(TICKET_MISS.rule.count + 5):
        assert visitor.get(f"/api/v1/tickets/{hall.ref}").status == 200
    for i in range(TICKET_MISS.rule.count):  # the hits left every slot free
        error(visitor.get(f"/api/v1/tickets/{SITE}.guess{i}"), 404, "unknown_ticket")


def test_walk_up_answers_refuse_past_their_limit(hall: LiveHall) -> None:
    visitor = Api(hall.url, forwarded_for="192.0.2.71")
    path = f"/api/v1/survey/{SITE}/walk-up/ktp"
    answers = {"answers": dict.fromkeys(ELEMENT_KEYS, 3)}
    error(visitor.post(path, {"answers": {"U1": 4}}), 422, "missing_answer")  # not counted
    for _ in range(WALK_UP.rule.count):
        assert visitor.post(path, answers).status == 201
    refused(visitor.post(path, answers), "too many answers from here", 3600)


# --- nobody builds a limiter of their own ---------------------------------------------------

# What makes a limiter: a rule, a store of counts, a guard over them.
BUILDERS = {
    "Limit",
    "Slowdown",
    "LocalFailures",
    "RedisFailures",
    "LocalPlaces",
    "RedisPlaces",
    "Stores",
    "SignInGuard",
}
# Where they may be built: the one throttle, and the sign-in rules it names in LIMITS.
ALLOWED = {"qms/server/throttle.py", "qms/accounts/guard.py"}


def limiters_built(root: Path) -> list[str]:
    """Each call to a builder outside `ALLOWED` in root/qms (file:line name)."""
    found = []
    for path in sorted((root / "qms").rglob("*.py")):
        name = path.relative_to(root).as_posix()
        if name in ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called in BUILDERS:
                    found.append(f"{name}:{node.lineno} {called}")
    return found


def test_no_module_builds_a_limiter_outside_the_throttle() -> None:
    assert limiters_built(ROOT) == []


def test_the_sign_in_rules_are_all_the_guard_builds() -> None:
    """In guard.py, the only builds are the four module-level rules LIMITS names."""
    tree = ast.parse((ROOT / "qms/accounts/guard.py").read_text())
    built = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", "") in BUILDERS - {"Stores", "SignInGuard"}
    ]
    assert len(built) == 4
    module_level = [
        n.targets[0].id  # type: ignore[attr-defined]
        for n in tree.body
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
    ]
    assert {"PER_USER_AND_PLACE", "PER_PLACE", "PER_USER", "PER_DEVICE"} <= set(module_level)
