"""What each audience of the live stream sees: pure projections, no server.

A scenario is decided and folded with the pure core, and each event's facts are
taken as the stream takes them (from the state right after the event). The
display's frames are then searched, as raw JSON, for anything personal.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from qms.core import HallState, decide, event_to_dict, evolve, parse_command
from qms.core.events import EVENT_TYPES
from qms.display.audience import call_record
from qms.server.stream import audience as aud
from qms.server.stream.facts import Audience, Facts, Kind, changed_counts, facts, queue_counts
from qms.server.stream.wire import Format, encode

NOW = datetime(2024, 3, 4, 9, 0, tzinfo=ZoneInfo("Asia/Jakarta")).timestamp()
OFFICERS = ("budi.santoso", "sari.dewi")
DEVICE = "kiosk-lobby-7"

DISPLAY = Audience(Kind.DISPLAY)
DISPLAY_A = Audience(Kind.DISPLAY, zone="A")
DISPLAY_B = Audience(Kind.DISPLAY, zone="B")
CONSOLE_L1 = Audience(Kind.CONSOLE, counter="L1")
CONSOLE_L3 = Audience(Kind.CONSOLE, counter="L3")
SUPERVISOR = Audience(Kind.SUPERVISOR)


class Recorder:
    """The core plus what the stream's feed keeps: (version, event, facts) per event."""

    def __init__(self) -> None:
        self.state = HallState()
        self.entries: list[tuple[int, dict[str, Any], Facts]] = []
        self.counts: dict[str, int] = {}
        self.calls: list[dict[str, Any]] = []

    def do(self, kind: str, **fields: Any) -> list[dict[str, Any]]:
        command = parse_command({"type": kind, **fields})
        out = []
        for event in decide(self.state, command, NOW + len(self.entries)):
            evolve(self.state, event)
            data = event_to_dict(event)
            counts = queue_counts(self.state)
            f = facts(data, self.state, changed_counts(self.counts, counts))
            self.counts = counts
            version = len(self.entries) + 1
            self.entries.append((version, data, f))
            call = call_record(version, data, f)
            if call is not None:
                self.calls.append(call)
            out.append(data)
        return out

    def messages(self, audience: Audience) -> list[dict[str, Any]]:
        return [
            aud.event_message(v, audience, e, f, aud.served_by(self.state, audience.counter))
            for v, e, f in self.entries
        ]


@pytest.fixture
def recorder() -> Recorder:
    h = Recorder()
    h.do("set_up_site", site="s1", name="MPP Uji")
    h.do("set_up_agency", agency="dukcapil", name="Disdukcapil")
    h.do("set_up_agency", agency="samsat", name="Samsat")
    for service, agency, prefix in (("ktp", "dukcapil", "A"), ("kk", "dukcapil", "B")):
        h.do(
            "set_up_service",
            service=service,
            agency=agency,
            prefix=prefix,
            name_id=service.upper(),
            name_en=service,
        )
    h.do("set_up_service", service="pkb", agency="samsat", prefix="F", name_id="PKB", name_en="Tax")
    h.do("set_up_counter", counter="L1", name="Loket 1", zone="A", services=["ktp", "kk"])
    h.do("set_up_counter", counter="L2", name="Loket 2", zone="A", services=["ktp"])
    h.do("set_up_counter", counter="L3", name="Loket 3", zone="B", services=["pkb"])
    h.do("open_counter", counter="L1", officer=OFFICERS[0], by=OFFICERS[0])
    h.do("open_counter", counter="L3", officer=OFFICERS[1], by=OFFICERS[1])
    return h


