"""The embedded backend: one SQLite file, durable on commit, for one server process.

Every call runs on ONE connection owned by ONE worker thread. Measured on the
development machine (5,000 single-event appends awaited one after another,
``synchronous=FULL``): ~2,700-3,200/s through the thread, ~3,800-5,200/s with the
same calls made on the event loop. The thread costs ~0.1 ms per call but keeps
each fsync (~0.2 ms here, far more on a slow disk) off the loop, which would
otherwise stall every websocket of the process. One thread also serialises the
appends of this process; ``BEGIN IMMEDIATE`` keeps compare-and-append true
against another process (a CLI, say) opening the same file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import sqlite3
import threading
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any, TypeVar

from . import codec
from ._fanout import Fanout
from .base import Encoded, Event, EventLog
from .errors import Entry, EventLogError, VersionConflict
from .outage import Outage

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    site TEXT NOT NULL, version INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (site, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sites (
    site TEXT PRIMARY KEY, epoch TEXT NOT NULL, version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    site TEXT PRIMARY KEY, version INTEGER NOT NULL, data BLOB NOT NULL
) WITHOUT ROWID;
"""


def _private_files(path: str) -> None:
    """The log file (and its -wal, -shm, -journal) readable by its owner only (0600):
    it holds every password hash. SQLite gives the files it makes beside the
    database the database's own mode, so a database made 0600 here keeps them
    0600; files left looser by an older version are tightened."""
    if path == ":memory:" or path.startswith("file:"):
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # an empty file: a new db
    except OSError:
        return  # sqlite3.connect reports what is wrong
    for name in (path, *(path + tail for tail in ("-wal", "-shm", "-journal"))):
        try:
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)
        except OSError:
            pass  # absent, or not ours: nothing to tighten


