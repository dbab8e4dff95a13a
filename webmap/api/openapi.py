"""The OpenAPI 3.1 document of the JSON API, made from the pydantic models the views are checked with.

Each documented view is listed once in ``OPERATIONS`` with its models (path, query, body,
answers). When this blueprint is registered (after the API's own blueprints), every listed
view is wrapped: its path and query values (and a JSON body) are validated with the models
before the view runs, and, with ``VALIDATE_ANSWERS`` set, its answer is validated after
(an answer that breaks its model becomes a 500 problem naming the fault, so tests and
schemathesis see it). The document at ``/api/openapi.json`` is generated from the same
list and the URL map, never kept by hand; ``/api/docs`` shows it with Swagger UI, served
from ``static/vendor`` (fetched from npm by ``scripts/fetch_assets.py``), no CDN.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import current_app
from flask import render_template
from flask import request
from pydantic import BaseModel
from pydantic import ValidationError
from pydantic.json_schema import models_json_schema

from webmap.api import models as m
from webmap.errors import Problem
from webmap.errors import problem

bp = Blueprint("openapi", __name__)

REF = "#/components/schemas/{model}"
PROBLEM = "application/problem+json"
GEOJSON = "application/geo+json"
ARROW = "application/vnd.apache.arrow.stream"
Content = dict[str, type[BaseModel] | dict]


@dataclass(frozen=True)
class Operation:
    endpoint: str
    summary: str
    tag: str
    answers: dict[int, Content]
    path: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: Content = field(default_factory=dict)
    #: the model a JSON body is validated with (the body's documented schema may say more)
    body_model: type[BaseModel] | None = None
    description: str | None = None
    conditional: bool = False  # ETag, If-None-Match (304) and Range (206)


def _json(model: type[BaseModel]) -> Content:
    return {"application/json": model}


_TABLE = {"application/json": m.Table, "text/csv": {"type": "string"}}
_POINTS_IN = {
    "application/json": {
        "description": "[[lon, lat], …] or [{id, lon, lat}, …]",
        "oneOf": [
            {"type": "array", "items": {"type": "array", "items": {"type": "number"}, "minItems": 2}},
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["lon", "lat"],
                    "properties": {
                        "id": {"type": ["string", "integer"]},
                        "lon": {"type": "number"},
                        "lat": {"type": "number"},
                    },
                },
            },
        ],
    },
    GEOJSON: {"description": "a FeatureCollection of Points", "type": "object"},
    "text/csv": {"type": "string", "description": "a header lon,lat[,id] then one point a line"},
    ARROW: {"type": "string", "format": "binary", "description": "an Arrow IPC stream with lon, lat[, id]"},
    "application/vnd.apache.parquet": {"type": "string", "format": "binary"},
}
_POINTS_OUT = {
    "application/json": {"type": "array", "items": {"$ref": REF.format(model="PointRow")}},
    "application/x-ndjson": {"type": "string", "description": "one JSON object a line"},
    "text/csv": {"type": "string"},
    ARROW: {"type": "string", "format": "binary"},
}
_MULTIPART_PHOTO = {
    "multipart/form-data": {
        "type": "object",
        "required": ["photo"],
        "properties": {"photo": {"type": "string", "format": "binary"}},
    }
}
_MULTIPART_IMPORT = {
    "multipart/form-data": {
        "type": "object",
        "required": ["file", "source"],
        "properties": {
            "file": {"type": "string", "format": "binary", "description": "CSV (UTF-8/GBK) or Excel"},
            "source": {"type": "string", "description": "the source system, e.g. 12345热线"},
            "encoding": {"type": "string"},
        },
    }
}

OPERATIONS: list[Operation] = [
    Operation("api.health", "Liveness and the active version", "grids", {200: _json(m.Health)}),
    Operation(
        "api.point",
        "The grid at one point, with its team and warnings",
        "lookup",
        {200: _json(m.PointAnswer)},
        path=m.PointPath,
        query=m.VersionQuery,
    ),
    Operation(
        "api.points",
        "Many points at once, streamed",
        "lookup",
        {200: _POINTS_OUT},
        query=m.PointsQuery,
        body=_POINTS_IN,
        description="Batch point-in-grid: JSON, GeoJSON, CSV, Arrow IPC or Parquet in; JSON, NDJSON, "
        "CSV or Arrow out (format= or Accept). fields=grid answers only the grid (row, id, status, "
        "grid_code, grid_name, community_code), the fastest path.",
    ),
    Operation(
        "api.grids",
        "All grids of a version (attributes)",
        "grids",
        {200: _json(m.GridList)},
        query=m.VersionQuery,
    ),
    Operation(
        "api.grids_geojson",
        "All grids as GeoJSON",
        "grids",
        {200: {GEOJSON: m.GridCollection}},
        query=m.GeoJSONQuery,
        conditional=True,
    ),
    Operation(
        "api.grid",
        "One grid by its 15-digit code, with its team",
        "grids",
        {200: _json(m.GridWithTeam)},
        path=m.CodePath,
        query=m.VersionQuery,
    ),
    Operation(
        "api.grid_geojson",
        "One grid as a GeoJSON Feature",
        "grids",
        {200: {GEOJSON: m.GridFeature}},
        path=m.CodePath,
        query=m.GeoJSONQuery,
    ),
    Operation(
        "api.communities_geojson",
        "Community outlines (the union of their grids) as GeoJSON",
        "grids",
        {200: {GEOJSON: m.CommunityCollection}},
        query=m.GeoJSONQuery,
        conditional=True,
    ),
    Operation(
        "api.community",
        "One community by its 12-digit code: its grids and the team above the grids",
        "grids",
        {200: _json(m.CommunityWithTeam)},
        path=m.CodePath,
        query=m.VersionQuery,
    ),
    Operation(
        "api.community_geojson",
        "One community outline",
        "grids",
        {200: {GEOJSON: m.CommunityFeature}},
        path=m.CodePath,
        query=m.GeoJSONQuery,
    ),
    Operation("api.versions", "Grid versions", "grids", {200: _json(m.VersionList)}),
    Operation(
        "api.version",
        "One version with its validation report and repairs",
        "grids",
        {200: _json(m.VersionDetail)},
        path=m.VersionPath,
    ),
    Operation(
        "complaints_api.list_complaints",
        "Complaints, newest first",
        "complaints",
        {200: _json(m.ComplaintPage)},
        query=m.ComplaintListQuery,
    ),
    Operation(
        "complaints_api.file_complaint",
        "File a complaint (needs the write scope)",
        "complaints",
        {200: _json(m.Complaint), 201: _json(m.Complaint)},
        body=_json(m.ComplaintIn),
        body_model=m.ComplaintIn,
    ),
    Operation(
        "complaints_api.duplicate_candidates",
        "Open cases a complaint being filed may duplicate (50 m or the same address, 30 days)",
        "complaints",
        {200: _json(m.DuplicateCandidates)},
        query=m.DuplicatesQuery,
    ),
    Operation(
        "complaints_api.get_complaint",
        "One complaint with its history",
        "complaints",
        {200: _json(m.Complaint)},
        path=m.ComplaintPath,
    ),
    Operation(
        "complaints_api.act",
        "A workflow step (a stale version gets 409, an illegal step 422)",
        "complaints",
        {200: _json(m.Complaint)},
        path=m.ComplaintPath,
        body=_json(m.ActionIn),
        body_model=m.ActionIn,
    ),
    Operation(
        "complaints_api.add_photo",
        "Attach a photo (JPEG/PNG/WebP, up to 5 MB)",
        "complaints",
        {201: _json(m.PhotoInfo)},
        path=m.ComplaintPath,
        body=_MULTIPART_PHOTO,
    ),
    Operation(
        "complaints_api.get_photo",
        "A complaint's photo",
        "complaints",
        {200: {"image/*": {"type": "string", "format": "binary"}}},
        path=m.PhotoPath,
    ),
    Operation(
        "complaints_api.import_complaints",
        "Import a hotline export, all rows or none",
        "complaints",
        {200: _json(m.ImportReport), 201: _json(m.ImportReport)},
        body=_MULTIPART_IMPORT,
    ),
    Operation(
        "stats_api.stat_counts",
        "Counts by grid, category, state, month",
        "statistics",
        {200: _TABLE},
        query=m.CountsQuery,
    ),
    Operation(
        "stats_api.stat_departments",
        "On-time rate per department",
        "statistics",
        {200: _TABLE},
        query=m.StatsQuery,
    ),
    Operation(
        "stats_api.stat_satisfaction",
        "Satisfaction of follow-ups",
        "statistics",
        {200: _TABLE},
        query=m.SatisfactionQuery,
    ),
    Operation(
        "stats_api.stat_overdue", "Overdue complaints", "statistics", {200: _TABLE}, query=m.StatsQuery
    ),
    Operation(
        "stats_api.geocode",
        "A Chinese address → point and grid, or candidates",
        "geocoding",
        {200: _json(m.Geocoded)},
        query=m.GeocodeQuery,
    ),
    Operation(
        "stats_api.reverse",
        "The standard addresses nearest a point",
        "geocoding",
        {200: _json(m.Addresses)},
        path=m.ReversePath,
        query=m.ReverseQuery,
    ),
    Operation(
        "stats_api.catalog", "Complaint categories and departments", "complaints", {200: _json(m.Catalog)}
    ),
]
BY_ENDPOINT = {op.endpoint: op for op in OPERATIONS}


# --- checking requests and answers ----------------------------------------------------------


def _refuse(exc: ValidationError, where: str) -> Problem:
    first = exc.errors()[0]
    name = ".".join(str(p) for p in first["loc"]) or where
    value = first.get("input")
    shown = f"{name}={value!r}" if where != "body" and not isinstance(value, dict) else f"{where} {name}"
    return Problem(f"{shown}: {first['msg']}", code="bad_parameter" if where != "body" else "bad_json")


def check_request(op: Operation, view_args: dict[str, Any]) -> None:
    """Path, query and JSON body against the operation's models; a fault is a 400 problem."""
    try:
        if op.path is not None:
            op.path.model_validate(view_args)
        if op.query is not None:
            op.query.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise _refuse(exc, "query") from exc
    if op.body_model is not None and request.is_json:
        data = request.get_json(silent=True)
        if isinstance(data, dict):  # anything else gets the view's own bad_json
            try:
                op.body_model.model_validate(data)
            except ValidationError as exc:
                raise _refuse(exc, "body") from exc


