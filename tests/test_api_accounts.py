"""People, devices and sessions over real HTTP against a real `qms serve` (SQLite log).

One server per module (accounts made here never clash: each test uses its own
names); tests that fail sign-ins on purpose send their own X-Forwarded-For
address (uvicorn trusts it from 127.0.0.1), so the per-address throttle of one
test never reaches another. Tests that restart or need their own server start one.
"""

from __future__ import annotations

import itertools
import os
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_client import PASSWORD, Api, Reply, add_device, add_user, signed_in
from live_server import LiveServer

import qms.server.api_accounts  # noqa: F401  (declares its routes)
from qms.accounts.guard import PER_PLACE, PER_USER, PER_USER_AND_PLACE
from qms.server.api import ROUTES as API
from qms.server.app import secret_key
from qms.server.config import Config

SITE = "mpp-bengkulu"
OTHER = "mpp-lain"
_addresses = itertools.count(1)


def address() -> dict[str, str]:
    """A client address of its own (for tests that count failures per address)."""
    n = next(_addresses)
    return {"X-Forwarded-For": f"10.9.{n // 250}.{n % 250 + 1}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("accounts") / "data") as live:
        add_user(live, "root", "admin")
        yield live


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> Api:
    return signed_in(server.url, "root")


def new_user(admin: Api, username: str, role: str = "officer", *sites: str) -> None:
    body = {"username": username, "role": role, "sites": list(sites or [SITE])}
    reply = admin.post("/api/v1/users", {**body, "password": PASSWORD})
    assert reply.status == 201, reply.body


def assert_error(reply: Reply, status: int, code: str) -> None:
    assert (reply.status, reply.code) == (status, code), reply.body
    assert set(reply.body["error"]) == {"code", "message", "details"}


# --- sessions -------------------------------------------------------------------------------


def test_sign_in_who_am_i_and_sign_out(server: LiveServer, admin: Api) -> None:
    new_user(admin, "budi")
    budi = Api(server.url)
    assert budi.get("/api/v1/session").body["role"] == "anonymous"
    reply = budi.sign_in("Budi ")  # typed with a capital and a space
    assert reply.status == 200
    me = {"role": "officer", "name": "budi", "sites": [SITE], "zone": None}
    assert reply.body == me
    assert budi.get("/api/v1/session").body == me
    out = budi.delete("/api/v1/session")
    assert out.status == 200 and out.body["role"] == "anonymous"
    assert "Max-Age=0" in (out.set_cookie() or "") and "qms_session" not in budi.cookies
    assert budi.get("/api/v1/session").body["role"] == "anonymous"


def test_signing_out_ends_the_session_on_the_server(server: LiveServer, admin: Api) -> None:
    """Issue 12: the cookie still worked for up to 12 hours after DELETE /session."""
    new_user(admin, "keluar")
    browser = signed_in(server.url, "keluar")
    elsewhere = signed_in(server.url, "keluar")  # another session of the same user
    stolen = Api(server.url, cookies=dict(browser.cookies))  # a copy of the cookie
    assert stolen.get(f"/api/v1/sites/{SITE}/queues").status != 401
    assert browser.delete("/api/v1/session").status == 200
    assert stolen.get("/api/v1/session").body["role"] == "anonymous"
    assert_error(stolen.get(f"/api/v1/sites/{SITE}/queues"), 401, "not_authenticated")
    assert elsewhere.get("/api/v1/session").body["name"] == "keluar"  # only that session
    assert stolen.delete("/api/v1/session").status == 200  # signing out again: harmless
    assert signed_in(server.url, "keluar").get("/api/v1/session").body["name"] == "keluar"


def test_the_cookie_flags(server: LiveServer, admin: Api) -> None:
    new_user(admin, "cookie")
    cookie = Api(server.url).sign_in("cookie").set_cookie()
    assert cookie is not None
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path", "samesite", "max-age"} <= flags and "secure" not in flags
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/;" in cookie + ";" and "Max-Age=43200" in cookie
    over_tls = Api(server.url).sign_in("cookie", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in (over_tls.set_cookie() or "")


def test_an_admin_has_every_site(admin: Api) -> None:
    assert admin.get("/api/v1/session").body == {
        "role": "admin",
        "name": "root",
        "sites": None,
        "zone": None,
    }


def test_wrong_password_and_unknown_user_look_the_same(server: LiveServer, admin: Api) -> None:
    new_user(admin, "salah")
    client = Api(server.url)
    wrong = client.sign_in("salah", "not-the-password", headers=address())
    unknown = client.sign_in("nobody-at-all", PASSWORD, headers=address())
    assert_error(wrong, 401, "bad_credentials")
    assert_error(unknown, 401, "bad_credentials")
    assert wrong.body["error"]["message"] == unknown.body["error"]["message"]
    assert wrong.set_cookie() is None and not client.cookies


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"username": "x"}, 422, "invalid_command"),
        ({"password": "x"}, 422, "invalid_command"),
        ({"username": 1, "password": "12345678"}, 422, "invalid_command"),
        ({"username": "x", "password": "12345678", "remember": True}, 422, "invalid_command"),
        ([1, 2], 422, "invalid_request"),
    ],
)
def test_sign_in_refuses_bad_bodies(
    server: LiveServer, body: object, status: int, code: str
) -> None:
    assert_error(Api(server.url).post("/api/v1/session", body), status, code)


