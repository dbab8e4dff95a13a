"""Deadlines counted in Chinese working days (工作日), with holidays and make-up days (调休).

A dispatched complaint is due within N working days (限期办理). China moves working days
around every year: the State Council (国务院办公厅) publishes each November which days
of the next year are holidays and which weekend days are worked instead (调休上班). A
calendar that only knows Monday–Friday would give a department that receives a case on
30 September 2025 a deadline in the middle of the National Day holiday, and would
forget that Sunday 28 September 2025 was a working day.

Where the days come from, in order:

1. schedules loaded from files (``load_schedule``): one CSV per year, the official
   notice typed in by a clerk. They win over the library, so an erratum or a late
   change (such as the extra holiday of 2015) can be applied without a new release;
2. the ``chinese_calendar`` library, which ships the notices of 2004–2026;
3. with ``provisional=True`` (what the service runs on), a provisional year for any other
   year: the statutory holidays the ``holidays`` library computes (the lunar ones
   included), weekends off, and no make-up working days, which only the notice can tell.
   A deadline counted on such a year is marked provisional and recomputed once the notice
   is loaded (``services.cases``): a dispatch in mid-December must not wait for November's
   notice, and guessing Monday–Friday alone would be wrong by a week around Spring Festival;
4. otherwise nothing: a date in any other year raises ``UnknownCalendarYear``.

The deadline rule (``add_workdays``) follows how Chinese law counts periods (民法典
第二百零一条、第二百零三条): the day a period starts is not counted, counting begins
with the next day, and the last day ends at midnight. Here only working days are
counted, so a case dispatched at any time on day D with a limit of N working days is
due at 23:59:59 local time on the N-th working day after D. A dispatch on a weekend or
holiday is no different: the first working day after it is day 1.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from datetime import tzinfo
from pathlib import Path
from typing import Literal

import chinese_calendar

from complaints.errors import ComplaintsError
from complaints.errors import DataFileError
from complaints.tables import read_table
from geo.errors import RowError
from geo.timeutil import BEIJING

# One second short of midnight rather than midnight itself, so the due time still falls
# on the due day when shown to a person ("due 10月14日 23:59:59", not "10月15日 00:00").
END_OF_DAY = time(23, 59, 59)

DayKind = Literal["holiday", "workday"]

SCHEDULE_COLUMNS = ("date", "kind", "name")

# Clerks type the notice in Chinese; accepting its own words avoids a round of errors.
_KIND_ALIASES: Mapping[str, DayKind] = {
    "holiday": "holiday",
    "放假": "holiday",
    "休": "holiday",
    "休息": "holiday",
    "workday": "workday",
    "上班": "workday",
    "班": "workday",
    "补班": "workday",
    "调休上班": "workday",
}

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class UnknownCalendarYear(ComplaintsError):
    """A date in a year whose holiday schedule nobody has loaded: refused, never guessed."""

    code = "unknown_calendar_year"

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(
            f"no working-day calendar for {year}: load the State Council holiday schedule with "
            f"`redgrid calendar load FILE` (a CSV with columns date, kind, name: one row per holiday "
            f"and per make-up working day of {year}, typed from 国务院办公厅关于{year}年部分节假日安排的通知)"
        )


class ScheduleError(DataFileError):
    """A holiday schedule file with faults: refused whole, so no year is half-known."""

    code = "invalid_schedule"


@dataclass(frozen=True)
class ScheduledDay:
    """One line of the State Council notice: a day off, or a weekend day that is worked."""

    date: date
    kind: DayKind
    name: str


@dataclass(frozen=True)
class YearSchedule:
    """The notice for one year; days it does not list follow the Monday–Friday week."""

    year: int
    days: Mapping[date, ScheduledDay]
    source: str = ""

    def is_workday(self, day: date) -> bool:
        entry = self.days.get(day)
        if entry is not None:
            return entry.kind == "workday"
        return day.weekday() < 5


def read_schedule(path: str | Path) -> YearSchedule:
    """Parse and check one year's schedule CSV; every faulty row is reported at once.

    Besides its own year, a notice may move a day at the end of the previous December
    (the 2007 notice made Saturday 30 December 2006 a working day), so such rows are
    accepted and apply to that date.
    """
    path = Path(path)
    what = f"holiday schedule {path.name}"
    errors: list[RowError | str] = []
    rows: list[tuple[int, ScheduledDay]] = []
    for row_number, values in read_table(path, SCHEDULE_COLUMNS, ScheduleError, what):
        day = _parse_row(path.name, row_number, values, errors)
        if day is not None:
            rows.append((row_number, day))
    if not rows and not errors:
        raise ScheduleError(what, ["no rows below the header"])

    year = _schedule_year(path, rows, errors)
    days: dict[date, ScheduledDay] = {}
    first_row: dict[date, int] = {}
    for row_number, day in rows:
        in_year = day.date.year == year or (day.date.year == year - 1 and day.date.month == 12)
        if year and not in_year:
            message = f"{day.date} is not in {year}, the year of this schedule"
            errors.append(RowError(row_number, "date", message, file=path.name))
        elif day.date in first_row:
            errors.append(
                RowError(
                    row_number,
                    "date",
                    f"duplicate date {day.date} (first in row {first_row[day.date]})",
                    file=path.name,
                )
            )
        else:
            first_row[day.date] = row_number
            days[day.date] = day
    if errors:
        raise ScheduleError(what, errors)
    return YearSchedule(year=year, days=days, source=str(path))


def _parse_row(
    file: str, row: int, values: Mapping[str, str], errors: list[RowError | str]
) -> ScheduledDay | None:
    """The row's day, or None after adding one error per faulty field."""
    before = len(errors)
    day: date | None = None
    raw_date = values["date"]
    try:
        if not _ISO_DATE.fullmatch(raw_date):
            raise ValueError
        day = date.fromisoformat(raw_date)
    except ValueError:
        errors.append(RowError(row, "date", f"{raw_date!r} is not a date written YYYY-MM-DD", file=file))
    kind = _KIND_ALIASES.get(values["kind"].lower())
    if kind is None:
        errors.append(
            RowError(
                row, "kind", f"{values['kind']!r} is neither holiday (放假) nor workday (调休上班)", file=file
            )
        )
    if not values["name"]:
        errors.append(RowError(row, "name", "empty: name the holiday, e.g. 春节", file=file))
    if day is not None and kind == "workday" and day.weekday() < 5:
        errors.append(
            RowError(
                row,
                "kind",
                f"{day} is a {_WEEKDAY_NAMES[day.weekday()]} and so already a working day; "
                "a make-up working day falls on a Saturday or Sunday",
                file=file,
            )
        )
    if len(errors) > before or day is None or kind is None:
        return None
    return ScheduledDay(date=day, kind=kind, name=values["name"])


