"""Deadlines in Chinese working days: holidays, make-up days (调休), unknown years, schedule files."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import chinese_calendar
import pytest

from complaints.catalog import DEFAULT_CATALOG_DIR
from complaints.workdays import ScheduleError
from complaints.workdays import UnknownCalendarYear
from complaints.workdays import WorkCalendar
from complaints.workdays import read_schedule
from geo.timeutil import BEIJING


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=BEIJING)


def due(y: int, m: int, d: int) -> datetime:
    return local(y, m, d, 23, 59, 59)


def library_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


# chinese-calendar 1.11 knows up to 2026, so this is 2027; computed, so that a later
# release of the library that knows 2027 moves the test on instead of breaking it.
FIRST_UNKNOWN_YEAR = next(y for y in range(2026, 2200) if not library_knows(y))

# A made-up schedule in the file format, for tests only: NOT the official 2027 notice.
FICTIONAL_2027 = """date,kind,name
2027-01-01,holiday,元旦
2027-02-06,workday,春节
2027-02-08,holiday,春节
2027-02-09,holiday,春节
2027-02-10,holiday,春节
2027-02-11,holiday,春节
2027-02-12,holiday,春节
"""


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# --- which days are worked -------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "worked"),
    [
        (date(2025, 9, 27), False),  # Saturday before National Day: off
        (date(2025, 9, 28), True),  # Sunday, make-up working day (调休上班)
        (date(2025, 10, 1), False),
        (date(2025, 10, 8), False),  # last day of the 2025 National Day holiday
        (date(2025, 10, 9), True),
        (date(2025, 10, 11), True),  # Saturday, make-up working day
        (date(2026, 2, 14), True),  # Saturday before Spring Festival 2026, worked
        (date(2026, 2, 15), False),
        (date(2026, 2, 23), False),
        (date(2026, 2, 24), True),
        (date(2026, 2, 28), True),  # Saturday after Spring Festival 2026, worked
        (date(2026, 11, 21), False),  # an ordinary Saturday
    ],
)
def test_is_workday_knows_holidays_and_make_up_days(cal: WorkCalendar, day: date, worked: bool) -> None:
    assert cal.is_workday(day) is worked


def test_is_workday_refuses_a_datetime(cal: WorkCalendar) -> None:
    with pytest.raises(TypeError, match="takes a date"):
        cal.is_workday(local(2025, 10, 9, 12))


# --- the deadline rule -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # National Day 2025: dispatched the afternoon before the 8-day holiday; the 3rd
        # working day after is the make-up Saturday 11 October.
        (local(2025, 9, 30, 16), 3, due(2025, 10, 11)),
        (local(2025, 9, 30, 16), 1, due(2025, 10, 9)),
        # Friday before the make-up Sunday 28 September: that Sunday is working day 1.
        (local(2025, 9, 26, 16), 1, due(2025, 9, 28)),
        (local(2025, 9, 26, 16), 3, due(2025, 9, 30)),
        # Dispatched during the holiday: the first working day after it is day 1.
        (local(2025, 10, 3, 10), 1, due(2025, 10, 9)),
        (local(2025, 10, 3, 10), 3, due(2025, 10, 11)),
        # Spring Festival 2026: the make-up Saturday 14 February counts, the 9-day holiday does not.
        (local(2026, 2, 13, 16), 1, due(2026, 2, 14)),
        (local(2026, 2, 13, 16), 3, due(2026, 2, 25)),
        (local(2026, 2, 14, 16), 1, due(2026, 2, 24)),
        # The make-up Saturday 28 February 2026 is a working day like any other.
        (local(2026, 2, 26, 9), 2, due(2026, 2, 28)),
        # An ordinary week: Friday 16:00 + 3 → Wednesday.
        (local(2026, 11, 20, 16), 3, due(2026, 11, 25)),
    ],
)
def test_add_workdays_counts_chinese_working_days(
    cal: WorkCalendar, start: datetime, n: int, expected: datetime
) -> None:
    assert cal.add_workdays(start, n) == expected


def test_dispatch_on_a_weekend_is_due_as_if_dispatched_on_the_friday_before(cal: WorkCalendar) -> None:
    friday = cal.add_workdays(local(2026, 11, 20, 16), 3)
    saturday = cal.add_workdays(local(2026, 11, 21, 10), 3)
    sunday = cal.add_workdays(local(2026, 11, 22, 23, 30), 3)
    assert friday == saturday == sunday == due(2026, 11, 25)


def test_the_dispatch_day_never_counts_however_early(cal: WorkCalendar) -> None:
    assert cal.add_workdays(local(2026, 11, 16, 0, 0, 0), 1) == due(2026, 11, 17)
    assert cal.add_workdays(local(2026, 11, 16, 23, 59, 59), 1) == due(2026, 11, 17)


def test_add_workdays_counts_the_local_day_of_a_utc_time(cal: WorkCalendar) -> None:
    # 17:00 UTC on Thursday is 01:00 on Friday in Foshan: Friday is the dispatch day.
    start = datetime(2026, 11, 19, 17, 0, tzinfo=UTC)
    result = cal.add_workdays(start, 1)
    assert result == due(2026, 11, 23)
    assert result.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize("n", [0, -1, 1.5, True])
def test_add_workdays_refuses_a_limit_that_is_not_a_whole_number_from_1(cal: WorkCalendar, n: object) -> None:
    with pytest.raises(ValueError, match="whole number of working days"):
        cal.add_workdays(local(2026, 11, 20, 16), n)  # type: ignore[arg-type]


def test_add_workdays_refuses_a_naive_time(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="must carry a time zone"):
        cal.add_workdays(datetime(2026, 11, 20, 16), 3)


# --- elapsed working time ----------------------------------------------------------------


def test_workdays_between_skips_holidays_and_counts_make_up_days(cal: WorkCalendar) -> None:
    # Fri 26 Sep noon → Thu 9 Oct noon 2025: ½ + Sun 28 (make-up) + 29 + 30 + ½ = 4.
    a, b = local(2025, 9, 26, 12), local(2025, 10, 9, 12)
    assert cal.workdays_between(a, b) == 4.0
    assert cal.workdays_between(b, a) == -4.0
    assert cal.working_time_between(a, b) == timedelta(days=4)


def test_workdays_between_within_a_holiday_is_zero(cal: WorkCalendar) -> None:
    assert cal.workdays_between(local(2026, 2, 16, 9), local(2026, 2, 20, 18)) == 0.0


def test_workdays_between_up_to_midnight_does_not_ask_about_the_next_day() -> None:
    calendar = WorkCalendar()
    year = FIRST_UNKNOWN_YEAR
    assert calendar.workdays_between(local(year - 1, 12, 31), local(year, 1, 1)) == pytest.approx(
        1.0 if calendar.is_workday(date(year - 1, 12, 31)) else 0.0
    )
    with pytest.raises(UnknownCalendarYear):
        calendar.workdays_between(local(year - 1, 12, 31), local(year, 1, 1, 0, 0, 1))


# --- a year nobody loaded: refused, never guessed ----------------------------------------


def test_a_year_the_library_does_not_know_is_refused_with_a_clear_error(cal: WorkCalendar) -> None:
    year = FIRST_UNKNOWN_YEAR
    with pytest.raises(UnknownCalendarYear) as excinfo:
        cal.is_workday(date(year, 3, 3))
    assert str(excinfo.value) == (
        f"no working-day calendar for {year}: load the State Council holiday schedule with "
        f"`redgrid calendar load FILE` (a CSV with columns date, kind, name: one row per holiday "
        f"and per make-up working day of {year}, typed from 国务院办公厅关于{year}年部分节假日安排的通知)"
    )
    assert excinfo.value.year == year
    assert excinfo.value.code == "unknown_calendar_year"
    assert not cal.knows(year)
    assert cal.knows(2026)


def test_a_deadline_running_into_an_unknown_year_is_refused(cal: WorkCalendar) -> None:
    year = FIRST_UNKNOWN_YEAR
    with pytest.raises(UnknownCalendarYear, match=f"no working-day calendar for {year}"):
        cal.add_workdays(local(year - 1, 12, 30, 10), 5)


def test_the_shipped_calendar_refuses_the_first_unknown_year_naming_the_loader() -> None:
    # 2027 today; whichever year the installed library stops at, the advice is the same
    year = FIRST_UNKNOWN_YEAR
    calendar = WorkCalendar.from_directory(DEFAULT_CATALOG_DIR / "holidays")
    with pytest.raises(
        UnknownCalendarYear, match=f"no working-day calendar for {year}: load the State Council"
    ):
        calendar.add_workdays(local(year - 1, 12, 30, 16), 3)


def test_a_loaded_2027_schedule_makes_2027_deadlines_work(tmp_path: Path) -> None:
    calendar = WorkCalendar()
    schedule = calendar.load_schedule(write(tmp_path / "2027.csv", FICTIONAL_2027))
    assert schedule.year == 2027
    assert calendar.knows(2027)
    assert 2027 in calendar.loaded_years
    # Wed 30 Dec 2026 16:00 + 3: Thu 31 Dec, (Fri 1 Jan holiday, weekend), Mon 4, Tue 5.
    assert calendar.add_workdays(local(2026, 12, 30, 16), 3) == due(2027, 1, 5)
    # The make-up Saturday 6 Feb counts; the holiday week 8–12 Feb does not.
    assert calendar.add_workdays(local(2027, 2, 5, 16), 2) == due(2027, 2, 15)
    assert calendar.is_workday(date(2027, 2, 6))
    assert not calendar.is_workday(date(2027, 2, 13))  # unlisted Saturday: the normal week


def test_from_directory_loads_every_year_file(tmp_path: Path) -> None:
    write(tmp_path / "2027.csv", FICTIONAL_2027)
    write(tmp_path / "notes.csv", "not,a,schedule\n")  # only YYYY.csv files are schedules
    calendar = WorkCalendar.from_directory(tmp_path)
    assert calendar.loaded_years == (2027,)
    assert not calendar.is_workday(date(2027, 1, 1))


def test_from_directory_without_the_directory_is_the_library_alone(tmp_path: Path) -> None:
    calendar = WorkCalendar.from_directory(tmp_path / "holidays")
    assert calendar.loaded_years == ()
    assert calendar.is_workday(date(2025, 9, 28))


def test_a_loaded_schedule_wins_over_the_library(tmp_path: Path) -> None:
    # A made-up extra holiday, as the State Council added one in 2015 after the notice.
    text = "date,kind,name\n2026-11-20,holiday,test holiday\n"
    calendar = WorkCalendar()
    assert calendar.is_workday(date(2026, 11, 20))
    calendar.load_schedule(write(tmp_path / "2026.csv", text))
    assert not calendar.is_workday(date(2026, 11, 20))
    assert calendar.is_workday(date(2026, 11, 19))
    # Loading the year again replaces it rather than adding to it.
    calendar.load_schedule(write(tmp_path / "2026.csv", "date,kind,name\n2026-11-19,holiday,test\n"))
    assert calendar.is_workday(date(2026, 11, 20))
    assert not calendar.is_workday(date(2026, 11, 19))


def test_without_the_library_only_loaded_years_are_known(tmp_path: Path) -> None:
    calendar = WorkCalendar([read_schedule(write(tmp_path / "2027.csv", FICTIONAL_2027))], builtin=False)
    assert calendar.is_workday(date(2027, 1, 4))
    with pytest.raises(UnknownCalendarYear, match="no working-day calendar for 2026"):
        calendar.is_workday(date(2026, 6, 1))


def test_a_december_day_of_the_year_before_applies_to_that_date(tmp_path: Path) -> None:
    # Notices have moved late-December days (the 2007 notice: Saturday 30 Dec 2006 worked).
    text = FICTIONAL_2027 + "2026-12-26,workday,元旦\n"
    calendar = WorkCalendar()
    assert not calendar.is_workday(date(2026, 12, 26))
    calendar.load_schedule(write(tmp_path / "2027.csv", text))
    assert calendar.is_workday(date(2026, 12, 26))


# --- schedule file validation ------------------------------------------------------------


def test_schedule_accepts_excel_bom_chinese_kinds_blank_lines_and_extra_columns(tmp_path: Path) -> None:
    text = "\ufeffDate,Kind,Name,备注\n2027-01-01,放假,元旦,\n\n2027-02-06,上班,春节,调休\n"
    schedule = read_schedule(write(tmp_path / "2027.csv", text))
    assert {d.isoformat(): s.kind for d, s in schedule.days.items()} == {
        "2027-01-01": "holiday",
        "2027-02-06": "workday",
    }


def test_schedule_row_errors_name_the_row_and_field(tmp_path: Path) -> None:
    text = (
        "date,kind,name\n"
        "2027-01-01,holiday,元旦\n"  # row 2: fine
        "2027-02-30,holiday,春节\n"  # row 3: no such date
        "2027-02-10,rest,春节\n"  # row 4: unknown kind
        "2027-02-11,holiday,\n"  # row 5: no name
        "2027-03-03,workday,春节\n"  # row 6: a Wednesday is already worked
        "2027-01-01,holiday,元旦\n"  # row 7: duplicate
        "2025-05-01,holiday,劳动节\n"  # row 8: another year
    )
    with pytest.raises(ScheduleError) as excinfo:
        read_schedule(write(tmp_path / "2027.csv", text))
    assert [str(e) for e in excinfo.value.errors] == [
        "2027.csv row 3, field 'date': '2027-02-30' is not a date written YYYY-MM-DD",
        "2027.csv row 4, field 'kind': 'rest' is neither holiday (放假) nor workday (调休上班)",
        "2027.csv row 5, field 'name': empty: name the holiday, e.g. 春节",
        "2027.csv row 6, field 'kind': 2027-03-03 is a Wednesday and so already a working day; "
        "a make-up working day falls on a Saturday or Sunday",
        "2027.csv row 7, field 'date': duplicate date 2027-01-01 (first in row 2)",
        "2027.csv row 8, field 'date': 2025-05-01 is not in 2027, the year of this schedule",
    ]
    assert str(excinfo.value).startswith("holiday schedule 2027.csv: 6 problem(s), nothing loaded\n  - ")


def test_a_refused_schedule_leaves_the_calendar_unchanged(tmp_path: Path) -> None:
    calendar = WorkCalendar()
    with pytest.raises(ScheduleError):
        calendar.load_schedule(write(tmp_path / "2027.csv", FICTIONAL_2027 + "2027-13-01,holiday,x\n"))
    assert not calendar.knows(FIRST_UNKNOWN_YEAR)


@pytest.mark.parametrize(
    ("name", "text", "encoding", "message"),
    [
        (
            "2027.csv",
            "date,name\n2027-01-01,元旦\n",
            "utf-8",
            "2027.csv: missing column(s) kind (found: date, name)",
        ),
        ("2027.csv", "date,kind,name\n", "utf-8", "no rows below the header"),
        ("2027.csv", "", "utf-8", "2027.csv: missing column(s) date, kind, name (found: nothing)"),
        (
            "2027.csv",
            "date,kind,name\n2027-01-01,放假,元旦\n",
            "gbk",
            "2027.csv: not UTF-8 text; save it from Excel as 'CSV UTF-8'",
        ),
        ("2028.csv", FICTIONAL_2027, "utf-8", "the file is named for 2028 but its dates are in 2027"),
    ],
)
def test_schedule_file_level_errors(
    tmp_path: Path, name: str, text: str, encoding: str, message: str
) -> None:
    with pytest.raises(ScheduleError) as excinfo:
        read_schedule(write(tmp_path / name, text, encoding))
    assert [str(e) for e in excinfo.value.errors] == [message]


def test_a_missing_schedule_file_is_a_schedule_error(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError, match=r"2027\.csv: file not found"):
        WorkCalendar().load_schedule(tmp_path / "2027.csv")


# --- a provisional year (issue 9): the statutory holidays, no make-up days ----------------------


def test_a_provisional_calendar_counts_a_year_without_a_schedule_on_its_statutory_holidays() -> None:
    year = FIRST_UNKNOWN_YEAR
    calendar = WorkCalendar(provisional=True)
    assert not calendar.knows(year) and calendar.is_provisional(year)
    assert not calendar.is_provisional(2026)
    assert not calendar.is_workday(date(year, 1, 1))  # New Year's Day, from holidays.China
    assert not calendar.is_workday(date(year, 10, 1))  # National Day
    # no make-up working days are guessed: every Saturday and Sunday is off
    day = date(year, 1, 1)
    while day.year == year:
        if day.weekday() >= 5:
            assert not calendar.is_workday(day), day
        day += timedelta(days=1)
    start = local(year - 1, 12, 28, 10)
    assert calendar.provisional_between(start, calendar.add_workdays(start, 30))
    assert not calendar.provisional_between(local(2026, 3, 2, 10), local(2026, 3, 9, 10))


@pytest.mark.skipif(FIRST_UNKNOWN_YEAR != 2027, reason="the dates below are those of 2027")
def test_the_provisional_2027_has_its_lunar_holidays_and_a_loaded_schedule_replaces_it(
    tmp_path: Path,
) -> None:
    calendar = WorkCalendar(provisional=True)
    for day in (date(2027, 2, 8), date(2027, 2, 9), date(2027, 2, 10), date(2027, 4, 5), date(2027, 6, 9)):
        assert not calendar.is_workday(day), day  # 春节, 清明, 端午 computed from the lunar calendar
    assert calendar.add_workdays(local(2026, 12, 28, 10), 5) == due(2027, 1, 5)
    assert not calendar.is_workday(date(2027, 2, 6))  # the notice may make it a working day; not guessed
    calendar.load_schedule(write(tmp_path / "2027.csv", FICTIONAL_2027))
    assert calendar.knows(2027) and not calendar.is_provisional(2027)
    assert calendar.is_workday(date(2027, 2, 6))  # the loaded (fictional) make-up day
    assert calendar.workdays_in(date(2026, 12, 29), date(2027, 1, 5)) == 5