def run_day(h: Recorder) -> dict[str, str]:
    """A morning with every kind of ticket step; the tickets' tokens by number."""
    tokens: dict[str, str] = {}
    plan = [("ktp", "lansia"), ("ktp", "regular"), ("kk", "ibu_hamil"), ("pkb", "disabilitas")]
    for i, (service, priority) in enumerate(plan):
        (issued,) = h.do(
            "issue_ticket",
            service=service,
            priority=priority,
            token=f"SECRET-TOKEN-{i}",
            by=DEVICE,
            command_id=f"cid-{i}",
        )
        tokens[issued["number"]] = issued["token"]
    h.do("call_next", counter="L1", by=OFFICERS[0], command_id="press-1")
    h.do("recall", counter="L1", by=OFFICERS[0])
    h.do("start_service", counter="L1", by=OFFICERS[0])
    h.do("complete", counter="L1", by=OFFICERS[0])
    h.do("call_next", counter="L3", by=OFFICERS[1])
    ticket = h.state.counters["L3"].ticket
    h.do("transfer", ticket=ticket, to_counter="L1", by=OFFICERS[1])
    h.do("call_next", counter="L1", by=OFFICERS[0])
    held = h.state.counters["L1"].ticket
    h.do("hold", ticket=held, by=OFFICERS[0])
    h.do("unhold", ticket=held, by=OFFICERS[0])
    h.do("broadcast", text="Selamat datang", by="supervisor.rina")
    h.do("broadcast", text="Zona A: loket 2 tutup", zone="A", by="supervisor.rina")
    h.do("broadcast", text="Zona B: istirahat", zone="B", by="supervisor.rina")
    h.do("pause_counter", counter="L3", by=OFFICERS[1])
    h.do("close_counter", counter="L3", by=OFFICERS[1])
    h.do("close_day", by="supervisor.rina")
    return tokens


PERSONAL_WORDS = (
    *OFFICERS,
    DEVICE,
    "supervisor.rina",
    "SECRET-TOKEN",
    "lansia",
    "ibu_hamil",
    "disabilitas",
    "cid-",
    "press-1",
)


@pytest.mark.parametrize("audience", [DISPLAY, DISPLAY_A, DISPLAY_B], ids=str)
@pytest.mark.parametrize("fmt", list(Format))
def test_display_frames_hold_nothing_personal(
    recorder: Recorder, audience: Audience, fmt: Format
) -> None:
    run_day(recorder)
    frames = [encode(m, fmt) for m in recorder.messages(audience)]
    frames.append(encode(aud.view(audience, recorder.state, recorder.calls), fmt))
    raw = "\n".join(f if isinstance(f, str) else f.decode("utf-8", "replace") for f in frames)
    for word in PERSONAL_WORDS:
        assert word not in raw, f"{word!r} reached a {audience} frame"
    for message in recorder.messages(audience):
        event = message.get("event") or {}
        assert not {"by", "officer", "token", "cid", "cn", "priority", "channel"} & set(event)


def test_every_version_gets_a_message_in_order(recorder: Recorder) -> None:
    run_day(recorder)
    for audience in (DISPLAY, DISPLAY_B, CONSOLE_L1, CONSOLE_L3, SUPERVISOR):
        versions = [m["version"] for m in recorder.messages(audience)]
        assert versions == list(range(1, len(recorder.entries) + 1))


def test_display_sees_calls_with_numbers_and_counts(recorder: Recorder) -> None:
    run_day(recorder)
    messages = recorder.messages(DISPLAY)
    calls = [m["event"] for m in messages if m.get("event", {}).get("type") == "ticket_called"]
    assert [(c["number"], c["counter"]) for c in calls] == [
        ("A001", "L1"),
        ("F001", "L3"),
        ("F001", "L1"),
    ]
    recall = next(
        m["event"] for m in messages if m.get("event", {}).get("type") == "ticket_recalled"
    )
    assert recall["number"] == "A001" and recall["recalls"] == 1
    issued = [m for m in messages if m.get("event", {}).get("type") == "ticket_issued"]
    assert [m["queues"] for m in issued] == [
        [{"queue": "ktp", "waiting": 1}],
        [{"queue": "ktp", "waiting": 2}],
        [{"queue": "kk", "waiting": 1}],
        [{"queue": "pkb", "waiting": 1}],
    ]
    opened = next(
        m["event"] for m in messages if m.get("event", {}).get("type") == "counter_opened"
    )
    assert opened == {"type": "counter_opened", "schema": 1, "at": opened["at"], "counter": "L1"}


