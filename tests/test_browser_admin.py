"""The admin app (static/admin.html) in headless Chromium against `qms demo`:
an admin sets up an agency, a service, a counter, a user and a display link,
then revokes the link (its token is refused from then on); bad credentials, a
non-admin and an unreachable server get clear messages."""

from __future__ import annotations

from typing import Any

from api_client import Api
from browser_support import (
    HD,
    PHONE,
    SITE,
    js_errors,
    keep_screenshot,
    open_with_server_down,
    shot,
    watch,
)
from live_hall import LiveHall


def open_admin(browser: Any, hall: LiveHall, viewport: dict[str, int] = HD) -> Any:
    context = browser.new_context(viewport=viewport)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hall.url)
    page = context.new_page()
    page.errors = watch(page)
    page.goto(hall.url + "/admin")
    page.locator("#signin").wait_for()
    return page


def admin_page(browser: Any, hall: LiveHall, viewport: dict[str, int] = HD) -> Any:
    """The admin page signed in as the admin, its first tab (the site) ready."""
    page = open_admin(browser, hall, viewport)
    sign_in(page, "admin", hall.passwords["admin"])
    page.wait_for_selector("#section[data-tab=site][data-ready]")
    return page


def sign_in(page: Any, username: str, password: str) -> None:
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()


def tab(page: Any, name: str) -> Any:
    page.click(f".tab[data-tab={name}]")
    page.wait_for_selector(f"#section[data-tab={name}][data-ready]")
    return page.locator("#section")


def saved(page: Any) -> None:
    page.wait_for_selector("[data-banner][data-kind=info]:not([hidden]) >> text=Tersimpan")


def test_admin_sets_up_a_hall_and_its_devices(hall: LiveHall, browser: Any) -> None:
    page = open_admin(browser, hall)
    shot(page, "admin-signin-1920")
    sign_in(page, "admin", hall.passwords["admin"])
    page.wait_for_selector("#section[data-tab=site][data-ready]")
    assert page.locator("select[name=site]").input_value() == SITE
    assert page.locator("input[name=name]").input_value() == "MPP Kota Bengkulu"

    section = tab(page, "agencies")
    agency = section.locator("form[data-form=agency]")
    agency.locator("[name=id]").fill("bapenda")
    agency.locator("[name=name]").fill("Badan Pendapatan Daerah")
    agency.get_by_role("button", name="Simpan").click()
    saved(page)
    assert "Badan Pendapatan Daerah" in section.locator("table").inner_text()

    section = tab(page, "services")
    service = section.locator("form[data-form=service]")
    service.locator("[name=service]").fill("pbb")
    service.locator("[name=agency]").select_option("bapenda")
    service.locator("[name=prefix]").fill("N")
    service.locator("[name=name_id]").fill("Pajak Bumi dan Bangunan")
    service.locator("[name=name_en]").fill("Land and building tax")
    service.locator("[name=target_wait_min]").fill("25")
    service.locator("[name=daily_quota]").fill("150")
    service.locator("[name=open]").fill("08:00")
    service.locator("[name=close]").fill("15:00")
    service.get_by_role("button", name="Simpan").click()
    saved(page)
    assert "Pajak Bumi dan Bangunan" in section.locator("tr[data-service=pbb]").inner_text()
    # A prefix another service has is refused, with the reason.
    section.locator("tr[data-service=pbb]").get_by_role("button", name="Ubah").click()
    assert service.locator("[name=name_en]").input_value() == "Land and building tax"
    service.locator("[name=prefix]").fill("A")
    service.get_by_role("button", name="Simpan").click()
    page.get_by_text("Awalan ini milik layanan lain").wait_for()

    section = tab(page, "counters")
    counter = section.locator("form[data-form=counter]")
    counter.locator("[name=counter]").fill("L11")
    counter.locator("[name=name]").fill("Loket 11")
    counter.locator("[name=zone]").fill("E")
    counter.locator("input[name=services][value=info]").check()
    counter.locator("input[name=services][value=pbb]").check()
    counter.get_by_role("button", name="Simpan").click()
    saved(page)
    assert "info, pbb" in section.locator("tr[data-counter=L11]").inner_text()  # the order ticked
    shot(page, "admin-counters-1920")

    setup = Api(hall.url, token=hall.tokens["display"], origin=None).get(f"/api/v1/sites/{SITE}")
    services = {s["service"]: s for s in setup.body["services"]}
    assert services["pbb"]["prefix"] == "N" and services["pbb"]["daily_quota"] == 150
    assert services["pbb"]["hours"] == {
        "open": "08:00",
        "close": "15:00",
        "weekdays": [0, 1, 2, 3, 4],
    }
    counters = {c["counter"]: c for c in setup.body["counters"]}
    assert counters["L11"] == {
        "counter": "L11",
        "name": "Loket 11",
        "zone": "E",
        "services": ["info", "pbb"],
    }

    section = tab(page, "users")
    user = section.locator("form[data-form=user]")
    user.locator("[name=username]").fill("petugas9")
    user.locator("[name=password]").fill("rahasia-awal-1")
    user.get_by_role("button", name="Buat").click()
    saved(page)
    row = section.locator("tr[data-user=petugas9]")
    assert "Petugas" in row.inner_text() and SITE in row.inner_text()
    assert Api(hall.url).sign_in("petugas9", "rahasia-awal-1").status == 200
    row.get_by_role("button", name="Atur ulang sandi").click()
    row.get_by_placeholder("Sandi baru").fill("rahasia-baru-2")
    row.get_by_role("button", name="Simpan").click()
    page.get_by_text("Sandi petugas9 diatur ulang").wait_for()
    assert Api(hall.url).sign_in("petugas9", "rahasia-baru-2").status == 200
    section.locator("tr[data-user=petugas9]").get_by_role("button", name="Nonaktifkan").click()
    saved(page)
    assert "Nonaktif" in section.locator("tr[data-user=petugas9]").inner_text()
    assert Api(hall.url).sign_in("petugas9", "rahasia-baru-2").code == "account_disabled"
    shot(page, "admin-users-1920")

    section = tab(page, "devices")
    device = section.locator("form[data-form=device]")
    device.locator("[name=zone]").fill("A")
    device.locator("[name=name]").fill("TV aula A")
    device.get_by_role("button", name="Buat").click()
    link = section.locator(".once input.link")
    link.wait_for()
    url = link.input_value()
    assert url.startswith(hall.url + "/display?token=qmsd_")
    token = url.split("token=", 1)[1]
    section.locator(".once").get_by_role("button", name="Salin").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == url
    shot(page, "admin-device-link-1920")
    keep_screenshot("admin-device-link-1920")
    tv = Api(hall.url, token=token, origin=None)
    me = tv.get("/api/v1/device").body["device"]
    assert (me["kind"], me["site"], me["zone"], me["name"]) == ("display", SITE, "A", "TV aula A")

    row = section.locator(f"tr[data-device={me['device']}]")
    row.get_by_role("button", name="Cabut").click()
    row.get_by_role("button", name="Yakin? Cabut").click()
    saved(page)
    assert "Dicabut" in section.locator(f"tr[data-device={me['device']}]").inner_text()
    assert section.locator(".once").is_hidden()  # the token is never shown again
    assert tv.get("/api/v1/device").status == 401

    mobile = open_admin(browser, hall, PHONE)
    sign_in(mobile, "admin", hall.passwords["admin"])
    tab(mobile, "services")
    shot(mobile, "admin-services-phone")
    assert js_errors(page.errors) == [] and js_errors(mobile.errors) == []


