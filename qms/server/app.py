"""The ASGI application: `create_app(config)`; resources live in its lifespan."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from qms.demo import simulation
from qms.eventlog import is_redis_url, open_log
from qms.reports.hub import ReportsHub
from qms.server import pages
from qms.server.api import ROUTES
from qms.server.auth import Accounts
from qms.server.config import Config
from qms.server.errors import error_response, exception_handlers
from qms.server.hall import Hall
from qms.server.process import GcPolicy, ShutdownSignals, quiet_client_faults, redact_uvicorn_logs
from qms.server.routes import RememberingRouter, starlette_routes
from qms.server.stream import hub as stream
from qms.server.stream.connection import StreamSettings
from qms.server.throttle import Throttle

log = logging.getLogger(__name__)


def private_data_dir(path: Path | str) -> Path:
    """The data directory, made if missing, readable by its owner only (0700): it
    holds the log with every password hash, and the secret key.

    A directory that exists with looser modes is tightened, with a warning; one
    that is not ours, or is shared on purpose (the sticky bit, like /tmp), is left
    as it is, with a warning: its files are 0600 anyway.
    """
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    loose = stat.S_IMODE(info.st_mode) & 0o077
    if not loose:
        return path
    mode = oct(stat.S_IMODE(info.st_mode))
    if info.st_mode & stat.S_ISVTX or info.st_uid != os.geteuid():
        log.warning("qms: data directory %s is %s and shared; not changed", path, mode)
        return path
    try:
        path.chmod(0o700)
    except OSError as exc:
        log.warning("qms: data directory %s is %s and could not be made 0700: %s", path, mode, exc)
    else:
        log.warning("qms: data directory %s was %s; made 0700 (owner only)", path, mode)
    return path


def secret_key(config: Config) -> bytes:
    """The session signing key: from the config, or generated once into the data dir (0600)."""
    if config.secret_key:
        return config.secret_key.encode()
    private_data_dir(config.data_dir)
    path = config.data_dir / "secret.key"
    if not path.exists():
        # Written whole to a file of its own, then linked in: workers starting together
        # (`--workers N`) all read the one key linked first, never a half-written one.
        fd, temp = tempfile.mkstemp(prefix=".secret.key.", dir=config.data_dir)  # 0600
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
            with contextlib.suppress(FileExistsError):  # another worker's came first
                os.link(temp, path)
        finally:
            os.unlink(temp)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)  # left looser by hand or by an older version
    key = path.read_bytes().strip()
    if not key:  # never sign with b"" (an older version could leave it so)
        raise RuntimeError(f"{path} is empty: remove it, and a new key is made at start")
    return key


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when the log answers and every site follower (and the log reader) is alive."""
    hall: Hall = request.app.state.hall
    try:
        await hall.log.ping()
    except Exception as exc:
        return error_response(503, "log_unavailable", f"the event log does not answer: {exc}")
    ok, problems = hall.healthy()
    if not ok:
        return error_response(503, "not_ready", "a log follower is failing", problems)
    stream = request.app.state.hub.metrics()
    relay = {site: r.view() for site, r in hall.relays.items()}
    return JSONResponse({"status": "ready", "sites": hall.sites, "stream": stream, "relay": relay})


def create_app(config: Config | None = None) -> Starlette:
    config = config or Config.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.config = config
        quiet_client_faults()  # uvicorn's log: no traceback for a client's bad frame
        redact_uvicorn_logs()  # nor a device token or a visitor's ref
        app.state.secret = secret_key(config)  # small, once at start: blocking I/O is fine
        event_log = open_log(config.effective_log_url)
        app.state.hall = Hall(event_log, relay=config.relay)
        # Each site's reports follow its engine from its opening (closed days are
        # written as they close); DuckDB is loaded by the first write or report.
        app.state.reports = ReportsHub(event_log, config.reports_path, config.reports_memory_days)
        app.state.hall.on_open.append(app.state.reports.attach)
        app.state.throttle = Throttle(event_log)  # every rate rule, one store
        app.state.auth = await Accounts(
            event_log, config, app.state.secret, app.state.throttle.sign_in
        ).open()
        app.state.survey_books = {}  # site -> its survey records, read in on first use
        settings = StreamSettings.from_env()
        gc_policy = GcPolicy(settings.gc_freeze_s, settings.gc_reclaim_s)
        app.state.hub = stream.StreamHub(
            app.state.hall, app.state.auth, config, gc_policy, settings
        )
        gc_policy.start()  # after the app and accounts are open: they are frozen first
        signals = ShutdownSignals(app.state.hub.going_away)
        signals.install()
        try:
            async with simulation(app.state.hall, config.simulate and config.workers == 1):
                yield
        finally:
            signals.restore()
            await app.state.hub.close()  # tells clients "going away" first
            await app.state.hall.close()
            await app.state.reports.close()
            await app.state.auth.close()
            await event_log.close()
            gc_policy.stop()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        *starlette_routes(ROUTES),
    ]
    routes.extend(stream.routes())
    routes.extend(pages.routes(config.voice_dir))
    handlers = exception_handlers(redis=is_redis_url(config.effective_log_url))
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)
    app.router = RememberingRouter(routes, lifespan=lifespan)  # the same routes, remembered
    return app


def app_from_env() -> Starlette:
    """Factory for `uvicorn --factory` and multi-worker runs: the config from QMS_*."""
    return create_app(Config.from_env())
