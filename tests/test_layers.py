"""How the house is joined: no import cycles, backends behind the log's interface,
and the embedded default never loading a Redis client (issue 13 §3)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "qms"
BACKENDS = {"qms.eventlog.redis", "qms.eventlog.sqlite"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """Every qms module `name` imports, anywhere in it (at the top, in a function, under
    TYPE_CHECKING): a lazy import is still a dependency. `from pkg import sub` counts as
    importing `pkg.sub` alone (a package importing its own parts is no cycle)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
            found.update(subs if len(subs) == len(node.names) else [base, *subs])
    return {m for m in found if m in MODULES and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                cycles.append(sorted([v, *component]))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_module_imports_itself_through_others() -> None:
    graph = {name: _imports(name) for name in MODULES}
    assert _cycles(graph) == []
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]


def test_only_the_log_and_the_relay_know_the_backends() -> None:
    """Above qms/eventlog/ nobody asks which backend it holds: what a caller needs
    is on `EventLog` (shared_by_processes, shared, problems). The relay is Redis's own."""
    knowing = {
        name
        for name in MODULES
        if _imports(name) & BACKENDS and not name.startswith("qms.eventlog")
    }
    assert knowing == {"qms.relay.site", "qms.relay.channel"}  # the relay package


def test_the_embedded_server_loads_no_redis_client(tmp_path: Path) -> None:
    """The package promises an embedded default with no Redis client: start the app
    on SQLite, open a site, answer readiness, and look at what was imported."""
    program = textwrap.dedent(
        f"""
        import asyncio, json, sys
        from pathlib import Path
        from qms.server.app import create_app
        from qms.server.config import Config

        async def get(app, path):
            sent = []
            async def receive():
                return {{"type": "http.request", "body": b"", "more_body": False}}
            async def send(message):
                sent.append(message)
            scope = {{"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
                      "query_string": b"", "headers": [], "client": ("127.0.0.1", 1),
                      "server": ("127.0.0.1", 8000), "scheme": "http", "root_path": "",
                      "http_version": "1.1", "app": app}}
            await app(scope, receive, send)
            return sent[0]["status"]

        async def main():
            app = create_app(Config(data_dir=Path({str(tmp_path)!r})))
            async with app.router.lifespan_context(app):
                await app.state.hall.engine("mpp-kota")
                return await get(app, "/readyz")

        ready = asyncio.run(main())
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("redis", "hiredis"))
        print(json.dumps({{"ready": ready, "loaded": loaded}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer == {"ready": 200, "loaded": []}
