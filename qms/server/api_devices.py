"""Devices over HTTP: displays, kiosks and counter tablets, their links and revocation
(tag "accounts"; split from `api_accounts`, which keeps sessions and users).

Every route is declared with `@api` (routes.py); a device's token is answered once,
at registration, and only its hash is kept (docs/security.md "Devices").
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from qms.accounts import DeviceKind
from qms.accounts.commands import parse
from qms.accounts.model import MAX_NAME, MAX_ZONE
from qms.eventsourcing.schema import MAX_STR
from qms.server.api_accounts import (
    _ID,
    _SITE,
    ADMIN,
    ADMIN_OR_SUPERVISOR,
    SITE_FILTER,
    _accounts,
    _json,
    _object,
)
from qms.server.auth import device_link
from qms.server.errors import read_json
from qms.server.principal import Principal, Role
from qms.server.routes import ApiRoute, api
from qms.survey.routes_tablet import tablet_counter

DEVICES = frozenset({Role.DISPLAY, Role.KIOSK})  # a tablet may call its own routes only
_KIND = {"type": "string", "enum": [k.value for k in DeviceKind]}

NEW_DEVICE = _object(
    ["kind", "site"],
    kind=_KIND,
    site=_SITE,
    # Trimmed before they are checked, so the limits are in words, not in maxLength.
    zone={
        "type": "string",
        "maxLength": MAX_STR,
        "description": f"at most {MAX_ZONE} characters once trimmed; empty: every zone",
    },
    name={
        "type": "string",
        "maxLength": MAX_STR,
        "description": f"at most {MAX_NAME} characters once trimmed",
    },
    counter={
        "type": "string",
        "maxLength": MAX_STR,
        "description": "a tablet's counter, one of the site's: required for a tablet,"
        " refused for any other kind",
    },
)

DEVICE = _object(
    ["device", "kind", "site", "revoked"],
    device=_ID,
    kind=_KIND,
    site=_ID,
    zone={"type": ["string", "null"]},
    counter={"type": ["string", "null"], "description": "a tablet's counter"},
    name={"type": "string"},
    revoked={"type": "boolean"},
    created_at={"type": "number"},
    revoked_at={"type": ["number", "null"]},
)


@dataclass(frozen=True)
class NewDevice:
    kind: DeviceKind
    site: str
    zone: str = ""
    name: str = ""
    counter: str = ""


# --- devices --------------------------------------------------------------------------------


@api(
    "GET",
    "/devices",
    allow=ADMIN_OR_SUPERVISOR,
    tag="accounts",
    summary="List devices, without their tokens (a supervisor: those of their sites)",
    parameters=SITE_FILTER,
    response={"type": "object", "properties": {"devices": {"type": "array", "items": DEVICE}}},
)
async def list_devices(request: Request, who: Principal) -> Response:
    site = request.query_params.get("site")
    devices = [
        d.public()
        for d in _accounts(request).store.devices()
        if who.may_use_site(d.site) and (site is None or d.site == site)
    ]
    return _json({"devices": devices})


@api(
    "POST",
    "/devices",
    allow=ADMIN,
    tag="accounts",
    summary="Register a display, kiosk or counter tablet: answers its token once, with its link",
    body=NEW_DEVICE,
    response=_object(
        ["device", "token", "link"],
        device=DEVICE,
        token={"type": "string", "description": "shown once; only its hash is kept"},
        link={
            "type": "string",
            "description": "{base_url}/display?token=…, /kiosk?token=… or /tablet?token=…",
        },
    ),
    responses={
        201: "created",
        404: "a tablet's site or counter is not set up (`unknown_site`, `unknown_counter`)",
        422: "`invalid_site`, `invalid_zone`, `counter_required`, `counter_for_tablets`, …",
    },
)
async def add_device(request: Request, who: Principal) -> Response:
    new = parse(NewDevice, await read_json(request))
    zone, name, counter = new.zone.strip(), new.name.strip(), new.counter.strip()
    if new.kind is DeviceKind.TABLET and counter:  # one the site has (`qms device add` trusts)
        await tablet_counter(request.app.state.hall, new.site, counter)
    accounts = _accounts(request)
    device, token = await accounts.store.add_device(
        new.kind, new.site, zone=zone, name=name, counter=counter, by=who.name
    )
    link = device_link(accounts.config, device, token)
    return _json({"device": device.public(), "token": token, "link": link}, status_code=201)


@api(
    "DELETE",
    "/devices/{device}",
    allow=ADMIN,
    tag="accounts",
    summary="Revoke a device's token, for good (revoking again changes nothing)",
    response=_object(["device"], device=DEVICE),
    responses={404: "unknown_device"},
)
async def revoke_device(request: Request, who: Principal) -> Response:
    store = _accounts(request).store
    device = await store.revoke_device(request.path_params["device"], by=who.name)
    return _json({"device": device.public()})


@api(
    "GET",
    "/device",
    allow=DEVICES,
    tag="accounts",
    summary="This device (a display or kiosk asks with its token): its site and zone",
    response=_object(["device"], device=DEVICE),
)
async def this_device(request: Request, who: Principal) -> Response:
    device = _accounts(request).store.state.devices[who.name]
    return _json({"device": device.public()})


ROUTES: tuple[ApiRoute, ...] = (list_devices, add_device, revoke_device, this_device)
