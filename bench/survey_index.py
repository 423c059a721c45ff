"""The satisfaction index (IKM) of a year of a busy hall, against the same figures in SQL.

A year of the demo hall's survey: `--responses` answers (default 100,000, about 400
per working day of 2026), each with its service, agency, counter, officer, channel,
profile (each field answered by 80 %) and nine scores; 2 % are walk-up answers. The
same rows go into qms's `SurveyBook` (folded from `survey_answered` events, as the
server does from the log) and into a table in PostgreSQL and in DuckDB.

Timed, each `--repeat` times in one process: the first run (for qms, a cut's first
request computes the days' tallies of that cut), then the median, min and max of the
others, in ms:

- **public page**: what `GET /survey/{hall}` computes (`api_survey.published`): the
  year's index, the visit / walk-up sources and each quarter's result, all-time;
- **staff results**: `GET /sites/{site}/survey/results` (`api_survey.results`), without
  a cut and cut by service, officer, age group (`usia`) and month;
- **export sheet**: the XLSX's calculation sheet (`export.calculation` of the period's
  tally): the figures the export adds to its rows;
- **public page, first request after a fold**: nothing computed yet, once per fold
  (`--folds`; its "first" is the first fold's).

The peers run the same aggregates as SQL, one statement per figure set (GROUPING
SETS for the index and its groups), with the published figures computed exactly in
integers (round half-up of 2500·sum/(9·n) in hundredths: `(5000·S + 9n) / (18n)`),
and each check compares their converted IKM and element figures with qms's. Group
suppression (groups under 5) is done by qms only; it is a few comparisons.
PostgreSQL is reached at 127.0.0.1:5432 like bench/peer_postgres.py (asyncpg, one
connection, the table indexed by day, analysed); DuckDB in-process, in memory.

    .venv/bin/python bench/survey_index.py
    .venv/bin/python bench/survey_index.py --responses 10000 --repeat 5 --skip-postgres

The PostgreSQL table gets a unique name in database `test` and is dropped in finally.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PG_DSN, load_average, md_table, print_machine, unique

from qms.demo_hall import COUNTERS, SERVICES
from qms.survey.export import calculation
from qms.survey.index import Tally, compute
from qms.survey.instrument import PROFILE
from qms.survey.records import SurveyBook
from qms.survey.routes import published, results

YEAR = 2026
FIRST, LAST = date(YEAR, 1, 1), date(YEAR, 12, 31)
WALK_UP_SHARE = 0.02
ELEMENT_MEANS = (3.3, 3.2, 2.9, 3.8, 3.3, 3.4, 3.4, 3.0, 3.0)
CUTS = (None, "service", "officer", "usia", "month")
COLUMNS = (  # the table's columns before u1-u9
    "day",
    "service",
    "agency",
    "counter",
    "officer",
    "channel",
    "jenis_kelamin",
    "usia",
    "pendidikan",
    "pekerjaan",
    "source",
)


def working_days() -> list[date]:
    days = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
    return [d for d in days if d.weekday() < 5]


def make_events(n: int, seed: int = 1) -> list[dict[str, Any]]:
    """`n` `survey_answered` events over the working days of the year, in day order."""
    rng = random.Random(seed)
    days = working_days()
    counters_of = {s[0]: [c[0] for c in COUNTERS if s[0] in c[3]] or ["L10"] for s in SERVICES}
    out = []
    for i in range(n):
        day = days[i * len(days) // n]
        sid, agency = rng.choice(SERVICES)[:2]
        profile = {p.key: rng.choice(p.codes()) for p in PROFILE if rng.random() < 0.8}
        scores = [min(4, max(1, round(rng.gauss(m, 0.6)))) for m in ELEMENT_MEANS]
        event: dict[str, Any] = {
            "type": "survey_answered",
            "service": sid,
            "agency": agency,
            "day": day.isoformat(),
            "response": {"instrument": 1, "scores": scores, "profile": profile},
        }
        if rng.random() < WALK_UP_SHARE:
            event.update(ticket="", counter=None, officer=None, channel=None, walk_up=True)
        else:
            counter = rng.choice(counters_of[sid])
            channel = "kiosk" if rng.random() < 0.85 else "online"
            event.update(
                ticket=f"t{i}", counter=counter, officer=f"petugas-{counter}", channel=channel
            )
        out.append(event)
    return out


def row_of(event: dict[str, Any]) -> tuple[Any, ...]:
    profile = event["response"]["profile"]
    walk_up = bool(event.get("walk_up"))
    return (
        date.fromisoformat(event["day"]),
        event["service"],
        event["agency"],
        event["counter"],
        event["officer"],
        "walk_up" if walk_up else event["channel"],
        *(profile.get(p.key) for p in PROFILE),
        "walk_up" if walk_up else "visit",
        *event["response"]["scores"],
    )


def fold(events: list[dict[str, Any]]) -> SurveyBook:
    book = SurveyBook()
    for version, event in enumerate(events, 1):
        book.apply(version, event)
    return book


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    out, value = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out, value


def stats(ms: list[float]) -> tuple[float, float, float, float]:
    """The first run (a cut's first request computes the days' tallies of that cut), then
    the median, min and max of the others."""
    rest = ms[1:] or ms
    return ms[0], statistics.median(rest), min(rest), max(rest)


# --- SQL (the same text for PostgreSQL and DuckDB; `//` or `/` for integer division) ---

_SUMS = ", ".join(f"sum(u{i})" for i in range(1, 10))


def sql_index(table: str, by: str | None, div: str, month: str) -> str:
    """Respondents, the nine sums, each element's and the IKM's published (x25, hundredths)
    figure, for the period ($1-$2), its visit/walk-up sources and `by`'s groups."""
    elements = ", ".join(
        f"(5000 * sum(u{i}) + count(*)) {div} (2 * count(*))" for i in range(1, 10)
    )
    total = " + ".join(f"sum(u{i})" for i in range(1, 10))
    key = month if by == "month" else by
    cols = ["source", *([key] if key else [])]
    sets = ", ".join(["()", *(f"({c})" for c in cols)])
    return (
        f"SELECT grouping({', '.join(cols)}), {', '.join(cols)}, count(*), {_SUMS}, {elements},"
        f" (5000 * ({total}) + 9 * count(*)) {div} (18 * count(*))"
        f" FROM {table} WHERE day BETWEEN $1 AND $2"
        f" GROUP BY GROUPING SETS ({sets})"
    )