def answer_fault(op: Operation | None, response: Response) -> str | None:
    """Why an answer breaks the document (None when it conforms or is not JSON to check)."""
    if response.is_streamed or response.status_code in (204, 206, 304):
        return None
    mimetype = response.mimetype
    if response.status_code >= 400:
        if mimetype != PROBLEM:
            return None if not request.path.startswith("/api/") else f"error answered as {mimetype}"
        model: Any = m.ProblemDetails
    else:
        if op is None:
            return None
        content = op.answers.get(response.status_code)
        if content is None:
            return f"status {response.status_code} is not documented"
        if mimetype not in content and not any(
            k.endswith("/*") and mimetype.startswith(k[:-1]) for k in content
        ):
            return f"{mimetype} is not one of {', '.join(content)}"
        model = content.get(mimetype)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    try:
        model.model_validate_json(response.get_data(), strict=True)
    except ValidationError as exc:
        return f"{model.__name__}: {exc.error_count()} faults; first: {exc.errors()[0]}"
    return None


def _wrap(op: Operation, view: Callable) -> Callable:
    @functools.wraps(view)
    def checked(**view_args):
        check_request(op, view_args)
        rv = view(**view_args)
        if not current_app.config.get("VALIDATE_ANSWERS"):
            return rv
        response = current_app.make_response(rv)
        fault = answer_fault(op, response)
        if fault:
            current_app.logger.error(
                "%s %s: answer breaks the API document: %s", request.method, request.path, fault
            )
            return problem(500, "answer_not_as_documented", fault)
        return response

    checked.__wrapped_by_openapi__ = True  # type: ignore[attr-defined]
    return checked


