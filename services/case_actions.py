"""What a caller may do to a case now, with the values a form starts from (issue 9, item 3).

The workflow (``complaints.workflow``) says which actions a state allows and the permissions
table (``services.permissions``) which of them a role may take; a person at the case page needs
the intersection narrowed by the case itself: a department only on its own cases, an extension
decided only when one was asked for, 督办 only once the case is overdue. Deciding that here,
beside the rules, keeps every adapter (page, API, command line) offering the same steps, and
gives the dispatch form its suggestion (department from the category and the community's
whistle group, deadline from the catalogue) and the bounds a deadline must stay within, which
``ComplaintService.transition`` enforces.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

from complaints import workflow
from complaints.errors import ComplaintsError
from complaints.records import Case
from complaints.records import CaseEvent
from complaints.workflow import Action
from complaints.workflow import DeadlineStatus
from services import permissions
from services.callers import WRITE
from services.callers import Caller

if TYPE_CHECKING:
    from services.cases import ComplaintService

#: the earliest deadline a person may set: an hour from now (a case nobody can start is no dispatch)
MIN_DEADLINE_LEAD = datetime.timedelta(hours=1)
#: actions offered with a form of their own; 指派 (assign) waits for the grid-team picker (item 5);
#: 吹哨 (whistle) summons departments, so it has its own section (webmap/templates/_whistle.html)
OFFERED: tuple[Action, ...] = tuple(a for a in Action if a not in (Action.ASSIGN, Action.WHISTLE))
#: the keep-state steps that chase a department, counted on the case and on the dashboard
CHASING = (Action.URGE, Action.SUPERVISE)


@dataclass(frozen=True)
class DispatchSuggestion:
    """Where the catalogue sends a case and why: the category's department, through the
    whistle group (吹哨群) of the case's community, within the category's working days."""

    department_code: str
    category_code: str
    whistle_group_code: str
    deadline_days: int
    deadline: datetime.datetime


@dataclass(frozen=True)
class NextSteps:
    """The actions a caller may take on one case now, in the workflow's order, and what their
    forms start from."""

    actions: tuple[Action, ...]
    now: datetime.datetime
    earliest_deadline: datetime.datetime
    latest_deadline: datetime.datetime
    suggestion: DispatchSuggestion | None
    extension_asked: datetime.datetime | None
    chased: dict[str, int]

    def __contains__(self, action: object) -> bool:
        return action in self.actions


def chase_counts(events: list[CaseEvent] | None) -> dict[str, int]:
    """How many times a case was chased (催办, ``urge``) and supervised (督办, ``supervise``)."""
    return {a.value: sum(e.action == a.value for e in events or []) for a in CHASING}


def deadline_bounds(now: datetime.datetime, max_days: int) -> tuple[datetime.datetime, datetime.datetime]:
    """(earliest, latest) deadline a person may set at ``now``."""
    return now + MIN_DEADLINE_LEAD, now + datetime.timedelta(days=max_days)


def offered(caller: Caller, case: Case, status: DeadlineStatus) -> tuple[Action, ...]:
    """The actions ``caller`` may take on ``case`` now (see the module docstring)."""
    if not caller.can(WRITE):
        return ()
    mine = permissions.allowed_actions(caller)
    if permissions.acting_role(caller) in permissions.DEPARTMENT_BOUND and (
        not caller.department_code or case.department_code != caller.department_code
    ):
        return ()
    pending = case.extension_deadline is not None
    skip = {Action.APPROVE_EXTENSION, Action.REFUSE_EXTENSION} if not pending else {Action.REQUEST_EXTENSION}
    if status is not DeadlineStatus.OVERDUE:
        skip.add(Action.SUPERVISE)
    allowed = workflow.TRANSITIONS[workflow.State(case.state)]
    return tuple(a for a in allowed if a in mine and a in OFFERED and a not in skip)


def next_steps(
    service: ComplaintService, caller: Caller, case: Case, events: list[CaseEvent] | None
) -> NextSteps:
    """The caller's next steps on ``case`` (already read and redacted for the caller)."""
    from services.cases import MAX_DEADLINE_DAYS

    now = service.now()
    actions = offered(caller, case, service.deadline_status(case, now))
    earliest, latest = deadline_bounds(now, MAX_DEADLINE_DAYS)
    suggestion = None
    if Action.DISPATCH in actions:
        routing = service.catalog.route(case.category_code, service.community_kind(case))
        try:
            due = service.calendar.add_workdays(now, routing.deadline_days)
        except ComplaintsError:  # a year nobody can count: the form asks for a deadline by hand
            due = earliest
        suggestion = DispatchSuggestion(
            department_code=routing.department.code,
            category_code=case.category_code,
            whistle_group_code=routing.whistle_group.code,
            deadline_days=routing.deadline_days,
            deadline=min(max(due, earliest), latest),
        )
    return NextSteps(
        actions=actions,
        now=now,
        earliest_deadline=earliest,
        latest_deadline=latest,
        suggestion=suggestion,
        extension_asked=case.extension_deadline,
        chased=chase_counts(events),
    )
