"""The simulated hall (`qms demo --simulate`, `--terminal`): a share of the served
visitors answer the survey, on their completed ticket's token, through the engine;
the same seed gives the same answers (docs/survey.md "Demo answers")."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path
from typing import Any

from qms.core.calendar import zone
from qms.demo_hall import SITE, setup_commands
from qms.engine import SiteEngine
from qms.eventlog import open_log
from qms.simulate import ANSWER_SHARE, opening_time, run_day

MONDAY = datetime(2026, 11, 30, tzinfo=zone(SITE["timezone"]))


async def _simulate(path: Path, seed: int) -> list[dict[str, Any]]:
    log = open_log(f"sqlite:///{path}")
    try:
        engine = await SiteEngine(log, SITE["site"]).open()
        start = opening_time(MONDAY, SITE["timezone"])
        engine.clock = lambda: start - 3600
        for cmd in setup_commands():
            await engine.execute({**cmd, "by": "demo"})
        stats = await run_day(engine, start, 3.0, random.Random(seed))
        entries = [e for _, e in await log.read(SITE["site"], 0, 1_000_000)]
        assert stats.surveyed == sum(e["type"] == "survey_answered" for e in entries)
        return entries
    finally:
        await log.close()


async def test_served_visitors_answer_with_their_token(tmp_path: Path) -> None:
    entries = await _simulate(tmp_path / "a.db", 7)
    issued = {e["ticket"]: e["token"] for e in entries if e["type"] == "ticket_issued"}
    completed = {e["ticket"]: e["at"] for e in entries if e["type"] == "ticket_completed"}
    answers = [e for e in entries if e["type"] == "survey_answered"]
    assert len({a["ticket"] for a in answers}) == len(answers)  # once per visit
    for a in answers:  # a completed ticket's, after its completion, on the phone
        assert a["ticket"] in completed and a["at"] > completed[a["ticket"]]
        assert a["ticket"] in issued and not a.get("tablet") and not a.get("walk_up")
        assert len(a["response"]["scores"]) == 9
    share = len(answers) / len(completed)
    assert len(completed) > 50 and ANSWER_SHARE - 0.15 < share < ANSWER_SHARE + 0.1
    # the same seed, the same answers; another seed, others
    again = await _simulate(tmp_path / "b.db", 7)
    same = [(e["ticket"], e["response"]) for e in again if e["type"] == "survey_answered"]
    assert same == [(a["ticket"], a["response"]) for a in answers]
    other = await _simulate(tmp_path / "c.db", 8)
    assert [e["response"] for e in other if e["type"] == "survey_answered"] != [
        a["response"] for a in answers
    ]
