"""Server-rendered pages. The maps come later; these are the complaint forms and lists."""

from __future__ import annotations

import datetime
import uuid

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from complaints import intake
from complaints import workflow
from geo.crs import COORDSYS_NAMES
from geo.errors import GeoError
from geo.errors import RowErrors
from webmap import auth
from webmap.complaint_service import ComplaintService
from webmap.complaints_api import complaint_json
from webmap.grid_service import ServiceError
from webmap.i18n import t
from webmap.users import role_required

bp = Blueprint("pages", __name__)
CHINA = datetime.timezone(datetime.timedelta(hours=8))


def complaints() -> ComplaintService:
    return current_app.extensions["redgrid.complaints"]


@bp.get("/favicon.ico")
def favicon():
    return current_app.send_static_file("favicon.svg")


@bp.get("/")
def dispatcher():
    """调度 / Dispatcher page."""
    return render_template("dispatcher.html")


@bp.route("/complaints/new", methods=["GET", "POST"])
@role_required("dispatcher", "admin")
def new_complaint():
    """登记诉求 / File a complaint (dispatchers)."""
    svc = complaints()
    errors: dict[str, str] = {}
    values = request.form.to_dict() if request.method == "POST" else {
        "lon": request.args.get("lon", ""), "lat": request.args.get("lat", ""),
        "coordsys": request.args.get("coordsys", "wgs84"), "address": request.args.get("address", ""),
        "reported_at": datetime.datetime.now(CHINA).strftime("%Y-%m-%dT%H:%M"), "channel": "hotline"}
    if request.method == "POST":
        values.setdefault("external_id", f"form-{uuid.uuid4().hex[:12]}")
        try:
            item = intake.check(values, catalog=svc.catalog, source="form")
            row = svc.file(item, actor=f"user:{current_user.username}")
            for upload in request.files.getlist("photos"):
                if upload and upload.filename:
                    svc.save_photo(row["id"], upload.filename, upload.read())
            flash(t("filed"))
            return redirect(url_for("pages.complaint", complaint_id=row["id"]))
        except RowErrors as exc:
            errors = {e.field: e.message for e in exc.errors}
        except (GeoError, ServiceError) as exc:
            errors = {"_": str(exc)}
    return render_template("complaint_new.html", values=values, errors=errors, catalog=svc.catalog,
                           channels=list(intake.CHANNELS), coordsys_names=COORDSYS_NAMES), \
        (422 if errors else 200)


@bp.get("/complaints")
def complaint_list():
    """诉求列表 / Complaints, newest first (public view masks reporters)."""
    svc = complaints()
    filters = {k: v for k, v in (("state", request.args.get("state")),
                                 ("grid_code", request.args.get("grid")),
                                 ("category_code", request.args.get("category"))) if v}
    page = max(int(request.args.get("page", 1)), 1)
    rows = svc.store.list_complaints(filters=filters, limit=50, offset=(page - 1) * 50)
    total = svc.store.count_complaints(filters)
    personal = auth.may(auth.PERSONAL_DATA)
    items = [complaint_json(r, personal=personal, svc=svc) for r in rows]
    return render_template("complaints.html", items=items, total=total, page=page,
                           catalog=svc.catalog, states=list(workflow.State), filters=request.args)


@bp.route("/complaints/<int:complaint_id>", methods=["GET", "POST"])
def complaint(complaint_id: int):
    """One complaint, its history and (for staff) the next workflow step."""
    svc = complaints()
    error = None
    if request.method == "POST":
        if not auth.may(auth.WRITE):
            abort(403)
        form = request.form
        try:
            deadline = None
            if form.get("deadline"):
                deadline = datetime.datetime.fromisoformat(form["deadline"]).replace(tzinfo=CHINA)
            satisfied = {"yes": True, "no": False}.get(form.get("satisfied", ""))
            svc.transition(complaint_id, form.get("action", ""), expected_version=int(form.get("version", 0)),
                           actor=f"user:{current_user.username}", note=form.get("note"),
                           department=form.get("department") or None, deadline=deadline,
                           satisfied=satisfied, duplicate_of=form.get("duplicate_of") or None)
            return redirect(url_for("pages.complaint", complaint_id=complaint_id))
        except ServiceError as exc:
            error = t("conflict") if exc.code == "conflict" else exc.message
        except (GeoError, workflow.WorkflowError, ValueError) as exc:
            error = str(exc)
    row = svc.store.complaint(complaint_id)
    if row is None:
        abort(404)
    personal = auth.may(auth.PERSONAL_DATA)
    item = complaint_json(row, personal=personal, svc=svc, events=svc.store.complaint_events(complaint_id),
                          photos=svc.store.photos(complaint_id))
    allowed = list(workflow.TRANSITIONS[workflow.State(row["state"])])
    return render_template("complaint.html", c=item, allowed=allowed, error=error, catalog=svc.catalog,
                           can_write=auth.may(auth.WRITE)), (409 if error == t("conflict") else
                                                              422 if error else 200)
