"""Business days and opening hours in the site's own timezone (pure: no clock read)."""

from __future__ import annotations

import functools
import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qms.core.model import HHMM_PATTERN, OpeningHours

_HHMM = re.compile(HHMM_PATTERN)


@functools.cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def valid_timezone(name: str) -> bool:
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def local_time(now: float, tz: str) -> datetime:
    return datetime.fromtimestamp(now, zone(tz))


def business_day(now: float, tz: str) -> str:
    """The site-local date: numbering restarts when it changes."""
    return local_time(now, tz).date().isoformat()


def valid_hours(hours: OpeningHours) -> bool:
    return (
        bool(_HHMM.fullmatch(hours.open))
        and bool(_HHMM.fullmatch(hours.close))
        and hours.open < hours.close
        and all(0 <= d <= 6 for d in hours.weekdays)
    )


def is_open(hours: OpeningHours, now: float, tz: str) -> bool:
    t = local_time(now, tz)
    hhmm = f"{t.hour:02d}:{t.minute:02d}"
    return t.weekday() in hours.weekdays and hours.open <= hhmm < hours.close
