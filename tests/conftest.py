"""Shared fixtures: a real Redis for every test that needs one, never a mock.

`redis_url` is, in order: ``$QMS_TEST_REDIS_URL``; the Redis at 127.0.0.1:6379
when it answers PING; under CI (``$CI`` set) a failure; otherwise a private
redis-server started for the session. Each test gets its own key prefix
(`redis_log_url`) and its keys are deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import redis
from redis_server import RedisServer, ping

from qms.eventlog import EventLog, open_log

pytest_plugins = ["browser_support"]  # Chromium + demo-hall fixtures for the browser apps

DEFAULT_REDIS = ("127.0.0.1", 6379)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("QMS_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    host, port = DEFAULT_REDIS
    if ping(host, port):
        yield f"redis://{host}:{port}/0"
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI: no Redis at {host}:{port} and QMS_TEST_REDIS_URL is not set")
    server = RedisServer(dir=tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))


def delete_prefix(url: str, prefix: str) -> None:
    """Delete every key under `prefix` (SCAN + DEL, never FLUSHALL on a shared server)."""
    client = redis.Redis.from_url(url)
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}:*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                client.delete(*batch)
                batch.clear()
        if batch:
            client.delete(*batch)
    finally:
        client.close()


@pytest.fixture
def redis_log_url(redis_url: str) -> Iterator[str]:
    """A `redis://…?prefix=t<uuid>` URL of this test's own keys, deleted afterwards."""
    prefix = f"t{uuid.uuid4().hex}"
    yield with_query(redis_url, prefix=prefix)
    delete_prefix(redis_url, prefix)


def module_redis_log(request: pytest.FixtureRequest, name: str) -> tuple[str, str]:
    """For a fixture of a wider scope than a test: a `redis://…?prefix=<name><uuid>` URL
    of its own keys, deleted when `request`'s scope ends; the URL and the prefix."""
    base = request.getfixturevalue("redis_url")
    prefix = f"{name}{uuid.uuid4().hex}"
    request.addfinalizer(lambda: delete_prefix(base, prefix))
    return with_query(base, prefix=prefix), prefix


# Both backends, for a fixture's `params`: the embedded log, and a real Redis (CI: a
# failure, never a skip, when none answers).
BACKENDS = ["sqlite", pytest.param("redis", marks=pytest.mark.redis)]


def module_log_url(request: pytest.FixtureRequest, name: str) -> str | None:
    """For a wider-scoped fixture over `BACKENDS`: None (the server's own embedded log)
    or a Redis URL of keys of its own (`module_redis_log`)."""
    return module_redis_log(request, name)[0] if request.param == "redis" else None


@pytest.fixture(params=BACKENDS)
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A log URL of this test's own, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'qms.db'}"
    return str(request.getfixturevalue("redis_log_url"))


@pytest.fixture
async def log(log_url: str) -> AsyncIterator[EventLog]:
    """An event log on each backend (engine tests); a module may define its own."""
    the_log = open_log(log_url)
    yield the_log
    await the_log.close()
