"""Who may see what of a complaint, and who may do what to it: the rules, in one table each.

**Seeing** (``visibility``): a caller sees a case at one of three levels, decided here for
pages, the API, exports, statistics and Open311 alike (the cases service applies it with
``redact`` before anything is rendered):

=========  ===========================================================================
PUBLIC     category, state, grid (and its whistle group), dates, department, the public
           status: anonymous callers
DETAILS    also the text and notes (phone and ID numbers in them masked), the address and
           point, staff names, the reporter's phone masked: planners, keys without
           ``personal_data``, department staff and department-bound keys on *other*
           departments' cases, grid-team members on cases outside their grids
CONTACTS   also the reporter's name and phone, text and notes unmasked, photos: the
           dispatch centre (dispatchers, administrators, the command line), keys with
           ``personal_data``, department staff or department-bound keys on their own
           department's cases, and grid-team members on cases in their own grids (they
           call on the resident to settle a case on the spot, 就地解决)
=========  ===========================================================================

**Doing** (``ACTIONS``): one table of role → workflow actions, checked in one place
(``ComplaintService.transition`` through ``check_action``). The dispatch centre does
everything (dispatch, re-dispatch, follow-up, close, decide extensions, chase…); a department
works only cases dispatched to it: it resolves them, returns one that is not its own to the
centre with a reason (退单), or asks for more time (延期申请), and never hands a case to
another department. A grid team (the ``grid`` role: a person on the roster, signed in as
themself) works the cases in its own grids as the article has it: it settles them on the
spot (resolve_on_site), takes them to deliberation (deliberate, 多元议事) and assigns them
(指派) to a member of the grid's team. API keys act as
the dispatch centre with the ``dispatch`` scope, as their department when bound to one,
and otherwise only file.

**Filing** (``may_file_under``): a source is owned. A caller files under its own
namespace (``api:NAME``, ``open311:NAME``; ``form`` for a person at the intake page), and
under another source (``12345热线``) only when granted it (``redgrid apikey create NAME
--source 12345热线``), so nobody can pre-empt a hotline ticket by guessing its number.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterable
from collections.abc import Mapping

from complaints.records import Case
from complaints.records import CaseEvent
from complaints.workflow import SYSTEM_ONLY
from complaints.workflow import Action
from geo.officials import mask_phone
from services.audit import AuditService
from services.callers import ADMIN
from services.callers import DISPATCH
from services.callers import PERSONAL_DATA
from services.callers import Caller
from services.errors import Forbidden
from services.errors import Invalid
from store.audit import GrantStore


class Visibility(enum.IntEnum):
    """How much of a case a caller sees; each level includes the ones below it."""

    PUBLIC = 0
    DETAILS = 1
    CONTACTS = 2

    @property
    def label(self) -> str:
        return self.name.lower()


#: the dispatch centre (调度中心) may take every action of the workflow a person takes
DISPATCH_CENTRE: frozenset[Action] = frozenset(Action) - SYSTEM_ONLY
#: role → the workflow actions it may take; the one table the workflow is checked against
ACTIONS: Mapping[str, frozenset[Action]] = {
    "admin": DISPATCH_CENTRE,
    "dispatcher": DISPATCH_CENTRE,
    "department": frozenset({Action.RESOLVE, Action.RETURN, Action.REQUEST_EXTENSION}),
    "grid": frozenset({Action.RESOLVE_ON_SITE, Action.DELIBERATE, Action.ASSIGN}),
    "planner": frozenset(),
}
#: roles that act only on cases dispatched to their own department
DEPARTMENT_BOUND = frozenset({"department"})
#: roles that act only on cases in their own grids (``Caller.grid_codes``)
GRID_BOUND = frozenset({"grid"})
#: the source a person files under from the intake page
FORM_SOURCE = "form"
#: grant kinds (``store.audit.GrantStore``)
GRANT_SOURCE = "source"
GRANT_DEPARTMENT = "department"


def acting_role(caller: Caller) -> str | None:
    """The row of ``ACTIONS`` a caller acts under, or None (it may only file)."""
    if caller.kind == "system":
        return "admin"
    if caller.kind == "user":
        return caller.role if caller.role in ACTIONS else None
    if caller.kind == "api_key":
        if caller.can(DISPATCH):
            return "dispatcher"
        if caller.department_code:
            return "department"
    return None


def _bound_to_department(caller: Caller) -> bool:
    if caller.kind == "user":
        return caller.role in DEPARTMENT_BOUND
    return caller.kind == "api_key" and bool(caller.department_code) and not caller.can(DISPATCH)


def _own(caller: Caller, case: Case) -> bool:
    return bool(caller.department_code) and case.department_code == caller.department_code


def in_own_grids(caller: Caller, case: Case) -> bool:
    """Whether a case lies in one of the grids the caller's grid team serves."""
    return case.grid_code is not None and case.grid_code in caller.grid_codes


