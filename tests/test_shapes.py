"""One JSON shape per resource (issue 13 §4): a site, a service, a counter, a queue and a
ticket read the same over HTTP and on the stream, for the same audience; an
audience that may not see a field gets the same object without it.

First on pure views (`queries`, what the HTTP routes answer, against
`stream.audience.view`, what a snapshot carries), then end to end: the answers of
a live server's routes against its stream's snapshots at the same version.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from api_client import Api
from live_hall import SITE, STREAM, LiveHall, live_hall
from pure_hall import PureHall

from qms.core import HallState, decide, event_to_dict, evolve, parse_command
from qms.server import queries as q
from qms.server import shapes
from qms.server.stream import audience as aud
from qms.server.stream.facts import Audience, Kind, changed_counts, facts, queue_counts
from qms.server.stream.facts import sees_queue as facts_sees

Json = dict[str, Any]
NOW = datetime(2024, 7, 1, 9, 0, tzinfo=ZoneInfo("Asia/Jakarta")).timestamp()
FINAL = {"done", "no_show", "cancelled", "expired"}
LINKS = {"ref", "status_url", "status_api"}


def _state() -> HallState:
    """Two zones, three counters: L1 serving a priority ticket, L2 idle, L3 closed; one held."""
    hall = PureHall(NOW)
    tokens = iter(range(100))

    def do(type: str, **fields: Any) -> None:
        if type == "issue_ticket":
            fields["token"] = f"SECRET{next(tokens)}"
        hall.do(type, **fields)

    do("set_up_site", site="s1", name="MPP Test")
    do("set_up_agency", agency="dukcapil", name="Disdukcapil")
    for service, prefix in (("ktp", "A"), ("kk", "B")):
        do(
            "set_up_service",
            service=service,
            agency="dukcapil",
            prefix=prefix,
            name_id=service,
            name_en=service,
        )
    do("set_up_counter", counter="L1", name="Loket 1", zone="A", services=["ktp"])
    do("set_up_counter", counter="L2", name="Loket 2", zone="A", services=["ktp", "kk"])
    do("set_up_counter", counter="L3", name="Loket 3", zone="B", services=["kk"])
    do("issue_ticket", service="ktp", priority="lansia")
    do("issue_ticket", service="kk")
    do("issue_ticket", service="ktp")
    do("issue_ticket", service="kk")
    do("open_counter", counter="L1", officer="budi")
    do("open_counter", counter="L2", officer="sari")
    do("call_next", counter="L1")
    do("start_service", counter="L1")
    do("call_next", counter="L2")
    do("hold", ticket=hall.state.counters["L2"].ticket)
    return hall.state


def narrower(part: Json, whole: Json) -> None:
    """`part` is `whole` without some fields: the same shape, never a different one."""
    assert set(part) <= set(whole), set(part) - set(whole)
    for key, value in part.items():
        if isinstance(value, dict) and isinstance(whole[key], dict):
            narrower(value, whole[key])
        else:
            assert value == whole[key], key


def test_a_snapshot_carries_the_resources_the_queries_answer() -> None:
    state = _state()
    assert state.counters["L1"].ticket is not None and state.counters["L2"].ticket is None
    supervisor = aud.view(Audience(Kind.SUPERVISOR), state, [])
    console = aud.view(Audience(Kind.CONSOLE, counter="L2"), state, [])
    display = aud.view(Audience(Kind.DISPLAY), state, [])
    zoned = aud.view(Audience(Kind.DISPLAY, zone="B"), state, [])
    setup = q.site_setup(state)
    staff = q.counters(state, staff=True)
    public = q.counters(state, staff=False)

    # a counter: staff read it whole on both sides, displays without officer or ids
    assert supervisor["counters"] == staff
    assert console["counter"] == next(c for c in staff if c["counter"] == "L2")
    assert display["counters"] == public
    assert zoned["counters"] == q.counters(state, staff=False, zone="B")
    for part, whole in zip(public, staff, strict=True):
        narrower(part, whole)
    for configured, counter in zip(setup["counters"], public, strict=True):
        narrower(configured, counter)

    # a ticket: the same object in a counter's hand, in the lists and over HTTP
    tickets = [t for t in q.todays_tickets(state) if t["state"] not in FINAL]
    assert supervisor["tickets"] == tickets
    by_id = {t["ticket"]: t for t in tickets}
    serving = staff[0]["ticket"]
    assert serving == by_id[serving["ticket"]] and serving["priority"] == "lansia"
    assert console["held"] == [t for t in tickets if t["state"] == "held"]
    assert console["waiting"]
    for t in console["waiting"]:
        narrower(t, by_id[t["ticket"]])
        assert set(by_id[t["ticket"]]) - set(t) == {"officer"}
    narrower(public[0]["ticket"], serving)
    assert not {"ticket", "priority", "officer"} & set(public[0]["ticket"])

    # a service and a site
    for view in (supervisor, console, display, zoned):
        assert view["services"] == setup["services"]
        narrower(view["site"], setup["site"])
    assert supervisor["site"] == setup["site"]


def _live(queues: list[Json]) -> list[Json]:
    """Queues as the stream carries them: the HTTP objects without their statistics."""
    return [{f: v[f] for f in shapes.QUEUE_LIVE} for v in queues]


def test_a_queue_is_one_object_over_http_and_on_the_stream() -> None:
    state = _state()
    _apply(state, {"type": "transfer", "ticket": _waiting(state, "kk"), "to_counter": "L3"})
    staff = q.queues(state, NOW)
    public = q.queues(state, NOW, public=True)
    assert [v["queue"] for v in staff] == ["ktp", "kk", "@L3"]
    assert [v["queue"] for v in public] == ["ktp", "kk"]
    for part, whole in zip(public, staff, strict=False):
        assert part == whole
    for view in _live(staff):
        narrower(view, next(v for v in staff if v["queue"] == view["queue"]))

    supervisor = aud.view(Audience(Kind.SUPERVISOR), state, [])
    assert supervisor["queues"] == _live(staff)
    assert aud.view(Audience(Kind.DISPLAY), state, [])["queues"] == _live(public)
    assert aud.view(Audience(Kind.DISPLAY, zone="A"), state, [])["queues"] == _live(public)
    l3 = aud.view(Audience(Kind.CONSOLE, counter="L3"), state, [])
    assert l3["queues"] == _live([v for v in staff if v["queue"] in ("kk", "@L3")])


def test_the_streams_queue_deltas_keep_the_snapshots_queues_equal_to_http() -> None:
    """A client folding each event's `queues` into its snapshot's holds, queue by queue,
    the objects a fresh snapshot and `GET …/queues` give (an emptied counter's queue
    stays with 0 waiting, where a fresh answer leaves it out)."""
    for audience in (
        Audience(Kind.SUPERVISOR),
        Audience(Kind.DISPLAY),
        Audience(Kind.CONSOLE, counter="L3"),
    ):
        state = _state()
        served = aud.served_by(state, audience.counter)
        folded = {v["queue"]: v for v in aud.view(audience, state, [])["queues"]}
        steps: list[Json] = [
            {"type": "issue_ticket", "service": "kk", "token": "T1"},
            {"type": "transfer", "ticket": _waiting(state, "kk"), "to_counter": "L3"},
            {"type": "issue_ticket", "service": "ktp", "token": "T2", "priority": "lansia"},
            {"type": "open_counter", "counter": "L3", "officer": "andi"},
            {"type": "call_next", "counter": "L3"},
            {"type": "complete", "counter": "L1"},
        ]
        for command in steps:
            before = queue_counts(state)
            for ev in _apply(state, command):
                changed = changed_counts(before, queue_counts(state))
                message = aud.event_message(1, audience, ev, facts(ev, state, changed), served)
                for v in message.get("queues", []):
                    folded[v["queue"]] = {**folded.get(v["queue"], {}), **v}
            http = q.queues(state, NOW, public=audience.kind is Kind.DISPLAY)
            fresh = aud.view(audience, state, [])["queues"]
            assert fresh == [v for v in _live(http) if facts_sees(audience, v["queue"], served)]
            kept = [v for v in folded.values() if v["waiting"] or not v["queue"].startswith("@")]
            assert kept == fresh, command


def _apply(state: HallState, command: Json) -> list[Json]:
    events = decide(state, parse_command(command), NOW)
    for ev in events:
        evolve(state, ev)
    return [event_to_dict(ev) for ev in events]


def _waiting(state: HallState, service: str) -> str:
    return next(iter(state.queues[service]))


def test_a_new_ticket_is_answered_in_the_tickets_shape_even_once_its_day_is_gone() -> None:
    state = _state()
    events = decide(
        state, parse_command({"type": "issue_ticket", "service": "kk", "token": "X"}), NOW
    )
    for ev in events:
        evolve(state, ev)
    issued = event_to_dict(events[-1])
    now = shapes.issued(state, issued)
    assert now == {k: v for k, v in q.todays_tickets(state)[-1].items() if k != "officer"}
    gone = shapes.issued(HallState(), issued)  # a repeated request, its day since dropped
    assert gone == now and "X" not in str(gone)


# --- end to end: a live server's answers and its stream ----------------------------------------


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    with live_hall(tmp_path_factory.mktemp("shapes"), **STREAM) as h:
        yield h


def _snapshot(hall: LiveHall, who: str, audience: str, **hello: Any) -> Json:
    async def read() -> Json:
        client = hall.client(who, audience)
        try:
            welcome = await client.connect(**hello)
            assert welcome["resume"] == "snapshot"
            snapshot = await client.recv()
            return dict(snapshot)
        finally:
            await client.abort()

    return asyncio.run(read())


def test_http_answers_and_stream_snapshots_show_one_shape(hall: LiveHall) -> None:
    issued = hall.issue("ktp", priority="lansia")
    hall.issue("ktp")
    called = hall.press("officer", "L1", "call-next")  # budi at L1
    display = Api(hall.server.url, token=hall.tokens["display"])
    admin = hall.who["admin"]
    site = admin.ok("GET", f"/api/v1/sites/{SITE}")
    staff = admin.ok("GET", f"/api/v1/sites/{SITE}/counters")
    public = display.ok("GET", f"/api/v1/sites/{SITE}/counters")
    tickets = admin.ok("GET", f"/api/v1/sites/{SITE}/tickets")
    queues = admin.ok("GET", f"/api/v1/sites/{SITE}/queues")
    public_queues = display.ok("GET", f"/api/v1/sites/{SITE}/queues")
    version = site["version"]
    assert staff["version"] == public["version"] == tickets["version"] == version
    assert queues["version"] == public_queues["version"] == version

    views = {
        "supervisor": _snapshot(hall, "admin", "supervisor"),
        "console": _snapshot(hall, "officer", "console", counter="L1"),
        "display": _snapshot(hall, "display", "display"),
    }
    assert {v["version"] for v in views.values()} == {version}  # nothing moved in between
    supervisor, console, shown = (v["view"] for v in views.values())

    assert supervisor["counters"] == staff["counters"]
    assert shown["counters"] == public["counters"]
    l1 = next(c for c in staff["counters"] if c["counter"] == "L1")
    assert console["counter"] == l1 == called["counter"]  # a command's answer too
    assert l1["ticket"]["ticket"] == issued["ticket"] and l1["ticket"]["priority"] == "lansia"
    for part, whole in zip(public["counters"], staff["counters"], strict=True):
        narrower(part, whole)

    unfinished = [t for t in tickets["tickets"] if t["state"] not in FINAL]
    assert supervisor["tickets"] == unfinished
    assert l1["ticket"] in unfinished
    for t in console["waiting"]:
        narrower(t, next(u for u in unfinished if u["ticket"] == t["ticket"]))
    assert set(issued) - LINKS == set(l1["ticket"]) - {"officer"}

    assert supervisor["queues"] == _live(queues["queues"])
    assert shown["queues"] == _live(public_queues["queues"])
    ktp = next(v for v in queues["queues"] if v["queue"] == "ktp")
    assert ktp["waiting"] == 1 and console["queues"][0] == _live([ktp])[0]

    for view in (supervisor, console, shown):
        assert view["services"] == site["services"]
        narrower(view["site"], site["site"])
    assert supervisor["site"] == site["site"]
