"""The browser apps are served: pages uncached, assets under a content-hashed
build prefix (cached for a year), nothing outside static/, and the wheel
carries static/ so an installed package serves the same files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from api_client import Api
from live_hall import LiveHall, demo_hall

from qms.server.pages import HEAD, PAGES, AppFiles, static_root

ROOT = Path(__file__).resolve().parent.parent
TEXTS_BLOCK = '<script type="application/json" id="qms-texts">'


def build_of(html: str) -> str:
    match = re.search(r"/static/([0-9a-f]{12})/css/qms\.css", html)
    assert match, html[:500]
    return match.group(1)


def test_index_page_points_at_this_build(hall: LiveHall) -> None:
    page = Api(hall.url).get("/")
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert build_of(page.raw.decode()) == AppFiles(static_root()).build


def test_assets_are_immutable_under_their_build(hall: LiveHall) -> None:
    client = Api(hall.url)
    build = build_of(client.get("/").raw.decode())
    asset = client.get(f"/static/{build}/js/stream.js")
    assert asset.status == 200
    assert asset.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "immutable" in asset.headers["cache-control"]
    assert asset.raw == (static_root() / "js" / "stream.js").read_bytes()
    # A page of an older build still gets the files, but not cached for good.
    old = client.get("/static/000000000000/js/stream.js")
    assert old.status == 200 and old.headers["cache-control"] == "no-cache"

    # Served as files are (read off the event loop): an ETag, and a byte range on request.
    assert asset.headers["etag"]
    part = client.get(f"/static/{build}/js/stream.js", headers={"Range": "bytes=0-9"})
    assert part.status == 206 and part.raw == asset.raw[:10]


@pytest.mark.parametrize(
    "path",
    [
        "/static/x/../../pyproject.toml",
        "/static/x/%2e%2e/%2e%2e/pyproject.toml",
        "/static/x/nope.js",
        "/static/x/a%00b",  # a NUL byte: Path.resolve() raised ValueError (500)
        "/static/x/js%00/stream.js",
        "/static/x/" + "a" * 300,  # a name too long for the file system (OSError)
        "/static/x/voice/" + "a" * 300 + "/x.ogg",
    ],
)
def test_nothing_outside_static_is_served(hall: LiveHall, path: str) -> None:
    reply = Api(hall.url).get(path)
    assert reply.status == 404
    assert reply.code == "not_found"
    assert reply.body == {"error": {"code": "not_found", "message": "no such file", "details": {}}}


def test_build_changes_with_any_file(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>{{static}}</p>")
    first = AppFiles(tmp_path).build
    (tmp_path / "a.js").write_text("1")
    second = AppFiles(tmp_path)
    assert first != second.build
    assert second.page("index.html") == f"<p>/static/{second.build}</p>"


@pytest.mark.parametrize("name", sorted(set(PAGES.values())))
def test_every_page_gets_the_shared_head(name: str) -> None:
    files = AppFiles(static_root())
    html = files.page(name)
    assert "{{" not in html
    head = html.split("<head>\n", 1)[1].split("</head>", 1)[0]
    # The shared lines open the head, once (the charset within the first 1024 bytes).
    assert head.startswith("  " + HEAD.replace("{{static}}", files.prefix) + "\n")
    assert html.count('<meta charset="utf-8">') == 1 and html.index("<meta charset") < 1024
    assert f'href="{files.prefix}/css/qms.css"' in head


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_wheel_carries_static(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",  # hatchling from the dev extras: no package index needed
            "--no-index",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        timeout=280,
    )
    (wheel,) = tmp_path.glob("qms-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "site")
    for name in ("index.html", "js/stream.js", "css/qms.css", "texts/common.json"):
        assert f"qms/static/{name}" in names
    found = subprocess.run(
        [sys.executable, "-c", "from qms.server.pages import static_root; print(static_root())"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip() == str(tmp_path / "site" / "qms" / "static")


def test_a_sites_own_voice_pack_is_served_from_its_folder(tmp_path: Path) -> None:
    """QMS_VOICE_DIR holds the site's packs (kept across upgrades): served as
    voice/<pack>/…, ahead of the packaged files, and part of the build hash."""
    packs = tmp_path / "voices"
    (packs / "bengkulu").mkdir(parents=True)
    (packs / "bengkulu" / "manifest.json").write_text('{"clips": {}}')
    (packs / "id").mkdir()
    (packs / "id" / "manifest.json").write_text('{"replaced": true}')
    with demo_hall(tmp_path / "data", env={"QMS_VOICE_DIR": str(packs)}) as hall:
        client = Api(hall.url)
        build = build_of(client.get("/").raw.decode())
        assert build != AppFiles(static_root()).build  # the site's packs count
        own = client.get(f"/static/{build}/voice/bengkulu/manifest.json")
        assert own.status == 200 and own.body == {"clips": {}}
        assert client.get(f"/static/{build}/voice/id/manifest.json").body == {"replaced": True}
        assert client.get(f"/static/{build}/js/stream.js").status == 200  # the rest as usual
        escape = client.get(f"/static/{build}/voice/%2e%2e/data/secret.key")
        assert escape.status == 404


def test_a_page_carries_its_texts_as_json(tmp_path: Path) -> None:
    """`{{texts a b}}` becomes one JSON block of those catalogs, which i18n.js reads
    at import: no request of its own, and data the CSP need not allow as a script."""
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "common.json").write_text('{"hi": ["Halo", "Hello"]}')
    (tmp_path / "texts" / "page.json").write_text('{"tag": ["</script><b>", "a < b"]}')
    (tmp_path / "index.html").write_text("<head>{{texts common page}}</head>")
    html = AppFiles(tmp_path).page("index.html")
    block = re.fullmatch(r"<head>" + TEXTS_BLOCK + r"(.*)</script></head>", html)
    assert block and "<" not in block[1]  # no text can close the block early
    assert json.loads(block[1]) == {"hi": ["Halo", "Hello"], "tag": ["</script><b>", "a < b"]}

    (tmp_path / "texts" / "page.json").write_text('{"hi": ["Hai", "Hello"]}')
    with pytest.raises(ValueError, match="'hi'"):
        AppFiles(tmp_path).page("index.html")  # a key said two ways is found at start-up


def test_every_page_sends_its_texts_and_allows_no_inline_script(hall: LiveHall) -> None:
    page = Api(hall.url).get("/console")
    html = page.raw.decode()
    texts = json.loads(html.split(TEXTS_BLOCK, 1)[1].split("</script>", 1)[0])
    assert texts["sign_in"] == ["Masuk", "Sign in"] and "console_title" in texts
    assert "script-src 'self';" in page.headers["content-security-policy"]
