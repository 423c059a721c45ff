"""The simplest peer over HTTP: Starlette + asyncpg, the classic SKIP LOCKED queue.

What a minimal relational queue server does when an officer presses a button:
no sessions, no roles, no audit log, no live stream; one prepared statement per
request on a pooled connection (SQL from bench/peer_postgres.py):

    POST /api/v1/sites/{site}/counters/{counter}/call-next
        UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING …
    POST /api/v1/sites/{site}/counters/{counter}/complete
        UPDATE … SET status = 'done' WHERE counter = $1 AND status = 'called' RETURNING …

Both answer the ticket as JSON (404 ``no_ticket`` when there is none), on the
same paths as qms, so bench/http_officers.py drives both with one client. The
table (made and dropped by that benchmark) is named by PEER_TABLE; the
database by PEER_DSN. Run it with uvicorn's workers:

    PEER_TABLE=t PEER_DSN=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/uvicorn --app-dir bench peer_http:app --workers 2 --port 8100
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DSN = os.environ.get("PEER_DSN", "postgresql://postgres@127.0.0.1:5432/test")
TABLE = os.environ.get("PEER_TABLE", "peer_tickets")
SERVICES = os.environ.get("PEER_SERVICES", "ktp,kk,akta").split(",")
POOL_SIZE = int(os.environ.get("PEER_POOL", "4"))

CALL = f"""
    UPDATE {TABLE} SET status = 'called', counter = $1, called_at = now()
     WHERE id = (SELECT id FROM {TABLE}
                  WHERE status = 'waiting' AND service = ANY($2::text[])
                  ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
    RETURNING id, number, service"""
COMPLETE = f"""
    UPDATE {TABLE} SET status = 'done', started_at = coalesce(started_at, now()),
           completed_at = now()
     WHERE counter = $1 AND status = 'called'
    RETURNING id, number, service"""


def _answer(row: Any) -> Response:
    if row is None:
        body = {"error": {"code": "no_ticket", "message": "no ticket", "details": {}}}
        return JSONResponse(body, status_code=404)
    return JSONResponse({"ticket": {"id": row[0], "number": row[1], "service": row[2]}})


async def call_next(request: Request) -> Response:
    counter = request.path_params["counter"]
    async with request.app.state.pool.acquire() as conn:
        return _answer(await conn.fetchrow(CALL, counter, SERVICES))


async def complete(request: Request) -> Response:
    counter = request.path_params["counter"]
    async with request.app.state.pool.acquire() as conn:
        return _answer(await conn.fetchrow(COMPLETE, counter))


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(
        DSN,
        min_size=POOL_SIZE,
        max_size=POOL_SIZE,
        server_settings={"application_name": f"qmsbench-peer-{TABLE}"},
    )
    try:
        yield
    finally:
        await app.state.pool.close()


site = "/api/v1/sites/{site}/counters/{counter}"
app = Starlette(
    routes=[
        Route("/readyz", health),
        Route(site + "/call-next", call_next, methods=["POST"]),
        Route(site + "/complete", complete, methods=["POST"]),
    ],
    lifespan=lifespan,
)
