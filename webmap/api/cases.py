"""Cases over JSON: file, read, move through the workflow, import, photos.

Writes need the ``write`` scope (an API key, or a logged-in dispatcher whose request
carries the CSRF token). What a caller sees of a case is decided by the cases service.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint
from flask import jsonify
from flask import request
from flask import send_file

from services.callers import WRITE
from services.cases import case_filters
from services.duplicates import RADIUS_M
from services.duplicates import WINDOW
from services.shapes import case_json
from services.shapes import duplicate_candidate_json
from webmap import auth
from webmap.api.params import int_arg
from webmap.api.params import no_store
from webmap.errors import Problem

bp = Blueprint("complaints_api", __name__)
bp.before_request(auth.check_request)


def _json_object() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise Problem("send a JSON object with category, text, and address or lon/lat", code="bad_json")
    return data


@bp.post("/complaints")
def file_complaint():
    """File a complaint (JSON); the same source + external_id again returns the first one."""
    cases = auth.services().cases
    who = auth.caller()
    cases.require(who, WRITE)
    view, created = cases.file_as(who, _json_object())
    return jsonify(case_json(view, cases.catalog)), (201 if created else 200)


@bp.get("/complaints")
def list_complaints():
    """Cases, newest first; filters: grid, community, category, state, department, source,
    channel, since, until, overdue=1, deadline=on_time|due_soon|overdue (due soon: 80 % of the
    working time used); paging with limit (≤ 1000) and offset."""
    cases = auth.services().cases
    page = cases.list_cases(
        auth.caller(),
        case_filters(request.args, now=cases.now()),
        limit=int_arg("limit", 100),
        offset=int_arg("offset", 0),
        deadline=request.args.get("deadline") or None,
    )
    return no_store(
        jsonify(
            {
                "total": page.total,
                "limit": page.limit,
                "offset": page.offset,
                "complaints": [case_json(v, cases.catalog) for v in page.items],
            }
        )
    )


@bp.get("/complaints/duplicates")
def duplicate_candidates():
    """Open cases a complaint being filed may duplicate: same category, within 50 m of lon/lat
    (coordsys) or at the same standard address, reported in the last 30 days."""
    cases = auth.services().cases
    args = request.args
    found = cases.duplicate_candidates(
        auth.caller(),
        category=args.get("category", ""),
        lon=args.get("lon"),
        lat=args.get("lat"),
        coordsys=args.get("coordsys") or None,
        address=args.get("address"),
    )
    return no_store(
        jsonify(
            {
                "radius_m": RADIUS_M,
                "days": WINDOW.days,
                "candidates": [duplicate_candidate_json(c, cases.catalog) for c in found],
            }
        )
    )


@bp.get("/complaints/<int:complaint_id>")
def get_complaint(complaint_id: int):
    cases = auth.services().cases
    view = cases.get(auth.caller(), complaint_id)
    response = no_store(jsonify(case_json(view, cases.catalog)))
    response.headers["ETag"] = f'"{view.case.row_version}"'
    return response


@bp.post("/complaints/<int:complaint_id>/actions")
def act(complaint_id: int):
    """A workflow action: {action, version, note, department, deadline, satisfied, duplicate_of, assignee}.

    ``version`` (or an ``If-Match`` header) is the version the caller saw; a stale one gets 409.
    """
    cases = auth.services().cases
    who = auth.caller()
    cases.require(who, WRITE)
    data = request.get_json(silent=True) or {}
    if not isinstance(data, dict):
        raise Problem("send a JSON object: {action, version, ...}", code="bad_json")
    view = cases.act(
        who,
        complaint_id,
        str(data.get("action", "")),
        expected_version=data.get("version") or request.headers.get("If-Match", "").strip('"'),
        note=data.get("note"),
        department=data.get("department"),
        deadline=data.get("deadline") or None,
        satisfied=data.get("satisfied"),
        duplicate_of=data.get("duplicate_of"),
        assignee=data.get("assignee"),
    )
    return no_store(jsonify(case_json(view, cases.catalog)))


@bp.post("/complaints/<int:complaint_id>/photos")
def add_photo(complaint_id: int):
    cases = auth.services().cases
    who = auth.caller()
    cases.require(who, WRITE)
    upload = request.files.get("photo")
    if upload is None:
        raise Problem("send the image as multipart field 'photo'", code="missing_file")
    # kind=after: a photo of the work done, by whoever may resolve the case
    kind = request.form.get("kind") or request.args.get("kind") or "before"
    added = cases.add_photo(who, complaint_id, upload.filename or "photo", upload.read(), kind=kind)
    return jsonify(added), 201


@bp.get("/complaints/<int:complaint_id>/photos/<int:photo_id>")
def get_photo(complaint_id: int, photo_id: int):
    path, content_type = auth.services().cases.photo_file(auth.caller(), complaint_id, photo_id)
    return send_file(path, mimetype=content_type)


@bp.post("/complaints/import")
def import_complaints():
    """Bulk import of a hotline export (CSV UTF-8/GBK or Excel), all rows or none."""
    cases = auth.services().cases
    who = auth.caller()
    cases.require(who, WRITE)
    upload = request.files.get("file")
    if upload is None:
        raise Problem("send the export as multipart field 'file'", code="missing_file")
    source = request.form.get("source") or request.args.get("source")
    if not source:
        raise Problem("name the source system (form field 'source', e.g. 12345热线)", code="missing_source")
    suffix = Path(upload.filename or "upload.csv").suffix or ".csv"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{Path(upload.filename or 'upload').stem}{suffix}"
        upload.save(path)
        # only a key or user granted the source may import under it (services.permissions)
        report = cases.import_as(who, path, source=source, encoding=request.form.get("encoding") or None)
    return jsonify(
        {"rows": report.rows, "added": report.added, "skipped": report.skipped, "import_id": report.import_id}
    ), 201 if report.added else 200
