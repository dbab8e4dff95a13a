"""The complaint service on a copy of the demo database, with an injected clock.

Filing, placement (points and addresses), the full workflow with its history, deadlines
across the 2025 National Day holiday, a year without a holiday schedule, and
re-aggregation onto a second grid version.

The expected answers come from the data files (``data/catalog/*.csv``, the demo gazetteer
and grid files) and from the State Council's 2025 notice, written out here by hand, not
from the service's own helpers. The small helpers at the top (``Clock``, ``install``,
``complaint_input``, ...) are shared with the other complaint test modules.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import secrets
from pathlib import Path

import numpy as np
import pytest
import shapely
from flask import Flask

from complaints import intake
from complaints.intake import ComplaintInput
from complaints.records import Case
from complaints.workdays import WorkCalendar
from complaints.workflow import DeadlineStatus
from complaints.workflow import IllegalTransition
from geo.errors import RowErrors
from services.cases import ComplaintService
from services.planner import PlannerService
from tests.apps import REPO_ROOT
from tests.apps import cli_ok
from tests.apps import inside_point

CHINA = datetime.timezone(datetime.timedelta(hours=8))
CATALOG_DIR = REPO_ROOT / "data" / "catalog"
GAZETTEER = REPO_ROOT / "data" / "gazetteer" / "dali-demo-addresses.csv"
COMMUNITIES = REPO_ROOT / "data" / "communities.csv"


# --- helpers shared by the complaint test modules -------------------------------------------


def t(text: str) -> datetime.datetime:
    """An aware datetime from ISO text; China time when no offset is written."""
    when = datetime.datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=CHINA)


class Clock:
    """The service's clock, moved by hand."""

    def __init__(self, now: str) -> None:
        self.now = t(now)

    def __call__(self) -> datetime.datetime:
        return self.now

    def set(self, now: str) -> datetime.datetime:
        self.now = t(now)
        return self.now


def install(app: Flask, clock: Clock, photo_dir: Path | None = None) -> ComplaintService:
    """A ComplaintService on the app's store with ``clock``, put in place of the app's own."""
    services = app.extensions["redgrid"]
    base: ComplaintService = services.cases
    svc = ComplaintService(
        base.store,
        base.grids,
        base.catalog,
        base.calendar,
        geocoder=base.geocoder,
        photo_dir=photo_dir,
        clock=clock,
    )
    app.extensions["redgrid"] = dataclasses.replace(
        services, cases=svc, planner=PlannerService(services.grids, svc)
    )
    return svc


def api_key(app: Flask, *scopes: str, name: str | None = None) -> tuple[str, str]:
    """A new API key with ``scopes``: (its name, the Authorization header value)."""
    name = name or f"test-{secrets.token_hex(4)}"
    token = app.extensions["redgrid"].accounts.create_key(name, scopes)
    return name, f"Bearer {token}"


def catalog_rows(name: str) -> dict[str, dict[str, str]]:
    """A catalogue file read with the csv module, by code: the truth routing is checked against."""
    with (CATALOG_DIR / name).open(encoding="utf-8-sig", newline="") as f:
        return {row["code"]: row for row in csv.DictReader(f)}


def community_kinds() -> dict[str, str]:
    with COMMUNITIES.open(encoding="utf-8-sig", newline="") as f:
        return {row["code"]: row["kind"] for row in csv.DictReader(f)}


def gazetteer_rows() -> dict[str, dict[str, str]]:
    """The demo gazetteer by address text."""
    with GAZETTEER.open(encoding="utf-8-sig", newline="") as f:
        return {row["text"]: row for row in csv.DictReader(f)}


def grid_of_kind(grids, kind: str, skip: int = 0) -> str:
    """A demo grid code whose community is urban or rural (by communities.csv)."""
    kinds = community_kinds()
    codes = [c for c, comm in zip(grids["code"], grids["community_code"], strict=True) if kinds[comm] == kind]
    return codes[skip]


def complaint_input(svc: ComplaintService, source: str = "test", **values) -> ComplaintInput:
    return intake.check(values, catalog=svc.catalog, source=source)


