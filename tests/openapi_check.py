"""Every answer the API tests receive is checked against the OpenAPI document, so
the document cannot drift from what the server sends (issue 13 §4). The tests'
one client (`api_client.Api`) calls `check` on each reply."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from qms.server.api import ROUTES
from qms.server.openapi import document

PREFIX = "/api/v1"


@functools.cache
def _operations() -> list[tuple[str, re.Pattern[str], dict[str, Any]]]:
    doc = document(ROUTES)
    out = []
    for template, ops in doc["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}/]+\}", "[^/]+", template) + "$")
        for method, op in ops.items():
            out.append((method.upper(), pattern, op))
    # Literal paths before templated ones (/tickets/x vs /tickets/{ref} never clash;
    # /sites/{site}/counters vs /sites/{site}/counters/{counter} differ in length).
    return sorted(out, key=lambda o: o[1].pattern.count("[^/]+"))


@functools.cache
def _components() -> dict[str, Any]:
    return dict(document(ROUTES)["components"])


def schema_of(method: str, path: str, status: int) -> dict[str, Any] | None:
    """The documented JSON schema of this answer; None when the route or the
    status is not documented with a JSON body (a file, a 204, no such route)."""
    path = path.split("?", 1)[0]
    for op_method, pattern, op in _operations():
        if op_method == ("GET" if method == "HEAD" else method) and pattern.match(path):
            responses = op["responses"]
            answer = responses.get(str(status), responses.get("default"))
            if answer is None:
                raise AssertionError(f"{method} {path}: status {status} is not documented")
            if "$ref" in answer:
                answer = _components()["responses"][answer["$ref"].rsplit("/", 1)[-1]]
            content = answer.get("content", {}).get("application/json")
            return None if content is None else content.get("schema")
    return None


def check(method: str, path: str, status: int, content_type: str, raw: bytes) -> None:
    """Raise AssertionError when a JSON answer does not match its documented schema."""
    if not path.startswith(PREFIX) or method == "HEAD" or not raw:
        return
    schema = schema_of(method, path, status)
    if schema is None or not content_type.startswith("application/json"):
        return
    body = json.loads(raw)
    validator = Draft202012Validator({**schema, "components": _components()})
    problems = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    if problems:
        where = "/".join(str(p) for p in problems[0].path)
        raise AssertionError(
            f"{method} {path} → {status} does not match the OpenAPI document at "
            f"'{where}': {problems[0].message}\n{raw[:500]!r}"
        )