def visibility(caller: Caller, case: Case) -> Visibility:
    """How much of ``case`` the caller sees (see the module's table)."""
    if not caller.authenticated:
        return Visibility.PUBLIC
    if caller.kind == "system":
        return Visibility.CONTACTS
    if caller.kind == "user" and caller.role in GRID_BOUND:
        return Visibility.CONTACTS if in_own_grids(caller, case) else Visibility.DETAILS
    if caller.can(PERSONAL_DATA) and (not _bound_to_department(caller) or _own(caller, case)):
        return Visibility.CONTACTS
    return Visibility.DETAILS


def sees_team_phones(caller: Caller) -> bool:
    """Whether officials' full phones are shown to the caller (else masked): those with
    ``personal_data``, as on the lookup answers; each view that shows them is audited."""
    return caller.can(PERSONAL_DATA)


def allowed_actions(caller: Caller) -> frozenset[Action]:
    role = acting_role(caller)
    return ACTIONS.get(role, frozenset()) if role else frozenset()


def check_action(caller: Caller, case: Case, action: str) -> None:
    """Refuse (Forbidden) an action the caller's role may not take on this case."""
    try:
        wanted = Action(action)
    except ValueError:
        return  # not an action at all: the workflow names the allowed ones
    role = acting_role(caller)
    if wanted not in allowed_actions(caller):
        allowed = sorted(a.value for a in allowed_actions(caller))
        who = f"role {role!r}" if role else f"this {caller.kind.replace('_', ' ')}"
        then = f"; it may {', '.join(allowed)}" if allowed else "; only the dispatch centre acts"
        raise Forbidden(f"{who} may not {wanted.value} a complaint{then}")
    if role in DEPARTMENT_BOUND and not _own(caller, case):
        raise Forbidden(f"complaint {case.id} is not with department {caller.department_code or ''!r}")
    if role in GRID_BOUND and not in_own_grids(caller, case):
        raise Forbidden(f"complaint {case.id} is not in one of your grids")


def own_sources(caller: Caller) -> frozenset[str]:
    """The sources a caller files under without a grant."""
    mine = {f"api:{caller.name}", f"open311:{caller.name}"}
    if caller.kind == "user":
        mine.add(FORM_SOURCE)
    return frozenset(mine)


def may_file_under(caller: Caller, source: str, granted: Iterable[str]) -> bool:
    if caller.kind == "system":
        return True
    return source in own_sources(caller) or source in set(granted)


def check_source(caller: Caller, source: str, granted: Iterable[str]) -> None:
    if not may_file_under(caller, source, granted):
        raise Forbidden(
            f"{caller.actor} may not file under source {source!r}: a source is filed under only by "
            "the keys and users granted it (redgrid apikey create NAME --source SOURCE)",
            code="source_not_granted",
        )


# --- masking numbers inside free text ---------------------------------------------------------

_SEP = r"[\s\-]?"
#: 18-digit resident ID numbers (and the old 15-digit ones), mobiles (+86 optional, digits in
#: groups), landlines with an area code, and any other run of seven or more digits
NUMBER = re.compile(
    r"(?<!\d)(?:"
    r"\d{17}[\dXx]"
    r"|(?:\+?86" + _SEP + r")?1[3-9]\d" + _SEP + r"\d{4}" + _SEP + r"\d{4}"
    r"|0\d{2,3}" + _SEP + r"\d{7,8}"
    r"|\d{7,}"
    r")(?![\dXx])"
)