def test_sign_in_refuses_what_is_not_json(server: LiveServer) -> None:
    client = Api(server.url)
    reply = client.call("POST", "/api/v1/session", headers={"Content-Type": "text/plain"})
    assert reply.status == 422  # an empty body: the fields are missing
    form = client.call(
        "POST",
        "/api/v1/session",
        body="username=root",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(form, 415, "unsupported_media_type")


def test_a_disabled_user_cannot_sign_in_and_loses_their_session(
    server: LiveServer, admin: Api
) -> None:
    new_user(admin, "cuti")
    cuti = signed_in(server.url, "cuti")
    assert admin.put("/api/v1/users/cuti", {"active": False}).body["active"] is False
    assert cuti.get("/api/v1/session").body["role"] == "anonymous"
    assert_error(Api(server.url).sign_in("cuti", headers=address()), 403, "account_disabled")
    assert_error(
        Api(server.url).sign_in("cuti", "wrong-one", headers=address()), 401, "bad_credentials"
    )
    admin.put("/api/v1/users/cuti", {"active": True})
    signed_in(server.url, "cuti")


# --- throttling -----------------------------------------------------------------------------


def test_throttled_per_username_and_place(server: LiveServer, admin: Api) -> None:
    new_user(admin, "target")
    new_user(admin, "bystander")
    client, there = Api(server.url), address()
    for _ in range(PER_USER_AND_PLACE.count):
        assert_error(client.sign_in("target", "wrong-guess", headers=there), 401, "bad_credentials")
    locked = client.sign_in("target", PASSWORD, headers=there)  # even the right one
    assert_error(locked, 429, "too_many_requests")
    retry = int(locked.headers["Retry-After"])
    assert 1 <= retry <= 900 and locked.body["error"]["details"]["retry_after"] == retry
    assert client.sign_in("bystander", headers=there).status == 200  # another user, there
    assert Api(server.url).sign_in("target", headers=address()).status == 200  # elsewhere


def ipv6(n: int, net: str = "2001:db8:12:34") -> dict[str, str]:
    """The n-th address of one /64 (a host that changes its address at will)."""
    return {"X-Forwarded-For": f"{net}:{n:x}:0:0:{n + 1:x}"}


def test_the_addresses_of_one_ipv6_64_are_one_place(server: LiveServer, admin: Api) -> None:
    """Issue 12: 25 addresses of one /64 were never throttled, and from them one host
    locked 6 users out. Now they are one place: refused after the per-place limit;
    the 6 users sign in from their own addresses at once."""
    victims = [f"korban6-{i}" for i in range(6)]
    for name in victims:
        new_user(admin, name)
    client = Api(server.url)
    answers = [
        client.sign_in(victims[n % 6], "wrong-guess", headers=ipv6(n)).status for n in range(25)
    ]
    assert answers[: PER_PLACE.count] == [401] * PER_PLACE.count
    assert set(answers[PER_PLACE.count :]) == {429}
    for name in victims:
        assert Api(server.url).sign_in(name, headers=address()).status == 200


def test_a_lock_out_attempt_does_not_lock_the_user_out(server: LiveServer, admin: Api) -> None:
    """Issue 12: anyone who knew a username could keep its officer off their counter.
    Strangers from many addresses (and many of one /64) fail the password again and
    again; the officer signs in at once from their counter's address, in a new
    browser, and from their own browser anywhere."""
    new_user(admin, "loket7")
    counter = address()
    own_browser = Api(server.url)
    assert own_browser.sign_in("loket7", headers=counter).status == 200  # a day before
    assert "qms_device" in own_browser.cookies
    own_browser.delete("/api/v1/session")
    attacker, refused = Api(server.url), 0
    for n in range(60):
        headers = address() if n % 2 else ipv6(n, "2001:db8:66:77")
        reply = attacker.sign_in("loket7", f"tebakan-{n}", headers=headers)
        assert reply.status in (401, 429), reply.body
        if reply.status == 429:
            assert int(reply.headers["Retry-After"]) <= 900
            refused += 1
    assert refused > 0  # slowed
    assert Api(server.url).sign_in("loket7", headers=counter).status == 200
    assert own_browser.sign_in("loket7", headers=address()).status == 200
    stranger = Api(server.url).sign_in("loket7", headers=address())  # new place, new browser
    if stranger.status == 429:  # slowed for seconds, never locked for minutes
        assert int(stranger.headers["Retry-After"]) <= PER_USER.max_s
    else:
        assert stranger.status == 200


def test_the_device_cookie(server: LiveServer, admin: Api) -> None:
    new_user(admin, "perangkat")
    reply = Api(server.url).sign_in("perangkat")
    cookie = reply.set_cookie("qms_device") or ""
    assert cookie.startswith("qms_device=d1.")
    for flag in ("HttpOnly", "SameSite=strict", "Path=/api/v1/session", "Max-Age=15552000"):
        assert flag in cookie, cookie
    assert "Secure" not in cookie
    over_tls = Api(server.url).sign_in("perangkat", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in (over_tls.set_cookie("qms_device") or "")


def test_throttled_per_address(server: LiveServer, admin: Api) -> None:
    new_user(admin, "korban")
    here, elsewhere = address(), address()
    client = Api(server.url)
    for i in range(20):  # twenty names from one address
        assert_error(
            client.sign_in(f"guess{i}", "wrong-guess", headers=here), 401, "bad_credentials"
        )
    assert_error(client.sign_in("korban", headers=here), 429, "too_many_requests")
    assert client.sign_in("korban", headers=elsewhere).status == 200


def test_a_success_is_not_counted_against_the_address(server: LiveServer, admin: Api) -> None:
    new_user(admin, "rajin")
    here = address()
    for _ in range(25):  # a busy hall behind one NAT address signs in all day
        assert Api(server.url).sign_in("rajin", headers=here).status == 200


# --- passwords ------------------------------------------------------------------------------


def test_changing_my_password_ends_my_other_sessions(server: LiveServer, admin: Api) -> None:
    new_user(admin, "ganti")
    here, there = signed_in(server.url, "ganti"), signed_in(server.url, "ganti")
    reply = here.post(
        "/api/v1/session/password", {"old_password": PASSWORD, "new_password": "sandi-baru-1"}
    )
    assert reply.status == 200 and reply.set_cookie() is not None
    assert here.get("/api/v1/session").body["name"] == "ganti"  # renewed
    assert there.get("/api/v1/session").body["role"] == "anonymous"  # ended
    assert_error(Api(server.url).sign_in("ganti", headers=address()), 401, "bad_credentials")
    signed_in(server.url, "ganti", "sandi-baru-1")


def test_changing_my_password_needs_the_old_one(server: LiveServer, admin: Api) -> None:
    new_user(admin, "lupa")
    lupa = signed_in(server.url, "lupa")
    path = "/api/v1/session/password"
    wrong = lupa.post(path, {"old_password": "not-it-at-all", "new_password": "sandi-baru-1"})
    assert_error(wrong, 401, "bad_credentials")
    short = lupa.post(path, {"old_password": PASSWORD, "new_password": "pendek"})
    assert_error(short, 422, "password_too_short")
    assert_error(lupa.post(path, {"old_password": PASSWORD}), 422, "invalid_command")
    assert lupa.get("/api/v1/session").body["name"] == "lupa"  # nothing changed
    assert_error(Api(server.url).post(path, {}), 401, "not_authenticated")


def test_an_admin_reset_ends_the_users_sessions(server: LiveServer, admin: Api) -> None:
    new_user(admin, "reset")
    user = signed_in(server.url, "reset")
    reply = admin.post("/api/v1/users/reset/password", {"password": "dari-admin-1"})
    assert reply.status == 200 and reply.body["username"] == "reset"
    assert user.get("/api/v1/session").body["role"] == "anonymous"
    signed_in(server.url, "reset", "dari-admin-1")
    assert_error(
        admin.post("/api/v1/users/nobody/password", {"password": "dari-admin-1"}),
        404,
        "unknown_user",
    )


# --- users ----------------------------------------------------------------------------------


def test_admin_manages_users(server: LiveServer, admin: Api) -> None:
    body = {"username": "Siti", "role": "supervisor", "sites": [SITE, SITE], "password": PASSWORD}
    made = admin.post("/api/v1/users", body)
    assert made.status == 201
    assert made.body["username"] == "siti" and made.body["sites"] == [SITE]
    assert "password_hash" not in made.body and PASSWORD not in made.raw.decode()
    assert_error(admin.post("/api/v1/users", body), 409, "user_exists")
    changed = admin.put("/api/v1/users/siti", {"role": "officer", "sites": [SITE, OTHER]})
    assert changed.status == 200 and changed.body["sites"] == sorted([SITE, OTHER])
    users = {u["username"]: u for u in admin.get("/api/v1/users").body["users"]}
    assert users["siti"]["role"] == "officer" and users["root"]["role"] == "admin"
    assert all("password_hash" not in u for u in users.values())


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"username": "x y", "role": "officer", "sites": [SITE]}, "invalid_username"),
        ({"username": "xy", "role": "officer", "sites": []}, "sites_required"),
        ({"username": "xy", "role": "officer"}, "sites_required"),
        ({"username": "xy", "role": "officer", "sites": ["_accounts"]}, "invalid_site"),
        ({"username": "xy", "role": "king", "sites": [SITE]}, "invalid_command"),
        ({"username": "xy", "role": "officer", "sites": SITE}, "invalid_command"),
        ({"username": "xy", "role": "officer", "sites": [SITE], "extra": 1}, "invalid_command"),
        (
            {"username": "xy", "role": "officer", "sites": [SITE], "password": "pendek"},
            "password_too_short",
        ),
        (
            {"username": "xy", "role": "officer", "sites": [SITE], "password": None},
            "invalid_command",
        ),
    ],
)
def test_add_user_refuses(admin: Api, body: dict[str, object], code: str) -> None:
    body = {"password": PASSWORD, **body}
    assert_error(admin.post("/api/v1/users", body), 422, code)