def file_at(
    svc: ComplaintService,
    grids,
    code: str,
    external_id: str,
    reported_at: str,
    category: str = "noise",
    source: str = "test",
    **extra,
) -> Case:
    """File a complaint at a point inside grid ``code`` (the clock gives the filing time)."""
    lon, lat = inside_point(grids, code)
    item = complaint_input(
        svc,
        source=source,
        external_id=external_id,
        reported_at=reported_at,
        category=category,
        text=extra.pop("text", "噪音扰民"),
        lon=lon,
        lat=lat,
        **extra,
    )
    return svc.file(item, actor=extra.pop("actor", "user:wang"))


def step(svc: ComplaintService, clock: Clock, row: Case, when: str, action: str, **fields) -> Case:
    """One workflow action at ``when``, on the version last seen in ``row``."""
    clock.set(when)
    return svc.transition(
        row.id, action, expected_version=row.row_version, actor=fields.pop("actor", "user:wang"), **fields
    )


def events_of(svc: ComplaintService, complaint_id: int) -> list[tuple]:
    return [
        (e.action, e.from_state, e.to_state, e.actor, e.at, e.note)
        for e in svc.store.complaint_events(complaint_id)
    ]


# --- the life of a complaint ------------------------------------------------------------------


def test_the_full_life_filed_deliberated_dispatched_resolved_and_closed(fresh_app, demo_grids):
    clock = Clock("2025-09-29T09:00:00+08:00")
    svc = install(fresh_app, clock)
    code = grid_of_kind(demo_grids, "urban")
    noise = catalog_rows("categories.csv")["noise"]
    assert noise["deadline_days"] == "3"  # the rest of the test counts on this limit

    filed = file_at(
        svc,
        demo_grids,
        code,
        "svc-life-1",
        "2025-09-29 08:40",
        reporter_name="陈女士",
        reporter_phone="138 0013 8000",
        channel="热线",
    )
    assert (filed.state, filed.grid_code, filed.row_version) == ("collected", code, 1)
    assert filed.whistle_group == "whistle_urban" and filed.channel == "hotline"
    assert filed.reporter_phone == "13800138000"

    row = step(svc, clock, filed, "2025-09-29T10:00:00+08:00", "deliberate", note="网格议事")
    row = step(svc, clock, row, "2025-09-30T16:00:00+08:00", "dispatch", note="派至派出所")
    # the category's department from categories.csv; 3 working days from Tuesday 30 September:
    # 1-8 October are the National Day holiday, so Thu 9, Fri 10 and the make-up Saturday 11
    assert row.department_code == noise["department"] == "police"
    assert row.deadline == t("2025-10-11T23:59:59+08:00")
    assert row.dispatched_at == t("2025-09-30T16:00:00+08:00")
    row = step(
        svc, clock, row, "2025-10-10T11:00:00+08:00", "resolve", note="已上门处理", actor="dept:police"
    )
    assert row.resolved_at == t("2025-10-10T11:00:00+08:00")
    row = step(svc, clock, row, "2025-10-13T09:30:00+08:00", "follow_up", satisfied=True, note="回访满意")
    assert (row.state, row.satisfied, row.row_version) == ("closed", True, 5)
    assert row.closed_at == t("2025-10-13T09:30:00+08:00")

    assert events_of(svc, row.id) == [
        ("collect", None, "collected", "user:wang", t("2025-09-29T09:00:00+08:00"), "hotline: test"),
        ("deliberate", "collected", "deliberation", "user:wang", t("2025-09-29T10:00:00+08:00"), "网格议事"),
        ("dispatch", "deliberation", "dispatched", "user:wang", t("2025-09-30T16:00:00+08:00"), "派至派出所"),
        ("resolve", "dispatched", "resolved", "dept:police", t("2025-10-10T11:00:00+08:00"), "已上门处理"),
        ("follow_up", "resolved", "closed", "user:wang", t("2025-10-13T09:30:00+08:00"), "回访满意"),
    ]
    dispatch = svc.store.complaint_events(row.id)[2]
    assert (dispatch.department_code, dispatch.deadline) == ("police", t("2025-10-11T23:59:59+08:00"))


