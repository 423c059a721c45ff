"""The browser apps: their HTML pages and the static files they load.

Every app is one HTML file in `static/` (plain ES modules and CSS, no build
step). Assets are served under `/static/<build>/…`, where `<build>` is a hash
of every static file's content: a page always loads the modules of its own
build (relative `import`s inside modules keep the prefix), so an upgrade never
mixes old and new files, and assets can be cached for a year. The HTML itself
is never cached.

`static/` sits at the project root in a checkout; the wheel carries it as
`qms/static` (see pyproject.toml), so an installed package serves it too. A
site's own voice packs live outside the package (`QMS_VOICE_DIR`, so that an
upgrade keeps them) and are served as `voice/<pack>/…` ahead of the packaged ones.

A page's shell is its HTML file with a few markers that the server fills in once,
at start-up (`AppFiles.page`):
- `{{head}}`: what every page's <head> holds alike (charset, viewport, icon, the
  shared style sheet), `HEAD`; the other blocks several pages share are `BLOCKS`
  (`{{lang-switch}}`, the staff pages' `{{staff-bar}}`, the survey pages' `{{loading}}`).
- `{{texts common staff console}}`: the page's texts, the catalogs `texts/<name>.json`
  ({key: [indonesian, english]}) merged into one JSON block that i18n.js reads
  synchronously at import: no request of its own, and JSON is data, not a script
  the Content-Security-Policy would have to allow. A key said two ways is an error.
- `{{static}}`: this build's asset prefix.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from qms.server.errors import ApiError

PACKAGE = Path(__file__).resolve().parent.parent
# (path, file in static/): the apps a hall runs on.
PAGES = {
    "/display": "display.html",
    "/kiosk": "kiosk.html",
    "/tablet": "tablet.html",  # a counter tablet: the survey of its counter's last visit
    "/console": "console.html",
    "/supervisor": "supervisor.html",
    "/reports": "reports.html",
    "/admin": "admin.html",
    "/t/{ref}": "visitor.html",
    "/skm/{site}": "survey-results.html",  # a site's published survey result (anyone)
    "/skm/{site}/walk-up/{service}": "survey-walkup.html",  # a service's walk-up QR survey
    "/": "index.html",
}
# Every page's head starts with these lines (the charset within its first 1024 bytes).
HEAD = """<meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="icon" href="{{static}}/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="{{static}}/css/qms.css">"""
LANG_SWITCH = '<button type="button" data-lang-toggle data-i18n="lang_switch">English</button>'
SIGN_OUT = (
    '<button type="button" id="sign-out" class="secondary" data-i18n="sign_out" hidden>'
    "Keluar</button>"
)
# The blocks several shells share, `{{name}}` in a page (`{{head}}` in every one).
BLOCKS = {
    "head": HEAD,
    "lang-switch": LANG_SWITCH,
    # The staff pages' (console, supervisor, reports) controls: who is signed in, the
    # stream's state (shown by the pages that follow one), the language, signing out.
    "staff-bar": f"""<span id="whoami" class="muted"></span>
    <span data-conn hidden></span>
    {LANG_SWITCH}
    {SIGN_OUT}""",
    "sign-out": SIGN_OUT,
    "loading": '<main id="app" aria-live="polite">\n    <p class="loading">…</p>\n  </main>',
}
BLOCK = re.compile(r"\{\{(" + "|".join(BLOCKS) + r")\}\}")
TEXTS = re.compile(r"\{\{texts((?: [a-z][a-z-]*)+)\}\}")
NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
# Pages send no referrer (a display's URL carries its token) and may not be framed.
PAGE_HEADERS = {
    **NO_CACHE,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
        "connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
}
for ext, kind in ((".js", "text/javascript"), (".mjs", "text/javascript"), (".ogg", "audio/ogg")):
    mimetypes.add_type(kind, ext)


def static_root() -> Path:
    """`qms/static` in an installed wheel, else `static/` beside the package in a checkout."""
    for candidate in (PACKAGE / "static", PACKAGE.parent / "static"):
        if (candidate / "index.html").is_file():
            return candidate
    raise RuntimeError(f"no static/ directory next to {PACKAGE}")


