"""吹哨报到 and 多元议事 pages: the case page's whistle and deliberation sections (included
templates ``_whistle.html`` and ``_deliberation.html``, fed by the template functions here so
the case view itself needs no change), the deliberation form, one record and the lists."""

from __future__ import annotations

import datetime
from typing import Any

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import send_file
from flask import url_for

from complaints import workflow
from geo.timeutil import BEIJING
from services.callers import PERSONAL_DATA
from services.callers import WRITE
from services.deliberations import PARTICIPANT_KINDS
from services.deliberations import DeliberationView
from services.errors import DomainError
from services.permissions import acting_role
from services.permissions import allowed_actions
from services.whistles import SUMMONED_ROLE
from webmap import auth
from webmap.i18n import lang
from webmap.i18n import t
from webmap.pages import bp
from webmap.pages.complaints import beijing_text
from webmap.users import role_required

#: participant rows the empty form offers (one per kind); "add a row" offers more
FORM_ROWS = len(PARTICIPANT_KINDS)
MAX_FORM_ROWS = 100
#: refusals people read in their language; any other is shown as the service words it
_MESSAGES = {
    "already_reported": "whistle_already_reported",
    "already_responded": "whistle_already_responded",
    "whistle_group_empty": "whistle_group_empty",
    "forbidden": "whistle_not_summoned",
    "conflict": "conflict",
}


def _minutes(start: datetime.datetime, end: datetime.datetime | None) -> str:
    if end is None:
        return ""
    minutes = max((end - start).total_seconds(), 0) / 60
    if minutes < 60:
        return t("minutes_n", n=round(minutes))
    return t("hours_n", n=f"{minutes / 60:.1f}")


@bp.app_context_processor
def _casework_helpers() -> dict[str, Any]:
    return {"whistle_panel": whistle_panel, "deliberation_panel": deliberation_panel}


def whistle_panel(case: dict) -> dict | None:
    """The case page's 吹哨报到 section: the whistles, and what this caller may do there."""
    who = auth.caller()
    if not who.authenticated:
        return None
    services = auth.services()
    catalog = services.cases.catalog
    whistles = services.whistles.of_case(who, int(case["id"]))
    groups = {g.code: g for g in catalog.whistle_groups.values()}
    english = lang() == "en"
    departments = {d.code: d.name_en if english else d.name_zh for d in catalog.departments.values()}
    summoned_here = acting_role(who) == SUMMONED_ROLE and who.can(WRITE)
    shown = []
    for w in whistles:
        group = groups.get(w.group_code)
        shown.append(
            {
                "id": w.id,
                "group": (group.name_en if english else group.name_zh) if group else w.group_code,
                "at_text": beijing_text(w.blown_at),
                "note": w.note,
                "summons": [
                    {
                        "id": s.id,
                        "department": departments.get(s.department_code, s.department_code),
                        "reported_text": beijing_text(s.reported_at),
                        "report_after": _minutes(w.blown_at, s.reported_at),
                        "responded_text": beijing_text(s.responded_at),
                        "response_after": _minutes(w.blown_at, s.responded_at),
                        "response": s.response,
                        "reported": s.reported_at is not None,
                        "responded": s.responded_at is not None,
                        "mine": summoned_here and s.department_code == who.department_code,
                    }
                    for s in w.summons
                ],
            }
        )
    state = workflow.State(case["state"])
    may_blow = (
        who.can(WRITE)
        and workflow.Action.WHISTLE in allowed_actions(who)
        and state in workflow.WHISTLE_STATES
    )
    kind = services.cases.community_kind(services.store.complaint(int(case["id"])))  # type: ignore[arg-type]
    group = catalog.whistle_groups.get(kind)  # type: ignore[call-overload]
    return {
        "whistles": shown,
        "may_blow": may_blow,
        "group": (group.name_en if english else group.name_zh) if group else "",
        "group_departments": [departments.get(d, d) for d in (group.departments if group else ())],
    }