def test_unsatisfied_reopens_and_is_dispatched_again_with_a_new_deadline(fresh_app, demo_grids):
    clock = Clock("2025-09-30T15:00:00+08:00")
    svc = install(fresh_app, clock)
    code = grid_of_kind(demo_grids, "rural")
    filed = file_at(svc, demo_grids, code, "svc-life-2", "2025-09-30 14:00")
    assert filed.whistle_group == "whistle_rural"

    row = step(svc, clock, filed, "2025-09-30T16:00:00+08:00", "dispatch")
    row = step(svc, clock, row, "2025-10-09T10:00:00+08:00", "resolve", note="已处理")
    row = step(svc, clock, row, "2025-10-09T17:00:00+08:00", "follow_up", satisfied=False, note="仍有噪音")
    assert (row.state, row.satisfied) == ("reopened", False)
    # held to its last deadline until dispatched again
    assert svc.deadline_status(row, t("2025-10-10T08:00:00+08:00")) is DeadlineStatus.ON_TIME
    assert svc.deadline_status(row, t("2025-10-11T09:00:00+08:00")) is DeadlineStatus.DUE_SOON
    assert svc.deadline_status(row, t("2025-10-12T00:00:00+08:00")) is DeadlineStatus.OVERDUE

    # re-dispatched to another department on Friday 10 October: Sat 11 (make-up), Mon 13, Tue 14
    row = step(
        svc,
        clock,
        row,
        "2025-10-10T09:00:00+08:00",
        "dispatch",
        department="ecology_environment",
        note="改派生态环境",
    )
    assert (row.state, row.department_code) == ("dispatched", "ecology_environment")
    assert row.deadline == t("2025-10-14T23:59:59+08:00")
    row = step(svc, clock, row, "2025-10-13T16:00:00+08:00", "resolve", note="已整改")
    row = step(svc, clock, row, "2025-10-14T10:00:00+08:00", "follow_up", satisfied=True)
    assert (row.state, row.satisfied, row.row_version) == ("closed", True, 7)

    history = events_of(svc, row.id)
    assert [(a, f, to) for a, f, to, *_ in history] == [
        ("collect", None, "collected"),
        ("dispatch", "collected", "dispatched"),
        ("resolve", "dispatched", "resolved"),
        ("follow_up", "resolved", "reopened"),
        ("dispatch", "reopened", "dispatched"),
        ("resolve", "dispatched", "resolved"),
        ("follow_up", "resolved", "closed"),
    ]
    assert [e.satisfied for e in svc.store.complaint_events(row.id)] == [
        None,
        None,
        None,
        False,
        None,
        None,
        True,
    ]
    assert [e[4] for e in history] == sorted(e[4] for e in history)


def test_an_illegal_action_or_unknown_department_changes_nothing(fresh_app, demo_grids):
    clock = Clock("2025-09-30T15:00:00+08:00")
    svc = install(fresh_app, clock)
    filed = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "svc-illegal", "2025-09-30 14:00")
    with pytest.raises(IllegalTransition) as info:
        step(svc, clock, filed, "2025-09-30T16:00:00+08:00", "resolve")
    assert str(info.value) == (
        "cannot resolve a complaint in state collected: it must be resolved on site "
        "or dispatched first; allowed: deliberate, resolve_on_site, dispatch, reject, "
        "mark_duplicate, assign, whistle"
    )
    with pytest.raises(Exception, match=r"^unknown department 'moon_office'$"):
        step(svc, clock, filed, "2025-09-30T16:00:00+08:00", "dispatch", department="moon_office")
    assert svc.store.complaint(filed.id) == filed
    assert len(svc.store.complaint_events(filed.id)) == 1


def test_filing_the_same_source_id_again_returns_the_first(fresh_app, demo_grids):
    clock = Clock("2025-09-30T15:00:00+08:00")
    svc = install(fresh_app, clock)
    code = grid_of_kind(demo_grids, "urban")
    before = svc.store.count_complaints()
    first = file_at(svc, demo_grids, code, "svc-twice", "2025-09-30 14:00")
    elsewhere = grid_of_kind(demo_grids, "urban", skip=5)
    again = file_at(svc, demo_grids, elsewhere, "svc-twice", "2025-09-30 14:00")
    assert again == first and svc.store.count_complaints() == before + 1


