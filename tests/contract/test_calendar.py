"""CalendarStore on every backend: published holiday schedules, replaced by date and by year."""

from __future__ import annotations

import datetime

day = datetime.date


def test_days_come_back_by_date_with_their_source(store):
    assert store.calendar_days() == []
    rows = [
        {"day": day(2027, 3, 3), "kind": "holiday", "name": "测试"},
        {"day": day(2027, 3, 2), "kind": "holiday", "name": "测试"},
        {"day": day(2027, 3, 6), "kind": "workday", "name": None},
    ]
    assert store.put_calendar_days(rows, "2027.csv") == 3
    assert store.calendar_days() == [
        {"day": day(2027, 3, 2), "kind": "holiday", "name": "测试", "source": "2027.csv"},
        {"day": day(2027, 3, 3), "kind": "holiday", "name": "测试", "source": "2027.csv"},
        {"day": day(2027, 3, 6), "kind": "workday", "name": None, "source": "2027.csv"},
    ]


def test_without_a_year_only_the_same_dates_are_replaced(store):
    store.put_calendar_days(
        [
            {"day": day(2027, 3, 2), "kind": "holiday", "name": "测试"},
            {"day": day(2027, 3, 3), "kind": "holiday", "name": "测试"},
        ],
        "a.csv",
    )
    store.put_calendar_days([{"day": day(2027, 3, 3), "kind": "workday", "name": "补班"}], "b.csv")
    assert [(d["day"], d["kind"], d["source"]) for d in store.calendar_days()] == [
        (day(2027, 3, 2), "holiday", "a.csv"),
        (day(2027, 3, 3), "workday", "b.csv"),
    ]


def test_a_schedule_stored_again_for_its_year_replaces_the_days_it_dropped(store):
    first = [
        {"day": day(2027, 3, 2), "kind": "holiday", "name": "测试"},
        {"day": day(2027, 3, 3), "kind": "holiday", "name": "测试"},
        {"day": day(2026, 12, 26), "kind": "workday", "name": "测试补班"},
    ]
    assert store.put_calendar_days(first, "2027.csv", year=2027) == 3
    other_year = [{"day": day(2028, 1, 3), "kind": "holiday", "name": "测试"}]
    store.put_calendar_days(other_year, "2028.csv", year=2028)
    corrected = [{"day": day(2027, 3, 2), "kind": "holiday", "name": "测试（更正）"}]
    store.put_calendar_days(corrected, "2027-erratum.csv", year=2027)
    assert [(d["day"], d["name"], d["source"]) for d in store.calendar_days()] == [
        (day(2026, 12, 26), "测试补班", "2027.csv"),
        (day(2027, 3, 2), "测试（更正）", "2027-erratum.csv"),
        (day(2028, 1, 3), "测试", "2028.csv"),
    ]
    store.put_calendar_days(
        [{"day": day(2027, 12, 31), "kind": "holiday", "name": "元旦"}], "x.csv", year=2027
    )  # the year's last day is in the year
    assert [d["day"] for d in store.calendar_days()] == [
        day(2026, 12, 26),
        day(2027, 12, 31),
        day(2028, 1, 3),
    ]
