"""The life of a complaint as a pure state machine: 诉求收集 → 多元议事 → 问题化解 → 回访反馈.

Pure, so the web layer, the command line, imports and tests all apply the same rules:
nothing here reads a clock, a database or a session. Every change is a named action
that returns an ``Event`` (who, when, what, from which state to which) and the new
state; storing events rather than overwriting a status keeps the history a town is
judged on (按时结案率, 返工率) and that Open311's ``notes[]`` publishes.

States and the actions that leave them::

    collected ──deliberate──▶ deliberation
    collected | deliberation ──resolve_on_site──▶ resolved_on_site   (就地调处)
    collected | deliberation | reopened | returned | dispatched ──dispatch──▶ dispatched
                                    (from dispatched: re-assignment, 改派, e.g. wrong department)
    dispatched ──resolve──▶ resolved                                 (问题化解)
    dispatched ──return(note)──▶ returned                             (退单: back to the centre)
    returned ──dispatch | deliberate | resolve_on_site | reject | mark_duplicate──▶ …
    resolved | resolved_on_site ──start_follow_up──▶ follow_up       (回访中: call-back begun, no verdict)
    resolved | resolved_on_site | follow_up ──follow_up(satisfied)──▶ closed | reopened
    resolved | resolved_on_site | follow_up | closed ──reopen(note)──▶ reopened
    reopened ──deliberate | dispatch──▶ …                            (不满意: back to work)
    collected | deliberation ──reject(note)──▶ rejected               (final)
    collected | deliberation | returned ──mark_duplicate(duplicate_of)──▶ duplicate (final)

Steps that keep the state (the case stays where it is; the history records them):

    dispatched ──request_extension(deadline, note)──▶ dispatched      (延期申请, by the department)
    dispatched ──approve_extension [deadline] | refuse_extension(note)──▶ dispatched
    dispatched | reopened ──urge──▶ same                               (催办)
    dispatched | reopened ──supervise(note)──▶ same                    (督办, on an overdue case)
    any open state ──assign(assignee)──▶ same                          (指派 to a grid-team member)
    duplicate ──original_closed(duplicate_of)──▶ duplicate             (by the system: its original
                                    was closed or rejected; recorded with the original's step)
    collected | deliberation | dispatched | reopened | returned ──whistle──▶ same
                                    (吹哨: the whistle group's departments are summoned to report in)

Decisions, and why:

* ``rejected`` (not a matter for the town, abusive, empty) and ``duplicate`` (same
  problem already open; the event names the original) are final. Junk is decided at
  intake or in deliberation, before a department spends time on it; a wrong rejection
  is corrected by filing the complaint anew, so the rejection stays in the record.
* ``closed`` is not final: a resident may come back later (FixMyStreet #897 asks for
  exactly this), so ``reopen`` is allowed from it, with a note saying why.
* A reopened complaint must go back to a department or to deliberation. Resolving it
  on site again would let the grid team close its own complaint against the
  resident's verdict.
* Resolving on site and resolving by a department both end in a call-back: the
  resident, not the grid team, decides that a problem is solved.
* 退单 (``return``) sends a case the department says is not its own back to the dispatch
  centre with a reason, which re-dispatches it (or settles it otherwise); a department
  never hands a case straight to another department.
* An extension is asked for with the deadline wanted and a reason; at most one request is
  pending (``Case.pending_extension``), and only the dispatch centre approves or refuses it.
  Approving moves the deadline; refusing keeps it. A new dispatch drops a pending request.
* The ``follow_up`` state is optional: it records that the call-back has begun (the
  resident was not reached, a visit is booked) so such cases are not counted as
  waiting; the verdict can also be given straight from ``resolved``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Literal
from typing import NamedTuple
from typing import TypeVar

from complaints.errors import ComplaintsError
from complaints.workdays import WorkCalendar


class State(enum.StrEnum):
    COLLECTED = "collected"  # 诉求收集: received and located in a grid
    DELIBERATION = "deliberation"  # 多元议事
    RESOLVED_ON_SITE = "resolved_on_site"  # 就地调处
    DISPATCHED = "dispatched"  # 派单: with a department, against a deadline
    RESOLVED = "resolved"  # 问题化解: the department reports it solved
    FOLLOW_UP = "follow_up"  # 回访反馈 under way
    CLOSED = "closed"  # the resident is satisfied
    REOPENED = "reopened"  # 不满意: back to work
    REJECTED = "rejected"  # junk or not a matter for the town: final
    DUPLICATE = "duplicate"  # the same problem is already a complaint: final
    RETURNED = "returned"  # 退单: the department sent it back to the dispatch centre


class Action(enum.StrEnum):
    DELIBERATE = "deliberate"
    RESOLVE_ON_SITE = "resolve_on_site"
    DISPATCH = "dispatch"
    RESOLVE = "resolve"
    START_FOLLOW_UP = "start_follow_up"
    FOLLOW_UP = "follow_up"
    REOPEN = "reopen"
    REJECT = "reject"
    MARK_DUPLICATE = "mark_duplicate"
    RETURN = "return"  # 退单
    REQUEST_EXTENSION = "request_extension"  # 延期申请
    APPROVE_EXTENSION = "approve_extension"
    REFUSE_EXTENSION = "refuse_extension"
    URGE = "urge"  # 催办
    SUPERVISE = "supervise"  # 督办
    ASSIGN = "assign"  # 指派 to a named member of the grid team
    ORIGINAL_CLOSED = "original_closed"  # the original of a duplicate was closed or rejected
    WHISTLE = "whistle"  # 吹哨: summon the whistle group's departments to report in (报到)


_S, _A = State, Action
_E = TypeVar("_E", State, Action)

# Order matters: it is the order of "allowed: …" in error messages, most usual first.
TRANSITIONS: Mapping[State, Mapping[Action, State]] = {
    _S.COLLECTED: {
        _A.DELIBERATE: _S.DELIBERATION,
        _A.RESOLVE_ON_SITE: _S.RESOLVED_ON_SITE,
        _A.DISPATCH: _S.DISPATCHED,
        _A.REJECT: _S.REJECTED,
        _A.MARK_DUPLICATE: _S.DUPLICATE,
    },
    _S.DELIBERATION: {
        _A.RESOLVE_ON_SITE: _S.RESOLVED_ON_SITE,
        _A.DISPATCH: _S.DISPATCHED,
        _A.REJECT: _S.REJECTED,
        _A.MARK_DUPLICATE: _S.DUPLICATE,
    },
    _S.DISPATCHED: {
        _A.RESOLVE: _S.RESOLVED,
        _A.DISPATCH: _S.DISPATCHED,
        _A.RETURN: _S.RETURNED,
        _A.REQUEST_EXTENSION: _S.DISPATCHED,
        _A.APPROVE_EXTENSION: _S.DISPATCHED,
        _A.REFUSE_EXTENSION: _S.DISPATCHED,
        _A.URGE: _S.DISPATCHED,
        _A.SUPERVISE: _S.DISPATCHED,
        _A.ASSIGN: _S.DISPATCHED,
    },
    _S.RESOLVED_ON_SITE: {
        _A.START_FOLLOW_UP: _S.FOLLOW_UP,
        _A.FOLLOW_UP: _S.CLOSED,  # or REOPENED when not satisfied
        _A.REOPEN: _S.REOPENED,
    },
    _S.RESOLVED: {
        _A.START_FOLLOW_UP: _S.FOLLOW_UP,
        _A.FOLLOW_UP: _S.CLOSED,
        _A.REOPEN: _S.REOPENED,
    },
    _S.FOLLOW_UP: {
        _A.FOLLOW_UP: _S.CLOSED,
        _A.REOPEN: _S.REOPENED,
    },
    _S.CLOSED: {
        _A.REOPEN: _S.REOPENED,
    },
    _S.REOPENED: {
        _A.DISPATCH: _S.DISPATCHED,
        _A.DELIBERATE: _S.DELIBERATION,
        _A.URGE: _S.REOPENED,
        _A.SUPERVISE: _S.REOPENED,
        _A.ASSIGN: _S.REOPENED,
    },
    _S.RETURNED: {
        _A.DISPATCH: _S.DISPATCHED,
        _A.DELIBERATE: _S.DELIBERATION,
        _A.RESOLVE_ON_SITE: _S.RESOLVED_ON_SITE,
        _A.REJECT: _S.REJECTED,
        _A.MARK_DUPLICATE: _S.DUPLICATE,
        _A.ASSIGN: _S.RETURNED,
    },
    _S.REJECTED: {},
    # final, but told what became of its original (the resident's progress page shows it)
    _S.DUPLICATE: {_A.ORIGINAL_CLOSED: _S.DUPLICATE},
}
# a grid-team member can be named on any case still being worked on
for _state in (_S.COLLECTED, _S.DELIBERATION):
    TRANSITIONS[_state][_A.ASSIGN] = _state  # type: ignore[index]
#: the states in which a case is being worked on: the departments may be whistled (吹哨) to it
WHISTLE_STATES = (_S.COLLECTED, _S.DELIBERATION, _S.DISPATCHED, _S.REOPENED, _S.RETURNED)
for _state in WHISTLE_STATES:
    TRANSITIONS[_state][_A.WHISTLE] = _state  # type: ignore[index]

#: actions that leave the state as it is: recorded in the history, counted, never a transition
KEEPS_STATE = frozenset(
    {
        _A.REQUEST_EXTENSION,
        _A.APPROVE_EXTENSION,
        _A.REFUSE_EXTENSION,
        _A.URGE,
        _A.SUPERVISE,
        _A.ASSIGN,
        _A.ORIGINAL_CLOSED,
        _A.WHISTLE,
    }
)
#: states no action moves out of (a record may still be added to them: ``KEEPS_STATE``)
FINAL_STATES = frozenset(s for s, actions in TRANSITIONS.items() if set(actions) <= KEEPS_STATE)
#: actions only the system records (never offered to a person, refused when one asks)
SYSTEM_ONLY = frozenset({_A.ORIGINAL_CLOSED})
#: what closing or rejecting an original tells its duplicates (``Action.ORIGINAL_CLOSED``)
INFORMS_DUPLICATES = frozenset({_S.CLOSED, _S.REJECTED})

# Open311 knows only open and closed. Resolved stays open until the resident's verdict,
# as agreed for our Open311 mapping: 回访 done is what closes a request.
OPEN311_STATUS: Mapping[State, Literal["open", "closed"]] = {
    state: "closed" if state in {_S.CLOSED, _S.REJECTED, _S.DUPLICATE} else "open" for state in State
}

# Why an action is refused, said in the dispatcher's terms rather than as a table lookup.
# Past intake the state alone explains it; at intake it depends on what was tried.
_STATE_REASON: Mapping[State, str] = {
    _S.DISPATCHED: "a department holds it; that department resolves or returns it, or dispatch re-assigns it",
    _S.RESOLVED: "it is already resolved and waits for the resident's verdict (follow_up), or reopen",
    _S.RESOLVED_ON_SITE: "it is already resolved and waits for the resident's verdict (follow_up), or reopen",
    _S.FOLLOW_UP: "the call-back is under way; record the resident's verdict (follow_up) or reopen",
    _S.CLOSED: "it is closed; reopen it first",
    _S.REOPENED: "a reopened complaint must be dispatched again or go back to deliberation",
    _S.RETURNED: "the department returned it; the dispatch centre dispatches it again or settles it",
}
_INTAKE_REASON: Mapping[Action, str] = {
    _A.DELIBERATE: "it is already in deliberation",
    _A.RESOLVE: "it must be resolved on site or dispatched first",
    _A.START_FOLLOW_UP: "the call-back starts only once the complaint is resolved",
    _A.FOLLOW_UP: "the resident is called back only once the complaint is resolved",
    _A.REOPEN: "only a resolved or closed complaint can be reopened",
    _A.RETURN: "only a case dispatched to a department can be returned",
    _A.REQUEST_EXTENSION: "an extension is asked for only on a case dispatched to a department",
    _A.APPROVE_EXTENSION: "there is no extension request on a case that is not dispatched",
    _A.REFUSE_EXTENSION: "there is no extension request on a case that is not dispatched",
    _A.URGE: "only a case with a running deadline (dispatched or reopened) is chased",
    _A.SUPERVISE: "only a case with a running deadline (dispatched or reopened) is supervised",
    _A.ORIGINAL_CLOSED: "only a duplicate is told that its original was closed",
}

# Fields each action takes; the ones in _REQUIRED must be given. Others are refused, so a
# deadline passed to the wrong action is an error instead of being silently dropped.
_TAKES: Mapping[Action, frozenset[str]] = {
    _A.DELIBERATE: frozenset({"note"}),
    _A.RESOLVE_ON_SITE: frozenset({"note"}),
    _A.DISPATCH: frozenset({"note", "department", "deadline"}),
    _A.RESOLVE: frozenset({"note"}),
    _A.START_FOLLOW_UP: frozenset({"note"}),
    _A.FOLLOW_UP: frozenset({"note", "satisfied"}),
    _A.REOPEN: frozenset({"note"}),
    _A.REJECT: frozenset({"note"}),
    _A.MARK_DUPLICATE: frozenset({"note", "duplicate_of"}),
    _A.RETURN: frozenset({"note"}),
    _A.REQUEST_EXTENSION: frozenset({"note", "deadline"}),
    _A.APPROVE_EXTENSION: frozenset({"note", "deadline"}),
    _A.REFUSE_EXTENSION: frozenset({"note"}),
    _A.URGE: frozenset({"note"}),
    _A.SUPERVISE: frozenset({"note"}),
    _A.ASSIGN: frozenset({"note", "assignee"}),
    _A.ORIGINAL_CLOSED: frozenset({"note", "duplicate_of"}),
    _A.WHISTLE: frozenset({"note"}),
}

_REQUIRED: Mapping[Action, tuple[tuple[str, str], ...]] = {
    _A.DISPATCH: (
        ("department", "the department code that must handle it"),
        ("deadline", "the due time (限期), e.g. from WorkCalendar.add_workdays"),
    ),
    _A.FOLLOW_UP: (("satisfied", "whether the resident is satisfied (True/False)"),),
    _A.REOPEN: (("note", "why it is reopened"),),
    _A.REJECT: (("note", "why it is rejected, for the resident and the record"),),
    _A.MARK_DUPLICATE: (("duplicate_of", "the id of the complaint it duplicates"),),
    _A.RETURN: (("note", "why the department returns it (退单理由)"),),
    _A.REQUEST_EXTENSION: (
        ("deadline", "the new deadline asked for"),
        ("note", "why more time is needed"),
    ),
    _A.APPROVE_EXTENSION: (("deadline", "the new deadline (the one asked for, or another)"),),
    _A.REFUSE_EXTENSION: (("note", "why the extension is refused"),),
    _A.SUPERVISE: (("note", "what the supervision requires (督办意见)"),),
    _A.ASSIGN: (("assignee", "the grid-team member (roster id) who takes it"),),
    _A.ORIGINAL_CLOSED: (("duplicate_of", "the id of the original that was closed or rejected"),),
}


class WorkflowError(ComplaintsError):
    """A refused action: the complaint is left as it was."""

    code = "workflow_error"


class IllegalTransition(WorkflowError):
    """An action that the complaint's current state does not allow."""

    code = "illegal_transition"

    def __init__(self, state: State, action: Action) -> None:
        self.state = state
        self.action = action
        self.allowed = tuple(a for a in TRANSITIONS[state] if a not in SYSTEM_ONLY)
        if state in FINAL_STATES:
            reason = f"{state} is final; file a new complaint if the problem persists"
        elif state in _STATE_REASON:
            reason = _STATE_REASON[state]
        else:
            reason = _INTAKE_REASON[action]
        allowed = ", ".join(self.allowed) or "none"
        super().__init__(f"cannot {action} a complaint in state {state}: {reason}; allowed: {allowed}")


