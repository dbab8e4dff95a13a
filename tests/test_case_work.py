"""Case work past dispatch, through the service: return (退单), extensions, chasing, assignment.

Each refused step must leave the case as it was (same row, same history).
"""

from __future__ import annotations

import pytest

from services.callers import user_caller
from services.errors import Forbidden
from services.errors import Invalid
from services.errors import Refused
from tests.test_complaints_service import Clock
from tests.test_complaints_service import events_of
from tests.test_complaints_service import file_at
from tests.test_complaints_service import grid_of_kind
from tests.test_complaints_service import install
from tests.test_complaints_service import step
from tests.test_complaints_service import t


@pytest.fixture
def world(fresh_app, demo_grids):
    clock = Clock("2026-06-15T09:00:00+08:00")
    svc = install(fresh_app, clock)
    filed = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "work-1", "2026-06-15 08:30")
    dispatched = step(
        svc, clock, filed, "2026-06-15T09:30:00+08:00", "dispatch", department="urban_management"
    )
    return svc, clock, dispatched


def snapshot(svc, row):
    """What is stored of a case: the row and its whole history."""
    return svc.store.complaint(row.id), svc.store.complaint_events(row.id)


def test_a_department_returns_a_case_that_is_not_its_own_and_the_centre_dispatches_it_again(world):
    svc, clock, row = world
    clerk = user_caller("cg", "department", department_code="urban_management")
    clock.set("2026-06-15T10:00:00+08:00")
    view = svc.act(clerk, row.id, "return", expected_version=row.row_version, note="路灯属供电所")
    assert view.case.state == "returned" and view.deadline_status.value == "none"
    # the department cannot hand it on itself
    with pytest.raises(Forbidden):
        svc.act(clerk, row.id, "dispatch", expected_version=view.case.row_version, department="water")
    again = step(
        svc, clock, view.case, "2026-06-15T11:00:00+08:00", "dispatch", department="housing_construction"
    )
    assert (again.state, again.department_code) == ("dispatched", "housing_construction")
    assert [e[0] for e in events_of(svc, row.id)][-3:] == ["dispatch", "return", "dispatch"]


def test_an_extension_is_asked_by_the_department_and_decided_by_the_centre(world):
    svc, clock, row = world
    clerk = user_caller("cg", "department", department_code="urban_management")
    centre = user_caller("wang", "dispatcher")
    clock.set("2026-06-16T09:00:00+08:00")
    earlier, before = row.deadline.isoformat(), snapshot(svc, row)
    with pytest.raises(Invalid) as refused:
        svc.act(
            clerk, row.id, "request_extension", expected_version=row.row_version, deadline=earlier, note="x"
        )
    assert refused.value.field == "deadline" and snapshot(svc, row) == before
    wanted = "2026-06-26T18:00:00+08:00"
    asked = svc.act(
        clerk, row.id, "request_extension", expected_version=row.row_version, deadline=wanted, note="零件"
    )
    assert asked.case.extension_deadline == t(wanted) and asked.case.deadline == row.deadline
    with pytest.raises(Refused) as twice:
        svc.act(
            clerk,
            row.id,
            "request_extension",
            expected_version=asked.case.row_version,
            deadline=wanted,
            note="y",
        )
    assert twice.value.code == "no_pending_extension"
    with pytest.raises(Forbidden):  # only the centre decides
        svc.act(clerk, row.id, "approve_extension", expected_version=asked.case.row_version)
    approved = svc.act(centre, row.id, "approve_extension", expected_version=asked.case.row_version)
    assert approved.case.deadline == t(wanted) and approved.case.extension_deadline is None
    with pytest.raises(Refused) as none_left:
        svc.act(centre, row.id, "refuse_extension", expected_version=approved.case.row_version, note="z")
    assert none_left.value.code == "no_pending_extension"


def test_supervision_only_on_an_overdue_case_and_chasing_is_recorded(world):
    svc, clock, row = world
    centre = user_caller("wang", "dispatcher")
    clock.set("2026-06-16T09:00:00+08:00")
    before = snapshot(svc, row)
    with pytest.raises(Refused) as early:
        svc.act(centre, row.id, "supervise", expected_version=row.row_version, note="限期办结")
    assert early.value.code == "not_overdue" and snapshot(svc, row) == before
    urged = svc.act(centre, row.id, "urge", expected_version=row.row_version, note="请加快")
    assert urged.case.state == "dispatched"
    clock.set("2026-07-01T09:00:00+08:00")
    supervised = svc.act(
        centre, row.id, "supervise", expected_version=urged.case.row_version, note="限期办结"
    )
    assert [e[0] for e in events_of(svc, row.id)][-2:] == ["urge", "supervise"]
    assert supervised.case.state == "dispatched"
