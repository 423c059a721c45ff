"""RememberingRouter (qms.server.routes) routes every request as Starlette's router does."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, Router

from qms.server.routes import RememberingRouter


def _endpoint(name: str) -> Any:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(f"{name} {sorted(request.path_params.items())}")

    return endpoint


ROUTES = [
    Route("/a/{x}/get-only", _endpoint("get-only"), methods=["GET"]),
    Route("/a/summary", _endpoint("summary"), methods=["GET"]),
    Route("/a/{x}", _endpoint("one"), methods=["GET", "POST"]),
    Route("/a/{x}/get-only", _endpoint("post-too"), methods=["POST"]),
    Route("/b/{x}/{y}", _endpoint("two"), methods=["POST"]),
]
REQUESTS = [
    ("GET", "/a/1/get-only"),
    ("POST", "/a/1/get-only"),  # partial first, full later: the later one
    ("GET", "/a/summary"),
    ("POST", "/a/summary"),  # partial on summary, full on {x}
    ("GET", "/a/2"),
    ("PUT", "/a/2"),  # 405
    ("POST", "/b/1/2"),
    ("POST", "/b/1/3"),
    ("GET", "/b/1/2"),  # 405
    ("GET", "/nowhere"),  # 404
    ("GET", "/a/2/"),  # redirect
]


async def _call(app: Any, method: str, path: str) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


def test_the_same_answers_as_starlettes_router_again_and_again() -> None:
    async def run() -> None:
        plain, remembering = Router(ROUTES), RememberingRouter(ROUTES)
        for _ in range(3):  # first learnt, then remembered
            for method, path in REQUESTS:
                got = await _call(remembering, method, path)
                assert got == await _call(plain, method, path), (method, path)
        assert await _call(remembering, "POST", "/a/summary") == (200, b"one [('x', 'summary')]")
        assert await _call(remembering, "POST", "/b/7/8") == (200, b"two [('x', '7'), ('y', '8')]")

    asyncio.run(run())


def test_forgets_past_its_bound() -> None:
    async def run() -> None:
        router = RememberingRouter(ROUTES)
        router.REMEMBERED = 3
        for i in range(10):
            assert await _call(router, "POST", f"/b/{i}/1") == (
                200,
                f"two [('x', '{i}'), ('y', '1')]".encode(),
            )
            assert len(router._known) <= 3

    asyncio.run(run())
