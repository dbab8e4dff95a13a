"""Work queues (我的待办), the searchable list and assignment to a named person (issue 9, items 4, 5).

The demo database holds 3,000 generated cases, so queue counts are checked as what constructed
cases add to them, and each count against the rows its queue lists. Assignment is checked
against the roster: a refused assignment leaves the case as it was.
"""

from __future__ import annotations

import dataclasses

import pytest

from geo.officials import Role
from geo.officials import UnitLevel
from services.accounts import AccountService
from services.callers import system
from services.callers import user_caller
from services.errors import Forbidden
from services.errors import Invalid
from services.permissions import Visibility
from services.queues import QueueService
from services.teams import beijing_day
from tests.test_complaints_service import Clock
from tests.test_complaints_service import file_at
from tests.test_complaints_service import grid_of_kind
from tests.test_complaints_service import install
from tests.test_complaints_service import step

CENTRE = user_caller("wang", "dispatcher")
CLERK = user_caller("cg", "department", department_code="urban_management")


@pytest.fixture
def world(fresh_app, demo_grids):
    clock = Clock("2026-06-15T09:00:00+08:00")
    svc = install(fresh_app, clock)
    services = fresh_app.extensions["redgrid"]
    queues = QueueService(svc)
    accounts = AccountService(svc.store, svc.teams, clock=clock)
    fresh_app.extensions["redgrid"] = dataclasses.replace(services, queues=queues, accounts=accounts)
    return svc, clock, queues, accounts, demo_grids


def grid_worker(svc, grid: str):
    """The roster's grid worker at the grid itself (the demo roster names one for every grid)."""
    people = [
        a
        for a in svc.store.assignments([grid])
        if a.role is Role.GRID_WORKER and a.unit_level is UnitLevel.GRID
    ]
    return sorted(people, key=lambda a: (a.name, a.phone))[0]


def snapshot(svc, case_id):
    return svc.store.complaint(case_id), svc.store.complaint_events(case_id)


def counts_of(queues, caller) -> dict[str, int]:
    return {q.queue.name: q.count for q in queues.counts(caller).queues}


# --- assignment ------------------------------------------------------------------------------


def test_a_new_case_goes_to_its_grids_grid_worker_and_the_history_says_so(world):
    svc, _clock, *_, grids = world
    code = grid_of_kind(grids, "urban")
    case = file_at(svc, grids, code, "q-1", "2026-06-15 08:30")
    worker = grid_worker(svc, code)
    assert case.assignee == str(worker.id)
    [intake] = svc.store.complaint_events(case.id)
    assert intake.assignee == str(worker.id)


def test_assign_only_to_a_member_of_the_cases_grid_team_and_a_refusal_changes_nothing(world):
    svc, clock, *_, grids = world
    code, elsewhere = grid_of_kind(grids, "urban"), grid_of_kind(grids, "rural")
    case = file_at(svc, grids, code, "q-2", "2026-06-15 08:30")
    team = svc.teams.team(code, beijing_day(clock()))
    other = next(m for m in team if str(m.id) != case.assignee)
    outsider = grid_worker(svc, elsewhere)
    assert outsider.id not in {m.id for m in team}
    before = snapshot(svc, case.id)
    for wrong in (str(outsider.id), "999999", "王五", ""):
        with pytest.raises(Invalid) as refused:
            svc.act(CENTRE, case.id, "assign", expected_version=case.row_version, assignee=wrong)
        assert refused.value.field == "assignee"
        assert snapshot(svc, case.id) == before
    done = svc.act(CENTRE, case.id, "assign", expected_version=case.row_version, assignee=str(other.id))
    assert done.case.assignee == str(other.id)
    assert svc.store.complaint_events(case.id)[-1].assignee == str(other.id)


def test_a_member_whose_term_has_ended_is_not_on_the_team(world):
    svc, clock, *_, grids = world
    code = grid_of_kind(grids, "urban")
    case = file_at(svc, grids, code, "q-3", "2026-06-15 08:30")
    worker = grid_worker(svc, code)
    ended = dataclasses.replace(worker, end=beijing_day(clock()).replace(day=1))
    svc.store.import_assignments([ended], filename="end.csv", sha256="e" * 64)
    svc.grids.refresh()
    with pytest.raises(Invalid) as refused:
        svc.act(CENTRE, case.id, "assign", expected_version=case.row_version, assignee=str(worker.id))
    assert refused.value.code == "not_in_team"


