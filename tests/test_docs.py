"""The docs stay true: every event type is documented with each of its fields."""

import dataclasses
import re
from pathlib import Path

import pytest

from qms.core.events import EVENT_TYPES, Event

DOCS = Path(__file__).resolve().parent.parent / "docs"
COMMON = {f.name for f in dataclasses.fields(Event)}


def _sections() -> dict[str, str]:
    text = (DOCS / "events.md").read_text()
    parts = re.split(r"^### (\w+)\s*$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_is_documented(event_type: str) -> None:
    sections = _sections()
    assert event_type in sections, f"docs/events.md has no '### {event_type}' section"
    body = sections[event_type]
    shared = {"ticket", "counter", "officer"}  # documented once for all ticket events
    for f in dataclasses.fields(EVENT_TYPES[event_type]):
        if f.name in COMMON or f.name in shared:
            continue
        assert f"`{f.name}`" in body, f"docs/events.md: {event_type} does not explain `{f.name}`"


def test_no_documented_event_is_gone() -> None:
    assert set(_sections()) <= set(EVENT_TYPES), "docs/events.md documents events that do not exist"