def deliberation_panel(case: dict) -> dict | None:
    """The case page's 多元议事 section: the meetings held on it, and the link to record one."""
    who = auth.caller()
    if not who.authenticated:
        return None
    service = auth.services().deliberations
    held = service.listing(who, complaint_id=int(case["id"]))
    return {
        "items": [_summary(v) for v in held],
        "may_record": service.may_record(who),
        "may_settle": _may_settle(case["state"]),
    }


def _may_settle(state: str) -> bool:
    """Whether a deliberation's outcome can settle a case in ``state`` (resolve_on_site)."""
    return workflow.Action.RESOLVE_ON_SITE in workflow.TRANSITIONS[workflow.State(state)]


def _refused(exc: DomainError) -> str:
    key = _MESSAGES.get(exc.code)
    return t(key) if key else exc.message


@bp.post("/complaints/<int:complaint_id>/whistle")
def whistle_blow(complaint_id: int):
    """吹哨: summon the whistle group of the case's community kind."""
    try:
        auth.services().whistles.blow(
            auth.caller(),
            complaint_id,
            expected_version=request.form.get("version", ""),
            note=request.form.get("note"),
        )
        flash(t("whistle_blown"))
    except DomainError as exc:
        if exc.code in ("not_found", "unauthorized"):
            raise
        flash(_refused(exc))
    return redirect(url_for("pages.complaint", complaint_id=complaint_id) + "#whistles")


@bp.post("/complaints/<int:complaint_id>/whistle/summons/<int:summons_id>")
def whistle_answer(complaint_id: int, summons_id: int):
    """报到 (report in) or respond, by the summoned department."""
    whistles = auth.services().whistles
    who = auth.caller()
    try:
        if request.form.get("step") == "respond":
            whistles.respond(who, summons_id, request.form.get("response", ""))
            flash(t("whistle_responded"))
        else:
            whistles.report_in(who, summons_id)
            flash(t("whistle_reported"))
    except DomainError as exc:
        if exc.code in ("not_found", "unauthorized"):
            raise
        flash(_refused(exc))
    return redirect(url_for("pages.complaint", complaint_id=complaint_id) + "#whistles")


# --- deliberations --------------------------------------------------------------------------


def _summary(view: DeliberationView) -> dict[str, Any]:
    d = view.deliberation
    return {
        "id": d.id,
        "held_text": beijing_text(d.held_at),
        "place": d.place,
        "matter": d.matter,
        "outcome": d.outcome,
        "settled": d.settled,
        "complaint_id": d.complaint_id,
        "counts": [(kind, view.count(kind)) for kind in PARTICIPANT_KINDS if view.count(kind)],
    }


def _places() -> tuple[dict[str, str], dict[str, str]]:
    """Community and grid names of the active version, for the form and the pages."""
    grids = auth.services().grids
    version = grids.active_or_none()
    if version is None:
        return {}, {}
    gs = grids.grid_set(version)
    communities = {code: str(c.get("name") or code) for code, c in gs.communities.items()}
    names = {str(r.code): str(r.name or r.code) for r in gs.grids[["code", "name"]].itertuples(index=False)}
    return communities, names


def _rows_from_form() -> list[dict[str, str]]:
    kinds, names, units = (request.form.getlist(f"p_{n}") for n in ("kind", "name", "affiliation"))
    return [{"kind": k, "name": n, "affiliation": a} for k, n, a in zip(kinds, names, units, strict=False)][
        :MAX_FORM_ROWS
    ]


