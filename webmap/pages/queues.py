"""我的待办 (the work queues), the count in every page's header, and assignment (指派) from the
case page. What is in each queue, and who may assign whom, is decided by the services
(``services.queues``, ``services.teams``); these views parse, call one method and render."""

from __future__ import annotations

from typing import Any

from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from services.callers import WRITE
from services.cases import CaseView
from services.errors import Conflict
from services.errors import DomainError
from services.queues import CaseList
from services.queues import Counts
from services.shapes import case_json
from services.teams import Member
from webmap import auth
from webmap.i18n import lang
from webmap.i18n import t
from webmap.pages import bp
from webmap.pages.complaints import PAGE_SIZE
from webmap.pages.complaints import shown_case


def member_text(member: Member | None) -> str:
    """A grid-team member as people read them: 李四（网格员） / Li Si (Grid worker)."""
    if member is None:
        return ""
    if lang() == "zh":
        return f"{member.name}（{member.post_zh}）"
    return f"{member.name} ({member.post_en})"


def listed(found: CaseList) -> list[dict[str, Any]]:
    """The rows of a list or queue: the case as the page shows it, with names for codes."""
    cases = auth.services().cases
    now, calendar = cases.now(), cases.calendar
    rows = []
    for view in found.page.items:
        body = shown_case(view, case_json(view, cases.catalog), now, calendar)
        names = found.labels.get(view.case.id)
        body["grid_name"] = (names.grid if names else None) or view.case.grid_code or ""
        body["community_name"] = (names.community if names else None) or view.case.community_code or ""
        body["assignee_text"] = member_text(names.assignee if names else None)
        rows.append(body)
    return rows


@bp.app_context_processor
def _queue_badge() -> dict[str, Any]:
    """``queue_counts()`` for the header: computed only when a page asks, once per request."""
    made: list[Counts] = []

    def queue_counts() -> Counts | None:
        if not current_user.is_authenticated:
            return None
        if not made:
            try:
                made.append(auth.services().queues.counts(auth.caller()))
            except DomainError:  # a page (an error page too) shows without its count, never fails for it
                return None
        return made[0]

    return {"queue_counts": queue_counts}


@bp.get("/queue")
def queue_page():
    """我的待办: each of the caller's queues, soonest deadline first."""
    if not current_user.is_authenticated:
        return redirect(url_for("users.login", next=request.path))
    queues = auth.services().queues
    who = auth.caller()
    counts = queues.counts(who)
    sections = []
    for item in counts.queues:
        found = queues.queue(who, item.queue.name, limit=PAGE_SIZE)
        sections.append({"queue": item.queue, "count": found.page.total, "rows": listed(found)})
    return render_template("queue.html", counts=counts, sections=sections, one=None, page=1)


@bp.get("/queue/<name>")
def queue_one(name: str):
    """One queue, page by page."""
    if not current_user.is_authenticated:
        return redirect(url_for("users.login", next=request.path))
    queues = auth.services().queues
    who = auth.caller()
    page = max(int(request.args["page"]) if request.args.get("page", "").isdigit() else 1, 1)
    found = queues.queue(who, name, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    queue = next(q for q in queues.queues(who) if q.name == name)
    section = {"queue": queue, "count": found.page.total, "rows": listed(found)}
    return render_template("queue.html", counts=queues.counts(who), sections=[section], one=queue, page=page)


def assign_context(view: CaseView) -> dict[str, Any]:
    """What the case page's assignment block shows: who holds the case, and (for a caller who
    may assign it) the grid's team to choose from."""
    services = auth.services()
    who = auth.caller()
    found = services.queues.labels([view]).get(view.case.id)
    team = services.queues.team(who, view.case.id) if who.can(WRITE) else []
    return {
        "assignee_text": member_text(found.assignee if found else None),
        "assignee": view.case.assignee,
        "team": [(str(m.id), member_text(m)) for m in team],
        "version": view.case.row_version,
        "case_id": view.case.id,
    }


@bp.post("/complaints/<int:complaint_id>/assign")
def assign_case(complaint_id: int):
    """指派: give the case to a member of its grid's team (refused, nothing changed, for anyone
    not on the team that day)."""
    who = auth.caller()
    if not who.can(WRITE):
        abort(403)
    form = request.form
    try:
        auth.services().cases.act(
            who,
            complaint_id,
            "assign",
            expected_version=form.get("version", "0"),
            assignee=form.get("assignee") or None,
            note=form.get("note") or None,
        )
        flash(t("assign_done"))
    except Conflict:
        flash(t("conflict"))
    except DomainError as exc:
        flash(t("assign_not_in_team") if exc.code == "not_in_team" else exc.message)
    return redirect(url_for("pages.complaint", complaint_id=complaint_id))