# --- the grid role -----------------------------------------------------------------------------


def test_a_grid_user_works_the_cases_of_their_own_grids_only(world):
    svc, _clock, queues, accounts, grids = world
    code, elsewhere = grid_of_kind(grids, "urban"), grid_of_kind(grids, "rural")
    mine = file_at(svc, grids, code, "q-4", "2026-06-15 08:30")
    theirs = file_at(svc, grids, elsewhere, "q-5", "2026-06-15 08:31")
    worker = grid_worker(svc, code)
    with pytest.raises(Invalid):  # a grid user names their roster entry
        accounts.create_user("li", "李网格", "correct horse battery", "grid")
    with pytest.raises(Invalid):
        accounts.create_user("li", "李网格", "correct horse battery", "grid", official_id=999999)
    user_id = accounts.create_user("li", "李网格", "correct horse battery", "grid", official_id=worker.id)
    me = accounts.user_by_id(user_id)
    assert code in me.grid_codes and elsewhere not in me.grid_codes and me.official_id == worker.id
    assert svc.view(me, mine).visibility is Visibility.CONTACTS
    assert svc.view(me, theirs).visibility is Visibility.DETAILS
    with pytest.raises(Forbidden):
        svc.act(me, theirs.id, "resolve_on_site", expected_version=theirs.row_version, note="x")
    with pytest.raises(Forbidden):  # the dispatch centre's work
        svc.act(me, mine.id, "dispatch", expected_version=mine.row_version)
    assert counts_of(queues, me)["mine"] >= 1
    listed = queues.queue(me, "mine", limit=1000)
    assert mine.id in {v.case.id for v in listed.page.items}
    assert all(v.case.assignee == str(worker.id) for v in listed.page.items)
    assert listed.labels[mine.id].assignee.name == worker.name
    on_site = svc.act(me, mine.id, "resolve_on_site", expected_version=mine.row_version, note="已处理")
    assert on_site.case.state == "resolved_on_site"
    # every case a grid user lists lies in their grids
    found = queues.search(me, {}, limit=1000)
    assert found.page.total and all(v.case.grid_code in me.grid_codes for v in found.page.items)
    assert queues.search(me, {"grid": elsewhere}).page.total == 0


# --- the queues --------------------------------------------------------------------------------


def test_the_dispatch_centres_queues_hold_what_they_say(world):
    svc, clock, queues, _, grids = world
    code = grid_of_kind(grids, "urban")
    before = counts_of(queues, CENTRE)
    new = file_at(svc, grids, code, "q-10", "2026-06-15 08:30")
    back = file_at(svc, grids, code, "q-11", "2026-06-15 08:31")
    back = step(svc, clock, back, "2026-06-15T09:10:00+08:00", "dispatch", department="urban_management")
    back = svc.act(CLERK, back.id, "return", expected_version=back.row_version, note="不属本部门").case
    longer = file_at(svc, grids, code, "q-12", "2026-06-15 08:32")
    longer = step(svc, clock, longer, "2026-06-15T09:20:00+08:00", "dispatch", department="urban_management")
    longer = svc.act(
        CLERK,
        longer.id,
        "request_extension",
        expected_version=longer.row_version,
        deadline="2026-07-30T18:00:00+08:00",
        note="需采购",
    ).case
    done = file_at(svc, grids, code, "q-13", "2026-06-15 08:33")
    done = step(svc, clock, done, "2026-06-15T09:30:00+08:00", "resolve_on_site", note="现场解决")
    after = counts_of(queues, CENTRE)
    assert {k: after[k] - before[k] for k in after} == {
        "new": 1,
        "returned": 1,
        "extensions": 1,
        "follow_up": 1,
        "overdue": 0,
    }
    for name, case in (("new", new), ("returned", back), ("extensions", longer), ("follow_up", done)):
        listed = queues.queue(CENTRE, name, limit=1000)
        assert case.id in {v.case.id for v in listed.page.items}
        assert listed.page.total == after[name]
    assert queues.counts(CENTRE).total == sum(after.values())


