"""Open311 GeoReport v2 at /open311/v2: how other systems file and follow complaints.

The standard's shapes (http://wiki.open311.org/GeoReport_v2) with its usual
extensions: ``page``/``page_size`` paging and ``extensions=true`` adding the
workflow history as ``notes`` and the grid as ``extended_attributes``. The
Chinese workflow maps onto Open311's two statuses: every state is ``open`` until
the resident's follow-up call closes it (or it is rejected or a duplicate).
Times carry +08:00. Both ``.json`` and ``.xml`` are served, as the spec requires.
"""

from __future__ import annotations

import datetime
import re
import uuid
from xml.etree import ElementTree as ET

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import request

from complaints import intake
from complaints import workflow
from complaints.records import Case
from geo.errors import GeoError
from geo.errors import RowErrors
from geo.timeutil import BEIJING
from services.callers import ANONYMOUS
from services.callers import WRITE
from services.callers import Caller
from services.cases import CaseView
from services.cases import ComplaintService
from services.errors import DomainError
from services.errors import Unauthenticated
from services.permissions import Visibility
from webmap import auth
from webmap.auth import services as all_services

bp = Blueprint("open311", __name__)
MAX_WINDOW_DAYS = 90
DEFAULT_LIMIT = 1000
MAX_WHOLE = 2**31 - 1
# characters XML 1.0 cannot hold at all, not even escaped (C0 controls but tab, LF, CR; lone
# surrogates; U+FFFE/U+FFFF): one in any complaint's text would make the whole feed unreadable
_XML_ILLEGAL = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    """Text as XML 1.0 can carry it: what it cannot hold becomes U+FFFD (ElementTree escapes the rest)."""
    return _XML_ILLEGAL.sub("\ufffd", value)


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def service() -> ComplaintService:
    return all_services().cases


def _render(body, fmt: str, root: str, item: str, status: int = 200) -> Response:
    if fmt == "xml":
        if isinstance(body, list):  # <service_requests><request>…</request>…</service_requests>
            element = ET.Element(root)
            for entry in body:
                element.append(_xml(item, entry))
        else:  # one object is the root itself: <discovery><changeset>…</changeset>…</discovery>
            element = _xml(root, body)
        data = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(element, encoding="utf-8")
        return Response(data, status=status, mimetype="text/xml")
    response = jsonify(body)
    response.status_code = status
    return response


def _xml(tag: str, value) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, list):
                holder = ET.SubElement(element, key)
                for entry in inner:
                    holder.append(_xml(key.rstrip("s") or key, entry))
            else:
                element.append(_xml(key, inner))
    elif value is not None:
        element.text = str(value).lower() if isinstance(value, bool) else xml_text(str(value))
    return element


def error_response(status: int, description: str) -> Response:
    """Open311's error shape, in the format the request's extension asks for."""
    fmt = "xml" if request.path.endswith(".xml") else "json"
    return _render([{"code": status, "description": description}], fmt, "errors", "error", status)


@bp.errorhandler(Open311Error)
def _error(exc: Open311Error):
    return error_response(exc.status, exc.description)


def _fmt(fmt: str) -> str:
    if fmt not in ("json", "xml"):
        raise Open311Error(404, f"format .{fmt} is not served; use .json or .xml")
    return fmt


@bp.get("/discovery.<fmt>")
def discovery(fmt: str):
    base = request.host_url.rstrip("/") + "/open311/v2/"
    return _render(
        {
            "changeset": "2026-11-25T00:00:00+08:00",
            "contact": "大沥镇社会治理综合服务中心",
            "key_service": "API keys are issued by the town's grid centre "
            "(redgrid apikey create NAME --scope write)",
            "endpoints": [
                {
                    "specification": "http://wiki.open311.org/GeoReport_v2",
                    "url": base,
                    "changeset": "2026-11-25T00:00:00+08:00",
                    "type": "production",
                    "formats": ["application/json", "text/xml"],
                }
            ],
        },
        _fmt(fmt),
        "discovery",
        "discovery",
    )