def test_a_zone_display_sees_its_counters_and_running_text(recorder: Recorder) -> None:
    run_day(recorder)
    messages = recorder.messages(DISPLAY_B)
    events = [m["event"] for m in messages if "event" in m]
    counters = {e.get("counter") for e in events if e["type"] != "counter_configured"} - {None}
    assert counters == {"L3"}  # L1's calls reach zone B as waiting counts only
    texts = [e["text"] for e in events if e["type"] == "message_broadcast"]
    assert texts == ["Selamat datang", "Zona B: istirahat"]
    called_at_l1 = [m for m in messages if "event" not in m and "queues" in m]
    assert called_at_l1, "counts of another zone's calls still reach the display"
    unzoned = [m["event"] for m in recorder.messages(DISPLAY) if "event" in m]
    assert [e["text"] for e in unzoned if e["type"] == "message_broadcast"] == ["Selamat datang"]


def test_console_sees_its_counter_in_full_and_other_officers_never(recorder: Recorder) -> None:
    run_day(recorder)
    l1 = recorder.messages(CONSOLE_L1)
    raw = json.dumps(l1)
    assert OFFICERS[0] in raw  # its own officer, on its own counter's events
    assert OFFICERS[1] not in raw  # the officer at L3 stays hidden, even on the transfer
    assert "SECRET-TOKEN" not in raw
    issued = [m["event"] for m in l1 if m.get("event", {}).get("type") == "ticket_issued"]
    assert [(e["number"], e["priority"]) for e in issued] == [
        ("A001", "lansia"),
        ("A002", "regular"),
        ("B001", "ibu_hamil"),
    ]  # pkb is not served at L1
    transfer = next(m for m in l1 if m.get("event", {}).get("type") == "ticket_transferred")
    assert transfer["event"]["to_counter"] == "L1" and "by" not in transfer["event"]
    assert transfer["queues"] == [{"queue": "@L1", "waiting": 1}]
    l3_events = [m["event"] for m in recorder.messages(CONSOLE_L3) if "event" in m]
    assert not [e for e in l3_events if e["type"] == "counter_opened" and e["counter"] == "L1"]


def test_supervisor_sees_everyone_but_no_token(recorder: Recorder) -> None:
    run_day(recorder)
    raw = json.dumps(recorder.messages(SUPERVISOR))
    view = json.dumps(aud.view(SUPERVISOR, recorder.state, recorder.calls))
    for officer in OFFICERS:
        assert officer in raw
    assert "SECRET-TOKEN" not in raw + view


def test_unknown_event_types_reach_no_one() -> None:
    """An older process meeting a newer process's event type (a rolling upgrade) keeps
    it to itself: the type's row in AUDIENCES decides who may see it, and it has none."""
    event = {"type": "from_the_future", "schema": 1, "at": NOW, "secret": "x"}
    for audience in (DISPLAY, CONSOLE_L1, SUPERVISOR):
        assert aud.project(audience, event, Facts()) is None


def test_no_audience_sees_a_survey_answer() -> None:
    """Not even a supervisor: it names the ticket and the officer (docs/survey.md)."""
    event = {
        "type": "survey_answered",
        "schema": 1,
        "at": NOW,
        "ticket": "t1",
        "service": "ktp",
        "officer": "budi",
        "day": "2024-07-01",
        "response": {"scores": [1] * 9},
    }
    for audience in (DISPLAY, CONSOLE_L1, SUPERVISOR):
        assert aud.project(audience, event, Facts()) is None
    message = aud.event_message(7, SUPERVISOR, event, Facts())
    assert message == {"type": "event", "version": 7}  # the version goes on, empty


