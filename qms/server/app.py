"""The ASGI application: `create_app(config)`; resources live in its lifespan."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import secrets
import stat
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from qms.eventlog import open_log
from qms.server import pages
from qms.server.config import Config
from qms.server.errors import EXCEPTION_HANDLERS, error_response, quiet_client_faults
from qms.server.hall import Hall
from qms.server.routes import starlette_routes

log = logging.getLogger(__name__)

# Modules that declare routes with @api (imported for their side effect).
API_MODULES = (
    "qms.server.api_accounts",
    "qms.server.api_hall",
    "qms.server.api_reports",
    "qms.server.openapi",
)


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
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)  # left looser by hand or by an older version
        return path.read_bytes().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    return path.read_bytes().strip()


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
    for module in API_MODULES:
        importlib.import_module(module)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.config = config
        quiet_client_faults()
        app.state.secret = secret_key(config)  # small, once at start: blocking I/O is fine
        event_log = open_log(config.effective_log_url)
        app.state.hall = Hall(event_log, relay=config.relay)
        from qms.reports.store import reports_dir
        from qms.server.reports_hub import ReportsHub

        # Each site's reports follow its engine from its opening (closed days are
        # written as they close); DuckDB is loaded by the first write or report.
        app.state.reports = ReportsHub(event_log, reports_dir(config.data_dir))
        app.state.hall.on_open.append(app.state.reports.attach)
        from qms.server.auth import Accounts  # its module needs the routes imported first
        from qms.server.stream import StreamHub

        app.state.auth = await Accounts(event_log, config, app.state.secret).open()
        app.state.hub = StreamHub(app.state.hall, app.state.auth, config)
        from qms.demo import simulation

        try:
            async with simulation(app.state.hall, config.simulate and config.workers == 1):
                yield
        finally:
            await app.state.hub.close()  # tells clients "going away" first
            await app.state.hall.close()
            await app.state.reports.close()
            await app.state.auth.close()
            await event_log.close()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        *starlette_routes(),
    ]
    stream_module = importlib.import_module("qms.server.stream")
    routes.extend(stream_module.routes())
    routes.extend(pages.routes(config.voice_dir))
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers=EXCEPTION_HANDLERS)


def app_from_env() -> Starlette:
    """Factory for `uvicorn --factory` and multi-worker runs: the config from QMS_*."""
    return create_app(Config.from_env())
