"""Report periods in a site's calendar, the period before, and bad periods, cuts and filters
refused with a stable code."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from reports_hall import local

from qms.reports.errors import CODES, ReportError
from qms.reports.period import Period, between, named
from qms.reports.query import Filters, Reports, Scope, scope

# Wednesday 2025-05-14, 10:00 in Jakarta.
NOW = local("2025-05-14", "10:00")


def span(p: Period) -> tuple[str, str, str]:
    return p.first.isoformat(), p.last.isoformat(), p.kind


@pytest.mark.parametrize(
    ("name", "want", "before"),
    [
        ("today", ("2025-05-14", "2025-05-14", "day"), ("2025-05-13", "2025-05-13")),
        ("yesterday", ("2025-05-13", "2025-05-13", "day"), ("2025-05-12", "2025-05-12")),
        ("this_week", ("2025-05-12", "2025-05-14", "week"), ("2025-05-05", "2025-05-07")),
        ("last_week", ("2025-05-05", "2025-05-11", "week"), ("2025-04-28", "2025-05-04")),
        # To date: compared with the same days of the month before.
        ("this_month", ("2025-05-01", "2025-05-14", "month"), ("2025-04-01", "2025-04-14")),
        # A whole month: compared with the whole month before (30 days against 31).
        ("last_month", ("2025-04-01", "2025-04-30", "month"), ("2025-03-01", "2025-03-31")),
        ("this_quarter", ("2025-04-01", "2025-05-14", "quarter"), ("2025-01-01", "2025-02-14")),
        ("last_quarter", ("2025-01-01", "2025-03-31", "quarter"), ("2024-10-01", "2024-12-31")),
        ("this_year", ("2025-01-01", "2025-05-14", "year"), ("2024-01-01", "2024-05-14")),
        ("last_year", ("2024-01-01", "2024-12-31", "year"), ("2023-01-01", "2023-12-31")),
    ],
)
def test_named_periods_and_the_period_before(
    name: str, want: tuple[str, str, str], before: tuple[str, str]
) -> None:
    period = named(name, NOW, "Asia/Jakarta")
    assert span(period) == want
    assert span(period.previous())[:2] == before


def test_the_period_before_a_whole_short_month_is_the_whole_month_before() -> None:
    february = Period(date(2024, 2, 1), date(2024, 2, 29), "month")
    assert span(february.previous()) == ("2024-01-01", "2024-01-31", "month")
    march_to_31 = Period(date(2024, 3, 1), date(2024, 3, 31), "month")
    assert span(march_to_31.previous())[:2] == ("2024-02-01", "2024-02-29")
    leap_day = Period(date(2024, 1, 1), date(2024, 2, 29), "year")
    assert span(leap_day.previous())[:2] == ("2023-01-01", "2023-02-28")


def test_a_range_is_compared_with_as_many_days_before() -> None:
    period = between("2025-03-10", "2025-03-16")
    assert period.days == 7
    assert span(period.previous()) == ("2025-03-03", "2025-03-09", "range")


def test_today_is_each_timezone_own() -> None:
    late = local("2025-05-14", "23:30")  # Jakarta
    assert named("today", late, "Asia/Jakarta").first == date(2025, 5, 14)
    assert named("today", late, "Asia/Makassar").first == date(2025, 5, 15)
    assert named("today", late, "Asia/Jayapura").first == date(2025, 5, 15)


def refused(code: str, call: Any, *args: Any, **kw: Any) -> ReportError:
    assert code in CODES
    with pytest.raises(ReportError) as err:
        call(*args, **kw)
    assert err.value.code == code
    assert set(err.value.to_dict()) == {"code", "message", "details"}  # the API wraps it
    return err.value


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("2025-05-14", "2025-05-01"),  # backwards
        ("2025-02-30", "2025-03-01"),  # no such date
        ("20250101", "2025-01-02"),  # not YYYY-MM-DD
        ("2000-01-01", "2025-01-01"),  # over ten years
        (None, "2025-01-01"),
        ("x" * 1000, "2025-01-01"),
        ("0001-01-01", "0001-01-02"),  # the period before would be before year 1
        ("9999-12-30", "9999-12-31"),
    ],
)
def test_bad_ranges_are_refused(first: Any, last: Any) -> None:
    refused("invalid_period", between, first, last)


def test_bad_names_filters_cuts_and_sites_are_refused(tmp_path: Path) -> None:
    refused("unknown_period", named, "next_century", NOW, "Asia/Jakarta")
    refused("invalid_period", named, "today", NOW, "Mars/Olympus")
    refused("invalid_filter", Filters.parse, {"colour": ["red"]})
    refused("invalid_filter", Filters.parse, {"channel": ["fax"]})
    refused("invalid_filter", Filters.parse, {"priority": ["vip"]})
    refused("invalid_filter", Filters.parse, {"service": [1, 2]})
    refused("invalid_filter", Filters.parse, {"service": ["a"] * 201})
    refused("invalid_filter", Filters.parse, {"service": {"nested": "map"}})
    refused("invalid_site", Scope, {})
    refused("invalid_site", scope, {"no such/site": "Asia/Jakarta"}, "today", NOW)
    reports = Reports(tmp_path)
    today = scope({"mpp": "Asia/Jakarta"}, "today", NOW)
    refused("invalid_dimension", reports.breakdown, today, "colour")
    refused("invalid_dimension", reports.staff, today, "agency")
    refused("invalid_interval", reports.staff, today, "counter", NOW, 45)
    assert Filters.parse({"service": "ktp", "channel": ["online", "kiosk"]}).to_dict() == {
        "service": ["ktp"],
        "channel": ["kiosk", "online"],
    }


def test_a_site_without_files_reports_zeros(tmp_path: Path) -> None:
    reports = Reports(tmp_path)
    today = scope({"mpp": "Asia/Jakarta"}, "this_month", NOW)
    result = reports.summary(today, NOW)
    assert result["measures"]["visits"] == 0
    assert result["scope"]["sites"]["mpp"]["first"] == "2025-05-01"
    assert result["previous"]["scope"]["sites"]["mpp"]["last"] == "2025-04-14"
    assert result["change"]["visits"] == 0 and result["change"]["rates"]["served"] is None
