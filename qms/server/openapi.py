"""The OpenAPI 3.1 document of the API, made from its route table (`qms.server.api`).

Each `@api` declaration gives a path, a method, its summary, who may call it
(``x-qms-roles`` and the security requirements), its request body schema and
its answers; the {path} parameters come from the path itself. /healthz and
/readyz, declared by `app.py` outside the table, are described here. A test
walks the Starlette app and fails when a route is undocumented or a documented
one does not exist (tests/test_openapi.py).

Command bodies are the commands' own dataclasses in JSON schema words
(`qms.eventsourcing.schema.dataclass_schema`, the walker the parser uses), so a
command's documented body is always its real one.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Sequence
from typing import Any

from qms.accounts.model import DEVICE_RE, SITE_RE, USERNAME_RE
from qms.core.commands import ID_PATTERN
from qms.server.answers import COMMAND_RESOURCES
from qms.server.errors import HTTP_CODES
from qms.server.principal import EVERYONE, Role
from qms.server.routes import PREFIX, ApiRoute

OPENAPI_VERSION = "3.1.0"
USERS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.OFFICER, Role.VIEWER})
DEVICES = frozenset({Role.DISPLAY, Role.KIOSK})
PATH_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z_]+)?}")


def _anchored(pattern: str) -> str:
    return f"^{pattern}$"


# The {path} parameters: what the server can find (anything else is 404, or 422 where
# a PUT would create it). Ids of the hall are the engine's ids; a hall's site id
# does not start with "_" (reserved logs such as _accounts).
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "site": {"type": "string", "pattern": _anchored(SITE_RE.pattern)},
    "agency": {"type": "string", "pattern": ID_PATTERN},
    "service": {"type": "string", "pattern": ID_PATTERN},
    "counter": {"type": "string", "pattern": ID_PATTERN},
    "ticket": {"type": "string", "pattern": ID_PATTERN},
    "ref": {
        "type": "string",
        "pattern": r"^([A-Za-z0-9_-]{1,64}\.)?[A-Za-z0-9_-]{1,64}$",
        "description": "`<site>.<token>`, or a bare token",
    },
    "hall": {  # a site, in a public path: no site scope is checked
        "type": "string",
        "pattern": _anchored(SITE_RE.pattern),
        "description": "a site id (its published figures are public)",
    },
    "username": {"type": "string", "pattern": _anchored(USERNAME_RE.pattern)},
    "device": {"type": "string", "pattern": _anchored(DEVICE_RE.pattern)},
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "description": "a stable, machine-readable code"},
                "message": {"type": "string", "description": "for people; may change"},
                "details": {"type": "object", "description": "facts about the error"},
            },
        }
    },
}

COMMAND_RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["version", "events", "repeated"],
    "properties": {
        "version": {"type": "integer", "description": "the site log's version after the command"},
        "events": {
            "type": "array",
            "description": "the events the command made, each with its log version",
            "items": {
                "type": "object",
                "required": ["version", "type"],
                "properties": {"version": {"type": "integer"}, "type": {"type": "string"}},
            },
        },
        "repeated": {
            "type": "boolean",
            "description": "true when this answers an Idempotency-Key seen before",
        },
        **COMMAND_RESOURCES,
    },
    "additionalProperties": True,
}

COMMAND_RESULT: dict[str, Any] = {"$ref": "#/components/schemas/CommandResult"}

# Routes that app.py declares outside the @api table.
EXTRA_PATHS: dict[str, dict[str, Any]] = {
    "/healthz": {
        "get": {
            "operationId": "healthz",
            "summary": "The process lives",
            "tags": ["meta"],
            "security": [{}],
            "x-qms-roles": sorted(r.value for r in EVERYONE),
            "responses": {"200": {"description": "alive"}},
        }
    },
    "/readyz": {
        "get": {
            "operationId": "readyz",
            "summary": "The log answers and every log follower and reader is alive",
            "tags": ["meta"],
            "security": [{}],
            "x-qms-roles": sorted(r.value for r in EVERYONE),
            "responses": {
                "200": {"description": "ready"},
                "503": {"$ref": "#/components/responses/Error"},
            },
        }
    },
}


# --- the document ------------------------------------------------------------------------------


def _security(allow: frozenset[Role]) -> list[dict[str, list[str]]]:
    out: list[dict[str, list[str]]] = []
    if allow & USERS:
        out.append({"session": []})
    if allow & DEVICES:
        out.append({"device": []})
    if Role.ANONYMOUS in allow:
        out.append({})
    return out


def _error(status: int, why: str) -> dict[str, Any]:
    return {
        "description": why,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _file(media: str) -> dict[str, Any]:
    binary = {} if media.startswith("text/") else {"format": "binary"}
    return {"schema": {"type": "string", **binary}}


def _responses(spec: ApiRoute) -> dict[str, Any]:
    declared = dict(spec.responses)
    success = min((s for s in declared if s < 300), default=200)
    body = {"schema": spec.response or {"type": "object"}}
    out: dict[str, Any] = {
        str(success): {
            "description": declared.pop(success, "done"),
            # a file (an export) is a string in its media type
            "content": {m: body if m == "application/json" else _file(m) for m in spec.media},
        }
    }
    for status in sorted(s for s in declared if s < 300):
        out[str(status)] = {
            "description": declared.pop(status),
            "content": {"application/json": {"schema": spec.response or {"type": "object"}}},
        }
    errors: dict[int, str] = {}
    if Role.ANONYMOUS not in spec.allow:
        errors[401] = "not signed in (`not_authenticated`)"
    if spec.allow != EVERYONE or "{site}" in spec.path or spec.method != "GET":
        errors[403] = "not allowed (`forbidden`, `bad_origin`, or a route's own code)"
    if spec.body is not None:
        errors[400] = "the body is not JSON (`invalid_json`) or a header is malformed"
        errors[413] = "the body is too large (`payload_too_large`)"
        errors[415] = "the body is not application/json (`unsupported_media_type`)"
        errors[422] = "the request is malformed (`invalid_command`, `invalid_request`)"
    errors.update({s: why for s, why in declared.items() if s >= 300})
    for status in sorted(errors):
        out[str(status)] = _error(status, errors[status])
    out["default"] = _error(0, "an error, in the one error shape")
    return out


def _operation_ids(table: Sequence[ApiRoute]) -> dict[int, str]:
    """A unique operationId per route: its endpoint's name, or method and path when shared."""
    names = [spec.endpoint.__name__ for spec in table]
    out: dict[int, str] = {}
    for i, spec in enumerate(table):
        name = names[i]
        if names.count(name) > 1 or not name.isidentifier():
            slug = re.sub(r"[^A-Za-z0-9]+", "_", spec.path).strip("_")
            name = f"{spec.method.lower()}_{slug}"
        out[i] = name
    return out


