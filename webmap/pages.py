"""Server-rendered pages: the dispatcher's map (``/``), the grid overview, the complaint forms and lists."""

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
from complaints.errors import ComplaintsError
from geo.crs import COORDSYS_NAMES
from geo.errors import GeoError
from geo.errors import RowErrors
from webmap import auth
from webmap import dispatch_maps
from webmap import maps
from webmap.complaint_service import ComplaintService
from webmap.complaints_api import complaint_json
from webmap.complaints_api import department_scope
from webmap.grid_service import GridService
from webmap.grid_service import ServiceError
from webmap.i18n import lang
from webmap.i18n import t
from webmap.users import role_required

bp = Blueprint("pages", __name__)
CHINA = datetime.timezone(datetime.timedelta(hours=8))


def complaints() -> ComplaintService:
    return current_app.extensions["redgrid.complaints"]


@bp.get("/favicon.ico")
def favicon():
    return current_app.send_static_file("favicon.svg")


def grid_service() -> GridService:
    return current_app.extensions["redgrid"]


#: complaint states a dispatcher still has to care about (everything but the final ones)
OPEN_STATES = [s.value for s in workflow.State
               if s not in (workflow.State.CLOSED, workflow.State.REJECTED, workflow.State.DUPLICATE)]
#: words the dispatcher's script shows, in the page's language
DISPATCHER_STRINGS = (
    "grid_card", "grid_code", "grid_name", "community", "kind", "kind_urban", "kind_rural", "version",
    "version_active", "population", "team", "team_none", "role", "name", "phone", "unit", "unit_town",
    "unit_community", "unit_grid", "phones_masked", "open_complaints", "open_complaints_none",
    "all_complaints_of_grid", "candidates", "not_found_address", "not_found_grid", "matched_address",
    "point_at", "outside_all", "warn_near_boundary", "warn_on_boundary", "warn_outside",
    "warn_datum_suspect", "warn_far_outside", "warn_other", "error", "searching", "no_results")


def _map_settings() -> tuple[str, str | None]:
    return current_app.config["MAP_TILES"], current_app.config.get("TIANDITU_KEY")


@bp.get("/")
def dispatcher():
    """调度 / Dispatcher page: address, coordinates, grid code or a map click → grid, team, complaints."""
    svc = grid_service()
    tiles, key = _map_settings()
    try:
        version_id = svc.active_version_id()
    except ServiceError:
        version_id = None
    embedded = None
    if version_id is not None:
        embedded = dispatch_maps.cache_for(current_app).get(
            ("dispatcher", version_id, tiles),
            lambda: maps.embed(dispatch_maps.dispatcher_map(dispatch_maps.version_shapes(svc, version_id),
                                                            tiles=tiles, tianditu_key=key)))
    strings = {k: t(k) for k in DISPATCHER_STRINGS}
    strings.update({f"role_{r}": t(f"role_{r}") for r in (
        "leader", "deputy_leader", "instructor", "group_leader", "grid_worker", "part_time_worker")})
    strings.update({f"state_{s.value}": t(f"state_{s.value}") for s in workflow.State})
    can_file = current_user.is_authenticated and current_user.role in ("dispatcher", "admin")
    settings = {
        "mapName": embedded.map_name if embedded else None,
        "overlay": maps.overlay_coordsys(tiles), "lang": lang(), "canFile": can_file,
        "openStates": OPEN_STATES, "strings": strings,
        "urls": {"api": url_for("api.health").rsplit("/", 1)[0],
                 "complaint": url_for("pages.complaint", complaint_id=0).rsplit("/", 1)[0],
                 "complaints": url_for("pages.complaint_list"),
                 "newComplaint": url_for("pages.new_complaint")},
    }
    return render_template("dispatcher.html", em=embedded, settings=settings,
                           coordsys_names=COORDSYS_NAMES)


@bp.get("/grids")
def grids():
    """网格总览 / Every grid of a version, coloured by community; ``?version=N`` picks the version."""
    svc = grid_service()
    tiles, key = _map_settings()
    versions = svc.store.versions()
    asked = request.args.get("version", "")
    try:
        version_id = int(asked) if asked.isdigit() else svc.active_version_id()
    except ServiceError:
        version_id = None
    if version_id is not None and all(v.id != version_id for v in versions):
        abort(404)
    embedded, rows = None, []
    if version_id is not None:
        names = {k: t(k) for k in ("layer_grids", "layer_communities", "layer_town", "tip_name",
                                   "tip_code", "tip_community", "tip_kind", "kind_urban", "kind_rural")}

        def build():
            shapes = dispatch_maps.version_shapes(svc, version_id)
            colours = dispatch_maps.community_colours(shapes.community_codes, shapes.community_geoms)
            m = dispatch_maps.grids_map(shapes, colours, names, tiles=tiles, tianditu_key=key)
            return maps.embed(m), dispatch_maps.legend(shapes, colours)

        embedded, rows = dispatch_maps.cache_for(current_app).get(("grids", version_id, tiles, lang()), build)
    shown = next((v for v in versions if v.id == version_id), None)
    return render_template("grids.html", em=embedded, legend=rows, versions=versions, shown=shown)


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
    page = max(int(request.args["page"]) if request.args.get("page", "").isdigit() else 1, 1)
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
                           satisfied=satisfied, duplicate_of=form.get("duplicate_of") or None,
                           department_scope=department_scope())
            return redirect(url_for("pages.complaint", complaint_id=complaint_id))
        except ServiceError as exc:
            error = t("conflict") if exc.code == "conflict" else exc.message
        except (GeoError, ComplaintsError, ValueError) as exc:  # workflow, calendar, catalogue refusals
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