@bp.route("/deliberations/new", methods=["GET", "POST"])
@role_required("dispatcher", "admin")
def deliberation_new():
    """记录多元议事: the form, with repeated participant rows."""
    services = auth.services()
    who = auth.caller()
    error = None
    complaint_id = request.values.get("complaint", "")
    case = None
    if complaint_id.isdigit():
        found = services.cases.get(who, int(complaint_id), history=False)
        c = found.case
        case = {
            "id": c.id,
            "version": c.row_version,
            "state": c.state,
            "grid_code": c.grid_code,
            "community_code": c.community_code,
        }
    if request.method == "POST":
        values = request.form.to_dict()
        rows = _rows_from_form()
        if "add_row" in request.form:
            rows.append({"kind": "resident", "name": "", "affiliation": ""})
        else:
            try:
                made = services.deliberations.record(
                    who,
                    {**values, "complaint_id": complaint_id or None},
                    rows,
                    settle=values.get("settle") == "yes",
                    expected_version=values.get("version"),
                )
                flash(t("deliberation_recorded"))
                return redirect(url_for("pages.deliberation_page", deliberation_id=made.id))
            except DomainError as exc:
                error = _refused(exc) if exc.code == "conflict" else exc.message
    else:
        values = {
            "held_at": datetime.datetime.now(BEIJING).strftime("%Y-%m-%dT%H:%M"),
            "community_code": (case or {}).get("community_code") or request.args.get("community", ""),
            "grid_code": (case or {}).get("grid_code") or request.args.get("grid", ""),
        }
        rows = [{"kind": kind, "name": "", "affiliation": ""} for kind in PARTICIPANT_KINDS]
    communities, grids = _places()
    return render_template(
        "deliberation_new.html",
        values=values,
        rows=rows,
        kinds=PARTICIPANT_KINDS,
        case=case,
        may_settle=bool(case) and _may_settle(case["state"]),
        communities=communities,
        grids=grids,
        error=error,
    ), (422 if error else 200)


@bp.get("/deliberations/<int:deliberation_id>")
@role_required()
def deliberation_page(deliberation_id: int):
    """One deliberation record; residents' names only for staff who see contacts (audited)."""
    view = auth.services().deliberations.get(auth.caller(), deliberation_id)
    communities, grids = _places()
    d = view.deliberation
    return render_template(
        "deliberation.html",
        d=d,
        summary=_summary(view),
        named=view.named,
        kinds=PARTICIPANT_KINDS,
        community=communities.get(d.community_code, d.community_code),
        grid=grids.get(d.grid_code or "", d.grid_code or ""),
        photos=[url_for("pages.deliberation_photo", deliberation_id=d.id, photo_id=p.id) for p in d.photos],
    )


@bp.post("/deliberations/<int:deliberation_id>/photos")
@role_required("dispatcher", "admin")
def deliberation_photos(deliberation_id: int):
    service = auth.services().deliberations
    try:
        for upload in request.files.getlist("photos"):
            if upload and upload.filename:
                service.add_photo(auth.caller(), deliberation_id, upload.filename, upload.read())
    except DomainError as exc:
        if exc.code == "not_found":
            raise
        flash(exc.message)
    return redirect(url_for("pages.deliberation_page", deliberation_id=deliberation_id))


@bp.get("/deliberations/<int:deliberation_id>/photos/<int:photo_id>")
def deliberation_photo(deliberation_id: int, photo_id: int):
    path, content_type = auth.services().deliberations.photo_file(auth.caller(), deliberation_id, photo_id)
    response = send_file(path, mimetype=content_type)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/deliberations")
@role_required()
def deliberation_list():
    """多元议事 per community or grid, newest first, with the counts by community."""
    who = auth.caller()
    service = auth.services().deliberations
    community = request.args.get("community") or None
    grid = request.args.get("grid") or None
    items = [_summary(v) for v in service.listing(who, grid_code=grid, community_code=community)]
    communities, grids = _places()
    by = "grid_code" if community else "community_code"
    counts = service.counts(by)
    if community:
        counts = counts[counts["grid_code"].str.startswith(community)]
    names = grids if community else communities
    return render_template(
        "deliberations.html",
        items=items,
        community=community,
        grid=grid,
        community_name=communities.get(community or "", community or ""),
        grid_name=grids.get(grid or "", grid or ""),
        counts=[(code, names.get(code, code), int(n)) for code, n in counts.itertuples(index=False)],
        by=by,
        may_record=service.may_record(who),
        sees_names=who.can(PERSONAL_DATA),
    )