def test_weak_passwords_are_refused_everywhere(server: LiveServer, admin: Api) -> None:
    """NIST SP 800-63B: not the username, not a common password; at creation, at an
    admin's reset and at one's own change, with stable codes; nothing changes."""
    body = {"username": "sandi", "role": "officer", "sites": [SITE]}
    for password, code in (
        ("Sandi2024!", "password_is_username"),
        ("password1", "password_too_common"),
    ):
        assert_error(admin.post("/api/v1/users", {**body, "password": password}), 422, code)
    assert all(u["username"] != "sandi" for u in admin.get("/api/v1/users").body["users"])
    new_user(admin, "sandi")
    reset = admin.post("/api/v1/users/sandi/password", {"password": "SANDI12345"})
    assert_error(reset, 422, "password_is_username")
    user = signed_in(server.url, "sandi")
    own = user.post(
        "/api/v1/session/password", {"old_password": PASSWORD, "new_password": "qwertyuiop"}
    )
    assert_error(own, 422, "password_too_common")
    assert user.get("/api/v1/session").body["name"] == "sandi"  # nothing changed
    signed_in(server.url, "sandi")


def test_change_user_refuses(admin: Api) -> None:
    assert_error(admin.put("/api/v1/users/nobody", {"active": False}), 404, "unknown_user")
    assert_error(admin.put("/api/v1/users/root", {"active": "no"}), 422, "invalid_command")
    assert_error(admin.put("/api/v1/users/root", {"active": False}), 409, "last_admin")


