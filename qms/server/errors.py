"""One error shape for everything: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from qms.accounts.guard import Throttled
from qms.core import Rejected
from qms.engine import EngineBusy
from qms.eventlog import LogUnavailable
from qms.eventlog.outage import RETRY_AFTER_S, outage_errors
from qms.reports.errors import CODES as REPORT_CODES
from qms.reports.errors import ReportError

if TYPE_CHECKING:
    from qms.server.hall import Hall

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # bytes; a command is far smaller

# Stable codes of the HTTP layer (the engine's codes pass through as they are).
HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers: dict[str, str] = {}


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None, **kw: Any
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status, **kw)


def _not_json(name: str) -> Any:
    """Python's json reads NaN and Infinity; JSON has no such numbers."""
    raise ValueError(f"{name} is not a JSON value")


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object, or 400/413/415 — before anything is changed."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise ApiError(413, "payload_too_large", f"at most {MAX_BODY} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ApiError(413, "payload_too_large", f"at most {MAX_BODY} bytes")
    if not body:
        return {}
    ctype = request.headers.get("content-type", "").split(";")[0].strip()
    if ctype.lower() != "application/json":  # media types are case-insensitive (RFC 9110)
        raise ApiError(415, "unsupported_media_type", "send application/json")
    try:
        data = json.loads(body, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # deep nesting: recursion
        raise ApiError(400, "invalid_json", f"the body is not JSON: {exc}") from None
    try:  # a "\udXXX" escape alone is no character: it could be stored but never sent back
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise ApiError(400, "invalid_json", "the body has a lone surrogate escape") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_request", "the body must be a JSON object")
    return data


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.details, headers=exc.headers)


async def _rejected(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Rejected)
    return error_response(exc.http_status, exc.code, exc.message, exc.details)


async def _throttled(request: Request, exc: Exception) -> Response:
    """The one 429, from the server's throttle (`qms.server.throttle`): when to try
    again, in whole seconds, in the Retry-After header and in the details."""
    assert isinstance(exc, Throttled)
    retry = exc.retry_after
    return error_response(
        429,
        "too_many_requests",
        str(exc),
        {"retry_after": retry},
        headers={"Retry-After": str(retry)},
    )


async def _report_error(request: Request, exc: Exception) -> Response:
    """A report asked for with a bad period, cut or filter (its own stable codes)."""
    assert isinstance(exc, ReportError)
    return error_response(REPORT_CODES[exc.code], exc.code, exc.message, exc.details)


async def _busy(request: Request, exc: Exception) -> Response:
    return error_response(
        503, "busy", "the hall is very busy; press again", headers={"Retry-After": "1"}
    )


async def _log_unavailable(request: Request, exc: Exception) -> Response:
    """Redis (the log, or what lives beside it) cannot be reached: an outage, answered
    as one. Logged once per outage by the log's `Outage` (`qms.eventlog.outage`), not
    here per request; the client tries again after Retry-After."""
    hall: Hall = request.app.state.hall  # set in the lifespan, before any request
    if not isinstance(exc, LogUnavailable):
        hall.log.outage.failed(exc)  # a call that bypassed the log (a throttle) counts too
    return error_response(
        503,
        "log_unavailable",
        "the event log cannot be reached now; try again shortly (with the same Idempotency-Key)",
        {"retry_after": RETRY_AFTER_S},
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


async def _client_left(request: Request, exc: Exception) -> Response:
    """The client closed the connection before its request was read: nobody hears an
    answer, and it is not the server's fault (no traceback; one debug line)."""
    log.debug("client left during %s %s", request.method, request.url.path)
    return error_response(400, "client_disconnected", "the client closed the connection")


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "unexpected error; it was logged")


def exception_handlers(redis: bool) -> dict[Any, Any]:
    """The app's handlers; `redis`: the log is Redis, whose client's errors are outages."""
    return {
        ApiError: _api_error,
        Rejected: _rejected,
        Throttled: _throttled,
        ReportError: _report_error,
        EngineBusy: _busy,
        HTTPException: _http,
        # Each type, not a base class: an `Exception` handler runs in Starlette's server
        # error middleware, which re-raises, and uvicorn logs a traceback per request.
        **dict.fromkeys(outage_errors(redis), _log_unavailable),
        ClientDisconnect: _client_left,
        Exception: _unexpected,
    }