def test_admin_sets_up_a_new_site(hall: LiveHall, browser: Any) -> None:
    page = admin_page(browser, hall)
    page.get_by_placeholder("Lokasi lain (kode)").fill("mpp-curup")
    page.get_by_role("button", name="Buka").click()
    page.get_by_text("Lokasi ini belum disiapkan").wait_for()
    page.locator("form[data-form=site] [name=name]").fill("MPP Rejang Lebong")
    page.get_by_role("button", name="Simpan").click()
    saved(page)
    assert page.get_by_text("Lokasi ini belum disiapkan").count() == 0
    admin = Api(hall.url)
    assert admin.sign_in("admin", hall.passwords["admin"]).status == 200
    site = admin.get("/api/v1/sites/mpp-curup").body["site"]
    assert (site["name"], site["timezone"]) == ("MPP Rejang Lebong", "Asia/Jakarta")
    assert js_errors(page.errors) == []


def test_bad_credentials_non_admin_and_server_down_say_so(hall: LiveHall, browser: Any) -> None:
    """The admin page signs in through the staff pages' one gate (static/js/staff.js)."""
    page = open_admin(browser, hall)
    sign_in(page, "admin", "not-the-password")
    page.get_by_text("Nama pengguna atau kata sandi salah").wait_for()
    assert page.locator("#signin").is_visible() and page.locator("#app").is_hidden()
    shot(page, "admin-bad-credentials-1920")

    sign_in(page, "petugas1", hall.passwords["petugas1"])
    page.locator("[data-banner]", has_text="tidak boleh membuka halaman ini").wait_for()
    assert "petugas1" in page.locator("#whoami").inner_text()
    assert page.locator("#signin").is_visible() and page.locator("#app").is_hidden()
    shot(page, "admin-forbidden-1920")
    page.locator("#sign-out").click()
    page.locator("#signin").wait_for()
    page.locator("#sign-out").wait_for(state="hidden")  # signed out: nobody to name
    assert page.locator("#whoami").inner_text() == ""

    # The server is down: said, and the page finds it by itself when it is back.
    open_with_server_down(page, page.url, "admin-offline-1920")

    # Signed in, the server goes away before the app is read: said, with a button to try again.
    page.route("**/api/v1/users", lambda route: route.abort())
    sign_in(page, "admin", hall.passwords["admin"])
    page.wait_for_selector("main[data-screen=offline]")
    assert page.get_by_text("Server tidak dapat dihubungi").is_visible()
    page.unroute("**/api/v1/users")
    page.get_by_role("button", name="Coba lagi").click()
    page.wait_for_selector("#section[data-tab=site][data-ready]")
    assert js_errors(page.errors) == []