def test_a_departments_queues_due_soon_overdue_reopened_in_deadline_order(world):
    svc, clock, queues, _, grids = world
    code = grid_of_kind(grids, "urban")
    a = file_at(svc, grids, code, "q-20", "2026-06-15 08:30")
    a = step(
        svc,
        clock,
        a,
        "2026-06-15T09:00:00+08:00",
        "dispatch",
        department="urban_management",
        deadline=svc.calendar.add_workdays(clock(), 2),
    )
    b = file_at(svc, grids, code, "q-21", "2026-06-15 08:31")
    b = step(
        svc,
        clock,
        b,
        "2026-06-15T09:05:00+08:00",
        "dispatch",
        department="urban_management",
        deadline=svc.calendar.add_workdays(clock(), 10),
    )
    clock.set("2026-06-17T15:00:00+08:00")  # a's three working days are almost used up
    assert svc.deadline_status(svc.store.complaint(a.id)).value == "due_soon"
    assert svc.deadline_status(svc.store.complaint(b.id)).value == "on_time"
    due = queues.queue(CLERK, "due_soon", limit=1000)
    ids = [v.case.id for v in due.page.items]
    assert a.id in ids and b.id not in ids
    assert all(v.deadline_status.value == "due_soon" for v in due.page.items)
    deadlines = [v.case.deadline for v in due.page.items]
    assert deadlines == sorted(deadlines)
    assert counts_of(queues, CLERK)["due_soon"] == due.page.total
    clock.set("2026-06-25T09:00:00+08:00")
    overdue = queues.queue(CLERK, "overdue", limit=1000)
    assert a.id in {v.case.id for v in overdue.page.items}
    assert all(v.case.department_code == "urban_management" for v in overdue.page.items)
    assert counts_of(queues, CLERK)["overdue"] == overdue.page.total
    resolved = svc.act(
        CLERK, a.id, "resolve", expected_version=svc.store.complaint(a.id).row_version, note="已修"
    ).case
    reopened = step(svc, clock, resolved, "2026-06-25T10:00:00+08:00", "reopen", note="群众不满意")
    assert reopened.id in {v.case.id for v in queues.queue(CLERK, "reopened", limit=1000).page.items}
    total = queues.counts(CLERK)
    assert total.total == sum(q.count for q in total.queues if q.queue.name != "open")


def test_callers_without_a_desk_have_no_queues(world):
    _, _, queues, _, _ = world
    for who in (user_caller("li", "planner"), user_caller("x", "department")):
        assert queues.counts(who).total == 0 and not queues.counts(who).queues


# --- the list: filters, sorting, who may search what --------------------------------------------


def test_list_filters_and_sorting(world):
    svc, _clock, queues, _, grids = world
    code = grid_of_kind(grids, "urban")
    case = file_at(
        svc, grids, code, "q-30", "2026-06-15 08:30", text="井盖松动很危险", reporter_phone="13912345678"
    )
    assert [v.case.id for v in queues.search(CENTRE, {"ticket": str(case.id)}).page.items] == [case.id]
    assert [v.case.id for v in queues.search(CENTRE, {"ticket": "q-30"}).page.items] == [case.id]
    assert case.id in {v.case.id for v in queues.search(CENTRE, {"q": "井盖松动"}).page.items}
    by_phone = queues.search(CENTRE, {"phone": "139-1234-5678"})
    assert [v.case.id for v in by_phone.page.items] == [case.id]
    logged = svc.audit.list(system(), action="case.phone_search", limit=1)
    assert logged and "13912345678" not in str(logged[0].detail)
    with pytest.raises(Forbidden):
        queues.search(user_caller("li", "planner"), {"phone": "13912345678"})
    with pytest.raises(Invalid):
        queues.search(CENTRE, {"sort": "text"})
    for sort in ("deadline", "-reported_at", "state"):
        items = queues.search(CENTRE, {"sort": sort}, limit=200).page.items
        column = sort.lstrip("-")
        values = [getattr(v.case, column) for v in items if getattr(v.case, column) is not None]
        assert values == sorted(values, reverse=sort.startswith("-"))
    community = queues.search(CENTRE, {"community": case.community_code}, limit=1000).page.items
    assert community and {v.case.community_code for v in community} == {case.community_code}
    names = queues.search(CENTRE, {"ticket": str(case.id)}).labels[case.id]
    row = grids.loc[grids["code"] == code].iloc[0]
    assert names.grid == row["name"]
