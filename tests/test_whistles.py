"""吹哨报到 through the service: who may whistle, who reports in, and the times counted.

A refused step leaves the case and the whistle records as they were.
"""

from __future__ import annotations

import datetime

import pytest

from services.callers import user_caller
from services.errors import Conflict
from services.errors import Forbidden
from services.errors import Invalid
from services.errors import Refused
from services.whistles import WhistleService
from tests.test_complaints_service import Clock
from tests.test_complaints_service import events_of
from tests.test_complaints_service import file_at
from tests.test_complaints_service import grid_of_kind
from tests.test_complaints_service import install
from tests.test_complaints_service import step
from tests.test_complaints_service import t

CENTRE = user_caller("wang", "dispatcher")
PLANNER = user_caller("zhou", "planner")


def clerk(department: str) -> object:
    return user_caller(f"clerk-{department}", "department", department_code=department)


@pytest.fixture
def world(fresh_app, demo_grids):
    clock = Clock("2026-06-15T09:00:00+08:00")
    svc = install(fresh_app, clock)
    return svc, clock, WhistleService(svc.store, svc), demo_grids


def _filed(world, kind: str = "urban", external_id: str = "w-1"):
    svc, _, _, grids = world
    return file_at(svc, grids, grid_of_kind(grids, kind), external_id, "2026-06-15 08:30")


def test_the_centre_whistles_and_the_group_of_the_community_kind_is_summoned(world):
    svc, clock, whistles, _ = world
    catalog = svc.catalog
    for kind, external_id in (("urban", "w-u"), ("rural", "w-r")):
        row = _filed(world, kind, external_id)
        clock.set("2026-06-15T10:00:00+08:00")
        whistle = whistles.blow(CENTRE, row.id, expected_version=row.row_version, note="多部门会商")
        group = catalog.whistle_groups[kind]
        assert whistle.group_code == group.code
        assert [s.department_code for s in whistle.summons] == list(group.departments)
        assert whistle.blown_at == t("2026-06-15T10:00:00+08:00")
        # recorded in the history as a step that keeps the state
        action, before, after, actor, _, note = events_of(svc, row.id)[-1]
        assert (action, before, after, actor, note) == (
            "whistle",
            "collected",
            "collected",
            "user:wang",
            "多部门会商",
        )
        assert svc.store.complaint(row.id).row_version == row.row_version + 1
    assert catalog.whistle_groups["urban"].departments != catalog.whistle_groups["rural"].departments


def test_only_the_dispatch_centre_whistles_and_only_while_the_case_is_worked(world):
    svc, clock, whistles, _ = world
    row = _filed(world)
    before = (svc.store.complaint(row.id), svc.store.whistles(row.id))
    for who in (clerk("police"), PLANNER):
        with pytest.raises(Forbidden):
            whistles.blow(who, row.id, expected_version=row.row_version)
    with pytest.raises(Conflict):  # a stale version writes nothing
        whistles.blow(CENTRE, row.id, expected_version=row.row_version + 5)
    assert (svc.store.complaint(row.id), svc.store.whistles(row.id)) == before
    # the generic action form cannot take the step without its summons
    with pytest.raises(Refused) as elsewhere:
        svc.act(CENTRE, row.id, "whistle", expected_version=row.row_version)
    assert elsewhere.value.code == "whistle_elsewhere"
    done = step(svc, clock, row, "2026-06-15T10:00:00+08:00", "resolve_on_site")
    with pytest.raises(Refused):  # resolved: no longer being worked on
        whistles.blow(CENTRE, row.id, expected_version=done.row_version)
    assert svc.store.whistles(row.id) == []


def test_a_department_reports_in_and_responds_only_when_summoned(world):
    svc, clock, whistles, _ = world
    row = _filed(world)
    whistle = whistles.blow(CENTRE, row.id, expected_version=row.row_version)
    police = next(s for s in whistle.summons if s.department_code == "police")
    summoned = {s.department_code for s in whistle.summons}
    outsider = next(d for d in svc.catalog.departments if d not in summoned)
    for who in (clerk(outsider), CENTRE, clerk("water_affairs")):
        with pytest.raises(Forbidden):
            whistles.report_in(who, police.id)
        with pytest.raises(Forbidden):
            whistles.respond(who, police.id, "我们来")
    assert svc.store.summons(police.id) == police  # nothing changed
    clock.set("2026-06-15T09:25:00+08:00")
    came = whistles.report_in(clerk("police"), police.id)
    assert came.reported_at == t("2026-06-15T09:25:00+08:00") and came.reported_by == "user:clerk-police"
    with pytest.raises(Refused) as twice:
        whistles.report_in(clerk("police"), police.id)
    assert twice.value.code == "already_reported"
    with pytest.raises(Invalid) as empty:
        whistles.respond(clerk("police"), police.id, "   ")
    assert empty.value.field == "response"
    clock.set("2026-06-15T11:00:00+08:00")
    answered = whistles.respond(clerk("police"), police.id, "已安排民警上门调解，电话 13800138000")
    assert answered.reported_at == came.reported_at  # reporting in is kept as it was
    assert answered.responded_at == t("2026-06-15T11:00:00+08:00")
    with pytest.raises(Refused):
        whistles.respond(clerk("police"), police.id, "again")
    # numbers in a response are masked for those who do not see the case's contacts
    (shown,) = whistles.of_case(PLANNER, row.id)
    assert "13800138000" not in next(s.response for s in shown.summons if s.id == police.id)
    (full,) = whistles.of_case(CENTRE, row.id)
    assert "13800138000" in next(s.response for s in full.summons if s.id == police.id)


def test_response_times_are_counted_per_period(world):
    _, clock, whistles, _ = world
    row = _filed(world)
    clock.set("2026-06-15T09:00:00+08:00")
    whistle = whistles.blow(CENTRE, row.id, expected_version=row.row_version)
    first, second, third = whistle.summons[:3]
    clock.set("2026-06-15T09:20:00+08:00")
    whistles.report_in(clerk(first.department_code), first.id)
    clock.set("2026-06-15T10:00:00+08:00")
    whistles.report_in(clerk(second.department_code), second.id)
    clock.set("2026-06-15T12:00:00+08:00")
    whistles.respond(clerk(first.department_code), first.id, "处理中")
    clock.set("2026-06-15T13:00:00+08:00")
    whistles.respond(clerk(third.department_code), third.id, "已处理")  # reports in as it answers
    day = t("2026-06-15T00:00:00+08:00")
    figures = whistles.figures(day, day + datetime.timedelta(days=1))
    assert figures.whistles == 1 and figures.summoned == len(whistle.summons)
    assert (figures.reported, figures.responded) == (3, 2)
    assert figures.median_report_minutes == 60.0  # 20, 60, 240 minutes
    assert figures.median_response_minutes == 210.0  # 180 and 240 minutes
    assert figures.report_rate == round(3 / len(whistle.summons), 4)
    empty = whistles.figures(day - datetime.timedelta(days=1), day)
    assert (empty.whistles, empty.median_report_minutes, empty.report_rate) == (0, None, None)