def _service_json(category) -> dict:
    return {
        "service_code": category.code,
        "service_name": category.name_zh,
        "description": category.name_en,
        "metadata": False,
        "type": "realtime",
        "keywords": category.gb_class,
        "group": category.gb_class,
    }


@bp.get("/services.<fmt>")
def services(fmt: str):
    cats = service().catalog.categories.values()
    return _render([_service_json(c) for c in cats], _fmt(fmt), "services", "service")


@bp.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str):
    if code not in service().catalog.categories:
        raise Open311Error(404, f"service_code {code} not found")
    return _render({"service_code": code, "attributes": []}, _fmt(fmt), "service_definition", "x")


def _caller(*, strict: bool) -> Caller:
    """Who asks: a key given as Open311's ``api_key`` (form or query) or in a header, or a
    person's session, or nobody. What each sees is decided by the cases service."""
    key = request.form.get("api_key") or request.args.get("api_key")
    try:
        if not key:
            return auth.caller()
        who = all_services().accounts.key_caller(key).at(request.remote_addr)
    except Unauthenticated:
        if strict:
            raise Open311Error(403, "Invalid api_key received") from None
        return ANONYMOUS.at(request.remote_addr)
    all_services().audit.key_used(who)
    return who


@bp.post("/requests.<fmt>")
def create_request(fmt: str):
    fmt = _fmt(fmt)
    who = _caller(strict=False)
    if who.kind != "api_key" or not who.can(WRITE):
        raise Open311Error(403, "Invalid api_key received -- can't proceed with create_request.")
    form = request.form
    parts = [p.strip() for p in (form.get("last_name"), form.get("first_name")) if p and p.strip()]
    # Chinese names are written family name first with no space (陈小红); Latin ones with one
    name = ("" if all(not p.isascii() for p in parts) else " ").join(parts) or None
    values = {
        "external_id": form.get("token") or uuid.uuid4().hex,
        "reported_at": datetime.datetime.now(BEIJING).isoformat(),
        "channel": "system",
        "category": form.get("service_code", ""),
        "text": form.get("description", ""),
        "address": form.get("address_string"),
        "lon": form.get("long"),
        "lat": form.get("lat"),
        "coordsys": "wgs84",
        "reporter_name": name,
        "reporter_phone": form.get("phone"),
    }
    try:
        item = intake.check(values, catalog=service().catalog, source=f"open311:{who.name}")
        row = service().file(item, actor=who.actor)
    except RowErrors as exc:
        raise Open311Error(400, "; ".join(f"{e.field}: {e.message}" for e in exc.errors)) from exc
    except (GeoError, DomainError) as exc:
        raise Open311Error(400, str(exc)) from exc
    return _render(
        [
            {
                "service_request_id": str(row.id),
                "service_notice": f"已受理，网格 {row.grid_code}；已分派至网格团队",
                "account_id": None,
            }
        ],
        fmt,
        "service_requests",
        "request",
        201,
    )


def _request_json(view: CaseView, svc: ComplaintService, extensions: bool) -> dict:
    """A request as Open311 shows it, to the caller's visibility (the view is redacted)."""
    row: Case = view.case
    details = view.visibility >= Visibility.DETAILS
    category = svc.catalog.categories.get(row.category_code)
    department = svc.catalog.departments.get(row.department_code or "")
    state = workflow.State(row.state)
    body = {
        "service_request_id": str(row.id),
        "status": workflow.open311_status(state),
        "status_notes": _status_note(state),
        "service_name": category.name_zh if category else None,
        "service_code": row.category_code,
        "description": row.text if details else None,
        "agency_responsible": department.name_zh if department else None,
        "service_notice": None,
        "requested_datetime": _t(row.reported_at),
        "updated_datetime": _t(row.updated_at),
        "expected_datetime": _t(row.deadline),
        "address": row.address if details else None,
        "address_id": None,
        "zipcode": None,
        "lat": row.lat if details else None,
        "long": row.lon if details else None,
        "media_url": None,
    }
    if extensions:
        body["extended_attributes"] = {
            "grid_code": row.grid_code,
            "state": row.state,
            "whistle_group": row.whistle_group,
            "grid_version": row.grid_version_id,
        }
        events = view.events or []
        body["notes"] = [
            {"datetime": _t(e.at), "description": e.note or e.action, "type": e.action, "status": e.to_state}
            for e in events
        ]
    return body