def operation(spec: ApiRoute, operation_id: str) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS[name]}
        for name in PATH_PARAM.findall(spec.path)
    ]
    params.extend(spec.parameters)
    op: dict[str, Any] = {
        "operationId": operation_id,
        "summary": spec.summary,
        "tags": [spec.tag],
        "x-qms-roles": sorted(r.value for r in spec.allow),
        "security": _security(spec.allow),
        "responses": _responses(spec),
    }
    doc = (spec.endpoint.__doc__ or "").strip()
    if doc and doc != spec.summary:
        op["description"] = doc
    if params:
        op["parameters"] = params
    if spec.body is not None:
        op["requestBody"] = {
            # Required when the body has a required field (no body is `{}`, which lacks it).
            "required": bool(spec.body.get("required")),
            "content": {"application/json": {"schema": spec.body}},
        }
    return op


def openapi_path(path: str) -> str:
    """A Starlette path ({name:convertor}) as an OpenAPI path ({name})."""
    return PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def _version() -> str:
    try:
        return importlib.metadata.version("qms")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def document(table: Sequence[ApiRoute], server_url: str = "") -> dict[str, Any]:
    """The whole OpenAPI 3.1 document of the routes in `table`."""
    paths: dict[str, dict[str, Any]] = {p: dict(ops) for p, ops in EXTRA_PATHS.items()}
    ids = _operation_ids(table)
    for i, spec in enumerate(table):
        ops = paths.setdefault(openapi_path(spec.full_path), {})
        ops[spec.method.lower()] = operation(spec, ids[i])
    doc: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "qms",
            "version": _version(),
            "summary": "Queue management for Indonesia's public service malls",
            "description": "See docs/api.md. Every error has the shape of `Error`; "
            f"error codes are stable. HTTP codes: {', '.join(sorted(set(HTTP_CODES.values())))}.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Error": ERROR_SCHEMA, "CommandResult": COMMAND_RESULT_SCHEMA},
            "responses": {"Error": _error(0, "an error, in the one error shape")},
            "securitySchemes": {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "qms_session",
                    "description": "a signed-in user (POST /api/v1/session); unsafe methods "
                    "also need an allowed Origin header",
                },
                "device": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a display or kiosk device token",
                },
            },
        },
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc


__all__ = ["PREFIX", "document"]