def sql_history(table: str, div: str, quarter: str) -> str:
    total = " + ".join(f"sum(u{i})" for i in range(1, 10))
    return (
        f"SELECT {quarter} AS q, count(*), {_SUMS},"
        f" (5000 * ({total}) + 9 * count(*)) {div} (18 * count(*))"
        f" FROM {table} GROUP BY q ORDER BY q"
    )


def qms_figures(book: SurveyBook) -> tuple[str, list[str]]:
    index = results(book, FIRST, LAST, None)["index"]
    return index["converted"], [e["converted"] for e in index["elements"]]


def peer_figures(rows: list[tuple[Any, ...]]) -> tuple[str, list[str]]:
    """The period's row (grouping() of every column set) as published figures."""
    width = max(r[0] for r in rows).bit_length()
    total = next(r for r in rows if r[0] == (1 << width) - 1)
    first = 1 + width + 1 + 9  # grouping, the columns, count, the sums
    hundredths = [int(v) for v in total[first : first + 10]]
    as_text = [f"{h // 100}.{h % 100:02d}" for h in hundredths]
    return as_text[-1], as_text[:-1]


def measure_qms(events: list[dict[str, Any]], repeat: int, folds: int) -> list[list[Any]]:
    rows: list[list[Any]] = []
    fold_ms, first_ms = [], []
    book = SurveyBook()
    for _ in range(folds):
        gc.collect()
        t0 = time.perf_counter()
        book = fold(events)
        fold_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        published(book, FIRST, LAST)
        first_ms.append((time.perf_counter() - t0) * 1000)
    rows.append(["fold of the events (SurveyBook.apply)", *stats(fold_ms), folds])
    rows.append(["public page, first request after a fold", *stats(first_ms), folds])
    ms, _ = timed(lambda: published(book, FIRST, LAST), repeat)
    rows.append(["public page (year, sources, quarters)", *stats(ms), repeat])
    for by in CUTS:
        ms, _ = timed(lambda by=by: results(book, FIRST, LAST, by), repeat)
        rows.append([f"staff results, cut {by or '-'}", *stats(ms), repeat])

    def sheet() -> Any:
        tally = Tally.of(r.scores for r in book.between(FIRST, LAST))
        return calculation(compute(tally), tally)

    ms, _ = timed(sheet, repeat)
    rows.append(["export: calculation sheet of the year", *stats(ms), repeat])
    return rows