def _status_note(state: workflow.State) -> str:
    return {
        workflow.State.COLLECTED: "诉求已收集",
        workflow.State.DELIBERATION: "多元议事中",
        workflow.State.DISPATCHED: "已派单，限期办理",
        workflow.State.RESOLVED: "已化解，待回访",
        workflow.State.RESOLVED_ON_SITE: "已就地调处，待回访",
        workflow.State.FOLLOW_UP: "回访中",
        workflow.State.CLOSED: "回访满意，已办结",
        workflow.State.REOPENED: "回访不满意，重新办理",
        workflow.State.REJECTED: "不予受理",
        workflow.State.DUPLICATE: "重复诉求",
    }[state]


def _t(value) -> str | None:
    return value.astimezone(BEIJING).isoformat(timespec="seconds") if value is not None else None


@bp.get("/requests.<fmt>")
def list_requests(fmt: str):
    fmt = _fmt(fmt)
    svc = service()
    args = request.args
    extensions = args.get("extensions") == "true"
    if args.get("service_request_id"):
        ids = [int(i) for i in args["service_request_id"].split(",") if _is_id(i.strip())]
        views = svc.get_many(_caller(strict=True), ids, history=extensions)
        return _render([_request_json(v, svc, extensions) for v in views], fmt, "service_requests", "request")
    end = _date(args.get("end_date")) or datetime.datetime.now(BEIJING)
    start = _date(args.get("start_date")) or end - datetime.timedelta(days=MAX_WINDOW_DAYS)
    if end - start > datetime.timedelta(days=MAX_WINDOW_DAYS):
        raise Open311Error(400, f"start_date to end_date spans more than {MAX_WINDOW_DAYS} days")
    filters: dict = {"since": start, "until": end}
    if args.get("service_code"):
        filters["category_code"] = args["service_code"].split(",")
    if args.get("status"):
        wanted = set(args["status"].split(","))
        if not wanted <= {"open", "closed"}:
            raise Open311Error(400, "status is open, closed or both")
        filters["state"] = [s.value for s in workflow.State if workflow.open311_status(s) in wanted]
    page_size = min(_whole(args, "page_size", DEFAULT_LIMIT), DEFAULT_LIMIT)
    page = max(_whole(args, "page", 1), 1)
    found = svc.list_cases(
        _caller(strict=True), filters, limit=page_size, offset=(page - 1) * page_size, history=extensions
    )
    return _render(
        [_request_json(v, svc, extensions) for v in found.items], fmt, "service_requests", "request"
    )


@bp.get("/requests/<int:request_id>.<fmt>")
def get_request(request_id: int, fmt: str):
    fmt = _fmt(fmt)
    svc = service()
    extensions = request.args.get("extensions") == "true"
    view = _maybe(svc, _caller(strict=True), request_id, extensions)
    if view is None:
        raise Open311Error(404, f"service_request_id {request_id} not found")
    return _render(
        [_request_json(view, svc, extensions)],
        fmt,
        "service_requests",
        "request",
    )


def _maybe(svc: ComplaintService, who: Caller, request_id: int, history: bool) -> CaseView | None:
    try:
        return svc.get(who, request_id, history=history)
    except DomainError:
        return None


def _whole(args, name: str, default: int) -> int:
    value = args.get(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or len(value) > 10 or int(value) > MAX_WHOLE:
        raise Open311Error(400, f"{name} must be a whole number up to {MAX_WHOLE}, not {value[:40]!r}")
    return int(value)


def _is_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 10 and 0 < int(text) <= MAX_WHOLE


def _date(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Open311Error(
            400, f"{text[:40]!r} is not a W3C date-time (e.g. 2026-11-01T00:00:00+08:00)"
        ) from exc
    if not 1900 <= when.year <= 2999:  # outside these a time has no UTC value to compare with
        raise Open311Error(400, f"{text[:40]!r} is outside the years 1900–2999")
    return when if when.tzinfo else when.replace(tzinfo=BEIJING)
