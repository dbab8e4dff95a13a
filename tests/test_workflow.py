"""The complaint life cycle: legal paths, every illegal transition, required fields, deadlines."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from complaints import workflow as wf
from complaints.workdays import WorkCalendar
from complaints.workflow import Action
from complaints.workflow import Case
from complaints.workflow import DeadlineStatus
from complaints.workflow import IllegalTransition
from complaints.workflow import MissingField
from complaints.workflow import State
from complaints.workflow import WorkflowError
from geo.timeutil import BEIJING


def at(m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0, y: int = 2026) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=BEIJING)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


# The rules written out again, independently of workflow.TRANSITIONS, so a change to the
# machine must be made twice: once on purpose, once here.
ALLOWED: dict[str, list[str]] = {
    "collected": [
        "deliberate",
        "resolve_on_site",
        "dispatch",
        "reject",
        "mark_duplicate",
        "assign",
        "whistle",
    ],
    "deliberation": ["resolve_on_site", "dispatch", "reject", "mark_duplicate", "assign", "whistle"],
    "dispatched": [
        "resolve",
        "dispatch",
        "return",
        "request_extension",
        "approve_extension",
        "refuse_extension",
        "urge",
        "supervise",
        "assign",
        "whistle",
    ],
    "resolved_on_site": ["start_follow_up", "follow_up", "reopen"],
    "resolved": ["start_follow_up", "follow_up", "reopen"],
    "follow_up": ["follow_up", "reopen"],
    "closed": ["reopen"],
    "reopened": ["dispatch", "deliberate", "urge", "supervise", "assign", "whistle"],
    "rejected": [],
    "duplicate": ["original_closed"],
    "returned": [
        "dispatch",
        "deliberate",
        "resolve_on_site",
        "reject",
        "mark_duplicate",
        "assign",
        "whistle",
    ],
}
EXPECTED_TARGET = {
    "deliberate": "deliberation",
    "resolve_on_site": "resolved_on_site",
    "dispatch": "dispatched",
    "resolve": "resolved",
    "start_follow_up": "follow_up",
    "follow_up": "closed",
    "reopen": "reopened",
    "reject": "rejected",
    "mark_duplicate": "duplicate",
    "return": "returned",
}
#: actions recorded in the history that leave the case in the state it was in
KEEPING = {
    "request_extension",
    "approve_extension",
    "refuse_extension",
    "urge",
    "supervise",
    "assign",
    "original_closed",
    "whistle",
}
#: recorded by the system only: never listed to a person as allowed
SYSTEM_ONLY = {"original_closed"}
WHEN = at(11, 16, 9)
DEADLINE = at(11, 19, 23, 59, 59)
# The fields that make each action valid, so only the state decides legality.
GOOD_FIELDS: dict[str, dict[str, Any]] = {
    "deliberate": {},
    "resolve_on_site": {},
    "dispatch": {"department": "urban_management", "deadline": DEADLINE},
    "resolve": {},
    "start_follow_up": {},
    "follow_up": {"satisfied": True},
    "reopen": {"note": "the resident reports the lamp is out again"},
    "reject": {"note": "advertising, not a complaint"},
    "mark_duplicate": {"duplicate_of": "C-2026-000123"},
    "return": {"note": "street lights are the power company's, not ours"},
    "request_extension": {"deadline": DEADLINE, "note": "the part is on order"},
    "approve_extension": {"deadline": DEADLINE},
    "refuse_extension": {"note": "a temporary repair is possible today"},
    "urge": {},
    "supervise": {"note": "overdue two days: report by noon"},
    "assign": {"assignee": "17"},
    "original_closed": {"duplicate_of": "C-2026-000123"},
    "whistle": {},
}
LEGAL = [(s, a) for s in ALLOWED for a in ALLOWED[s]]
ILLEGAL = [(s.value, a.value) for s in State for a in Action if a.value not in ALLOWED[s.value]]


def test_the_independent_table_covers_every_state_and_action() -> None:
    assert set(ALLOWED) == {s.value for s in State}
    assert {a.value for a in wf.KEEPS_STATE} == KEEPING
    assert {a: list(map(str, t)) for a, t in wf.TRANSITIONS.items()} == ALLOWED
    assert len(LEGAL) + len(ILLEGAL) == len(State) * len(Action)


@pytest.mark.parametrize(("state", "action"), LEGAL)
def test_every_allowed_action_moves_to_its_state(state: str, action: str) -> None:
    step = wf.apply(state, action, who="网格员 张三", when=WHEN, **GOOD_FIELDS[action])
    assert step.state == (state if action in KEEPING else EXPECTED_TARGET[action])
    assert step.event.from_state == state
    assert step.event.to_state == step.state
    assert step.event.action == action


@pytest.mark.parametrize(("state", "action"), ILLEGAL)
def test_every_illegal_transition_is_refused_naming_state_and_allowed(state: str, action: str) -> None:
    with pytest.raises(IllegalTransition) as excinfo:
        wf.apply(state, action, who="网格员 张三", when=WHEN, **GOOD_FIELDS[action])
    message = str(excinfo.value)
    assert message.startswith(f"cannot {action} a complaint in state {state}: ")
    offered = [a for a in ALLOWED[state] if a not in SYSTEM_ONLY]
    assert message.endswith(f"; allowed: {', '.join(offered) or 'none'}")
    assert excinfo.value.code == "illegal_transition"
    assert excinfo.value.allowed == tuple(offered)


@pytest.mark.parametrize(
    ("state", "action", "message"),
    [
        (
            "collected",
            "resolve",
            "cannot resolve a complaint in state collected: it must be resolved on site or dispatched first; "
            "allowed: deliberate, resolve_on_site, dispatch, reject, mark_duplicate, assign, "
            "whistle",
        ),
        (
            "deliberation",
            "deliberate",
            "cannot deliberate a complaint in state deliberation: it is already in deliberation; "
            "allowed: resolve_on_site, dispatch, reject, mark_duplicate, assign, whistle",
        ),
        (
            "collected",
            "follow_up",
            "cannot follow_up a complaint in state collected: the resident is called back only once the "
            "complaint is resolved; allowed: deliberate, resolve_on_site, dispatch, reject, mark_duplicate, assign, "
            "whistle",
        ),
        (
            "dispatched",
            "resolve_on_site",
            "cannot resolve_on_site a complaint in state dispatched: a department holds it; that department "
            "resolves or returns it, or dispatch re-assigns it; allowed: resolve, dispatch, return, "
            "request_extension, approve_extension, refuse_extension, urge, supervise, assign, whistle",
        ),
        (
            "reopened",
            "resolve_on_site",
            "cannot resolve_on_site a complaint in state reopened: a reopened complaint must be dispatched "
            "again or go back to deliberation; allowed: dispatch, deliberate, urge, supervise, assign, whistle",
        ),
        (
            "closed",
            "dispatch",
            "cannot dispatch a complaint in state closed: it is closed; reopen it first; allowed: reopen",
        ),
        (
            "rejected",
            "reopen",
            "cannot reopen a complaint in state rejected: rejected is final; file a new complaint if the "
            "problem persists; allowed: none",
        ),
    ],
)
def test_illegal_transition_messages(state: str, action: str, message: str) -> None:
    with pytest.raises(IllegalTransition) as excinfo:
        wf.apply(state, action, who="张三", when=WHEN, **GOOD_FIELDS[action])
    assert str(excinfo.value) == message


def test_legality_is_checked_before_fields() -> None:
    # A dispatcher who picks the wrong action learns that first, not that a field is missing.
    with pytest.raises(IllegalTransition):
        wf.dispatch("closed", None, None, who="张三", when=WHEN)


# --- whole lives -------------------------------------------------------------------------


def test_the_full_life_of_a_complaint(cal: WorkCalendar) -> None:
    case = Case()
    assert case.state is State.COLLECTED
    case = case.do("deliberate", who="小红格组长 李四", when=at(11, 16, 10), note="议事: 楼长、住户、城管")
    deadline = cal.add_workdays(at(11, 16, 16), 3)
    case = case.do(
        "dispatch", who="格长 王五", when=at(11, 16, 16), department="urban_management", deadline=deadline
    )
    assert case.last_dispatch is not None
    assert case.last_dispatch.deadline == at(11, 19, 23, 59, 59)
    assert case.deadline_status(at(11, 17, 12), cal) is DeadlineStatus.ON_TIME
    assert case.deadline_status(at(11, 19, 12), cal) is DeadlineStatus.DUE_SOON
    case = case.do("resolve", who="城管 赵六", when=at(11, 18, 11), note="路灯已修复")
    assert case.deadline_status(at(11, 30), cal) is DeadlineStatus.NONE
    case = case.do("follow_up", who="网格员 张三", when=at(11, 19, 15), satisfied=True)
    assert case.state is State.CLOSED
    assert wf.open311_status(case.state) == "closed"
    assert [(e.action, e.from_state, e.to_state) for e in case.events] == [
        ("deliberate", "collected", "deliberation"),
        ("dispatch", "deliberation", "dispatched"),
        ("resolve", "dispatched", "resolved"),
        ("follow_up", "resolved", "closed"),
    ]
    dispatch_event = case.events[1]
    assert (dispatch_event.who, dispatch_event.department, dispatch_event.deadline) == (
        "格长 王五",
        "urban_management",
        deadline,
    )
    assert case.events[3].satisfied is True


def test_an_unsatisfied_resident_reopens_and_it_is_dispatched_again(cal: WorkCalendar) -> None:
    case = Case()
    case = case.do(
        "dispatch",
        who="格长",
        when=at(11, 16, 9),
        department="water_affairs",
        deadline=cal.add_workdays(at(11, 16, 9), 1),
    )
    case = case.do("resolve", who="水务", when=at(11, 17, 9))
    case = case.do("start_follow_up", who="网格员", when=at(11, 17, 10), note="电话未接通, 明日上门")
    assert case.state is State.FOLLOW_UP
    assert wf.open311_status(case.state) == "open"
    case = case.do("follow_up", who="网格员", when=at(11, 18, 10), satisfied=False, note="雨后仍积水")
    assert case.state is State.REOPENED
    assert case.events[-1].satisfied is False
    # Past the first deadline (Tue 17 Nov) and not solved: overdue until dispatched again.
    assert case.deadline_status(at(11, 18, 10, 30), cal) is DeadlineStatus.OVERDUE
    with pytest.raises(IllegalTransition, match="must be dispatched again or go back to deliberation"):
        case.do("resolve_on_site", who="网格员", when=at(11, 18, 11))
    second_deadline = cal.add_workdays(at(11, 18, 11), 3)
    case = case.do(
        "dispatch",
        who="格长",
        when=at(11, 18, 11),
        department="housing_construction",
        deadline=second_deadline,
        note="改由住建处理排水管",
    )
    assert case.last_dispatch is not None
    assert case.last_dispatch.department == "housing_construction"
    assert case.last_dispatch.deadline == second_deadline
    case = case.do("resolve", who="住建", when=at(11, 20, 16))
    case = case.do("follow_up", who="网格员", when=at(11, 23, 10), satisfied=True)
    assert case.state is State.CLOSED


def test_reopened_can_go_back_to_deliberation() -> None:
    step = wf.reopen("closed", who="网格员", when=WHEN, note="居民再次反映")
    assert step.state is State.REOPENED
    assert wf.deliberate(step.state, who="组长", when=WHEN).state is State.DELIBERATION


def test_resolved_on_site_still_needs_the_residents_verdict() -> None:
    step = wf.resolve_on_site("collected", who="网格员", when=WHEN, note="调解邻里噪音纠纷")
    assert step.state is State.RESOLVED_ON_SITE
    assert wf.open311_status(step.state) == "open"
    assert wf.follow_up(step.state, True, who="网格员", when=WHEN).state is State.CLOSED
    assert wf.follow_up(step.state, False, who="网格员", when=WHEN).state is State.REOPENED


def test_dispatch_again_re_assigns_a_dispatched_complaint() -> None:
    step = wf.dispatch("dispatched", "police", DEADLINE, who="格长", when=WHEN, note="城管退单: 非本部门职责")
    assert step.state is State.DISPATCHED
    assert step.event.department == "police"


def test_junk_ends_in_final_states() -> None:
    rejected = wf.reject("collected", who="网格员", when=WHEN, note="广告信息")
    duplicate = wf.mark_duplicate("deliberation", "C-2026-000123", who="网格员", when=WHEN)
    assert (rejected.state, duplicate.state) == (State.REJECTED, State.DUPLICATE)
    assert duplicate.event.duplicate_of == "C-2026-000123"
    assert wf.FINAL_STATES == {State.REJECTED, State.DUPLICATE}


def test_open311_status_of_every_state() -> None:
    closed = {"closed", "rejected", "duplicate"}
    assert {s.value: wf.open311_status(s) for s in State} == {
        s.value: ("closed" if s.value in closed else "open") for s in State
    }


def test_case_refuses_events_out_of_order() -> None:
    case = Case().do("deliberate", who="组长", when=at(11, 16, 10))
    with pytest.raises(WorkflowError, match="is before the last event"):
        case.do("reject", who="组长", when=at(11, 16, 9), note="junk")


# --- required fields ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "action", "fields", "message"),
    [
        (
            "collected",
            "dispatch",
            {"deadline": DEADLINE},
            "dispatch needs department: the department code that must handle it",
        ),
        (
            "collected",
            "dispatch",
            {"department": "   ", "deadline": DEADLINE},
            "dispatch needs department: the department code that must handle it",
        ),
        (
            "collected",
            "dispatch",
            {"department": "police"},
            "dispatch needs deadline: the due time (限期), e.g. from WorkCalendar.add_workdays",
        ),
        (
            "collected",
            "dispatch",
            {"department": "police", "deadline": datetime(2026, 11, 19, 18)},
            "dispatch needs deadline as a datetime with a time zone, "
            "got datetime.datetime(2026, 11, 19, 18, 0)",
        ),
        (
            "collected",
            "dispatch",
            {"department": "police", "deadline": at(11, 16, 8)},
            "dispatch deadline 2026-11-16T08:00:00+08:00 is not after the dispatch time "
            "2026-11-16T09:00:00+08:00",
        ),
        (
            "resolved",
            "follow_up",
            {},
            "follow_up needs satisfied: whether the resident is satisfied (True/False)",
        ),
        (
            "resolved",
            "follow_up",
            {"satisfied": "yes"},
            "follow_up needs satisfied as True or False, got 'yes'",
        ),
        ("closed", "reopen", {}, "reopen needs note: why it is reopened"),
        ("closed", "reopen", {"note": "  "}, "reopen needs note: why it is reopened"),
        ("collected", "reject", {}, "reject needs note: why it is rejected, for the resident and the record"),
        (
            "collected",
            "mark_duplicate",
            {},
            "mark_duplicate needs duplicate_of: the id of the complaint it duplicates",
        ),
        ("dispatched", "resolve", {"department": "police"}, "resolve does not take department"),
        (
            "collected",
            "deliberate",
            {"deadline": DEADLINE, "satisfied": True},
            "deliberate does not take deadline, satisfied",
        ),
    ],
)
def test_required_fields(state: str, action: str, fields: dict[str, Any], message: str) -> None:
    with pytest.raises(MissingField) as excinfo:
        wf.apply(state, action, who="张三", when=WHEN, **fields)
    assert str(excinfo.value) == message


def test_who_and_when_are_required() -> None:
    with pytest.raises(MissingField, match="deliberate needs who"):
        wf.deliberate("collected", who=" ", when=WHEN)
    with pytest.raises(MissingField, match="deliberate needs when: a datetime with a time zone"):
        wf.deliberate("collected", who="张三", when=datetime(2026, 11, 16, 9))


def test_notes_are_stripped_and_blank_notes_dropped() -> None:
    assert wf.resolve("dispatched", who="张三", when=WHEN, note="  修好了 ").event.note == "修好了"
    assert wf.resolve("dispatched", who="张三", when=WHEN, note="   ").event.note is None


# --- overdue and due soon -----------------------------------------------------------------


def test_due_soon_at_exactly_80_percent_of_the_working_time(cal: WorkCalendar) -> None:
    # Dispatched Thu 19 Nov 00:00, due Thu 26 Nov 00:00: Thu, Fri, Mon, Tue, Wed = 5 working
    # days. 80 % = 4 days, reached at Wed 25 Nov 00:00 (the weekend does not count).
    dispatched, deadline = at(11, 19), at(11, 26)

    def status(now: datetime) -> DeadlineStatus:
        return wf.deadline_status("dispatched", dispatched, deadline, now, cal)

    assert status(at(11, 21, 12)) is DeadlineStatus.ON_TIME  # Saturday: 2 of 5 days used
    assert status(at(11, 24, 23, 59, 59)) is DeadlineStatus.ON_TIME
    assert status(at(11, 25) - timedelta(microseconds=1)) is DeadlineStatus.ON_TIME
    assert status(at(11, 25)) is DeadlineStatus.DUE_SOON
    assert status(at(11, 26)) is DeadlineStatus.DUE_SOON  # at the deadline itself: not yet overdue
    assert status(at(11, 26) + timedelta(microseconds=1)) is DeadlineStatus.OVERDUE
    assert wf.is_due_soon("dispatched", dispatched, deadline, at(11, 25), cal)
    assert not wf.is_overdue("dispatched", dispatched, deadline, at(11, 25), cal)
    assert wf.is_overdue("dispatched", dispatched, deadline, at(11, 26, 0, 0, 1), cal)
    assert not wf.is_due_soon("dispatched", dispatched, deadline, at(11, 26, 0, 0, 1), cal)


def test_the_holiday_does_not_make_a_case_due_soon(cal: WorkCalendar) -> None:
    dispatched = at(9, 30, 16, y=2025)
    deadline = cal.add_workdays(dispatched, 3)  # Sat 11 Oct 2025, the make-up day
    assert wf.deadline_status("dispatched", dispatched, deadline, at(10, 7, 12, y=2025), cal) == "on_time"
    # Allowed: 8 h on 30 Sep + 72 h - 1 s; 80 % of it is 64 h - 0.8 s. Used by Friday
    # 10 Oct noon: 8 + 24 + 12 = 44 h; by the make-up Saturday 07:00, 63 h; by 08:00, 64 h.
    assert wf.deadline_status("dispatched", dispatched, deadline, at(10, 10, 12, y=2025), cal) == "on_time"
    assert wf.deadline_status("dispatched", dispatched, deadline, at(10, 11, 7, y=2025), cal) == "on_time"
    assert wf.deadline_status("dispatched", dispatched, deadline, at(10, 11, 8, y=2025), cal) == "due_soon"
    assert wf.deadline_status("dispatched", dispatched, deadline, at(10, 12, 0, y=2025), cal) == "overdue"


def test_a_reopened_case_is_held_to_its_last_deadline_until_dispatched_again(cal: WorkCalendar) -> None:
    dispatched, deadline = at(11, 19), at(11, 26)
    assert wf.is_overdue("reopened", dispatched, deadline, at(11, 27), cal)
    assert wf.is_due_soon("reopened", dispatched, deadline, at(11, 25, 12), cal)
    assert not wf.is_overdue("resolved", dispatched, deadline, at(11, 27), cal)


@pytest.mark.parametrize("state", [s for s in State if s not in {State.DISPATCHED, State.REOPENED}])
def test_no_deadline_runs_once_resolved_or_before_dispatch(cal: WorkCalendar, state: State) -> None:
    long_after = at(12, 31)
    assert wf.deadline_status(state, at(11, 19), at(11, 26), long_after, cal) is DeadlineStatus.NONE
    assert not wf.is_overdue(state, at(11, 19), at(11, 26), long_after, cal)


def test_a_dispatched_case_without_a_deadline_or_dispatch_time(cal: WorkCalendar) -> None:
    assert wf.deadline_status("dispatched", at(11, 19), None, at(12, 1), cal) is DeadlineStatus.NONE
    assert wf.deadline_status("dispatched", None, at(11, 26), at(11, 25), cal) is DeadlineStatus.ON_TIME
    assert wf.deadline_status("dispatched", None, at(11, 26), at(11, 27), cal) is DeadlineStatus.OVERDUE


def test_deadline_status_refuses_a_naive_now(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="now must be a datetime with a time zone"):
        wf.deadline_status("dispatched", at(11, 19), at(11, 26), datetime(2026, 11, 20), cal)


def test_unknown_state_and_action_names_list_the_real_ones() -> None:
    with pytest.raises(WorkflowError) as excinfo:
        wf.apply("open", "resolve", who="张三", when=WHEN)
    assert str(excinfo.value) == (
        "unknown state 'open'; one of: collected, deliberation, resolved_on_site, dispatched, resolved, "
        "follow_up, closed, reopened, rejected, duplicate, returned"
    )
    with pytest.raises(WorkflowError, match="unknown action 'fix'; one of: deliberate, resolve_on_site"):
        wf.apply("dispatched", "fix", who="张三", when=WHEN)


def dispatched_case() -> wf.Case:
    return wf.Case().do(
        "dispatch", who="调度 王", when=WHEN, department="urban_management", deadline=DEADLINE
    )


def test_an_approved_extension_moves_the_deadline_and_a_refused_one_keeps_it() -> None:
    case = dispatched_case()
    later = at(11, 24, 23, 59, 59)
    asked = case.do("request_extension", who="城管 李", when=at(11, 17, 9), deadline=later, note="零件在途")
    assert asked.state == "dispatched" and asked.pending_extension is not None
    assert asked.deadline == DEADLINE  # asking moves nothing
    approved = asked.do("approve_extension", who="调度 王", when=at(11, 17, 10), deadline=later)
    assert approved.deadline == later and approved.pending_extension is None
    refused = asked.do("refuse_extension", who="调度 王", when=at(11, 17, 10), note="今日可临时修复")
    assert refused.deadline == DEADLINE and refused.pending_extension is None
    assert refused.deadline_status(at(11, 20, 9), WorkCalendar()) is wf.DeadlineStatus.OVERDUE
    assert approved.deadline_status(at(11, 20, 9), WorkCalendar()) is not wf.DeadlineStatus.OVERDUE


def test_one_extension_request_at_a_time_and_no_decision_without_one() -> None:
    case = dispatched_case()
    with pytest.raises(wf.ExtensionError, match="no extension has been asked for"):
        case.do("approve_extension", who="调度 王", when=at(11, 17, 10), deadline=at(11, 24))
    asked = case.do("request_extension", who="城管 李", when=at(11, 17, 9), deadline=at(11, 24), note="雨天")
    with pytest.raises(wf.ExtensionError, match="already waiting"):
        asked.do("request_extension", who="城管 李", when=at(11, 17, 11), deadline=at(11, 25), note="再延")
    # a new dispatch (改派) drops the pending request with the department that asked
    moved = asked.do("dispatch", who="调度 王", when=at(11, 17, 12), department="water", deadline=at(11, 20))
    assert moved.pending_extension is None and moved.deadline == at(11, 20)


def test_a_returned_case_goes_back_to_the_centre_and_is_dispatched_again() -> None:
    returned = dispatched_case().do("return", who="城管 李", when=at(11, 16, 10), note="不属本部门")
    assert returned.state == "returned"
    assert returned.deadline_status(at(11, 30), WorkCalendar()) is wf.DeadlineStatus.NONE
    again = returned.do("dispatch", who="调度 王", when=at(11, 16, 11), department="water", deadline=DEADLINE)
    assert again.state == "dispatched" and again.last_dispatch.department == "water"
    with pytest.raises(wf.MissingField, match="return needs note"):
        dispatched_case().do("return", who="城管 李", when=at(11, 16, 10))