# --- deadlines across the 2025 National Day holiday --------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2025-09-30T16:00:00+08:00", DeadlineStatus.ON_TIME),
        ("2025-10-05T12:00:00+08:00", DeadlineStatus.ON_TIME),  # the holiday does not count
        ("2025-10-10T23:59:59+08:00", DeadlineStatus.ON_TIME),  # 56 h of 80 h used
        ("2025-10-11T07:59:59+08:00", DeadlineStatus.ON_TIME),  # just under 80 %
        ("2025-10-11T08:00:00+08:00", DeadlineStatus.DUE_SOON),  # 64 h of 79:59:59
        ("2025-10-11T23:59:59+08:00", DeadlineStatus.DUE_SOON),  # the deadline itself
        ("2025-10-12T00:00:00+08:00", DeadlineStatus.OVERDUE),
    ],
)
def test_deadline_status_across_the_national_day_holiday(fresh_app, demo_grids, now, expected):
    clock = Clock("2025-09-30T15:00:00+08:00")
    svc = install(fresh_app, clock)
    filed = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "svc-deadline", "2025-09-30 14:00")
    row = step(svc, clock, filed, "2025-09-30T16:00:00+08:00", "dispatch")
    assert row.deadline == t("2025-10-11T23:59:59+08:00")
    clock.set(now)
    assert svc.deadline_status(row) is expected
    assert svc.deadline_status(row, t(now)) is expected


def test_no_deadline_runs_before_dispatch_or_after_resolution(fresh_app, demo_grids):
    clock = Clock("2025-09-30T15:00:00+08:00")
    svc = install(fresh_app, clock)
    filed = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "svc-none", "2025-09-30 14:00")
    assert svc.deadline_status(filed, t("2026-01-01T00:00:00+08:00")) is DeadlineStatus.NONE
    row = step(svc, clock, filed, "2025-09-30T16:00:00+08:00", "dispatch")
    row = step(svc, clock, row, "2025-10-20T10:00:00+08:00", "resolve")  # late, but resolved
    assert svc.deadline_status(row, t("2025-10-21T00:00:00+08:00")) is DeadlineStatus.NONE


# --- a year nobody loaded ---------------------------------------------------------------------


def _first_unknown_year() -> int:
    # chinese-calendar 1.11 knows up to 2026, so this is 2027; computed, so that a release of
    # the library that knows 2027 moves the test on instead of breaking it
    return next(y for y in range(2027, 2200) if not WorkCalendar().knows(y))


def _fictional_schedule(path: Path, year: int) -> tuple[datetime.date, datetime.date]:
    """A made-up schedule for ``year``: (a Monday, the make-up Saturday that week)."""
    monday = datetime.date(year, 3, 1)
    monday += datetime.timedelta(days=(7 - monday.weekday()) % 7)
    saturday = monday + datetime.timedelta(days=5)
    fictional = "FICTIONAL, for tests only: not the State Council notice"
    rows = [
        ("date", "kind", "name", "note"),
        ((monday + datetime.timedelta(days=1)).isoformat(), "holiday", "测试假日", fictional),
        ((monday + datetime.timedelta(days=2)).isoformat(), "放假", "测试假日", fictional),
        (saturday.isoformat(), "调休上班", "测试补班", fictional),
    ]
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return monday, saturday