class ExtensionError(WorkflowError):
    """An extension asked for twice, or decided when none was asked for."""

    code = "no_pending_extension"


class MissingField(WorkflowError):
    """An action given without a field it needs (or with one it does not take); ``field``
    names it, so a form can show the message beside it in the reader's language."""

    code = "missing_field"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Event:
    """One step in a complaint's history, as stored and as published in Open311 ``notes[]``."""

    who: str
    when: datetime
    action: Action
    from_state: State
    to_state: State
    note: str | None = None
    department: str | None = None
    deadline: datetime | None = None
    satisfied: bool | None = None
    duplicate_of: str | None = None
    assignee: str | None = None


class Step(NamedTuple):
    """What an action returns: the event to store and the state the complaint is now in."""

    event: Event
    state: State


def apply(state: State | str, action: Action | str, *, who: str, when: datetime, **fields: Any) -> Step:
    """Check and perform ``action`` on a complaint in ``state``; the named functions call this."""
    state = _parse(State, state)
    action = _parse(Action, action)
    if action not in TRANSITIONS[state]:
        raise IllegalTransition(state, action)
    _check_fields(action, who, when, fields)
    to_state = TRANSITIONS[state][action]
    if action is _A.FOLLOW_UP and not fields["satisfied"]:
        to_state = _S.REOPENED
    event = Event(who=who.strip(), when=when, action=action, from_state=state, to_state=to_state, **fields)
    return Step(event=event, state=to_state)


