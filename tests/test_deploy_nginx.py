"""docs/deploy.md's nginx example, run for real in front of a real `qms serve`.

The example is read from the doc; only the names, ports and certificate paths
are replaced (each replacement must apply, so the doc and the test cannot drift
apart). A test CA (trustme) signs the certificate. Through nginx: TLS and the
redirect, the session cookie marked Secure (qms believes the proxy's
X-Forwarded-Proto), a client's own X-Forwarded-For dropped (every failure of
one client counts at one place), and the websocket upgrade to the live stream.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import trustme
from api_client import PASSWORD, add_device, add_user
from live_server import LiveServer
from redis_server import free_port
from websockets.sync.client import connect
from websockets.typing import Origin, Subprotocol

ROOT = Path(__file__).resolve().parent.parent
SITE = "mpp-proxy"


def nginx_binary() -> str:
    """The machine's nginx, or Debian's unpacked into .venv/nginx by scripts/test."""
    for candidate in (
        os.environ.get("QMS_NGINX"),
        "/usr/sbin/nginx",
        shutil.which("nginx"),
        str(ROOT / ".venv" / "nginx" / "usr" / "sbin" / "nginx"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise AssertionError("no nginx: scripts/test unpacks Debian's nginx into .venv/nginx")


def example_config() -> str:
    text = (ROOT / "docs" / "deploy.md").read_text()
    match = re.search(r"<!-- the nginx example[^>]*-->\s*```nginx\n(.*?)```", text, re.S)
    assert match, "docs/deploy.md: the nginx example block is missing"
    return match.group(1)


def replace(text: str, old: str, new: str) -> str:
    assert old in text, f"docs/deploy.md's nginx example no longer has {old!r}"
    return text.replace(old, new)


@dataclass
class Proxy:
    https_port: int
    http_port: int
    context: ssl.SSLContext
    qms: LiveServer
    work: Path

    @property
    def url(self) -> str:
        return f"https://localhost:{self.https_port}"

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Message, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Origin", self.url)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=10) as resp:
                return resp.status, resp.headers, decoded(resp.headers, resp.read())
        except urllib.error.HTTPError as error:
            return error.code, error.headers, decoded(error.headers, error.read())


def decoded(headers: Message, body: bytes) -> Any:
    json_body = "json" in (headers.get("Content-Type") or "")
    return json.loads(body) if json_body and body else body


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"nginx exited {process.returncode}: {log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nginx did not listen: {log.read_text()}")


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    work = tmp_path_factory.mktemp("nginx")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.private_key_pem.write_to_path(str(work / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(work / "cert.pem"))
    for pem in cert.cert_chain_pems[1:]:
        with (work / "cert.pem").open("ab") as chain:
            chain.write(pem.bytes())
    context = ssl.create_default_context()
    ca.configure_trust(context)
    https_port, http_port = free_port(), free_port()
    env = {"QMS_PUBLIC_URL": f"https://localhost:{https_port}"}
    with LiveServer(work / "data", env=env) as qms:
        config = example_config()
        live = "/etc/letsencrypt/live/antrean.example.go.id"
        config = replace(config, f"{live}/fullchain.pem", str(work / "cert.pem"))
        config = replace(config, f"{live}/privkey.pem", str(work / "key.pem"))
        config = replace(config, "antrean.example.go.id", "localhost")
        config = replace(config, "/var/log/nginx/qms.access.log", str(work / "qms.access.log"))
        config = replace(config, "server 127.0.0.1:8000;", f"server 127.0.0.1:{qms.port};")
        config = replace(config, "listen 80;", f"listen 127.0.0.1:{http_port};")
        config = replace(config, "listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
        (work / "qms.conf").write_text(config)
        temp = "".join(
            f" {kind}_temp_path {work / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (work / "nginx.conf").write_text(
            ("user root;\n" if os.geteuid() == 0 else "")
            + f"daemon off;\npid {work / 'nginx.pid'};\nworker_processes 1;\n"
            + "events { worker_connections 256; }\n"
            + f"http {{\n access_log {work / 'access.log'};\n{temp}"
            + f" include {work / 'qms.conf'};\n}}\n"
        )
        log = work / "error.log"
        nginx = subprocess.Popen(
            [nginx_binary(), "-e", str(log), "-p", str(work), "-c", str(work / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(https_port, nginx, log)
            add_user(qms, "root", "admin")
            yield Proxy(https_port, http_port, context, qms, work)
        finally:
            nginx.terminate()
            nginx.wait(10)


def test_tls_and_the_redirect(proxy: Proxy) -> None:
    assert proxy.request("GET", "/healthz")[0] == 200
    plain = urllib.request.Request(f"http://localhost:{proxy.http_port}/console")
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(plain, timeout=10)
        raise AssertionError("no redirect")
    except urllib.error.HTTPError as error:
        assert error.code == 301
        assert error.headers["Location"] == "https://localhost/console"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_the_session_cookie_is_secure_behind_tls(proxy: Proxy) -> None:
    status, headers, body = proxy.request(
        "POST", "/api/v1/session", {"username": "root", "password": PASSWORD}
    )
    assert status == 200, body
    cookies = headers.get_all("Set-Cookie") or []
    session = next(c for c in cookies if c.startswith("qms_session="))
    assert "Secure" in session and "HttpOnly" in session


def test_a_clients_own_x_forwarded_for_is_dropped(proxy: Proxy) -> None:
    """Twenty failures, each claiming another address: nginx replaces the header
    with the real one, so they are one place and the next is refused."""
    for i in range(20):
        status, _, _ = proxy.request(
            "POST",
            "/api/v1/session",
            {"username": f"nama{i}", "password": "salah-sekali"},
            headers={"X-Forwarded-For": f"198.51.100.{i}"},
        )
        assert status == 401
    status, _, body = proxy.request(
        "POST",
        "/api/v1/session",
        {"username": "lain", "password": "salah-sekali"},
        headers={"X-Forwarded-For": "192.0.2.1"},
    )
    assert status == 429 and body["error"]["code"] == "too_many_requests", body


def test_the_websocket_upgrade_reaches_the_stream(proxy: Proxy) -> None:
    # The site is set up on qms directly (as from the proxy's host, for another client).
    admin = urllib.request.Request(
        proxy.qms.url + "/api/v1/session",
        data=json.dumps({"username": "root", "password": PASSWORD}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-Forwarded-For": "10.1.2.3"},
    )
    with urllib.request.urlopen(admin, timeout=10) as resp:
        cookie = resp.headers["Set-Cookie"].split(";", 1)[0]
    site = urllib.request.Request(
        f"{proxy.qms.url}/api/v1/sites/{SITE}",
        data=json.dumps({"name": "MPP Proxy"}).encode(),
        method="PUT",
        headers={"Content-Type": "application/json", "Cookie": cookie, "Origin": proxy.url},
    )
    with urllib.request.urlopen(site, timeout=10) as resp:
        assert resp.status == 200
    token = add_device(proxy.qms, "display", SITE)
    url = f"wss://localhost:{proxy.https_port}/api/v1/sites/{SITE}/stream?token={token}"
    with connect(
        url,
        ssl=proxy.context,
        origin=Origin(proxy.url),
        subprotocols=[Subprotocol("qms.json.v1")],
        open_timeout=10,
    ) as ws:
        ws.send(
            json.dumps({"type": "hello", "audience": "display", "epoch": None, "version": None})
        )
        welcome = json.loads(ws.recv(timeout=10))
    assert welcome["type"] == "welcome" and welcome["site"] == SITE
    ref = f"{SITE}.RefRahasia1234"
    assert proxy.request("GET", f"/t/{ref}")[0] == 200
    assert proxy.request("GET", f"/api/v1/tickets/{ref}")[0] == 404
    deadline = time.monotonic() + 10  # nginx writes a line after its answer has left
    while True:
        logs = [proxy.qms.output(), (proxy.work / "qms.access.log").read_text()]
        if all(line in logs[1] for line in ('/stream" 101', "/api/v1/tickets/[redacted]")):
            break
        assert time.monotonic() < deadline, logs[1]
        time.sleep(0.05)
    assert "/t/[redacted]" in logs[1]
    for log in logs:  # neither qms's log nor nginx's holds a secret
        assert token not in log and "RefRahasia1234" not in log
