"""Beijing time, once: the zone, today, the end of a day, calendar months, and parsing.

Times are stored timezone-aware (UTC in the database); people read them in Beijing time,
and the rules that count days (deadlines, months of a statistic, ``at=`` dates) count
them in Beijing too: 01:00 on 1 March in Foshan is still February in UTC. Every module
that needs the zone or one of these rules imports it from here.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pandas as pd

from geo.errors import GeoError

BEIJING_TZ_NAME = "Asia/Shanghai"
BEIJING = ZoneInfo(BEIJING_TZ_NAME)


class InvalidTime(GeoError):
    """A date or time a person typed that is not ISO 8601."""

    code = "bad_parameter"


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def beijing_today(now: datetime.datetime | None = None) -> datetime.date:
    return (now or utcnow()).astimezone(BEIJING).date()


def to_beijing(value: datetime.datetime) -> datetime.datetime:
    """An aware time in Beijing time; a naive one is taken as Beijing time already."""
    return value.replace(tzinfo=BEIJING) if value.tzinfo is None else value.astimezone(BEIJING)


def end_of_day(day: datetime.date) -> datetime.datetime:
    """The last instant of a Beijing calendar day."""
    return datetime.datetime.combine(day, datetime.time.max, BEIJING)


def start_of_day(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, BEIJING)


def parse_when(text: str, *, name: str = "at") -> datetime.datetime:
    """A date or date-time a person gave: a date means the end of that day in Beijing time;
    a time without a zone is Beijing time."""
    text = text.strip()
    try:
        if len(text) == 10:
            return end_of_day(datetime.date.fromisoformat(text))
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidTime(
            f"{name}={text!r} is not an ISO date or date-time (e.g. 2025-06-30 or 2025-06-30T09:00+08:00)"
        ) from exc
    return to_beijing(when) if when.tzinfo is None else when


def parse_since(text: str, *, name: str = "since") -> datetime.datetime:
    """The start of a range: a bare date means the start of that day (not its end)."""
    when = parse_when(text, name=name)
    return start_of_day(when.date()) if len(text.strip()) == 10 else when


def months_of(times: pd.Series) -> pd.Series:
    """Calendar months (``YYYY-MM``) in Beijing time of aware timestamps."""
    return times.dt.tz_convert(BEIJING_TZ_NAME).dt.strftime("%Y-%m")
