"""The complaints JSON API: file, read, move through the workflow, import, photos, statistics.

Writes need the ``write`` scope (an API key, or a logged-in dispatcher whose request
carries the CSRF token). Reads are public but personal data (reporter name and phone,
photos) appears only for callers with ``personal_data``.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import tempfile
from pathlib import Path

import pandas as pd
from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request
from flask import send_file

from complaints import intake
from complaints import stats
from geo.officials import mask_phone
from webmap import auth
from webmap.complaint_service import ComplaintService
from webmap.errors import ApiError
from webmap.grid_service import parse_when

bp = Blueprint("complaints_api", __name__)
bp.before_request(auth.check_request)
MAX_IMPORT_BYTES = 256 * 1024 * 1024


def service() -> ComplaintService:
    return current_app.extensions["redgrid.complaints"]


def complaint_json(row: dict, *, personal: bool, svc: ComplaintService, events: list | None = None,
                   photos: list | None = None) -> dict:
    """A complaint as the API shows it; personal fields only for those who may see them."""
    catalog = svc.catalog
    category = catalog.categories.get(row["category_code"])
    department = catalog.departments.get(row["department_code"] or "")
    body = {
        "id": row["id"], "source": row["source"], "external_id": row["external_id"],
        "channel": row["channel"], "text": row["text"],
        "category": {"code": row["category_code"], "name": category.name_zh if category else None},
        "address": row["address"],
        "location": {"lon": row["lon"], "lat": row["lat"], "coordsys": "wgs84"}
        if row["lon"] is not None else None,
        "input": {"coordsys": row["input_coordsys"], "lon": row["input_lon"], "lat": row["input_lat"]}
        if row["input_coordsys"] else None,
        "geocode": row["geocode"],
        "reported_at": _iso(row["reported_at"]),
        "grid": {"code": row["grid_code"], "version": row["grid_version_id"],
                 "community_code": row["community_code"]},
        "whistle_group": row["whistle_group"],
        "state": row["state"],
        "department": {"code": department.code, "name": department.name_zh} if department else None,
        "dispatched_at": _iso(row["dispatched_at"]), "deadline": _iso(row["deadline"]),
        "deadline_status": svc.deadline_status(row).value,
        "resolved_at": _iso(row["resolved_at"]), "closed_at": _iso(row["closed_at"]),
        "satisfied": row["satisfied"], "duplicate_of": row.get("duplicate_of"),
        "version": row["row_version"],
        "reporter": {"name": row["reporter_name"], "phone": row["reporter_phone"]} if personal else
        {"name": None, "phone": mask_phone(row["reporter_phone"]) if row["reporter_phone"] else None},
    }
    if events is not None:
        body["events"] = [{"at": _iso(e["at"]), "actor": e["actor"], "action": e["action"],
                           "from_state": e["from_state"], "to_state": e["to_state"], "note": e["note"],
                           "department": e["department_code"], "deadline": _iso(e["deadline"]),
                           "satisfied": e.get("satisfied")} for e in events]
    if photos is not None and personal:
        body["photos"] = [{"id": p["id"], "content_type": p["content_type"], "size": p["size"]}
                          for p in photos]
    return body


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def department_scope() -> str | None:
    """A department's staff act only on complaints dispatched to their department."""
    from flask_login import current_user

    principal = auth.current_principal()
    if principal is not None and principal.kind == "user" and current_user.role == "department":
        return current_user.department_code or ""
    return None


def _actor() -> str:
    principal = auth.require(auth.WRITE)
    return f"{principal.kind}:{principal.name}"


@bp.post("/complaints")
def file_complaint():
    """File a complaint (JSON); the same source + external_id again returns the first one."""
    actor = _actor()
    svc = service()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError("send a JSON object with category, text, and address or lon/lat", code="bad_json")
    source = str(data.pop("source", None) or f"api:{auth.current_principal().name}")
    if not data.get("external_id"):
        data["external_id"] = hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()[:24]
    if not data.get("reported_at"):
        data["reported_at"] = datetime.datetime.now(datetime.UTC).isoformat()
    item = intake.check(data, catalog=svc.catalog, source=source)
    existed = svc.store.complaint_by_external(item.source, item.external_id) is not None
    row = svc.file(item, actor=actor)
    body = complaint_json(row, personal=auth.may(auth.PERSONAL_DATA), svc=svc)
    return jsonify(body), (200 if existed else 201)