def _schedule_year(path: Path, rows: list[tuple[int, ScheduledDay]], errors: list[RowError | str]) -> int:
    """The notice's year: most rows fall in it, and a file named like ``2027.csv`` must agree."""
    if not rows:
        return 0
    year = Counter(day.date.year for _, day in rows).most_common(1)[0][0]
    if re.fullmatch(r"\d{4}", path.stem) and int(path.stem) != year:
        errors.append(f"the file is named for {path.stem} but its dates are in {year}")
    return year


class WorkCalendar:
    """Which days are worked, and deadlines and elapsed time counted in working days.

    Loaded schedules are kept per year; loading a year again replaces it, so a corrected
    notice simply supersedes the first one.
    """

    def __init__(
        self, schedules: Iterable[YearSchedule] = (), *, builtin: bool = True, provisional: bool = False
    ) -> None:
        # ``builtin=False`` lets tests and towns run on loaded files alone, proving that a
        # year nobody loaded is refused rather than filled in by the library.
        self._builtin = builtin
        # ``provisional=True`` answers the other years from ``provisional_schedule``
        self._provisional = provisional
        self._provisional_years: dict[int, YearSchedule] = {}
        self._schedules: dict[int, YearSchedule] = {}
        self._overrides: dict[date, ScheduledDay] = {}
        self._cache: dict[date, bool] = {}
        for schedule in schedules:
            self.add_schedule(schedule)

    @classmethod
    def from_directory(cls, directory: str | Path, *, builtin: bool = True) -> WorkCalendar:
        """The library's years plus every ``YYYY.csv`` in ``directory`` (which may not exist yet)."""
        calendar = cls(builtin=builtin)
        folder = Path(directory)
        if folder.is_dir():
            for path in sorted(folder.glob("*.csv")):
                if re.fullmatch(r"\d{4}", path.stem):
                    calendar.load_schedule(path)
        return calendar

    def load_schedule(self, path: str | Path) -> YearSchedule:
        """Read, check and add one year's schedule file; see ``read_schedule`` for the format."""
        schedule = read_schedule(path)
        self.add_schedule(schedule)
        return schedule

    def add_schedule(self, schedule: YearSchedule) -> None:
        old = self._schedules.get(schedule.year)
        if old is not None:
            for day in old.days:
                self._overrides.pop(day, None)
        self._schedules[schedule.year] = schedule
        self._overrides.update(schedule.days)
        self._cache.clear()

    @property
    def loaded_years(self) -> tuple[int, ...]:
        return tuple(sorted(self._schedules))

    def knows(self, year: int) -> bool:
        """Whether ``year`` has an official schedule (loaded or the library's); a provisional
        year is not known: see ``is_provisional``."""
        if year in self._schedules:
            return True
        if not self._builtin:
            return False
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def is_provisional(self, year: int) -> bool:
        """Whether ``year`` is answered provisionally (no official schedule, ``provisional=True``)."""
        return self._provisional and not self.knows(year)

    def provisional_between(self, a: datetime, b: datetime, *, tz: tzinfo = BEIJING) -> bool:
        """Whether any day from ``a`` to ``b`` (local days in ``tz``) falls in a provisional year."""
        first, last = sorted((a.astimezone(tz).year, b.astimezone(tz).year))
        return any(self.is_provisional(year) for year in range(first, last + 1))

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is worked; raises ``UnknownCalendarYear`` for a year nobody loaded
        (unless the calendar is ``provisional``)."""
        if isinstance(day, datetime):
            # A datetime's calendar day depends on its time zone; make the caller choose.
            raise TypeError("is_workday takes a date: convert the datetime to local time and call .date()")
        cached = self._cache.get(day)
        if cached is None:
            cached = self._lookup(day)
            self._cache[day] = cached
        return cached

    def _lookup(self, day: date) -> bool:
        entry = self._overrides.get(day)
        if entry is not None:
            return entry.kind == "workday"
        schedule = self._schedules.get(day.year)
        if schedule is not None:
            return schedule.is_workday(day)
        if self._builtin:
            try:
                return bool(chinese_calendar.is_workday(day))
            except NotImplementedError:
                pass
        if self._provisional:
            year = self._provisional_years.get(day.year)
            if year is None:
                year = self._provisional_years[day.year] = provisional_schedule(day.year)
            return year.is_workday(day)
        raise UnknownCalendarYear(day.year)

    def add_workdays(self, start: datetime, n: int, *, tz: tzinfo = BEIJING) -> datetime:
        """The due time of a limit of ``n`` working days starting at ``start``.

        23:59:59 in ``tz`` on the ``n``-th working day after the local day of ``start``;
        the start day itself never counts, worked or not (see the module docstring).
        """
        _require_aware(start, "start")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"a time limit is a whole number of working days from 1 up, not {n!r}")
        day = start.astimezone(tz).date()
        counted = 0
        while counted < n:
            day += timedelta(days=1)
            if self.is_workday(day):
                counted += 1
        return datetime.combine(day, END_OF_DAY, tzinfo=tz)

    def workdays_in(self, first: date, last: date) -> int:
        """How many working days from ``first`` to ``last``, both included (0 if ``last`` is earlier)."""
        count, day = 0, first
        while day <= last:
            count += self.is_workday(day)
            day += timedelta(days=1)
        return count

    def working_time_between(self, a: datetime, b: datetime, *, tz: tzinfo = BEIJING) -> timedelta:
        """The part of [a, b) that falls on working days, each working day counting 24 hours.

        Whole days rather than office hours, because the deadline itself runs to the end
        of the day; negative when ``b`` is before ``a``. Exact (a timedelta), so the
        80 % due-soon boundary can be compared without rounding.
        """
        _require_aware(a, "a")
        _require_aware(b, "b")
        if b < a:
            return -self.working_time_between(b, a, tz=tz)
        a_utc, b_utc = a.astimezone(UTC), b.astimezone(UTC)
        total = timedelta(0)
        day = a.astimezone(tz).date()
        last = b.astimezone(tz).date()
        while day <= last:
            day_start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
            day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
            overlap = min(b_utc, day_end) - max(a_utc, day_start)
            # Only ask about days that contribute, so a span ending at midnight on
            # 1 January does not demand next year's calendar.
            if overlap > timedelta(0) and self.is_workday(day):
                total += overlap
            day += timedelta(days=1)
        return total

    def workdays_between(self, a: datetime, b: datetime, *, tz: tzinfo = BEIJING) -> float:
        """Elapsed working time from ``a`` to ``b`` in working days (1.0 = one whole working day)."""
        return self.working_time_between(a, b, tz=tz) / timedelta(days=1)


def provisional_schedule(year: int) -> YearSchedule:
    """A year without its notice: the statutory holidays ``holidays.China`` computes (lunar ones
    and the days it moves a holiday to included), weekends off, and no make-up working days."""
    import holidays  # imported when first needed: most processes only count known years

    days = {
        day: ScheduledDay(day, "holiday", str(name))
        for day, name in holidays.China(years=year, language="zh_CN").items()
        if day.year == year
    }
    return YearSchedule(year=year, days=days, source="holidays (provisional)")


def _require_aware(moment: datetime, name: str) -> None:
    # A naive time would be read in the server's zone, which is UTC in most containers:
    # eight hours off, enough to move a deadline to another day.
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must carry a time zone (e.g. +08:00), got naive {moment.isoformat()}")