def _parse(kind: type[_E], value: _E | str) -> _E:
    # Names arrive from HTTP forms and CSV imports; a typo should list the real names.
    try:
        return kind(value)
    except ValueError:
        names = ", ".join(v for v in kind if v not in SYSTEM_ONLY)  # what a person may name
        raise WorkflowError(f"unknown {kind.__name__.lower()} {value!r}; one of: {names}") from None


def _check_fields(action: Action, who: str, when: datetime, fields: dict[str, Any]) -> None:
    unexpected = sorted(set(fields) - _TAKES[action])
    if unexpected:
        raise MissingField(f"{action} does not take {', '.join(unexpected)}")
    for name in ("note", "department", "duplicate_of", "assignee"):
        if isinstance(fields.get(name), str):
            fields[name] = fields[name].strip() or None
    if not isinstance(who, str) or not who.strip():
        raise MissingField(f"{action} needs who: the person or account taking the action")
    if not isinstance(when, datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise MissingField(f"{action} needs when: a datetime with a time zone, got {when!r}")
    for name, meaning in _REQUIRED.get(action, ()):
        if fields.get(name) is None:
            raise MissingField(f"{action} needs {name}: {meaning}", field=name)
    if action is _A.FOLLOW_UP and not isinstance(fields["satisfied"], bool):
        raise MissingField(
            f"follow_up needs satisfied as True or False, got {fields['satisfied']!r}", field="satisfied"
        )
    deadline = fields.get("deadline")
    if deadline is not None:
        if not isinstance(deadline, datetime) or deadline.tzinfo is None or deadline.utcoffset() is None:
            raise MissingField(
                f"{action} needs deadline as a datetime with a time zone, got {deadline!r}", field="deadline"
            )
        if deadline <= when:
            raise MissingField(
                f"{action} deadline {deadline.isoformat()} is not after the "
                f"{'dispatch time' if action is _A.DISPATCH else 'time of the action'} {when.isoformat()}",
                field="deadline",
            )


def deliberate(state: State | str, *, who: str, when: datetime, note: str | None = None) -> Step:
    return apply(state, _A.DELIBERATE, who=who, when=when, note=note)


def resolve_on_site(state: State | str, *, who: str, when: datetime, note: str | None = None) -> Step:
    return apply(state, _A.RESOLVE_ON_SITE, who=who, when=when, note=note)


def dispatch(
    state: State | str,
    department: str | None,
    deadline: datetime | None,
    *,
    who: str,
    when: datetime,
    note: str | None = None,
) -> Step:
    return apply(state, _A.DISPATCH, who=who, when=when, department=department, deadline=deadline, note=note)


def resolve(state: State | str, *, who: str, when: datetime, note: str | None = None) -> Step:
    return apply(state, _A.RESOLVE, who=who, when=when, note=note)


def start_follow_up(state: State | str, *, who: str, when: datetime, note: str | None = None) -> Step:
    return apply(state, _A.START_FOLLOW_UP, who=who, when=when, note=note)


def follow_up(
    state: State | str, satisfied: bool | None, *, who: str, when: datetime, note: str | None = None
) -> Step:
    return apply(state, _A.FOLLOW_UP, who=who, when=when, satisfied=satisfied, note=note)


def reopen(state: State | str, *, who: str, when: datetime, note: str | None) -> Step:
    return apply(state, _A.REOPEN, who=who, when=when, note=note)


def reject(state: State | str, *, who: str, when: datetime, note: str | None) -> Step:
    return apply(state, _A.REJECT, who=who, when=when, note=note)


def mark_duplicate(
    state: State | str, duplicate_of: str | None, *, who: str, when: datetime, note: str | None = None
) -> Step:
    return apply(state, _A.MARK_DUPLICATE, who=who, when=when, duplicate_of=duplicate_of, note=note)


def open311_status(state: State | str) -> Literal["open", "closed"]:
    return OPEN311_STATUS[_parse(State, state)]


@dataclass(frozen=True)
class Case:
    """A complaint's history; its state and current dispatch are read from the events.

    Kept immutable so a caller can try an action and store the result only if the
    store accepts it.
    """

    events: tuple[Event, ...] = field(default=())

    @property
    def state(self) -> State:
        return self.events[-1].to_state if self.events else _S.COLLECTED

    @property
    def last_dispatch(self) -> Event | None:
        """The latest dispatch: its department and deadline are the ones that count now."""
        return next((e for e in reversed(self.events) if e.action is _A.DISPATCH), None)

    @property
    def deadline(self) -> datetime | None:
        """The deadline that counts now: the last dispatch's, or a later approved extension's."""
        for event in reversed(self.events):
            if event.action in (_A.DISPATCH, _A.APPROVE_EXTENSION):
                return event.deadline
        return None

    @property
    def pending_extension(self) -> Event | None:
        """The extension request the dispatch centre has not yet decided, if any."""
        for event in reversed(self.events):
            if event.action is _A.REQUEST_EXTENSION:
                return event
            if event.action in ENDS_EXTENSION:
                return None
        return None

    def deadline_status(self, now: datetime, calendar: WorkCalendar) -> DeadlineStatus:
        dispatch = self.last_dispatch
        if dispatch is None:
            return DeadlineStatus.NONE
        return deadline_status(self.state, dispatch.when, self.deadline, now, calendar)

    def do(self, action: Action | str, *, who: str, when: datetime, **fields: Any) -> Case:
        """The case after ``action``; this case is unchanged, whether it succeeds or not."""
        check_extension(action, pending=self.pending_extension is not None)
        step = apply(self.state, action, who=who, when=when, **fields)
        if self.events and when < self.events[-1].when:
            # Out-of-order events would make the history say a case was resolved before
            # it was dispatched; a late import must be replayed in order instead.
            raise WorkflowError(
                f"{step.event.action} at {when.isoformat()} is before the last event "
                f"({self.events[-1].action} at {self.events[-1].when.isoformat()})"
            )
        return replace(self, events=(*self.events, step.event))


#: what settles a pending extension request: a decision, a new dispatch or leaving the department
ENDS_EXTENSION = frozenset({_A.APPROVE_EXTENSION, _A.REFUSE_EXTENSION, _A.DISPATCH, _A.RETURN, _A.RESOLVE})


def check_extension(action: Action | str, *, pending: bool) -> None:
    """One extension request at a time, and a decision only on a pending one (an unknown action
    name is not this rule's to refuse: ``apply`` names the real ones)."""
    try:
        action = Action(action)
    except ValueError:
        return
    if action is _A.REQUEST_EXTENSION and pending:
        raise ExtensionError("an extension request is already waiting for the dispatch centre's decision")
    if action in (_A.APPROVE_EXTENSION, _A.REFUSE_EXTENSION) and not pending:
        raise ExtensionError(f"cannot {action}: no extension has been asked for")


class DeadlineStatus(enum.StrEnum):
    NONE = "none"  # no deadline runs: not yet dispatched, or resolved
    ON_TIME = "on_time"
    DUE_SOON = "due_soon"  # at least DUE_SOON_SHARE of the working time is used up
    OVERDUE = "overdue"  # 超期


DUE_SOON_SHARE = (4, 5)  # 80 %, as a fraction so the boundary is exact

# A deadline runs while the problem is with a department or back unsolved: dispatched,
# or reopened (the resident says it is not solved, so the last deadline still counts
# against it until a new dispatch sets a new one; a reopened case already past that
# deadline shows as overdue at once, which is the push to re-dispatch it). Once
# resolved it stops: the department has answered, and the call-back is not timed here.
_DEADLINE_RUNS = frozenset({_S.DISPATCHED, _S.REOPENED})


def deadline_status(
    state: State | str,
    dispatched_at: datetime | None,
    deadline: datetime | None,
    now: datetime,
    calendar: WorkCalendar,
) -> DeadlineStatus:
    """Where a dispatched complaint stands against its deadline at ``now``.

    Overdue once ``now`` is past the deadline. Due soon once the working time elapsed
    since dispatch reaches 80 % of the working time between dispatch and deadline
    (weekends and holidays do not count: a case dispatched before the National Day
    week is not "due soon" during the holiday). Exactly 80 % counts as due soon.
    """
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be a datetime with a time zone, got {now!r}")
    if _parse(State, state) not in _DEADLINE_RUNS or deadline is None:
        return DeadlineStatus.NONE
    if now > deadline:
        return DeadlineStatus.OVERDUE
    if dispatched_at is None:
        return DeadlineStatus.ON_TIME
    allowed = calendar.working_time_between(dispatched_at, deadline)
    elapsed = calendar.working_time_between(dispatched_at, now)
    numerator, denominator = DUE_SOON_SHARE
    if elapsed * denominator >= allowed * numerator and allowed > timedelta(0):
        return DeadlineStatus.DUE_SOON
    return DeadlineStatus.ON_TIME


def is_overdue(
    state: State | str,
    dispatched_at: datetime | None,
    deadline: datetime | None,
    now: datetime,
    calendar: WorkCalendar,
) -> bool:
    return deadline_status(state, dispatched_at, deadline, now, calendar) is DeadlineStatus.OVERDUE


def is_due_soon(
    state: State | str,
    dispatched_at: datetime | None,
    deadline: datetime | None,
    now: datetime,
    calendar: WorkCalendar,
) -> bool:
    """True only before the deadline; an overdue case is overdue, not due soon."""
    return deadline_status(state, dispatched_at, deadline, now, calendar) is DeadlineStatus.DUE_SOON