def test_supervisor_sees_and_acts_for_their_sites_only(server: LiveServer, admin: Api) -> None:
    new_user(admin, "spv", "supervisor", SITE)
    new_user(admin, "petugas-sini", "officer", SITE)
    new_user(admin, "petugas-sana", "officer", OTHER)
    spv = signed_in(server.url, "spv")
    names = {u["username"] for u in spv.get("/api/v1/users").body["users"]}
    assert {"spv", "petugas-sini"} <= names
    assert "petugas-sana" not in names and "root" not in names
    assert_error(spv.get(f"/api/v1/sites/{OTHER}"), 403, "forbidden")
    assert spv.get(f"/api/v1/sites/{SITE}").status != 403
    body = {"username": "baru", "role": "officer", "sites": [SITE], "password": PASSWORD}
    assert_error(spv.post("/api/v1/users", body), 403, "forbidden")
    assert_error(spv.put("/api/v1/users/petugas-sini", {"active": False}), 403, "forbidden")
    assert_error(spv.post("/api/v1/devices", {"kind": "display", "site": SITE}), 403, "forbidden")
    officer = signed_in(server.url, "petugas-sini")
    assert_error(officer.get("/api/v1/users"), 403, "forbidden")
    assert_error(officer.get("/api/v1/devices"), 403, "forbidden")
    assert_error(Api(server.url).get("/api/v1/users"), 401, "not_authenticated")