@bp.get("/complaints")
def list_complaints():
    """Complaints, newest first; filters: grid, community, category, state, department, source,
    since, until, overdue=1, deadline=on_time|due_soon|overdue (due soon: 80 % of the working
    time used); paging with limit (≤ 1000) and offset."""
    svc = service()
    filters = _filters()
    limit = min(_int_arg("limit", 100), 1000)
    offset = _int_arg("offset", 0)
    wanted = request.args.get("deadline")
    if wanted:
        # deadline status needs the working-day calendar, so it is computed here, over the
        # complaints a deadline can run for (with a department, or reopened)
        if wanted not in ("on_time", "due_soon", "overdue"):
            raise ApiError("deadline= is on_time, due_soon or overdue", code="bad_parameter")
        filters["state"] = [s for s in filters.get("state", ["dispatched", "reopened"])
                            if s in ("dispatched", "reopened")]
        running = svc.store.list_complaints(filters=filters, limit=10**9, offset=0)
        matching = [r for r in running if svc.deadline_status(r).value == wanted]
        total, rows = len(matching), matching[offset:offset + limit]
    else:
        rows = svc.store.list_complaints(filters=filters, limit=limit, offset=offset)
        total = svc.store.count_complaints(filters)
    personal = auth.may(auth.PERSONAL_DATA)
    return _no_store(jsonify({
        "total": total, "limit": limit, "offset": offset,
        "complaints": [complaint_json(r, personal=personal, svc=svc) for r in rows]}))


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    if not value.isdigit():
        raise ApiError(f"{name}={value!r} must be a whole number", code="bad_parameter")
    return int(value)


def _filters() -> dict:
    args = request.args
    filters: dict = {}
    for name, column in (("grid", "grid_code"), ("community", "community_code"),
                         ("category", "category_code"), ("department", "department_code"),
                         ("source", "source"), ("channel", "channel")):
        if args.get(name):
            filters[column] = args[name].split(",") if "," in args[name] else args[name]
    if args.get("state"):
        filters["state"] = args["state"].split(",")
    if args.get("since"):
        filters["since"] = parse_when(args["since"]).replace(hour=0, minute=0, second=0, microsecond=0) \
            if len(args["since"]) == 10 else parse_when(args["since"])
    if args.get("until"):
        filters["until"] = parse_when(args["until"])
    if args.get("overdue") in ("1", "true"):
        filters["overdue_at"] = service().now()
    return filters


@bp.get("/complaints/<int:complaint_id>")
def get_complaint(complaint_id: int):
    svc = service()
    row = svc.store.complaint(complaint_id)
    if row is None:
        raise ApiError(f"complaint {complaint_id} does not exist", code="not_found", status=404)
    personal = auth.may(auth.PERSONAL_DATA)
    body = complaint_json(row, personal=personal, svc=svc, events=svc.store.complaint_events(complaint_id),
                          photos=svc.store.photos(complaint_id))
    response = _no_store(jsonify(body))
    response.headers["ETag"] = f'"{row["row_version"]}"'
    return response


@bp.post("/complaints/<int:complaint_id>/actions")
def act(complaint_id: int):
    """A workflow action: {action, version, note, department, deadline, satisfied, duplicate_of}.

    ``version`` (or an ``If-Match`` header) is the version the caller saw; a stale one gets 409.
    """
    actor = _actor()
    data = request.get_json(silent=True) or {}
    expected = data.get("version") or request.headers.get("If-Match", "").strip('"')
    if not str(expected).isdigit():
        raise ApiError("say which version of the complaint you saw: JSON 'version' or If-Match",
                       code="version_required", status=428)
    deadline = parse_when(data["deadline"]) if data.get("deadline") else None
    svc = service()
    row = svc.transition(complaint_id, str(data.get("action", "")), expected_version=int(expected),
                         actor=actor, note=data.get("note"), department=data.get("department"),
                         deadline=deadline, satisfied=data.get("satisfied"),
                         duplicate_of=data.get("duplicate_of"), department_scope=department_scope())
    body = complaint_json(row, personal=auth.may(auth.PERSONAL_DATA), svc=svc,
                          events=svc.store.complaint_events(complaint_id))
    return _no_store(jsonify(body))


@bp.post("/complaints/<int:complaint_id>/photos")
def add_photo(complaint_id: int):
    _actor()
    upload = request.files.get("photo")
    if upload is None:
        raise ApiError("send the image as multipart field 'photo'", code="missing_file")
    photo = service().save_photo(complaint_id, upload.filename or "photo", upload.read())
    return jsonify(photo), 201


@bp.get("/complaints/<int:complaint_id>/photos/<int:photo_id>")
def get_photo(complaint_id: int, photo_id: int):
    auth.require(auth.PERSONAL_DATA)  # photos show people, number plates, homes
    svc = service()
    found = next((p for p in svc.store.photos(complaint_id) if p["id"] == photo_id), None)
    if found is None or svc.photo_dir is None:
        raise ApiError("no such photo", code="not_found", status=404)
    return send_file(svc.photo_dir / found["stored_as"], mimetype=found["content_type"])