class _Worker:
    """The one thread that owns the connection: calls queued, answered on their loop.

    Lighter than a `ThreadPoolExecutor` and `run_in_executor` (no concurrent
    future to wrap and chain per call): the caller's asyncio future is resolved
    with one `call_soon_threadsafe`. Started with the first call."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[_T] = loop.create_future()
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="qms-sqlite", daemon=True
                    )
                    self._thread.start()
        self._calls.put((loop, fut, fn, args))
        return fut

    def stop(self) -> None:
        """Let the calls queued so far run, then end the thread (blocks until it has)."""
        self._calls.put(None)
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while (call := self._calls.get()) is not None:
            _run_one(*call)
            call = None  # nothing held while waiting for the next


def _run_one(
    loop: asyncio.AbstractEventLoop, fut: asyncio.Future[Any], fn: Callable[..., Any], args: Any
) -> None:
    try:
        result = fn(*args)
    except BaseException as exc:
        _answer(loop, fut.set_exception, fut, exc)
    else:
        _answer(loop, fut.set_result, fut, result)


def _answer(
    loop: asyncio.AbstractEventLoop, how: Callable[[Any], None], fut: Any, value: Any
) -> None:
    def deliver() -> None:
        if not fut.cancelled():  # the caller gave up waiting
            how(value)

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        loop.call_soon_threadsafe(deliver)


class SqliteLog(EventLog):
    """`EventLog` in the SQLite file at `path` (``":memory:"`` for a throwaway log)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = os.fspath(path)
        self._worker = _Worker()
        self._conn: sqlite3.Connection | None = None  # opened by, and only used on, the worker
        self._closed = False
        self._fanout = Fanout(self.read)
        self.outage = Outage()

    @property
    def fanout(self) -> Fanout:
        """The in-process subscribers (for health checks and tests)."""
        return self._fanout

    # -- the worker thread -------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            _private_files(self._path)
            # check_same_thread=False: opened here, on the worker, and only ever used there.
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")  # durable on commit
                conn.execute("PRAGMA busy_timeout=5000")  # another process may hold the lock
                conn.executescript(_SCHEMA)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _transaction(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    async def _call(self, fn: Callable[..., _T], *args: Any) -> _T:
        if self._closed:
            raise EventLogError("the log is closed")
        return await self._worker.submit(fn, *args)

    async def set_durable(self, durable: bool) -> None:
        """Commit to disk on every append (the default), or not: for a bulk load that can
        be done again, such as `qms demo --history` (about 3x faster; WAL keeps the file
        consistent, a power cut may lose the last appends)."""
        mode = "FULL" if durable else "OFF"
        await self._call(lambda: self._db().execute(f"PRAGMA synchronous={mode}"))

    def _append_sync(self, site: str, expected: int, blobs: list[bytes]) -> int:
        def work(db: sqlite3.Connection) -> int:
            row = db.execute("SELECT version FROM sites WHERE site = ?", (site,)).fetchone()
            current = 0 if row is None else int(row[0])
            if current != expected:
                raise VersionConflict(site, expected, current)
            if row is None:
                db.execute("INSERT INTO sites VALUES (?, ?, 0)", (site, uuid.uuid4().hex))
            db.executemany(
                "INSERT INTO events VALUES (?, ?, ?)",
                [(site, expected + i, blob) for i, blob in enumerate(blobs, 1)],
            )
            new = expected + len(blobs)
            db.execute("UPDATE sites SET version = ? WHERE site = ?", (new, site))
            return new

        return self._transaction(work)

    def _read_sync(self, site: str, after: int, limit: int) -> list[Entry]:
        rows = self._db().execute(
            "SELECT version, data FROM events WHERE site = ? AND version > ?"
            " ORDER BY version LIMIT ?",
            (site, after, limit),
        )
        return [(int(v), codec.decode(site, int(v), data)) for v, data in rows]

    def _version_sync(self, site: str) -> int:
        row = self._db().execute("SELECT version FROM sites WHERE site = ?", (site,)).fetchone()
        return 0 if row is None else int(row[0])

    def _epoch_sync(self, site: str) -> str:
        def work(db: sqlite3.Connection) -> str:
            row = db.execute("SELECT epoch FROM sites WHERE site = ?", (site,)).fetchone()
            if row is not None:
                return str(row[0])
            epoch = uuid.uuid4().hex
            db.execute("INSERT INTO sites VALUES (?, ?, 0)", (site, epoch))
            return epoch

        row = self._db().execute("SELECT epoch FROM sites WHERE site = ?", (site,)).fetchone()
        return str(row[0]) if row is not None else self._transaction(work)

    def _save_snapshot_sync(self, site: str, version: int, data: bytes) -> None:
        def work(db: sqlite3.Connection) -> None:
            row = db.execute("SELECT version FROM sites WHERE site = ?", (site,)).fetchone()
            current = 0 if row is None else int(row[0])
            if version > current:
                raise ValueError(
                    f"site {site!r}: snapshot at {version} is ahead of the log {current}"
                )
            # A slower process must not replace a newer snapshot with an older one.
            db.execute(
                "INSERT INTO snapshots VALUES (?, ?, ?) ON CONFLICT (site) DO UPDATE"
                " SET version = excluded.version, data = excluded.data"
                " WHERE excluded.version >= snapshots.version",
                (site, version, data),
            )

        self._transaction(work)

    def _load_snapshot_sync(self, site: str) -> tuple[int, dict[str, Any]] | None:
        row = (
            self._db()
            .execute("SELECT version, data FROM snapshots WHERE site = ?", (site,))
            .fetchone()
        )
        if row is None:
            return None
        version = int(row[0])
        return version, codec.decode_state(site, row[1], version)

    def _drop_sync(self, site: str) -> None:
        def work(db: sqlite3.Connection) -> None:
            for table in ("events", "snapshots", "sites"):
                db.execute(f"DELETE FROM {table} WHERE site = ?", (site,))

        self._transaction(work)

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- EventLog ----------------------------------------------------------------------

    async def append(self, site: str, expected_version: int, events: Sequence[Event]) -> int:
        blobs = codec.encode_append(site, expected_version, events)  # checks before any write
        if not blobs:
            return await self.version(site)
        if self._closed:
            raise EventLogError("the log is closed")
        done = self._worker.submit(self._append_sync, site, expected_version, blobs)

        def publish(fut: asyncio.Future[int]) -> None:
            if not fut.cancelled() and fut.exception() is None:
                first = expected_version + 1
                entries = [(first + i, codec.decode_own(b)) for i, b in enumerate(blobs)]
                self._fanout.publish(site, entries)

        # Published from the future, not after the await: a caller cancelled while the
        # worker commits must not leave the subscribers waiting for a committed entry.
        done.add_done_callback(publish)
        return await asyncio.shield(done)

    async def read(self, site: str, after: int = 0, limit: int | None = None) -> list[Entry]:
        codec.check_site(site)
        if limit is not None and limit <= 0:
            return []
        return await self._call(self._read_sync, site, after, -1 if limit is None else limit)

    def subscribe(
        self, site: str, after: int = 0, *, direct: Callable[[Entry], None] | None = None
    ) -> AsyncGenerator[Entry, None]:
        return self._fanout.subscribe(codec.check_site(site), after, direct)

    async def version(self, site: str) -> int:
        return await self._call(self._version_sync, codec.check_site(site))

    async def epoch(self, site: str) -> str:
        return await self._call(self._epoch_sync, codec.check_site(site))

    async def save_snapshot(
        self, site: str, version: int, state: Mapping[str, Any] | Encoded
    ) -> None:
        codec.check_site(site)
        codec.check_version("version", version)
        await self._call(self._save_snapshot_sync, site, version, codec.encode_state(state))

    async def load_snapshot(self, site: str) -> tuple[int, dict[str, Any]] | None:
        return await self._call(self._load_snapshot_sync, codec.check_site(site))

    async def drop(self, site: str) -> None:
        await self._call(self._drop_sync, codec.check_site(site))
        self._fanout.reset(site)

    async def ping(self) -> None:
        await self._call(lambda: self._db().execute("SELECT 1").fetchone())

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._fanout.close()
        try:
            await self._worker.submit(self._close_sync)
        finally:
            self._worker.stop()