def test_reserved_sites_are_not_found(admin: Api) -> None:
    assert_error(admin.get("/api/v1/sites/_accounts"), 404, "not_found")


# --- CSRF -----------------------------------------------------------------------------------


def test_cookie_commands_need_our_origin(server: LiveServer, admin: Api) -> None:
    body = {"username": "csrf", "role": "officer", "sites": [SITE], "password": PASSWORD}
    for origin in ("https://evil.example", None, "null", server.url + ".evil.example"):
        forged = Api(server.url, origin=origin, cookies=dict(admin.cookies))
        assert_error(forged.post("/api/v1/users", body), 403, "bad_origin")
        assert_error(forged.delete("/api/v1/session"), 403, "bad_origin")
    users = {u["username"] for u in admin.get("/api/v1/users").body["users"]}
    assert "csrf" not in users  # nothing was changed
    assert (
        Api(server.url, origin=None, cookies=dict(admin.cookies)).get("/api/v1/users").status == 200
    )  # reading needs no Origin
    assert admin.post("/api/v1/users", body).status == 201


def test_loopback_names_of_this_server_are_its_origin(server: LiveServer) -> None:
    """Served on 127.0.0.1, the server is also http://localhost:PORT to a browser
    on the same machine; another port of localhost is another origin."""
    for name in ("localhost", "[::1]"):
        assert Api(server.url, origin=f"http://{name}:{server.port}").sign_in("root").status == 200
    other = Api(server.url, origin=f"http://localhost:{server.port + 1}")
    assert_error(other.sign_in("root"), 403, "bad_origin")


def test_sign_in_from_a_foreign_page_is_refused(server: LiveServer) -> None:
    foreign = Api(server.url, origin="https://evil.example")
    assert_error(foreign.sign_in("root", headers=address()), 403, "bad_origin")
    assert Api(server.url, origin=None).sign_in("root").status == 200  # scripts send none


# --- devices --------------------------------------------------------------------------------