@bp.post("/complaints/import")
def import_complaints():
    """Bulk import of a hotline export (CSV UTF-8/GBK or Excel), all rows or none."""
    actor = _actor()
    upload = request.files.get("file")
    if upload is None:
        raise ApiError("send the export as multipart field 'file'", code="missing_file")
    source = request.form.get("source") or request.args.get("source")
    if not source:
        raise ApiError("name the source system (form field 'source', e.g. 12345热线)", code="missing_source")
    suffix = Path(upload.filename or "upload.csv").suffix or ".csv"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{Path(upload.filename or 'upload').stem}{suffix}"
        upload.save(path)
        report = service().import_file(path, source=source, actor=actor,
                                       encoding=request.form.get("encoding") or None)
    return jsonify({"rows": report.rows, "added": report.added, "skipped": report.skipped,
                    "import_id": report.import_id}), 201 if report.added else 200


# --- leaders' views ---------------------------------------------------------------------------

STAT_COLUMNS = ["id", "grid_code", "community_code", "category_code", "state", "reported_at",
                "department_code", "deadline", "dispatched_at", "resolved_at", "satisfied", "channel"]


def _frame() -> pd.DataFrame:
    filters = _filters()
    return service().store.complaints_frame(STAT_COLUMNS, filters)


def _table(frame: pd.DataFrame, name: str) -> Response:
    """JSON by default, CSV with format=csv (UTF-8 with BOM so Excel opens Chinese text)."""
    if request.args.get("format") == "csv":
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        response = Response("\ufeff" + buffer.getvalue(), mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return _no_store(response)
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    # ISO 8601 like every other time in the API (Flask would write pandas' Timestamps as HTTP dates)
    rows = [{k: v.isoformat() if isinstance(v, datetime.datetime) else v for k, v in r.items()}
            for r in records]
    return _no_store(jsonify({"rows": rows}))


@bp.get("/stats/counts")
def stat_counts():
    """Counts by grid × category × state × month (``by=`` picks the columns)."""
    by = tuple((request.args.get("by") or "grid_code,category_code,state,month").split(","))
    allowed = {"grid_code", "community_code", "category_code", "state", "month", "department_code",
               "channel"}
    if not set(by) <= allowed:
        raise ApiError(f"by= may combine {', '.join(sorted(allowed))}", code="bad_parameter")
    return _table(stats.counts(_frame(), by), "complaint-counts")


@bp.get("/stats/departments")
def stat_departments():
    """On-time resolution rate per department."""
    return _table(stats.department_performance(_frame(), service().now()), "department-performance")


@bp.get("/stats/satisfaction")
def stat_satisfaction():
    by = request.args.get("by")
    if by not in (None, "grid_code", "department_code", "category_code", "community_code"):
        raise ApiError("by= is grid_code, community_code, department_code or category_code",
                       code="bad_parameter")
    frame = service().store.follow_up_frame(_filters())
    return _table(stats.satisfaction(frame, by), "satisfaction")


@bp.get("/stats/overdue")
def stat_overdue():
    frame = stats.overdue(_frame(), service().now())
    frame = frame[["id", "grid_code", "category_code", "department_code", "dispatched_at", "deadline",
                   "overdue_days", "state"]]
    return _table(frame, "overdue")


# --- geocoding and catalogue ------------------------------------------------------------------


@bp.get("/geocode")
def geocode():
    """A Chinese address → point and grid, or candidates when unsure."""
    text = request.args.get("q", "").strip()
    if not text:
        raise ApiError("q= is the address to find", code="bad_parameter")
    geocoder = service().geocoder
    if geocoder is None:
        raise ApiError("no geocoder is configured", code="no_geocoder", status=503)
    return jsonify(geocoder.geocode(text).to_dict())


@bp.get("/reverse/<coordsys>/<coords>")
def reverse(coordsys: str, coords: str):
    """The standard addresses nearest a point."""
    from geo.crs import to_wgs84
    from webmap.api import _parse_pair

    lon, lat = _parse_pair(coords)
    wlon, wlat = to_wgs84(lon, lat, coordsys)
    geocoder = service().geocoder
    local = getattr(geocoder, "local", geocoder)
    if local is None or not hasattr(local, "reverse"):
        raise ApiError("no gazetteer is configured", code="no_geocoder", status=503)
    k = min(_int_arg("k", 5), 50)
    hits = local.reverse(float(wlon), float(wlat), k=k)
    return jsonify({"addresses": [{"id": h.id, "text": h.text, "distance_m": round(h.distance_m, 1),
                                   "lon": h.lon, "lat": h.lat, "grid_code": h.grid_code} for h in hits]})


@bp.get("/catalog")
def catalog():
    cat = service().catalog
    return jsonify({
        "categories": [{"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "class": c.gb_class,
                        "department": c.department, "deadline_days": c.deadline_days}
                       for c in cat.categories.values()],
        "departments": [{"code": d.code, "name_zh": d.name_zh, "name_en": d.name_en}
                        for d in cat.departments.values()],
    })


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
