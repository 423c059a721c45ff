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

import jsonschema  # type: ignore[import-untyped]
import pytest
from live_server import LiveServer
from openapi_check import check, schema_of
from openapi_spec_validator import validate
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from qms.server.api import ROUTES as API
from qms.server.api_commands import COMMAND_ROUTES, SERVER_FIELDS
from qms.server.app import create_app
from qms.server.config import Config
from qms.server.openapi import ERROR_SCHEMA, document
from qms.server.pages import PAGES

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
    return document(API)


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
    assert live == document(API)
    jsonschema.validate(body, ERROR_SCHEMA)
    assert body["error"]["code"] == "not_authenticated"


def test_docs_api_md_lists_every_hall_route() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()
    for spec in API:
        if spec.tag == "accounts":
            continue  # docs/security.md
        listed = f"`{spec.method} {spec.path}`" in text or f"`{spec.method} {spec.path}[" in text
        assert listed, f"docs/api.md does not list `{spec.method} {spec.path}`"


# --- the document says exactly what the server accepts ----------------------------------------


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method in METHODS:
                yield method, path, op


def _schemas(schema: Any) -> Iterator[dict[str, Any]]:
    """Every (sub)schema of `schema`."""
    if isinstance(schema, dict):
        yield schema
        for value in schema.values():
            yield from _schemas(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _schemas(value)


def test_path_ids_have_the_engines_pattern(doc: dict[str, Any]) -> None:
    """The engine takes ids of 1-64 [A-Za-z0-9_-] (a hall's site does not start with _);
    the document said any string."""
    for method, path, op in _operations(doc):
        for param in op.get("parameters", []):
            if param["in"] == "path":
                assert "pattern" in param["schema"], (method, path, param)
    site = doc["paths"]["/api/v1/sites/{site}"]["put"]["parameters"][0]["schema"]["pattern"]
    counter = doc["paths"]["/api/v1/sites/{site}/counters/{counter}"]["put"]["parameters"][1]
    for good in ("mpp-bengkulu", "S1", "a" * 64):
        assert re.search(site, good) and re.search(counter["schema"]["pattern"], good)
    for bad in ("", "a" * 65, "a b", "a.b", "é", "_accounts"):
        assert not re.search(site, bad), bad
    assert not re.search(counter["schema"]["pattern"], "a" * 65)


def test_idempotency_key_is_1_to_100_visible_ascii(doc: dict[str, Any]) -> None:
    op = doc["paths"]["/api/v1/sites/{site}/tickets"]["post"]
    (key,) = [p for p in op["parameters"] if p["name"] == "Idempotency-Key"]
    pattern = key["schema"]["pattern"]
    for good in ("k", "kiosk1-0001", "!" * 100, "~{}[]"):
        assert re.search(pattern, good), good
    for bad in ("", "a" * 101, "a b", "é", "a\tb", "\x7f"):
        assert not re.search(pattern, bad), bad


def test_bodies_with_required_fields_are_required(doc: dict[str, Any]) -> None:
    """An empty body is `{}`, which lacks the required fields (422): the body is required."""
    seen = set()
    for method, path, op in _operations(doc):
        body = op.get("requestBody")
        if body is None:
            continue
        schema = body["content"]["application/json"]["schema"]
        assert body["required"] is bool(schema.get("required")), (method, path)
        seen.add(body["required"])
    assert seen == {True, False}


def test_command_fields_carry_their_bounds(doc: dict[str, Any]) -> None:
    paths = doc["paths"]
    service = paths["/api/v1/sites/{site}/services/{service}"]["put"]["requestBody"]
    props = service["content"]["application/json"]["schema"]["properties"]
    assert (props["daily_quota"]["minimum"], props["daily_quota"]["maximum"]) == (0, 9999)
    target = props["target_wait_min"]
    assert (target["minimum"], target["maximum"]) == (1, 24 * 60)
    weekday = props["hours"]["properties"]["weekdays"]["items"]
    assert (weekday["minimum"], weekday["maximum"]) == (0, 6)
    assert props["prefix"]["pattern"] == "^[A-Z]{1,2}$"
    for path in ("/api/v1/sites/{site}/counters/{counter}", COUNTER_SERVICES):
        body = paths[path]["put"]["requestBody"]["content"]["application/json"]["schema"]
        assert body["properties"]["services"]["uniqueItems"] is True, path
    site = paths["/api/v1/sites/{site}"]["put"]["requestBody"]["content"]["application/json"]
    streak = site["schema"]["properties"]["priority_streak_max"]
    assert (streak["minimum"], streak["maximum"]) == (1, 100)
    # Every integer of every request has bounds (msgpack ends at 64 bits, JSON at 2^53).
    for method, path, op in _operations(doc):
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
        for schema in _schemas(body.get("schema")):
            if schema.get("type") == "integer":
                assert "minimum" in schema and "maximum" in schema, (method, path, schema)


COUNTER_SERVICES = "/api/v1/sites/{site}/counters/{counter}/services"


def _success_schema(doc: dict[str, Any], path: str, method: str = "get") -> dict[str, Any]:
    answers = doc["paths"]["/api/v1" + path][method]["responses"]
    status = min(s for s in answers if s.startswith("2"))
    schema: dict[str, Any] = answers[status]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_answers_are_described_field_by_field(doc: dict[str, Any], tmp_path: Path) -> None:
    """The views' answers were `{"type": "object"}` lists: now each row's fields and types
    are stated, and a live hall's answers (staff and device views, a command's, a
    ticket's public status) match them."""
    from api_client import API
    from live_hall import SITE, live_hall

    queues = _success_schema(doc, "/sites/{site}/queues")
    assert {"waiting", "estimated_wait_s"} <= set(
        queues["properties"]["queues"]["items"]["required"]
    )
    with live_hall(tmp_path) as hall:
        s = f"/api/v1/sites/{SITE}"
        for who in ("admin", "display"):
            api = hall.who[who]
            for path in (s, f"{s}/queues", f"{s}/counters"):
                template = path.removeprefix(API).replace(SITE, "{site}")
                jsonschema.validate(api.ok("GET", path), _success_schema(doc, template))
        tickets = hall.admin.ok("GET", f"{s}/tickets")
        jsonschema.validate(tickets, _success_schema(doc, "/sites/{site}/tickets"))
        status = hall.who["anonymous"].ok("GET", f"/api/v1/tickets/{hall.ref}")
        jsonschema.validate(status, _success_schema(doc, "/tickets/{ref}"))
        issued = hall.who["kiosk"].ok("POST", f"{s}/tickets", {"service": "ktp"})
        jsonschema.validate(issued, _success_schema(doc, "/sites/{site}/tickets", "post"))
        held = hall.admin.ok("POST", f"{s}/tickets/{issued['ticket']['ticket']}/hold")
        jsonschema.validate(
            held, _success_schema(doc, "/sites/{site}/tickets/{ticket}/hold", "post")
        )
        for row in tickets["tickets"]:
            assert set(row) <= set(
                _success_schema(doc, "/sites/{site}/tickets")["properties"]["tickets"]["items"][
                    "properties"
                ]
            )


def test_answers_are_checked_against_the_document() -> None:
    """The test clients check every answer (tests/openapi_check.py); the check finds
    each route's documented body and refuses one that does not match it."""
    assert schema_of("GET", "/api/v1/sites/s1/queues", 200) is not None
    assert schema_of("POST", "/api/v1/sites/s1/counters/L1/call-next", 409) is not None  # Error
    good = b'{"error": {"code": "counter_busy", "message": "m", "details": {}}}'
    check("POST", "/api/v1/sites/s1/counters/L1/call-next", 409, "application/json", good)
    with pytest.raises(AssertionError, match="does not match the OpenAPI document"):
        check("GET", "/api/v1/sites/s1/queues", 200, "application/json", b'{"version": "x"}')
    with pytest.raises(AssertionError, match="does not match the OpenAPI document"):
        check("POST", "/api/v1/sites/s1/counters/L1/call-next", 409, "application/json", b"{}")