def test_admin_adds_lists_and_revokes_devices(server: LiveServer, admin: Api) -> None:
    made = admin.post(
        "/api/v1/devices", {"kind": "display", "site": SITE, "zone": "lantai-1", "name": "TV lobi"}
    )
    assert made.status == 201 and made.headers["Cache-Control"] == "no-store"
    device, token, link = made.body["device"], made.body["token"], made.body["link"]
    assert device["kind"] == "display" and device["zone"] == "lantai-1" and not device["revoked"]
    assert link == f"{server.url}/display?token={token}"
    listed = admin.get("/api/v1/devices").body["devices"]
    assert device["device"] in {d["device"] for d in listed}
    assert token not in admin.get("/api/v1/devices").raw.decode()
    tv = Api(server.url, token=token, origin=None)
    assert tv.get("/api/v1/session").body == {
        "role": "display",
        "name": device["device"],
        "sites": [SITE],
        "zone": "lantai-1",
    }
    assert tv.get("/api/v1/device").body["device"]["device"] == device["device"]
    assert tv.get(f"/api/v1/sites/{SITE}").status != 403
    assert_error(tv.get(f"/api/v1/sites/{OTHER}"), 403, "forbidden")
    assert_error(tv.get("/api/v1/users"), 403, "forbidden")
    assert_error(tv.post("/api/v1/devices", {"kind": "display", "site": SITE}), 403, "forbidden")

    revoked = admin.delete(f"/api/v1/devices/{device['device']}")
    assert revoked.status == 200 and revoked.body["device"]["revoked"] is True
    assert_error(tv.get("/api/v1/device"), 401, "not_authenticated")
    assert tv.get("/api/v1/session").body["role"] == "anonymous"
    assert admin.delete(f"/api/v1/devices/{device['device']}").status == 200  # again: no change
    assert_error(admin.delete("/api/v1/devices/display-000000"), 404, "unknown_device")


def test_device_tokens_in_the_query_only_outside_the_api(server: LiveServer) -> None:
    token = add_device(server, "kiosk", SITE)
    assert Api(server.url, token=token).get("/api/v1/device").body["device"]["kind"] == "kiosk"
    assert_error(Api(server.url).get(f"/api/v1/device?token={token}"), 401, "not_authenticated")
    assert_error(
        Api(server.url, token="qmsd_forged").get("/api/v1/device"), 401, "not_authenticated"
    )
    basic = Api(server.url).get("/api/v1/device", headers={"Authorization": f"Basic {token}"})
    assert_error(basic, 401, "not_authenticated")


def test_control_characters_in_names_and_texts_are_refused(admin: Api) -> None:
    """Issue 12: an ESC or a newline in a device name forged rows in `qms device list`,
    a bidi override could garble a display; refused (422 invalid_text), nothing kept."""
    site = "mpp-teks"
    assert admin.put(f"/api/v1/sites/{site}", {"name": "MPP Teks"}).status == 200
    for bad in ("TV\nlobby  yes", "TV \x1b[31m", "TV \u202eybbol", "TV\u2069"):
        device = admin.post("/api/v1/devices", {"kind": "display", "site": site, "name": bad})
        assert_error(device, 422, "invalid_text")
        assert device.body["error"]["details"]["field"] == "name"
        text = admin.post(f"/api/v1/sites/{site}/broadcast", {"text": f"Selamat datang {bad}"})
        assert_error(text, 422, "invalid_text")
        agency = admin.put(f"/api/v1/sites/{site}/agencies/bpjs", {"name": bad})
        assert_error(agency, 422, "invalid_text")
    assert admin.get(f"/api/v1/devices?site={site}").body["devices"] == []
    ok = admin.post(f"/api/v1/sites/{site}/broadcast", {"text": "Selamat datang 🙏"})
    assert ok.status == 200, ok.body


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"kind": "tv", "site": SITE}, "invalid_command"),
        ({"kind": "display"}, "invalid_command"),
        ({"kind": "display", "site": "_accounts"}, "invalid_site"),
        ({"kind": "display", "site": SITE, "zone": "z" * 65}, "invalid_zone"),
        ({"kind": "display", "site": SITE, "token": "mine"}, "invalid_command"),
    ],
)
def test_add_device_refuses(admin: Api, body: dict[str, object], code: str) -> None:
    assert_error(admin.post("/api/v1/devices", body), 422, code)