def _mask_match(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = [i for i, ch in enumerate(text) if ch.isdigit() or ch in "Xx"]
    keep = set(digits[:3]) | set(digits[-4:]) if len(digits) >= 11 else set(digits[-2:])
    return "".join("*" if i in digits and i not in keep else ch for i, ch in enumerate(text))


def mask_numbers(text: str | None) -> str | None:
    """Free text with phone and ID numbers masked (``13800138000`` → ``138****8000``)."""
    if not text:
        return text
    return NUMBER.sub(_mask_match, text)


# --- redaction ----------------------------------------------------------------------------------


def redact_case(case: Case, level: Visibility) -> Case:
    """The case as a caller at ``level`` may see it: what it may not see is blanked."""
    if level >= Visibility.CONTACTS:
        return case
    if level == Visibility.DETAILS:
        return dataclasses.replace(
            case,
            text=mask_numbers(case.text) or "",
            address=mask_numbers(case.address),
            reporter_name=None,
            reporter_phone=mask_phone(case.reporter_phone) if case.reporter_phone else None,
        )
    return dataclasses.replace(
        case,
        source="",
        external_id="",
        channel="",
        text="",
        address=None,
        lon=None,
        lat=None,
        input_coordsys=None,
        input_lon=None,
        input_lat=None,
        geocode=None,
        reporter_name=None,
        reporter_phone=None,
        satisfied=None,
        duplicate_of=None,
        import_id=None,
    )


def redact_event(event: CaseEvent, level: Visibility) -> CaseEvent:
    if level >= Visibility.CONTACTS:
        return event
    if level == Visibility.DETAILS:
        return dataclasses.replace(event, note=mask_numbers(event.note))
    return dataclasses.replace(event, actor="", note=None, duplicate_of=None, satisfied=None)


class GrantService:
    """Grants beyond a role or scopes: sources a key or user may file under, and the
    department a key acts for. Each change is recorded in the audit log."""

    def __init__(self, store: GrantStore, audit: AuditService) -> None:
        self.store = store
        self.audit = audit

    def grant(self, by: Caller, grantee: str, kind: str, value: str) -> bool:
        """Grant ``grantee`` (``api_key:NAME`` or ``user:NAME``) a source or a department."""
        if by.kind != "system" and not by.can(ADMIN):
            raise Forbidden("only administrators grant sources and departments")
        if kind not in (GRANT_SOURCE, GRANT_DEPARTMENT):
            raise Invalid(f"grant kind {kind!r}; expected source or department", field="kind")
        if not grantee.startswith(("api_key:", "user:")) or not value.strip():
            raise Invalid("grant to api_key:NAME or user:NAME, a non-empty value", field="grantee")
        if kind == GRANT_DEPARTMENT:
            for _, old in [g for g in self.store.grants(grantee) if g[0] == GRANT_DEPARTMENT]:
                if old != value:  # a key acts for one department
                    self.revoke(by, grantee, kind, old)
        new = self.store.add_grant(grantee, kind, value.strip())
        if new:
            self.audit.record(by, "grant.add", grantee, {"kind": kind, "value": value.strip()})
        return new

    def revoke(self, by: Caller, grantee: str, kind: str, value: str) -> int:
        if by.kind != "system" and not by.can(ADMIN):
            raise Forbidden("only administrators revoke grants")
        count = self.store.remove_grant(grantee, kind, value)
        if count:
            self.audit.record(by, "grant.remove", grantee, {"kind": kind, "value": value})
        return count

    def of(self, grantee: str) -> list[tuple[str, str]]:
        return self.store.grants(grantee)


__all__ = [
    "ACTIONS",
    "DISPATCH_CENTRE",
    "GrantService",
    "Visibility",
    "acting_role",
    "allowed_actions",
    "check_action",
    "check_source",
    "in_own_grids",
    "mask_numbers",
    "may_file_under",
    "redact_case",
    "redact_event",
    "sees_team_phones",
    "visibility",
]
