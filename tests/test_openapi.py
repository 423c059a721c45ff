"""The OpenAPI document stays true: every route of the app is documented (or excluded
here, with the reason), every documented route exists, and the document is valid
OpenAPI 3.1."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from live_server import LiveServer
from openapi_spec_validator import validate
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from qms.server.api_hall import COMMAND_ROUTES, SERVER_FIELDS
from qms.server.app import API_MODULES, create_app
from qms.server.config import Config
from qms.server.openapi import ERROR_SCHEMA, document
from qms.server.pages import PAGES
from qms.server.routes import API

for _module in API_MODULES:  # every @api route is in the table, whatever runs first
    __import__(_module)

# Routes of the app that the OpenAPI document deliberately leaves out, and why.
EXCLUDED: dict[tuple[str, str], str] = {
    ("WEBSOCKET", "/api/v1/sites/{site}/stream"): "a websocket: docs/protocol.md describes it",
}
# The browser apps' pages and files (qms/server/pages.py): HTML, not the API.
BROWSER = {("GET", path) for path in PAGES} | {("GET", "/static/{build}/{path:path}")}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(METHOD, path) of every route; WEBSOCKET for websockets, MOUNT for opaque mounts."""
    for route in routes:
        if isinstance(route, Route):
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                yield method, prefix + route.path
        elif isinstance(route, WebSocketRoute):
            yield "WEBSOCKET", prefix + route.path
        elif isinstance(route, Mount) and route.routes:
            yield from walk(list(route.routes), prefix + route.path)
        elif isinstance(route, Mount):
            yield "MOUNT", prefix + route.path
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")


@pytest.fixture(scope="module")
def app_routes(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    app = create_app(Config(data_dir=tmp_path_factory.mktemp("openapi")))
    return set(walk(list(app.routes)))


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return document()


def documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops if m in METHODS}


def test_every_route_of_the_app_is_documented(
    app_routes: set[tuple[str, str]], doc: dict[str, Any]
) -> None:
    missing = sorted(app_routes - set(EXCLUDED) - BROWSER - documented(doc))
    assert not missing, f"undocumented routes (document them, or add them to EXCLUDED): {missing}"


def test_every_documented_route_exists(
    app_routes: set[tuple[str, str]], doc: dict[str, Any]
) -> None:
    ghosts = sorted(documented(doc) - app_routes)
    assert not ghosts, f"documented routes the app does not have: {ghosts}"


def test_every_exclusion_is_a_route(app_routes: set[tuple[str, str]]) -> None:
    stale = sorted(set(EXCLUDED) - app_routes)
    assert not stale, f"EXCLUDED names routes the app does not have: {stale}"


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    validate(doc)  # openapi-spec-validator: the OpenAPI 3.1 meta-schema
    assert doc["openapi"].startswith("3.1.")
    assert doc["info"]["title"] and doc["info"]["version"]
    json.dumps(doc)


def test_operations_are_complete_and_unique(doc: dict[str, Any]) -> None:
    ids: list[str] = []
    schemes = set(doc["components"]["securitySchemes"])
    assert schemes == {"session", "device"}
    for path, ops in doc["paths"].items():
        in_path = set(re.findall(r"{(\w+)}", path))
        for method, op in ops.items():
            ids.append(op["operationId"])
            assert op["summary"] and op["responses"], (method, path)
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == in_path, (method, path)
            for requirement in op["security"]:
                assert set(requirement) <= schemes, (method, path)
            for status, answer in op["responses"].items():
                if status.startswith(("4", "5")) or status == "default":
                    content = answer.get("content", {}).get("application/json", {})
                    ref = content.get("schema", {}).get("$ref") or answer.get("$ref")
                    assert ref in ("#/components/schemas/Error", "#/components/responses/Error")
    assert len(ids) == len(set(ids)), "operationIds repeat"


def test_roles_and_security_follow_the_route_table(doc: dict[str, Any]) -> None:
    for spec in API:
        op = doc["paths"][spec.full_path][spec.method.lower()]
        assert op["x-qms-roles"] == sorted(r.value for r in spec.allow)
        anonymous = {} in op["security"]
        assert anonymous == ("anonymous" in op["x-qms-roles"]), spec.full_path
        if spec.body is not None:
            assert op["requestBody"]["content"]["application/json"]["schema"] == spec.body


def test_command_bodies_are_the_commands_fields(doc: dict[str, Any]) -> None:
    import dataclasses

    for spec in COMMAND_ROUTES:
        op = doc["paths"]["/api/v1" + spec.path][spec.method.lower()]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        fields = {f.name for f in dataclasses.fields(spec.command_class) if f.init}
        assert set(schema["properties"]) == fields - SERVER_FIELDS - set(spec.ids), spec.command
        assert schema["additionalProperties"] is False
        assert any(p["name"] == "Idempotency-Key" for p in op["parameters"])


def test_the_live_document_and_the_error_shape(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "data") as server:
        with urllib.request.urlopen(server.url + "/api/v1/openapi.json", timeout=10) as resp:
            assert resp.status == 200
            live = json.loads(resp.read())
        try:
            urllib.request.urlopen(server.url + "/api/v1/sites/s1/tickets", timeout=10)
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
            body = json.loads(exc.read())
        else:
            raise AssertionError("an anonymous staff query was answered")
    assert live == document()
    jsonschema.validate(body, ERROR_SCHEMA)
    assert body["error"]["code"] == "not_authenticated"


def test_docs_api_md_lists_every_hall_route() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()
    for spec in API:
        if spec.tag == "accounts":
            continue  # docs/security.md
        listed = f"`{spec.method} {spec.path}`" in text or f"`{spec.method} {spec.path}[" in text
        assert listed, f"docs/api.md does not list `{spec.method} {spec.path}`"