# --- across processes: the CLI next to a running server -------------------------------------


def test_a_cli_made_user_signs_in_at_once(server: LiveServer) -> None:
    add_user(server, "dari-cli", "officer", SITE)
    assert signed_in(server.url, "dari-cli").get("/api/v1/session").body["name"] == "dari-cli"


def until(check: object, timeout: float = 5.0) -> None:
    """Poll another process's effect (the server looks at the log at most once a second)."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_cli_revoke_and_passwd_reach_a_running_server(server: LiveServer) -> None:
    token = add_device(server, "display", SITE)
    tv = Api(server.url, token=token)
    assert tv.get("/api/v1/device").status == 200
    add_user(server, "cli-pw", "officer", SITE)
    user = signed_in(server.url, "cli-pw")
    server.cli("device", "revoke", tv.get("/api/v1/device").body["device"]["device"])
    server.cli("user", "passwd", "cli-pw", input="dari-cli-baru\n")
    until(lambda: tv.get("/api/v1/device").status == 401)
    until(lambda: user.get("/api/v1/session").body["role"] == "anonymous")
    signed_in(server.url, "cli-pw", "dari-cli-baru")


# --- the secret key -------------------------------------------------------------------------


def test_secret_key_file(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path / "data")
    key = secret_key(config)
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 64 and secret_key(config) == key  # generated once
    assert secret_key(Config(data_dir=tmp_path / "other", secret_key="from-env")) == b"from-env"
    assert not (tmp_path / "other" / "secret.key").exists()


def test_workers_starting_together_read_the_same_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`qms serve --workers 2` on a new data dir: a worker reading the key while the
    other is writing it must read the whole key, never an empty one (it then signed
    and checked cookies with b"": a cookie from one worker was 401 on the other)."""
    config = Config(data_dir=tmp_path / "data")
    token_hex = secrets.token_hex
    others: list[bytes] = []
    calls = itertools.count()

    def writing(n: int) -> str:  # the first worker is between creating and writing
        if next(calls) == 0:
            others.append(secret_key(config))  # the second worker starts right then
        return token_hex(n)

    monkeypatch.setattr(secrets, "token_hex", writing)
    first = secret_key(config)
    assert len(first) == 64 and others == [first]
    assert (tmp_path / "data" / "secret.key").read_bytes().strip() == first
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["secret.key"]  # no leftovers


def test_an_empty_key_file_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "secret.key").write_bytes(b"\n")
    (data / "secret.key").chmod(0o600)
    with pytest.raises(RuntimeError, match=r"secret\.key is empty"):
        secret_key(Config(data_dir=data))


def test_sessions_survive_a_restart_and_die_with_another_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with LiveServer(data) as first:
        add_user(first, "tetap", "officer", SITE)
        client = signed_in(first.url, "tetap")
    key = (data / "secret.key").read_bytes()
    assert stat.S_IMODE(os.stat(data / "secret.key").st_mode) == 0o600
    with LiveServer(data, port=first.port) as second:
        assert client.get("/api/v1/session").body["name"] == "tetap"
        assert (data / "secret.key").read_bytes() == key
        second.stop()
    with LiveServer(data, port=first.port, env={"QMS_SECRET_KEY": "another-key"}):
        assert client.get("/api/v1/session").body["role"] == "anonymous"


# --- the route table ------------------------------------------------------------------------


def test_every_accounts_route_is_declared_and_documented() -> None:
    routes = {(r.method, r.path): r for r in API if r.tag == "accounts"}
    assert set(routes) == {
        ("POST", "/session"),
        ("GET", "/session"),
        ("DELETE", "/session"),
        ("POST", "/session/password"),
        ("GET", "/users"),
        ("POST", "/users"),
        ("PUT", "/users/{username}"),
        ("POST", "/users/{username}/password"),
        ("GET", "/devices"),
        ("POST", "/devices"),
        ("DELETE", "/devices/{device}"),
        ("GET", "/device"),
    }
    text = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()
    for (method, path), route in routes.items():
        assert route.summary
        assert route.body is not None or method in ("GET", "DELETE"), (method, path)
        assert f"`{method} /api/v1{path}" in text, f"docs/security.md: {method} {path}"


