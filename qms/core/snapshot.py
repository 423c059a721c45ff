"""The hall's state as plain data and back, for snapshots in the event log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qms.core._schema import from_dict, to_dict
from qms.core.evolve import rebuild_queues
from qms.core.model import HallState

# Raised when the state's shape changes; an older snapshot is then ignored and
# the state rebuilt from the log (snapshots are a cache, the log is the truth).
SNAPSHOT_SCHEMA = 1


def state_to_dict(state: HallState) -> dict[str, Any]:
    data: dict[str, Any] = to_dict(state)
    del data["queues"], data["lines"]  # derived
    data["snapshot_schema"] = SNAPSHOT_SCHEMA
    return data


def state_from_dict(data: Mapping[str, Any]) -> HallState | None:
    """The state, or None when the snapshot is of another shape."""
    if data.get("snapshot_schema") != SNAPSHOT_SCHEMA:
        return None
    fields = {k: v for k, v in data.items() if k != "snapshot_schema"}
    state = from_dict(HallState, fields, strict=False)
    rebuild_queues(state)
    return state