@dataclass
class AppFiles:
    root: Path
    voice_dir: Path | None = None  # the site's own voice packs, if any

    @cached_property
    def build(self) -> str:
        """A short hash of every file's path and content: the cache-busting prefix."""
        digest = hashlib.sha256()
        for base, prefix in ((self.root, ""), (self.voice_dir, "voice/")):
            if base is None:
                continue
            for path in sorted(p for p in base.rglob("*") if p.is_file()):
                digest.update((prefix + path.relative_to(base).as_posix()).encode() + b"\0")
                digest.update(path.read_bytes())
        return digest.hexdigest()[:12]

    @property
    def prefix(self) -> str:
        return f"/static/{self.build}"

    def file(self, relative: str) -> Path | None:
        """The file at `relative` (a site's voice pack first), or None; never outside."""
        if self.voice_dir is not None and relative.startswith("voice/"):
            found = _inside(self.voice_dir, relative.removeprefix("voice/"))
            if found is not None:
                return found
        return _inside(self.root, relative)

    def page(self, name: str) -> str:
        """An app's HTML with its blocks and texts filled in and `{{static}}`
        replaced by this build's asset prefix."""
        html = (self.root / name).read_text(encoding="utf-8")
        html = BLOCK.sub(lambda m: BLOCKS[m[1]], html)
        html = TEXTS.sub(lambda m: self.texts(m[1].split()), html)
        return html.replace("{{static}}", self.prefix)

    def catalog(self, name: str) -> dict[str, list[str]]:
        """`texts/<name>.json`: {key: [indonesian, english]}."""
        path = self.root / "texts" / f"{name}.json"
        catalog: dict[str, list[str]] = json.loads(path.read_text(encoding="utf-8"))
        return catalog

    def texts(self, names: list[str]) -> str:
        """The catalogs `names` as one JSON block (`<` escaped, so no text can end it)."""
        merged: dict[str, list[str]] = {}
        for name in names:
            for key, pair in self.catalog(name).items():
                if merged.setdefault(key, pair) != pair:
                    raise ValueError(f"texts/{name}.json says {key!r} otherwise than {names}")
        data = json.dumps(merged, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
        return f'<script type="application/json" id="qms-texts">{data}</script>'


def _inside(base: Path, relative: str) -> Path | None:
    try:
        path = (base / relative).resolve()
        if not path.is_relative_to(base.resolve()) or not path.is_file():
            return None
    except (ValueError, OSError):  # a NUL byte, a name too long, …: no such file
        return None
    return path


def routes(voice_dir: str = "") -> list[BaseRoute]:
    files = AppFiles(static_root(), Path(voice_dir) if voice_dir else None)

    def page_endpoint(name: str) -> Callable[[Request], Awaitable[Response]]:
        html = files.page(name)  # once, at start-up: the build is fixed for the process

        async def endpoint(request: Request) -> Response:
            return HTMLResponse(html, headers=PAGE_HEADERS)

        return endpoint

    async def asset(request: Request) -> Response:
        path = files.file(request.path_params["path"])
        if path is None:
            raise ApiError(404, "not_found", "no such file")
        # Another build's URL (a page loaded before an upgrade) gets today's
        # file, uncached, so the old page still works until it reloads.
        fresh = request.path_params["build"] == files.build
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if kind.startswith("text/"):
            kind += "; charset=utf-8"
        headers = {**(IMMUTABLE if fresh else NO_CACHE), "X-Content-Type-Options": "nosniff"}
        # Read in a worker thread, not on the event loop; with ETag, Last-Modified and
        # Range (a voice pack's audio is fetched in parts by some browsers).
        return FileResponse(path, media_type=kind, headers=headers)

    result: list[BaseRoute] = [
        Route(path, page_endpoint(name), methods=["GET"])
        for path, name in PAGES.items()
        if (files.root / name).is_file()
    ]
    result.append(Route("/static/{build}/{path:path}", asset, methods=["GET"]))
    return result
