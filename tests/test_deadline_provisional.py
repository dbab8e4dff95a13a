"""Issue 9, item 2: deadlines that never break, and how a deadline is shown (item 1).

A dispatch whose deadline runs into a year without its official holiday schedule is counted on
the statutory holidays ``holidays.China`` computes (weekends off, no make-up days), marked
provisional, shown on the pages; loading the schedule recomputes it, records that, and the
running app uses the schedule without a restart.
"""

from __future__ import annotations

import datetime

import pytest

from complaints.workdays import WorkCalendar
from geo.timeutil import BEIJING
from tests.apps import cli_ok
from tests.apps import create_user
from tests.test_complaint_pages import PASSWORD
from tests.test_complaint_pages import _login
from tests.test_complaints_service import Clock
from tests.test_complaints_service import file_at
from tests.test_complaints_service import grid_of_kind
from tests.test_complaints_service import install
from tests.test_complaints_service import step
from webmap.pages.complaints import beijing_text
from webmap.pages.complaints import deadline_text

pytestmark = pytest.mark.skipif(
    WorkCalendar().knows(2027), reason="the installed chinese-calendar knows 2027: nothing is provisional"
)

# A made-up schedule for tests only (NOT the State Council notice): New Year's Day off, and
# Saturday 2 January worked in its place, which moves a deadline one working day earlier.
SCHEDULE_2027 = (
    "date,kind,name,note\n"
    "2027-01-01,holiday,元旦,FICTIONAL for tests\n"
    "2027-01-02,workday,元旦补班,FICTIONAL for tests\n"
)


@pytest.fixture
def app(fresh_app):
    """The demo app with a dispatcher, wang."""
    create_user(fresh_app.extensions["redgrid"].store, "wang", "王调度", PASSWORD, "dispatcher")
    return fresh_app


def due(y: int, m: int, d: int) -> datetime.datetime:
    return datetime.datetime(y, m, d, 23, 59, 59, tzinfo=BEIJING)


def test_a_dispatch_running_into_2027_is_provisional_and_the_loaded_schedule_recomputes_it(
    demo_db, app, demo_grids, tmp_path, monkeypatch
):
    clock = Clock("2026-12-28T10:00:00+08:00")  # a Monday
    svc = install(app, clock)
    code = grid_of_kind(demo_grids, "urban")
    filed = file_at(svc, demo_grids, code, "prov-1", "2026-12-01 09:30", category="food_safety")  # 5 days
    row = step(svc, clock, filed, "2026-12-28T10:00:00+08:00", "dispatch")
    # 29, 30, 31 December; 1 January is New Year's Day (holidays.China 2027); 2 and 3 are a
    # weekend; 4 and 5 January: the fifth working day is Tuesday 5 January
    assert row.deadline == due(2027, 1, 5)
    assert row.deadline_provisional is True

    client = app.test_client()
    _login(client, "wang")
    page = client.get(f"/complaints/{row.id}")
    assert page.status_code == 200
    assert "2027-01-05 23:59（剩余 5 个工作日，暂定）" in page.get_data(as_text=True)
    listed = client.get("/complaints?state=dispatched")
    assert listed.status_code == 200
    assert "2027-01-05 23:59（剩余 5 个工作日，暂定）" in listed.get_data(as_text=True)
    english = client.get(f"/complaints/{row.id}?lang=en").get_data(as_text=True)
    assert "2027-01-05 23:59 (5 working days left, provisional)" in english
    # every time on the pages in Beijing time, not ISO UTC
    assert "2026-12-28 10:00" in page.get_data(as_text=True)  # the dispatch, in the history
    assert "T02:00:00+00:00" not in page.get_data(as_text=True)

    schedule = tmp_path / "2027.csv"
    schedule.write_text(SCHEDULE_2027, encoding="utf-8")
    result = cli_ok(demo_db.cli("calendar", "load", str(schedule)))
    out = result.stdout.splitlines()
    assert out[0] == "2027: 2 scheduled days loaded"
    assert f"  complaint {row.id}: 2027-01-05 23:59 → 2027-01-04 23:59" in out

    # recomputed and recorded: the make-up Saturday counts, the deadline is no longer provisional
    after = svc.store.complaint(row.id)
    assert (after.deadline, after.deadline_provisional) == (due(2027, 1, 4), False)
    event = svc.store.complaint_events(row.id)[-1]
    assert (event.action, event.to_state, event.deadline) == (
        "deadline_recomputed",
        "dispatched",
        due(2027, 1, 4),
    )
    assert event.note == "办理时限按 2027 年节假日安排重新计算：2027-01-05 23:59 → 2027-01-04 23:59"

    # the running app (its calendar built before the load) uses the schedule once its next
    # look at the stored schedules is due, without a restart
    assert not svc.calendar.knows(2027)  # within the check interval: not read again
    later = svc._calendar_checked + svc.calendar_check_s + 1
    monkeypatch.setattr("services.cases.time.monotonic", lambda: later)
    assert svc.calendar.knows(2027)
    page = client.get(f"/complaints/{row.id}?lang=zh").get_data(as_text=True)
    # 29, 30, 31 December, the make-up Saturday 2 January and 4 January
    assert "2027-01-04 23:59（剩余 5 个工作日）" in page
    assert "暂定" not in page.split("<h2>")[0]
    assert "2027-01-05 23:59 → 2027-01-04 23:59" in page  # the recomputation, in the history
    another = file_at(svc, demo_grids, code, "prov-2", "2026-12-01 09:40", category="food_safety")
    another = step(svc, clock, another, "2026-12-28T10:05:00+08:00", "dispatch")
    assert (another.deadline, another.deadline_provisional) == (due(2027, 1, 4), False)