def test_views(recorder: Recorder) -> None:
    for i, (service, priority) in enumerate(
        [("ktp", "lansia"), ("kk", "regular"), ("pkb", "regular")]
    ):
        recorder.do(
            "issue_ticket", service=service, priority=priority, token=f"SECRET-{i}", by=DEVICE
        )
    recorder.do("call_next", counter="L1", by=OFFICERS[0])
    recorder.do("broadcast", text="Selamat datang")
    recorder.do("broadcast", text="B only", zone="B")
    display = aud.view(DISPLAY_A, recorder.state, recorder.calls)
    assert [c["counter"] for c in display["counters"]] == ["L1", "L2"]
    l1 = display["counters"][0]
    assert (l1["ticket"]["number"], l1["ticket"]["state"]) == ("A001", "called")
    assert "officer" not in l1 and "priority" not in l1["ticket"] and "ticket" not in l1["ticket"]
    assert display["queues"] == [  # every service's queue, in the shape events carry
        {"queue": "ktp", "waiting": 0},
        {"queue": "kk", "waiting": 1},
        {"queue": "pkb", "waiting": 1},
    ]
    assert display["messages"] == {"": "Selamat datang"}
    assert [(c["number"], c["counter"]) for c in display["calls"]] == [("A001", "L1")]
    assert aud.view(DISPLAY_B, recorder.state, recorder.calls)["calls"] == []
    console = aud.view(CONSOLE_L1, recorder.state, recorder.calls)
    assert console["counter"]["officer"] == OFFICERS[0]
    assert console["counter"]["ticket"]["priority"] == "lansia"
    assert [t["number"] for t in console["waiting"]] == ["B001"]
    assert console["queues"] == [{"queue": "ktp", "waiting": 0}, {"queue": "kk", "waiting": 1}]
    supervisor = aud.view(SUPERVISOR, recorder.state, recorder.calls)
    assert {c["counter"]: c["officer"] for c in supervisor["counters"]}["L3"] == OFFICERS[1]
    assert {t["number"] for t in supervisor["tickets"]} == {"A001", "B001", "F001"}
    assert supervisor["totals"] == {"called": 1, "waiting": 2}
    for snapshot in (display, console, supervisor):
        assert "SECRET" not in json.dumps(snapshot)
    raw = json.dumps(display)
    assert not [word for word in (*OFFICERS, "lansia", DEVICE) if word in raw]


def test_changed_counts() -> None:
    assert changed_counts({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 1}) == {"b": 3, "c": 1}
    assert changed_counts({"a": 1}, {}) == {"a": 0}


def test_audience_shapes() -> None:
    with pytest.raises(ValueError):
        Audience(Kind.CONSOLE)
    with pytest.raises(ValueError):
        Audience(Kind.SUPERVISOR, zone="A")
    assert Audience(Kind.DISPLAY, zone="A") == DISPLAY_A  # equal audiences share frames


def _documented_audiences() -> dict[str, tuple[str, str, str]]:
    text = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text()
    section = text.split("### Who sees which event", 1)[1].split("\n### ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = tuple("" if c == "—" else c for c in cells[1:])
    return rows  # type: ignore[return-value]


def test_every_event_type_is_classified_for_every_audience() -> None:
    """A new event type of the core must be given a row, or it would silently reach no one
    (or, worse, someone); docs/protocol.md shows the same table."""
    assert set(aud.AUDIENCES) == set(EVENT_TYPES)
    documented = _documented_audiences()
    assert documented == {t: (r.display, r.console, r.supervisor) for t, r in aud.AUDIENCES.items()}


@pytest.mark.parametrize("kind", sorted(EVENT_TYPES))
def test_the_table_decides_who_is_given_each_event(kind: str) -> None:
    """Each audience is given an event of each type exactly when its row says so (an
    event at the console's own counter, in the display's zone)."""
    event = {
        "type": kind,
        "schema": 1,
        "at": NOW,
        "counter": "L1",
        "ticket": "t1",
        "service": "ktp",
        "zone": "",
        "by": "budi",
    }
    f = Facts(number="A001", service="ktp", zone="")
    rule = aud.AUDIENCES[kind]
    given = {
        "display": aud.project(DISPLAY, event, f) is not None,
        "console": aud.project(CONSOLE_L1, event, f, frozenset({"ktp"})) is not None,
        "supervisor": aud.project(SUPERVISOR, event, f) is not None,
    }
    assert given == {
        "display": bool(rule.display),
        "console": bool(rule.console),
        "supervisor": bool(rule.supervisor),
    }
