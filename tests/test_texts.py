"""A page's texts are data (static/texts/*.json, `{key: [indonesian, english]}`),
so they can be checked: every key a page names (data-i18n* in its HTML, `t("key")`
and data-i18n* in the modules it loads) is in the catalogs its shell names, in
both languages; every key is written once (copies drifted apart before); every
error code's text lives in common.json, once (issue 13 §6)."""

from __future__ import annotations

import json
import re
from functools import cache

import pytest

from qms.core.errors import ALL_CODES
from qms.server.pages import PAGES, TEXTS, AppFiles, static_root

STATIC = static_root()
CATALOGS = sorted(p.stem for p in (STATIC / "texts").glob("*.json"))
ENTRY = re.compile(r'<script type="module" src="\{\{static\}\}/js/([a-z_-]+)\.js"')
IMPORT = re.compile(r'(?:from |import\()"\./([a-z_-]+)\.js"')  # static and dynamic
# A key named literally: t("key") / t('key'), data-i18n*="key" in HTML, and an
# element's "data-i18n*": "key" in a module.
USES = (
    re.compile(r"""\bt\(\s*["']([a-z][a-z0-9_]*)["']"""),
    re.compile(r'data-i18n(?:-aria|-placeholder)?="([a-z][a-z0-9_]*)"'),
    re.compile(r"""["']data-i18n(?:-aria|-placeholder)?["']:\s*["']([a-z][a-z0-9_]*)["']"""),
)


@cache
def catalog(name: str) -> dict[str, list[str]]:
    return AppFiles(STATIC).catalog(name)


def modules(entry: str) -> set[str]:
    """The page's entry module and every module it imports, at any depth."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += IMPORT.findall((STATIC / "js" / f"{name}.js").read_text())
    return seen


def used_keys(text: str) -> set[str]:
    return {key for pattern in USES for key in pattern.findall(text)}


@pytest.mark.parametrize("page", sorted(set(PAGES.values())))
def test_every_key_a_page_names_is_in_its_catalogs(page: str) -> None:
    html = (STATIC / page).read_text()
    (named,) = [m[1].split() for m in TEXTS.finditer(html)]  # one texts block a page
    loaded = set().union(*(modules(entry) for entry in ENTRY.findall(html)))
    # Its catalogs are exactly those of the modules it loads (i18n.js: common).
    expected = {"common"} | {m for m in loaded if m in CATALOGS}
    assert sorted(named) == sorted(expected)
    known = {key for name in named for key in catalog(name)}
    sources = [html] + [(STATIC / "js" / f"{m}.js").read_text() for m in loaded]
    keys = set().union(*map(used_keys, sources))
    assert sorted(keys - known) == []


@pytest.mark.parametrize("name", CATALOGS)
def test_every_text_is_in_both_languages(name: str) -> None:
    for key, pair in catalog(name).items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", key), key
        assert isinstance(pair, list) and len(pair) == 2, key
        assert all(isinstance(text, str) and text.strip() for text in pair), key


def test_every_key_is_written_once() -> None:
    """In common.json when every page needs it, in a shared module's catalog (staff,
    admin-form) when some pages do, else beside its page's module."""
    where: dict[str, list[str]] = {}
    for name in CATALOGS:
        for key in catalog(name):
            where.setdefault(key, []).append(name)
    assert {key: names for key, names in where.items() if len(names) > 1} == {}


def test_error_texts_live_in_common_only() -> None:
    elsewhere = {name: sorted(k for k in catalog(name) if k[:4] == "err_") for name in CATALOGS}
    assert {name: keys for name, keys in elsewhere.items() if keys and name != "common"} == {}


def test_every_engine_code_has_a_text_in_both_languages() -> None:
    common = catalog("common")
    known = {key[4:]: pair for key, pair in common.items() if key[:4] == "err_"}
    assert sorted(set(ALL_CODES) - set(known)) == []
    assert all(id_ != en for id_, en in known.values())  # not an English copy


def test_a_catalog_is_json_with_no_duplicate_keys() -> None:
    """json.loads keeps the last of two equal keys: a second text would hide the first."""

    def no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
        return dict(pairs)

    for name in CATALOGS:
        json.loads((STATIC / "texts" / f"{name}.json").read_text(), object_pairs_hook=no_duplicates)