def test_loading_a_schedule_in_process_recomputes_and_uses_it_at_once(app, demo_grids, tmp_path):
    clock = Clock("2026-12-28T10:00:00+08:00")
    svc = install(app, clock)
    filed = file_at(
        svc,
        demo_grids,
        grid_of_kind(demo_grids, "urban"),
        "prov-3",
        "2026-12-01 09:30",
        category="food_safety",
    )
    row = step(svc, clock, filed, "2026-12-28T10:00:00+08:00", "dispatch")
    resolved = file_at(
        svc,
        demo_grids,
        grid_of_kind(demo_grids, "urban"),
        "prov-4",
        "2026-12-01 09:31",
        category="food_safety",
    )
    resolved = step(svc, clock, resolved, "2026-12-28T10:01:00+08:00", "dispatch")
    resolved = step(svc, clock, resolved, "2026-12-28T11:00:00+08:00", "resolve")
    schedule = tmp_path / "2027.csv"
    schedule.write_text(SCHEDULE_2027, encoding="utf-8")
    loaded = svc.load_calendar(schedule, actor="user:wang")
    assert (loaded.year, loaded.days) == (2027, 2)
    assert [
        (r.complaint_id, r.old, r.new, r.provisional)
        for r in loaded.recomputed
        if r.complaint_id in (row.id, resolved.id)
    ] == [
        (row.id, due(2027, 1, 5), due(2027, 1, 4), False)
    ]  # a resolved case's deadline no longer runs: left as it was
    assert svc.calendar.knows(2027)
    assert svc.store.complaint(resolved.id).deadline == due(2027, 1, 5)
    # loading the same schedule again changes nothing more
    again = svc.load_calendar(schedule, actor="user:wang")
    assert row.id not in [r.complaint_id for r in again.recomputed]


# --- the deadline as a person reads it ----------------------------------------------------------

CAL = WorkCalendar()  # 2026: the library's official days


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=BEIJING)