def test_a_deadline_in_a_year_without_a_schedule_is_provisional_until_one_is_loaded(
    demo_db, demo_grids, tmp_path
):
    # issue 9: no longer refused (it was, with UnknownCalendarYear and a 422): counted on the
    # statutory holidays alone, marked provisional, and recomputed when the schedule is loaded
    year = _first_unknown_year()
    schedule = tmp_path / f"{year}.csv"
    monday, saturday = _fictional_schedule(schedule, year)
    code = grid_of_kind(demo_grids, "urban")

    app = demo_db.app()
    clock = Clock(f"{monday.isoformat()}T09:00:00+08:00")
    svc = install(app, clock)
    filed = file_at(svc, demo_grids, code, "svc-2027", "2026-11-01 09:00")  # noise: 3 working days
    clock.set(f"{monday.isoformat()}T10:00:00+08:00")
    _, header = api_key(app, "write", "dispatch")  # only the dispatch centre dispatches (issue 8)
    response = app.test_client().post(
        f"/api/v1/complaints/{filed.id}/actions",
        json={"action": "dispatch", "version": 1},
        headers={"Authorization": header},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    row = svc.store.complaint(filed.id)
    thursday = monday + datetime.timedelta(days=3)  # no statutory holiday that week: Tue, Wed, Thu
    assert row.state == "dispatched"
    assert row.deadline == datetime.datetime.combine(thursday, datetime.time(23, 59, 59), CHINA)
    assert row.deadline_provisional is True

    result = cli_ok(demo_db.cli("calendar", "load", str(schedule)))
    lines = result.stdout.strip().splitlines()
    assert lines[0] == f"{year}: 3 scheduled days loaded"
    assert f"  complaint {filed.id}: {thursday} 23:59 → {saturday} 23:59" in lines
    # Tue and Wed are (fictional) holidays: Thu, Fri and the make-up Saturday count
    row = svc.store.complaint(filed.id)
    assert row.deadline == datetime.datetime.combine(saturday, datetime.time(23, 59, 59), CHINA)
    assert row.deadline_provisional is False
    assert row.state == "dispatched"
    last = svc.store.complaint_events(filed.id)[-1]
    assert (last.action, last.from_state, last.to_state, last.actor) == (
        "deadline_recomputed",
        "dispatched",
        "dispatched",
        "cli",
    )
    assert last.note == f"办理时限按 {year} 年节假日安排重新计算：{thursday} 23:59 → {saturday} 23:59"
    assert last.deadline == row.deadline


def test_a_corrected_schedule_replaces_the_first_one(demo_db, demo_grids, tmp_path):
    year = _first_unknown_year()
    first, corrected = tmp_path / "first" / f"{year}.csv", tmp_path / "corrected" / f"{year}.csv"
    first.parent.mkdir()
    corrected.parent.mkdir()
    monday, saturday = _fictional_schedule(first, year)
    # the erratum: Wednesday is worked after all
    wednesday = (monday + datetime.timedelta(days=2)).isoformat()
    corrected.write_text(
        "".join(
            line
            for line in first.read_text(encoding="utf-8").splitlines(keepends=True)
            if not line.startswith(wednesday)
        ),
        encoding="utf-8",
    )
    cli_ok(demo_db.cli("calendar", "load", str(first)))
    result = cli_ok(demo_db.cli("calendar", "load", str(corrected)))
    assert result.stdout.strip() == f"{year}: 2 scheduled days loaded"

    app = demo_db.app()
    assert [d["day"] for d in app.extensions["redgrid"].store.calendar_days()] == [
        monday + datetime.timedelta(days=1),
        saturday,
    ]
    clock = Clock(f"{monday.isoformat()}T09:00:00+08:00")
    svc = install(app, clock)
    filed = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "svc-erratum", "2026-11-01 09:00")
    row = step(svc, clock, filed, f"{monday.isoformat()}T10:00:00+08:00", "dispatch")
    friday = monday + datetime.timedelta(days=4)  # Wed, Thu, Fri
    assert row.deadline == datetime.datetime.combine(friday, datetime.time(23, 59, 59), CHINA)


def test_a_make_up_day_in_the_previous_december_leaves_that_years_holidays_alone(demo_db, tmp_path):
    year = _first_unknown_year()
    path = tmp_path / f"{year}.csv"
    _fictional_schedule(path, year)
    december = datetime.date(year - 1, 12, 31)
    december -= datetime.timedelta(days=(december.weekday() - 5) % 7)  # the last Saturday of the year before
    with path.open("a", encoding="utf-8", newline="") as f:
        csv.writer(f).writerow([december.isoformat(), "workday", "测试补班", "FICTIONAL, for tests only"])
    result = cli_ok(demo_db.cli("calendar", "load", str(path)))
    assert result.stdout.strip() == f"{year}: 4 scheduled days loaded"

    calendar = demo_db.app().extensions["redgrid"].cases.calendar
    library = WorkCalendar()
    assert calendar.is_workday(december) and not library.is_workday(december)
    day, differ = datetime.date(year - 1, 1, 1), []
    while day.year == year - 1:
        if day != december and calendar.is_workday(day) != library.is_workday(day):
            differ.append(day)
        day += datetime.timedelta(days=1)
    assert differ == []  # e.g. the National Day holiday of the year before is still a holiday


def test_calendar_load_refuses_a_faulty_file_naming_the_row(demo_db, tmp_path):
    path = tmp_path / "2027.csv"
    path.write_text(
        "date,kind,name\n2027-03-02,holiday,测试\n2027-03-03,workday,测试补班\n", encoding="utf-8"
    )
    result = demo_db.cli("calendar", "load", str(path))
    assert result.exit_code == 2
    assert (
        "2027.csv row 3, field 'kind': 2027-03-03 is a Wednesday and so already a working day"
        in result.stderr
    )
    assert demo_db.app().extensions["redgrid"].store.calendar_days() == []