@bp.record_once
def _wrap_views(state) -> None:
    """Wrap every documented view (the API blueprints must be registered before this one)."""
    app: Flask = state.app
    missing = [op.endpoint for op in OPERATIONS if op.endpoint not in app.view_functions]
    if missing:
        raise RuntimeError(f"register the API blueprints before webmap.api.openapi; missing: {missing}")
    for op in OPERATIONS:
        view = app.view_functions[op.endpoint]
        if not getattr(view, "__wrapped_by_openapi__", False):
            app.view_functions[op.endpoint] = _wrap(op, view)


@bp.after_app_request
def _check_problems(response: Response) -> Response:
    """With VALIDATE_ANSWERS, the API's error answers too must be RFC 9457 problems."""
    if (
        current_app.config.get("VALIDATE_ANSWERS")
        and request.path.startswith("/api/")
        and response.status_code >= 400
    ):
        fault = answer_fault(None, response)
        if fault:
            current_app.logger.error("%s %s: %s", request.method, request.path, fault)
            return problem(500, "answer_not_as_documented", fault)
    return response


# --- the document ---------------------------------------------------------------------------

_RULE_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _parameters(model: type[BaseModel], where: str) -> list[dict]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        prop.pop("default", None)
        options = prop.get("anyOf")
        if options and {"type": "null"} in options:  # an optional query value: absent, not null
            rest = [o for o in options if o != {"type": "null"}]
            prop.pop("anyOf")
            prop.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
        param = {"name": name, "in": where, "required": where == "path" or name in required, "schema": prop}
        if description:
            param["description"] = description
        out.append(param)
    return out