def measure_duckdb(data: list[tuple[Any, ...]], repeat: int, expect: Any) -> list[list[Any]]:
    import duckdb

    con = duckdb.connect()
    try:
        cols = ", ".join(
            ["day DATE", *(f"{c} VARCHAR" for c in COLUMNS[1:])]
            + [f"u{i} TINYINT" for i in range(1, 10)]
        )
        con.execute(f"CREATE TABLE skm ({cols})")
        marks = ", ".join("?" * (len(COLUMNS) + 9))
        con.executemany(f"INSERT INTO skm VALUES ({marks})", data)
        month, quarter = "strftime(day, '%Y-%m')", "year(day) || '-Q' || quarter(day)"
        out = []

        def run(sql: str, args: list[Any]) -> list[tuple[Any, ...]]:
            return con.execute(sql, args).fetchall()

        def public() -> list[Any]:
            return [
                run(sql_index("skm", None, "//", month), [FIRST, LAST]),
                run(sql_history("skm", "//", quarter), []),
            ]

        ms, value = timed(public, repeat)
        check = "ok" if peer_figures(value[0]) == expect else f"differs: {value[0]}"
        out.append(["public page (year, sources, quarters)", *stats(ms), repeat, check])
        for by in CUTS:
            sql = sql_index("skm", by, "//", month)
            ms, value = timed(lambda sql=sql: run(sql, [FIRST, LAST]), repeat)
            check = "ok" if peer_figures(value) == expect else "differs"
            out.append([f"staff results, cut {by or '-'}", *stats(ms), repeat, check])
        return out
    finally:
        con.close()


async def measure_postgres(
    data: list[tuple[Any, ...]], repeat: int, expect: Any
) -> list[list[Any]]:
    import asyncpg

    table = unique("skm").replace("-", "_")
    con = await asyncpg.connect(PG_DSN)
    try:
        cols = ", ".join(
            ["day date", *(f"{c} text" for c in COLUMNS[1:])]
            + [f"u{i} smallint" for i in range(1, 10)]
        )
        await con.execute(f"CREATE TABLE {table} ({cols})")
        await con.copy_records_to_table(table, records=data)
        await con.execute(f"CREATE INDEX ON {table} (day)")
        await con.execute(f"VACUUM ANALYZE {table}")
        month = "to_char(day, 'YYYY-MM')"
        quarter = "to_char(day, 'YYYY') || '-Q' || to_char(day, 'Q')"
        out = []

        async def timed_async(fn: Callable[[], Any]) -> tuple[list[float], Any]:
            ms, value = [], None
            for _ in range(repeat):
                t0 = time.perf_counter()
                value = await fn()
                ms.append((time.perf_counter() - t0) * 1000)
            return ms, value

        index_sql = sql_index(table, None, "/", month)
        history_sql = sql_history(table, "/", quarter)

        async def public() -> list[Any]:
            return [
                await con.fetch(index_sql, FIRST, LAST),
                await con.fetch(history_sql),
            ]

        ms, value = await timed_async(public)
        rows = [tuple(r) for r in value[0]]
        check = "ok" if peer_figures(rows) == expect else f"differs: {rows}"
        out.append(["public page (year, sources, quarters)", *stats(ms), repeat, check])
        for by in CUTS:
            sql = sql_index(table, by, "/", month)
            ms, value = await timed_async(lambda sql=sql: con.fetch(sql, FIRST, LAST))
            ok = peer_figures([tuple(r) for r in value]) == expect
            out.append(
                [f"staff results, cut {by or '-'}", *stats(ms), repeat, "ok" if ok else "differs"]
            )
        return out
    finally:
        await con.execute(f"DROP TABLE IF EXISTS {table}")
        await con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--responses", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--skip-duckdb", action="store_true")
    args = ap.parse_args()
    print(f"## Survey index: {args.responses:,} responses, {YEAR}\n")
    print_machine()
    print(f"command: `{' '.join(sys.argv)}`  \nload average before: {load_average()}\n")
    events = make_events(args.responses)
    book = fold(events)
    expect = qms_figures(book)
    index = results(book, FIRST, LAST, None)["index"]
    print(
        f"the year's figures: {index['respondents']:,} respondents, IKM {index['converted']}"
        f" ({index['grade']['letter']}), lowest {', '.join(index['lowest'])}\n"
    )
    del book
    head = ["what", "first ms", "then: median ms", "min ms", "max ms", "runs"]
    print("### qms (qms.survey, pure Python)\n")
    print(md_table(head, measure_qms(events, args.repeat, args.folds)))
    data = [row_of(e) for e in events]
    if not args.skip_duckdb:
        print("\n### DuckDB, in memory, the same figures as SQL\n")
        print(md_table([*head, "check"], measure_duckdb(data, args.repeat, expect)))
    if not args.skip_postgres:
        print("\n### PostgreSQL over 127.0.0.1, the same figures as SQL\n")
        rows = asyncio.run(measure_postgres(data, args.repeat, expect))
        print(md_table([*head, "check"], rows))
    print(f"\nload average after: {load_average()}")


if __name__ == "__main__":
    main()
