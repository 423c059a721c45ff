"""Data at rest and in logs (issue 12, section 7), against real `qms` processes:
the data directory 0700 and its files 0600, also when an older version left them
looser; visitors' status refs and token-like parameters never in the access log."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from live_server import LiveServer

from qms.server.app import private_data_dir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_directory_is_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    command = ["user", "add", "root", "--role", "admin", "--data-dir", str(data)]
    done = subprocess.run(
        [sys.executable, "-m", "qms", *command],
        input="rahasia-123\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert mode(data) == 0o700
    files = sorted(p.name for p in data.iterdir())
    assert "qms.db" in files
    for name in files:  # qms.db and its -wal / -shm
        assert mode(data / name) == 0o600, name


def test_what_an_older_version_left_readable_is_tightened(tmp_path: Path) -> None:
    """Issue 12: the data directory was 0755 and qms.db 0644: any local user could
    read the password hashes. A server started on such a directory tightens it."""
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    with sqlite3.connect(data / "qms.db") as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x)")
    (data / "secret.key").write_text("ab" * 32)
    for path in data.iterdir():
        path.chmod(0o644)
    with LiveServer(data) as server:
        assert mode(data) == 0o700
        for path in data.iterdir():
            if path.is_file():
                assert mode(path) == 0o600, path.name
        assert "made 0700" in server.output()


def test_a_shared_directory_is_left_alone_with_a_warning(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: never made private behind its owners' backs
    private_data_dir(shared)
    assert mode(shared) == 0o1777
    nested = private_data_dir(tmp_path / "a" / "b")
    assert mode(nested) == 0o700


def fetch(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_status_refs_and_tokens_stay_out_of_the_access_log(tmp_path: Path) -> None:
    """Issue 12: visitors' status refs (their only credential) were logged, and
    `?tok%65n=` (accepted as `token`) was logged unredacted."""
    secrets = ["mpp-bengkulu.RefRahasia1234", "qmsd_TokenRahasia5678", "TokenRahasia9012"]
    with LiveServer(tmp_path / "data") as server:
        paths = [
            f"/t/{secrets[0]}",
            f"/api/v1/tickets/{secrets[0]}",
            f"/display?tok%65n={secrets[1]}",
            f"/kiosk?zone=A&Token={secrets[2]}",
        ]
        for path in paths:
            assert fetch(server.url + path) < 500
        deadline = time.monotonic() + 10
        while server.output().count("[redacted]") < len(paths):
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        log = server.output()
    assert 'GET /t/[redacted] HTTP/1.1" 200' in log
    assert "GET /api/v1/tickets/[redacted] HTTP/1.1" in log
    assert "/display?tok%65n=[redacted]" in log and "/kiosk?zone=A&Token=[redacted]" in log
    for secret in secrets:
        assert secret not in log and secret.split(".")[-1] not in log