@pytest.mark.parametrize(
    ("now", "deadline", "zh", "en"),
    [
        # Monday 7 December 2026; a 3-working-day dispatch made that day
        (
            "2026-12-07 10:00",
            "2026-12-10 23:59:59",
            "2026-12-10 23:59（剩余 3 个工作日）",
            "2026-12-10 23:59 (3 working days left)",
        ),
        (
            "2026-12-07 10:00",
            "2026-12-08 23:59:59",
            "2026-12-08 23:59（剩余 1 个工作日）",
            "2026-12-08 23:59 (1 working day left)",
        ),
        # Friday to Monday: the weekend does not count
        (
            "2026-12-11 16:00",
            "2026-12-14 23:59:59",
            "2026-12-14 23:59（剩余 1 个工作日）",
            "2026-12-14 23:59 (1 working day left)",
        ),
        # a deadline chosen on a Sunday, seen on the Saturday before
        (
            "2026-12-12 09:00",
            "2026-12-13 18:00:00",
            "2026-12-13 18:00（剩余不足 1 个工作日）",
            "2026-12-13 18:00 (less than a working day left)",
        ),
        (
            "2026-12-07 08:00",
            "2026-12-07 23:59:59",
            "2026-12-07 23:59（今日到期）",
            "2026-12-07 23:59 (due today)",
        ),
        (
            "2026-12-07 20:00",
            "2026-12-07 18:00:00",
            "2026-12-07 18:00（已超期）",
            "2026-12-07 18:00 (overdue)",
        ),
        (
            "2026-12-08 09:00",
            "2026-12-07 23:59:59",
            "2026-12-07 23:59（已超期 1 天）",
            "2026-12-07 23:59 (1 day overdue)",
        ),
        (
            "2026-12-10 09:00",
            "2026-12-07 23:59:59",
            "2026-12-07 23:59（已超期 3 天）",
            "2026-12-07 23:59 (3 days overdue)",
        ),
    ],
)
def test_deadline_text_in_chinese_and_english(now, deadline, zh, en):
    assert deadline_text(at(deadline), at(now), CAL, language="zh") == zh
    assert deadline_text(at(deadline), at(now), CAL, language="en") == en


def test_a_provisional_deadline_says_so():
    provisional = WorkCalendar(provisional=True)
    now, deadline = at("2026-12-28 10:00"), at("2027-01-05 23:59:59")
    assert (
        deadline_text(deadline, now, provisional, provisional=True)
        == "2027-01-05 23:59（剩余 5 个工作日，暂定）"
    )
    assert deadline_text(deadline, now, provisional, language="en", provisional=True) == (
        "2027-01-05 23:59 (5 working days left, provisional)"
    )
    # a deadline that no longer runs (resolved) shows its time, and still the mark
    assert (
        deadline_text(deadline, now, provisional, running=False, provisional=True)
        == "2027-01-05 23:59（暂定）"
    )
    assert deadline_text(deadline, now, provisional, running=False) == "2027-01-05 23:59"


def test_a_deadline_no_calendar_can_count_is_shown_without_the_time_left():
    strict = WorkCalendar()  # 2027 unknown and refused
    assert deadline_text(at("2027-01-05 23:59:59"), at("2026-12-28 10:00"), strict) == "2027-01-05 23:59"
    assert deadline_text(None, at("2026-12-28 10:00"), strict) == ""
    far = datetime.datetime(2900, 1, 8, tzinfo=datetime.UTC)
    assert deadline_text(far, at("2026-12-28 10:00"), strict) == "2900-01-08 08:00"


def test_times_are_shown_in_beijing_time():
    # the example: filed at 05:41 Beijing time, stored as 21:41 UTC the day before
    assert beijing_text(datetime.datetime(2026, 12, 5, 21, 41, tzinfo=datetime.UTC)) == "2026-12-06 05:41"
    assert beijing_text(datetime.datetime(2026, 12, 9, 15, 59, 59, tzinfo=datetime.UTC)) == "2026-12-09 23:59"
    assert beijing_text(None) == ""