def _content(content: Content, refs: dict) -> dict:
    return {
        mimetype: {"schema": refs[model] if isinstance(model, type) else model}
        for mimetype, model in content.items()
    }


def build_document(app: Flask) -> dict:
    models: list[type[BaseModel]] = [m.ProblemDetails, m.PointRow]
    for op in OPERATIONS:
        for content in (*op.answers.values(), op.body):
            models += [v for v in content.values() if isinstance(v, type)]
    models = list(dict.fromkeys(models))
    mapping, defs = models_json_schema([(model, "validation") for model in models], ref_template=REF)
    refs = {model: mapping[(model, "validation")] for model in models}
    components = dict(defs.get("$defs", {}))
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op = BY_ENDPOINT.get(rule.endpoint)
        if op is None:
            continue
        path = _RULE_ARG.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            parameters = []
            if op.path is not None:
                parameters += _parameters(op.path, "path")
            if op.query is not None:
                parameters += _parameters(op.query, "query")
            responses: dict[str, Any] = {
                str(status): {
                    "description": "OK" if status == 200 else "Created",
                    "content": _content(c, refs),
                }
                for status, c in op.answers.items()
            }
            if op.conditional:
                parameters.append(
                    {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}}
                )
                responses["200"]["headers"] = {
                    "ETag": {"schema": {"type": "string"}, "description": "strong: version and parameters"},
                    "Accept-Ranges": {"schema": {"type": "string", "enum": ["bytes"]}},
                }
                responses["206"] = {"description": "the byte range asked for (Range: bytes=…)"}
                responses["304"] = {"description": "not modified (If-None-Match matched the ETag)"}
            responses["default"] = {
                "description": "an RFC 9457 problem",
                "content": {PROBLEM: {"schema": refs[m.ProblemDetails]}},
            }
            operation: dict[str, Any] = {
                "operationId": op.endpoint.replace(".", "_"),
                "summary": op.summary,
                "tags": [op.tag],
                "parameters": parameters,
                "responses": responses,
            }
            if op.description:
                operation["description"] = op.description
            if op.body:
                operation["requestBody"] = {"required": True, "content": _content(op.body, refs)}
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "RedGrid API",
            "version": "1",
            "description": "Point-in-grid lookups, grids and their teams, complaints and statistics "
            "(网格化管理). Errors are RFC 9457 problem details. OGC API – Features: /ogcapi.",
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": t} for t in dict.fromkeys(op.tag for op in OPERATIONS)],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "an API key"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
        "security": [{}, {"bearer": []}, {"apiKey": []}],
    }


def document() -> dict:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cached = app.extensions.get("redgrid.openapi")
    if cached is None:
        cached = app.extensions["redgrid.openapi"] = build_document(app)
    return cached


@bp.get("/openapi.json")
def openapi_json():
    response = Response(json.dumps(document(), ensure_ascii=False), mimetype="application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/docs")
def docs():
    return render_template("api_docs.html")
