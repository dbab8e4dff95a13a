"""The complaint pages: the intake form, the list, and one case with its next workflow step."""

from __future__ import annotations

import datetime
import uuid

from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from complaints import intake
from complaints import workflow
from complaints.errors import ComplaintsError
from geo.crs import COORDSYS_NAMES
from geo.errors import GeoError
from geo.errors import RowErrors
from geo.timeutil import BEIJING
from services.callers import WRITE
from services.errors import Conflict
from services.errors import DomainError
from services.errors import NotFound
from services.permissions import allowed_actions
from services.shapes import case_json
from webmap import auth
from webmap.i18n import t
from webmap.pages import bp
from webmap.users import role_required

PAGE_SIZE = 50


@bp.route("/complaints/new", methods=["GET", "POST"])
@role_required("dispatcher", "admin")
def new_complaint():
    """登记诉求 / File a complaint (dispatchers)."""
    cases = auth.services().cases
    errors: dict[str, str] = {}
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
        }
    )
    if request.method == "POST":
        values.setdefault("external_id", f"form-{uuid.uuid4().hex[:12]}")
        who = auth.caller()
        try:
            view, _ = cases.file_as(
                who, {k: v for k, v in values.items() if k != "csrf_token"}, source="form"
            )
            for upload in request.files.getlist("photos"):
                if upload and upload.filename:
                    cases.add_photo(who, view.case.id, upload.filename, upload.read())
            flash(t("filed"))
            return redirect(url_for("pages.complaint", complaint_id=view.case.id))
        except RowErrors as exc:
            errors = {e.field: e.message for e in exc.errors}
        except (GeoError, DomainError) as exc:
            errors = {"_": str(exc)}
    return render_template(
        "complaint_new.html",
        values=values,
        errors=errors,
        catalog=cases.catalog,
        channels=list(intake.CHANNELS),
        coordsys_names=COORDSYS_NAMES,
    ), (422 if errors else 200)


@bp.get("/complaints")
def complaint_list():
    """诉求列表 / Complaints, newest first (public view masks reporters)."""
    cases = auth.services().cases
    filters = {
        k: v
        for k, v in (
            ("state", request.args.get("state")),
            ("grid_code", request.args.get("grid")),
            ("category_code", request.args.get("category")),
        )
        if v
    }
    page = max(int(request.args["page"]) if request.args.get("page", "").isdigit() else 1, 1)
    found = cases.list_cases(auth.caller(), filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    items = [case_json(v, cases.catalog) for v in found.items]
    return render_template(
        "complaints.html",
        items=items,
        total=found.total,
        page=page,
        catalog=cases.catalog,
        states=list(workflow.State),
        filters=request.args,
    )


@bp.route("/complaints/<int:complaint_id>", methods=["GET", "POST"])
def complaint(complaint_id: int):
    """One complaint, its history and (for staff) the next workflow step."""
    cases = auth.services().cases
    who = auth.caller()
    error = None
    if request.method == "POST":
        if not who.can(WRITE):
            abort(403)
        form = request.form
        try:
            deadline = form.get("deadline") or None
            satisfied = {"yes": True, "no": False}.get(form.get("satisfied", ""))
            cases.act(
                who,
                complaint_id,
                form.get("action", ""),
                expected_version=form.get("version", "0"),
                note=form.get("note"),
                department=form.get("department") or None,
                deadline=deadline,
                satisfied=satisfied,
                duplicate_of=form.get("duplicate_of") or None,
            )
            return redirect(url_for("pages.complaint", complaint_id=complaint_id))
        except NotFound:
            raise
        except Conflict:
            error = t("conflict")
        except DomainError as exc:
            error = exc.message
        except (GeoError, ComplaintsError, ValueError) as exc:  # workflow, calendar, catalogue refusals
            error = str(exc)
    view = cases.get(who, complaint_id)
    # the next steps the workflow allows from here that this caller's role may take
    mine = allowed_actions(who)
    allowed = [a for a in workflow.TRANSITIONS[workflow.State(view.case.state)] if a in mine]
    return render_template(
        "complaint.html",
        c=case_json(view, cases.catalog),
        allowed=allowed,
        error=error,
        catalog=cases.catalog,
        can_write=who.can(WRITE),
    ), (409 if error == t("conflict") else 422 if error else 200)
