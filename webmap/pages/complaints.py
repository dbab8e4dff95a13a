"""The complaint pages: the intake form, the list, and one case with a form per step its reader may take."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import send_file
from flask import url_for

from complaints import intake
from complaints import workflow
from complaints.errors import ComplaintsError
from complaints.workdays import WorkCalendar
from complaints.workflow import DeadlineStatus
from geo.crs import COORDSYS_NAMES
from geo.errors import GeoError
from geo.errors import RowErrors
from geo.timeutil import BEIJING
from geo.timeutil import to_beijing
from services import case_actions
from services.callers import WRITE
from services.case_actions import NextSteps
from services.cases import CaseView
from services.errors import DomainError
from services.errors import Invalid
from services.errors import NotFound
from services.shapes import case_json
from services.shapes import duplicate_candidate_json
from webmap import auth
from webmap.i18n import lang
from webmap.i18n import t
from webmap.i18n import translate
from webmap.pages import bp
from webmap.pages import case_forms
from webmap.pages import readable
from webmap.users import role_required

PAGE_SIZE = 50
#: beyond this many days ahead the working days left are not counted (a legacy deadline years away)
_COUNTED_AHEAD_DAYS = 400


def beijing_text(value: datetime.datetime | None) -> str:
    """A time as people here read it: Beijing time, ``YYYY-MM-DD HH:MM`` ('' for none)."""
    return "" if value is None else to_beijing(value).strftime("%Y-%m-%d %H:%M")


def time_left(
    deadline: datetime.datetime, now: datetime.datetime, calendar: WorkCalendar, language: str = "zh"
) -> str | None:
    """What is left before ``deadline`` in working time: 剩余 N 个工作日 (the working days after
    today up to the due day, so a fresh 3-working-day dispatch reads 剩余 3 个工作日), 今日到期,
    or 已超期 N 天 (calendar days past the due day). None when it cannot be counted."""
    today, due = to_beijing(now).date(), to_beijing(deadline).date()
    if now > deadline:
        days = (today - due).days
        if days <= 0:
            return translate("deadline_overdue_today", language)
        return translate("deadline_overdue_one" if days == 1 else "deadline_overdue_days", language, n=days)
    if due == today:
        return translate("deadline_due_today", language)
    if (due - today).days > _COUNTED_AHEAD_DAYS:
        return None
    try:
        left = calendar.workdays_in(today + datetime.timedelta(days=1), due)
    except (ComplaintsError, ValueError, OverflowError):  # a year nobody can count: shown without
        return None
    if left == 0:
        return translate("deadline_left_under_one", language)
    return translate("deadline_left_one" if left == 1 else "deadline_left", language, n=left)


def deadline_text(
    deadline: datetime.datetime | None,
    now: datetime.datetime,
    calendar: WorkCalendar,
    *,
    language: str = "zh",
    running: bool = True,
    provisional: bool = False,
) -> str:
    """A deadline as a person reads it: Beijing date and time, then, while it runs, the working
    time left, and 暂定 / provisional when it was counted without the year's official schedule.

    ``2027-01-05 23:59（剩余 5 个工作日，暂定）`` / ``2027-01-05 23:59 (5 working days left, provisional)``.
    Never raises: a deadline must not break a page.
    """
    if deadline is None:
        return ""
    notes = [time_left(deadline, now, calendar, language)] if running else []
    if provisional:
        notes.append(translate("deadline_provisional", language))
    shown = [n for n in notes if n]
    if not shown:
        return beijing_text(deadline)
    if language == "zh":
        return f"{beijing_text(deadline)}（{'，'.join(shown)}）"
    return f"{beijing_text(deadline)} ({', '.join(shown)})"


def _shown(view: CaseView, body: dict[str, Any], now: datetime.datetime, calendar: WorkCalendar) -> dict:
    """``case_json`` for a page: its times in Beijing time and the deadline with the time left."""
    c = view.case
    catalog = auth.services().cases.catalog
    body["category"]["name"] = readable.category_name(catalog, c.category_code)
    if body.get("department"):
        body["department"]["name"] = readable.department_name(catalog, c.department_code)
    body["grid_text"] = readable.grid_text(body["grid"])
    body["ticket_text"] = readable.ticket(body)
    body["reported_at_text"] = beijing_text(c.reported_at)
    body["deadline_provisional"] = bool(c.deadline_provisional)
    body["deadline_text"] = deadline_text(
        c.deadline,
        now,
        calendar,
        language=lang(),
        running=view.deadline_status is not DeadlineStatus.NONE,
        provisional=bool(c.deadline_provisional),
    )
    for event, shown in zip(view.events or [], body.get("events") or [], strict=False):
        shown["at_text"] = beijing_text(event.at)
        shown["actor_text"] = readable.person(shown.get("actor"))
        if event.action == "collect" and event.from_state is None and shown.get("note"):
            # intake's own note ("hotline: form") says how the case came in: in words
            shown["note"] = readable.received_via(c.channel)
    return body


#: ``_shown`` for the other page modules (the queues)
shown_case = _shown


@bp.route("/complaints/new", methods=["GET", "POST"])
@role_required("dispatcher", "admin")
def new_complaint():
    """登记诉求 / File a complaint (dispatchers)."""
    cases = auth.services().cases
    errors: dict[str, str] = {}
    candidates: list[dict] | None = None
    values = (
        request.form.to_dict()
        if request.method == "POST"
        else {
            "lon": request.args.get("lon", ""),
            "lat": request.args.get("lat", ""),
            "coordsys": request.args.get("coordsys", "wgs84"),
            "address": request.args.get("address", ""),
            "reported_at": datetime.datetime.now(BEIJING).strftime("%Y-%m-%dT%H:%M"),
            "channel": "hotline",
            "text": request.args.get("text", ""),
            "category": request.args.get("category", ""),
        }
    )
    suggested = None
    if request.method == "GET" and values["text"] and not values["category"]:
        found = cases.suggest_categories(values["text"], limit=1)
        if found:
            values["category"] = found[0].code
            suggested = found[0]
    if request.method == "POST" and request.form.get("step") == "check":
        # 查重 without scripts: the candidate originals of what is typed so far, nothing filed
        values.pop("step", None)
        try:
            picked = cases.duplicate_candidates(
                auth.caller(),
                category=values.get("category", ""),
                lon=values.get("lon"),
                lat=values.get("lat"),
                coordsys=values.get("coordsys"),
                address=values.get("address"),
            )
            candidates = [duplicate_candidate_json(c, cases.catalog) for c in picked]
        except (GeoError, DomainError) as exc:
            field = getattr(exc, "field", None)
            errors = {field if field in _FORM_FIELDS else "_": str(getattr(exc, "message", exc))}
    elif request.method == "POST":
        values.setdefault("external_id", f"form-{uuid.uuid4().hex[:12]}")
        who = auth.caller()
        try:
            view, _ = cases.file_as(
                who, {k: v for k, v in values.items() if k != "csrf_token"}, source="form"
            )
            for upload in request.files.getlist("photos"):
                if upload and upload.filename:
                    cases.add_photo(who, view.case.id, upload.filename, upload.read())
            if view.case.duplicate_of:
                flash(t("filed_as_duplicate", id=view.case.duplicate_of))
            else:
                flash(t("filed"))
            return redirect(url_for("pages.complaint", complaint_id=view.case.id))
        except RowErrors as exc:  # intake's messages are English: the page says it in its language
            errors = {e.field: readable.field_error(e.field) for e in exc.errors}
        except (GeoError, DomainError) as exc:
            errors = {"_": readable.refusal(exc)}
    return render_template(
        "complaint_new.html",
        values=values,
        errors=errors,
        catalog=cases.catalog,
        suggested=suggested,
        channels=list(intake.CHANNELS),
        coordsys_names=COORDSYS_NAMES,
        candidates=candidates,
        intake_settings=_intake_settings(),
    ), (422 if errors else 200)


#: the intake form's fields a refusal may name (others are shown above the form)
_FORM_FIELDS = frozenset({"category", "text", "address", "lon", "lat", "reported_at", "reporter_phone"})


def _intake_settings() -> dict[str, Any]:
    """What the intake form's script needs to look for duplicates: where, and the page's words."""
    keys = ("dup_as_new", "dup_as_duplicate", "dup_distance", "dup_same_address", "dup_none", "dup_choice")
    strings = {k: t(k) for k in keys}
    strings.update({f"state_{s.value}": t(f"state_{s.value}") for s in workflow.State})
    return {
        "url": url_for("complaints_api.duplicate_candidates"),
        "complaint": url_for("pages.complaint", complaint_id=0).rsplit("/", 1)[0],
        "strings": strings,
    }


@bp.get("/complaints")
def complaint_list():
    """诉求列表 / Complaints: filters and sorting in the URL (what each role may filter by is
    the service's decision, ``services.queues.QueueService.search``); the public view masks
    reporters."""
    from webmap.pages.queues import listed

    services = auth.services()
    page = max(int(request.args["page"]) if request.args.get("page", "").isdigit() else 1, 1)
    args = {k: v for k, v in request.args.items() if k not in ("page", "lang")}
    error = None
    try:
        found = services.queues.search(auth.caller(), args, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        items, total = listed(found), found.page.total
    except DomainError as exc:
        error, items, total = exc.message, [], 0
    return render_template(
        "complaints.html",
        items=items,
        total=total,
        page=page,
        page_size=PAGE_SIZE,
        catalog=services.cases.catalog,
        states=list(workflow.State),
        filters=args,
        options=services.queues.options(),
        error=error,
        sorts=SORT_COLUMNS,
    ), (422 if error else 200)


#: the sortable columns of the list (a column of ``services.queues.SORTS``) and their header key
SORT_COLUMNS = {"reported_at": "reported_at", "deadline": "deadline", "state": "state", "id": "#"}


@bp.route("/complaints/<int:complaint_id>", methods=["GET", "POST"])
def complaint(complaint_id: int):
    """One complaint, its history and (for staff) a form for each step they may take now."""
    cases = auth.services().cases
    who = auth.caller()
    error = failed = error_field = None
    refused_code = ""
    if request.method == "POST":
        if not who.can(WRITE):
            abort(403)
        form = request.form.to_dict()
        action = form.get("action", "")
        before = cases.get(who, complaint_id, history=False).case
        try:
            note = _note(action, before, form)
            # after photos (the work done) are kept first, so the resolve they go with may need them
            added = 0
            for upload in request.files.getlist("after_photos"):
                if upload and upload.filename:
                    cases.add_photo(who, complaint_id, upload.filename, upload.read(), kind="after")
                    added += 1
            if added:
                flash(t("after_photo_added", n=added))
            done = cases.act(
                who,
                complaint_id,
                action,
                expected_version=form.get("version", "0"),
                note=note,
                department=form.get("department") or None,
                deadline=form.get("deadline") or None,
                satisfied={"yes": True, "no": False}.get(form.get("satisfied", "")),
                duplicate_of=form.get("duplicate_of") or None,
            )
            chased = case_actions.chase_counts(done.events)
            flash(case_forms.confirmation(action, before, done.case, cases.catalog, chased))
            return redirect(url_for("pages.complaint", complaint_id=complaint_id))
        except NotFound:
            raise
        except (DomainError, GeoError, ComplaintsError) as exc:  # workflow, calendar, catalogue refusals
            error, error_field = case_forms.refusal(exc, action, before.state, form)
            failed = {**form, "action": action}
            refused_code = str(getattr(exc, "code", ""))
    view = cases.get(who, complaint_id)
    steps = cases.next_steps(who, view)
    picks = (
        [duplicate_candidate_json(d, cases.catalog) for d in cases.original_candidates(who, complaint_id)]
        if who.can(WRITE) and workflow.Action.MARK_DUPLICATE in steps
        else []
    )
    category = cases.catalog.categories.get(view.case.category_code)
    body = _shown(view, case_json(view, cases.catalog), cases.now(), cases.calendar)
    for event, shown in zip(view.events or [], body.get("events") or [], strict=False):
        shown.update(case_forms.history_step(event))
    status = {"conflict": 409, "forbidden": 403}.get(refused_code, 422) if error else 200
    from webmap.pages.queues import assign_context

    return render_template(
        "complaint.html",
        c=body,
        case=view.case,
        steps=steps,
        forms=case_forms,
        suggestion=_suggestion(steps, cases.catalog),
        error=error,
        error_field=error_field,
        failed=failed or {},
        catalog=cases.catalog,
        can_write=who.can(WRITE),
        photos=_photos(view),
        requires_after_photo=bool(category and category.requires_after_photo),
        after_photo_missing=error_field == "after_photos",
        duplicate_candidates=picks,
        assign=assign_context(view),
    ), status


def _note(action: str, case: Any, form: dict[str, str]) -> str | None:
    """The note the step records. 改派 (a dispatch from dispatched) needs a reason, kept at the
    head of the note before the instructions (办理要求)."""
    note = (form.get("note") or "").strip() or None
    if action != workflow.Action.DISPATCH or not case_forms.is_redispatch(case):
        return note
    reason = (form.get("reason") or "").strip()
    if not reason:
        raise Invalid("a re-dispatch needs a reason", code="missing_field", field="reason")
    head = f"{t('act_reason_dispatch')}：{reason}"
    return head if note is None else f"{head}\n{t('act_note_dispatch')}：{note}"


def _suggestion(steps: NextSteps, catalog: Any) -> dict[str, str] | None:
    """The dispatch suggestion as the form shows it: department and why, deadline and bounds."""
    s = steps.suggestion
    if s is None:
        return None
    category = catalog.categories.get(s.category_code)
    group = next((g for g in catalog.whistle_groups.values() if g.code == s.whistle_group_code), None)
    english = lang() == "en"
    return {
        "department": s.department_code,
        "why": t(
            "act_suggested_why",
            department=case_forms.department_name(catalog, s.department_code),
            category=(category.name_en if english else category.name_zh) if category else s.category_code,
            group=(group.name_en if english else group.name_zh) if group else s.whistle_group_code,
        ),
        "deadline": case_forms.datetime_local(s.deadline),
        "deadline_why": t(
            "act_deadline_why",
            days=s.deadline_days,
            earliest=case_forms.beijing_minutes(steps.earliest_deadline),
            latest=case_forms.beijing_minutes(steps.latest_deadline),
        ),
    }


#: the actions with which an after photo (the work done) is uploaded
_RESOLVING = (workflow.Action.RESOLVE, workflow.Action.RESOLVE_ON_SITE)


def _photos(view: CaseView) -> list[dict[str, Any]]:
    """The case's photos for the page (only a caller who sees its contacts gets any), before
    photos first; each links to ``complaint_photo``, which serves it through the service."""
    shown = [
        {
            "id": p.id,
            "kind": p.kind if p.kind == "after" else "before",
            "filename": p.filename,
            "url": url_for("pages.complaint_photo", complaint_id=view.case.id, photo_id=p.id),
        }
        for p in view.photos or []
    ]
    return sorted(shown, key=lambda p: (p["kind"] == "after", p["id"]))


@bp.get("/complaints/<int:complaint_id>/photos/<int:photo_id>")
def complaint_photo(complaint_id: int, photo_id: int):
    """One photo of a case, for a caller who sees its contacts (each view is audited)."""
    path, content_type = auth.services().cases.photo_file(auth.caller(), complaint_id, photo_id)
    response = send_file(path, mimetype=content_type)
    response.headers["Cache-Control"] = "private, no-store"  # people, number plates, homes
    return response
