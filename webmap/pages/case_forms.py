"""The case page's action forms in people's words: field labels, refusals and confirmations.

Each action has a form of its own (``complaint.html``); what a refusal says is decided here from
the domain error's ``code`` and ``field`` (never its English message), so a Chinese page names
the field in Chinese, and the confirmation says what was done (已派单至 城市管理局，限 … 前办结).
"""

from __future__ import annotations

import datetime
from typing import Any

from complaints.records import Case
from complaints.records import CaseEvent
from complaints.workflow import Action
from complaints.workflow import State
from geo.timeutil import InvalidTime
from geo.timeutil import to_beijing
from webmap.i18n import lang
from webmap.i18n import t

#: the note's label per action (its reason, instructions or record); required ones marked in the form
NOTE_REQUIRED = frozenset(
    {
        Action.RETURN,
        Action.REQUEST_EXTENSION,
        Action.REFUSE_EXTENSION,
        Action.SUPERVISE,
        Action.REOPEN,
        Action.REJECT,
    }
)
#: the form field (``name=``) of each service field, when it differs
_FIELD_KEYS = {
    "deadline": "act_field_deadline",
    "department": "department",
    "satisfied": "act_field_satisfied",
}
#: domain error codes with a sentence of their own (``act_error_<code>``)
_CODED = frozenset(
    {
        "deadline_too_soon",
        "bad_deadline",
        "extension_not_later",
        "unknown_department",
        "not_overdue",
        "photo_type",
        "photo_too_large",
        "too_many_photos",
        "unknown_calendar_year",
    }
)


def department_name(catalog: Any, code: str | None) -> str:
    """A department's name in the page language (the code only if the catalogue lost it)."""
    found = catalog.departments.get(code or "")
    if found is None:
        return code or ""
    return found.name_en if lang() == "en" else found.name_zh


def datetime_local(value: datetime.datetime | None) -> str:
    """A time as an ``<input type="datetime-local">`` value, in Beijing time."""
    return "" if value is None else to_beijing(value).strftime("%Y-%m-%dT%H:%M")


def beijing_minutes(value: datetime.datetime | None) -> str:
    return "" if value is None else to_beijing(value).strftime("%Y-%m-%d %H:%M")


def is_redispatch(case: Case) -> bool:
    """A dispatch from dispatched is 改派 (to another department), with a reason."""
    return case.state == State.DISPATCHED.value


def action_label(action: str, case_state: str | None = None) -> str:
    if action == Action.DISPATCH and case_state == State.DISPATCHED.value:
        return t("act_redispatch")
    return t(f"action_{action}")


def field_label(field: str | None, action: str) -> str:
    """What the form calls ``field`` for ``action`` (the note is a reason, instructions, ...)."""
    if field in (None, "note", "reason"):
        return t(f"act_note_{action}") if field != "reason" else t("act_reason_dispatch")
    if field == "deadline" and action == Action.REQUEST_EXTENSION:
        return t("act_field_extension_deadline")
    if field == "duplicate_of":
        return t("duplicate_of_label")
    return t(_FIELD_KEYS.get(field, field))


def refusal(exc: Exception, action: str, case_state: str, form: dict[str, Any]) -> tuple[str, str | None]:
    """(what the page says, the field at fault) for a refused action, in the page language."""
    code = str(getattr(exc, "code", ""))
    # a date-time the reader typed that is none: the only time field of an action is its deadline
    field = getattr(exc, "field", None) or ("deadline" if isinstance(exc, InvalidTime) else None)
    label = field_label(field, action)
    if code == "conflict":
        return t("conflict"), None
    if code == "after_photo_required":
        return t("after_photo_required"), "after_photos"
    if code == "illegal_transition":
        return t("act_error_not_now", action=action_label(action), state=t(f"state_{case_state}")), None
    if code == "no_pending_extension":
        asked = action == Action.REQUEST_EXTENSION
        return t("act_error_extension_pending" if asked else "act_error_no_extension"), None
    if code == "forbidden":
        return t("act_error_forbidden", action=action_label(action)), None
    if code == "missing_field" and field == "deadline" and form.get("deadline"):
        return t("act_error_deadline_past", field=label), field  # given, but not after now
    if code == "missing_field" and field:
        return t("act_error_required", field=label), field
    if code in _CODED:
        details = getattr(exc, "details", {}) or {}
        earliest = details.get("earliest")
        shown = beijing_minutes(datetime.datetime.fromisoformat(earliest)) if earliest else ""
        return t(f"act_error_{code}", field=label, earliest=shown), field
    if field == "deadline":
        return t("act_error_deadline_format", field=label), field
    if field == "note" and code == "bad_parameter":
        return t("act_error_too_long", field=label), field
    if field:
        return t("act_error_field", field=label), field
    return t("act_error_generic", action=action_label(action)), None


def confirmation(action: str, before: Case, after: Case, catalog: Any, chased: dict[str, int]) -> str:
    """What was done, as the flash message after it (in the page language)."""
    deadline = beijing_minutes(after.deadline)
    if action == Action.DISPATCH:
        name = department_name(catalog, after.department_code)
        key = "act_done_redispatch" if is_redispatch(before) else "act_done_dispatch"
        return t(key, department=name, deadline=deadline)
    if action == Action.REQUEST_EXTENSION:
        return t("act_done_request_extension", deadline=beijing_minutes(after.extension_deadline))
    if action in (Action.APPROVE_EXTENSION, Action.REFUSE_EXTENSION):
        return t(f"act_done_{action}", deadline=deadline)
    if action in (Action.URGE, Action.SUPERVISE):
        return t(f"act_done_{action}", n=chased.get(action, 0))
    if action == Action.FOLLOW_UP:
        return t("act_done_follow_up_yes" if after.satisfied else "act_done_follow_up_no")
    if action == Action.MARK_DUPLICATE:
        return t("act_done_mark_duplicate", original=after.duplicate_of or "")
    return t(f"act_done_{action}")


def history_step(event: CaseEvent) -> dict[str, str]:
    """A history row's step (改派 for a dispatch from dispatched) and what it did to the deadline."""
    action = event.action
    if action == Action.DISPATCH and event.from_state == State.DISPATCHED.value:
        step = t("act_redispatch")
    elif action in set(Action):
        step = t(f"action_{action}")
    else:  # intake ('collect'), a recomputed deadline, imported steps
        key = f"print_action_{action}"
        step = t(key) if t(key) != key else t(f"state_{event.to_state}")
    when = beijing_minutes(event.deadline)
    if not when:
        change = ""
    elif action == Action.REQUEST_EXTENSION:
        change = t("act_history_asked", deadline=when)
    else:
        change = t("act_history_deadline", deadline=when)
    return {"step": step, "deadline_change": change}