# --- placement by address ---------------------------------------------------------------------


def test_an_address_from_the_gazetteer_places_the_complaint_in_that_addresses_grid(fresh_app):
    svc = install(fresh_app, Clock("2025-09-30T15:00:00+08:00"))
    entry = gazetteer_rows()["振兴路80号"]
    item = complaint_input(
        svc,
        external_id="svc-addr",
        reported_at="2025-09-30 14:00",
        category="rubbish",
        text="垃圾没人收",
        address="南海区大沥镇振兴路80号",
    )
    row = svc.file(item, actor="user:wang")
    assert row.grid_code == entry["grid_code"]
    assert (row.lon, row.lat) == pytest.approx((float(entry["lon"]), float(entry["lat"])), abs=1e-7)
    assert row.geocode["status"] == "matched" and row.geocode["address_id"] == entry["id"]
    assert row.input_coordsys is None and row.address == "南海区大沥镇振兴路80号"


def test_an_ambiguous_address_is_refused_with_its_candidates(fresh_app):
    svc = install(fresh_app, Clock("2025-09-30T15:00:00+08:00"))
    before = svc.store.count_complaints()
    item = complaint_input(
        svc,
        external_id="svc-ambiguous",
        reported_at="2025-09-30 14:00",
        category="rubbish",
        text="垃圾",
        address="沥苑路",
    )
    with pytest.raises(RowErrors) as info:
        svc.file(item, actor="user:wang")
    [error] = info.value.errors
    assert (error.row, error.field) == (1, "address")
    assert error.message.startswith("'沥苑路' is ambiguous; candidates: 沥苑路1号 (")
    candidates = [part.rsplit(" (", 1)[0] for part in error.message.split("candidates: ")[1].split("; ")]
    addresses = gazetteer_rows()
    assert len(candidates) == 5 and all(c in addresses and c.startswith("沥苑路") for c in candidates)
    assert len({addresses[c]["grid_code"] for c in candidates}) > 1  # why no one grid can be chosen
    assert svc.store.count_complaints() == before


# --- re-aggregation onto a second grid version ----------------------------------------------


def test_reaggregate_maps_every_complaint_onto_a_new_version_and_leaves_the_records(
    demo_db, fresh_app, reseeded_grids_file, reseeded_grids
):
    svc = fresh_app.extensions["redgrid"].cases
    columns = ["id", "lon", "lat", "grid_code", "grid_version_id"]
    before = svc.store.complaints_frame(columns).sort_values("id").reset_index(drop=True)
    assert len(before) >= 3000
    outcome = svc.grids.import_file(reseeded_grids_file, label="seed 7", by="test")
    assert outcome.created and outcome.version_id not in set(before["grid_version_id"])

    result = cli_ok(demo_db.cli("complaints", "reaggregate", str(outcome.version_id)))
    assert result.stdout.strip() == f"{len(before)} complaints mapped onto version {outcome.version_id}"

    mapped = svc.store.regrid_frame(outcome.version_id).sort_values("complaint_id").reset_index(drop=True)
    assert mapped["complaint_id"].tolist() == before["id"].tolist()
    assert mapped["grid_code"].notna().all()
    # the truth: which reseeded polygon holds each point, by shapely on the generated file
    geoms = np.asarray(reseeded_grids.geometry.values, dtype=object)
    tree = shapely.STRtree(geoms)
    points = shapely.points(before["lon"].to_numpy(float), before["lat"].to_numpy(float))
    point_idx, grid_idx = tree.query(points, predicate="intersects")
    first = {}
    for p, g in zip(point_idx.tolist(), grid_idx.tolist(), strict=True):
        first.setdefault(p, set()).add(str(reseeded_grids["code"].iloc[g]))
    assert len(first) == len(before)
    assert all(code in first[i] for i, code in enumerate(mapped["grid_code"]))
    assert (mapped["grid_code"] != before["grid_code"]).any()  # a real redraw, not a copy

    after = svc.store.complaints_frame(columns).sort_values("id").reset_index(drop=True)
    assert after.equals(before)
    # a second run replaces the mapping rather than adding to it
    assert svc.reaggregate(outcome.version_id) == len(before)
    assert len(svc.store.regrid_frame(outcome.version_id)) == len(before)