# --- Redis: several server processes --------------------------------------------------------


@pytest.mark.redis
@pytest.mark.slow
def test_two_servers_on_redis_share_people_and_devices(tmp_path: Path, redis_log_url: str) -> None:
    key = {"QMS_SECRET_KEY": "one-key-for-every-process"}
    with (
        LiveServer(tmp_path / "a", log_url=redis_log_url, env=key) as a,
        LiveServer(tmp_path / "b", log_url=redis_log_url, env=key) as b,
    ):
        add_user(a, "root", "admin")
        admin_a = signed_in(a.url, "root")
        new_user(admin_a, "pindah")
        at_b = signed_in(b.url, "pindah")  # made through A, known at B at once
        cookie_from_a = Api(b.url, cookies=dict(admin_a.cookies))
        assert cookie_from_a.get("/api/v1/session").body["name"] == "root"  # one key
        made = admin_a.post("/api/v1/devices", {"kind": "kiosk", "site": SITE}).body
        kiosk_at_b = Api(b.url, token=made["token"])
        assert kiosk_at_b.get("/api/v1/device").status == 200
        admin_a.delete(f"/api/v1/devices/{made['device']['device']}")
        copy_at_b = Api(b.url, cookies=dict(at_b.cookies))
        signed_in(b.url, "pindah").delete("/api/v1/session")  # another session: ends alone
        assert copy_at_b.get("/api/v1/session").body["name"] == "pindah"
        Api(a.url, cookies=dict(at_b.cookies)).delete("/api/v1/session")  # ended at A…
        until(lambda: copy_at_b.get("/api/v1/session").body["role"] == "anonymous")  # …and B
        at_b = signed_in(b.url, "pindah")
        admin_a.post("/api/v1/users/pindah/password", {"password": "sandi-baru-1"})
        until(lambda: kiosk_at_b.get("/api/v1/device").status == 401)
        until(lambda: at_b.get("/api/v1/session").body["role"] == "anonymous")


async def test_a_remembered_session_still_expires_and_ends(tmp_path: Path) -> None:
    """The server checks a cookie's signature once per value (`Accounts._session`);
    each later use is still judged by the clock, and signing out still ends it."""
    from starlette.requests import HTTPConnection

    from qms.accounts import UserRole
    from qms.accounts.sessions import COOKIE_NAME, LIFETIME_S
    from qms.eventlog import open_log
    from qms.server.auth import Accounts
    from qms.server.principal import ANONYMOUS, Role
    from qms.server.throttle import Throttle

    now = [1_795_000_000.0]
    log = open_log(f"sqlite:///{tmp_path / 'qms.db'}")
    accounts = await Accounts(
        log, Config(data_dir=tmp_path), b"k" * 32, Throttle(log).sign_in, clock=lambda: now[0]
    ).open()
    try:
        user = await accounts.store.add_user("budi", UserRole.OFFICER, (SITE,), PASSWORD, by="t")
        cookie = accounts.session_cookie(user)

        def request(value: str) -> HTTPConnection:
            header = f"{COOKIE_NAME}={value}".encode()
            scope = {
                "type": "http",
                "path": "/",
                "query_string": b"",
                "headers": [(b"cookie", header)],
            }
            return HTTPConnection(scope)

        assert (await accounts.principal(request(cookie))).role is Role.OFFICER
        assert await accounts.principal(request(cookie[:-2])) == ANONYMOUS  # never remembered
        now[0] += LIFETIME_S - 1
        assert (await accounts.principal(request(cookie))).role is Role.OFFICER
        now[0] += 1
        assert await accounts.principal(request(cookie)) == ANONYMOUS  # expired, though known
        now[0] -= LIFETIME_S + 3600  # the clock set back: issued in the future
        assert await accounts.principal(request(cookie)) == ANONYMOUS
        now[0] += 3600
        await accounts.sign_out(cookie)
        assert await accounts.principal(request(cookie)) == ANONYMOUS
    finally:
        await accounts.close()
        await log.close()
