"""OGC API – Features at /ogcapi: the grids, community outlines and per-grid complaint counts for
GIS tools (QGIS, ArcGIS Pro, GDAL's OAPIF driver, OWSLib).

Part 1 (core, GeoJSON, OpenAPI 3.0) and Part 2 (CRS): geometries are CRS84 (lon, lat) by
default; ``crs=`` asks for EPSG:4490 (CGCS2000) or EPSG:4326, both in their axis order
(lat, lon), and ``bbox-crs=`` says in which a ``bbox`` is given; the answer names its CRS
in ``Content-Crs``. Items page with ``limit`` (default 10, at most 10,000) and ``offset``,
following ``next`` links; ``numberMatched``, ``numberReturned`` and ``timeStamp`` are given.

Versions (MapIt's generations): ``version=N`` picks a grid version; on grids and communities
``datetime`` picks the version in force at that instant (an interval: at its end). On
``grid_complaint_counts``, ``datetime`` is the report-time window counted, and ``version`` the
grids the counts are drawn on. Counts carry no personal data.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import shapely
from flask import Blueprint
from flask import Response
from flask import current_app
from flask import request
from flask import url_for
from werkzeug.exceptions import HTTPException

from complaints.errors import ComplaintsError
from geo.crs import geometries_from_wgs84
from geo.crs import to_wgs84
from geo.errors import GeoError
from geo.errors import RowErrors
from geo.timeutil import parse_since
from geo.timeutil import parse_when
from services import errors as domain
from services.features import ComplaintCounts
from services.grids import GridSet
from webmap import auth
from webmap.errors import Problem
from webmap.errors import describe
from webmap.errors import problem

bp = Blueprint("ogcapi", __name__)
bp.before_request(auth.check_request)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
#: the CRSs offered, and whether each is lat/lon (EPSG axis order) and in CGCS2000
CRS_LIST = {CRS84: (False, False), EPSG4326: (True, False), EPSG4490: (True, True)}
CRS_ALIASES = {"EPSG:4326": EPSG4326, "EPSG:4490": EPSG4490, "CRS84": CRS84, "OGC:CRS84": CRS84}
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]
DEFAULT_LIMIT, MAX_LIMIT = 10, 10_000
GEOJSON = "application/geo+json"
JSON = "application/json"
OAS30 = "application/vnd.oai.openapi+json;version=3.0"
ITEM_PARAMS = {"bbox", "bbox-crs", "crs", "datetime", "limit", "offset", "version", "f"}
ONE_ITEM_PARAMS = {"crs", "datetime", "version", "f"}


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    #: (grid set, counts window) -> feature ids, WGS84 geometries, properties per feature
    features: Callable[[GridSet, dict], tuple[list[str], np.ndarray, list[dict]]]
    counts: bool = False


# --- the collections -------------------------------------------------------------------------


def _grid_features(grid_set: GridSet, _window: dict) -> tuple[list[str], np.ndarray, list[dict]]:
    codes = [str(c) for c in grid_set.index.codes]
    return codes, np.asarray(grid_set.index.geoms, dtype=object), _grid_props(grid_set)


def _grid_props(grid_set: GridSet) -> list[dict]:
    version = grid_set.version
    out = []
    for i in range(len(grid_set.index)):
        row = grid_set.grid_row(i)
        community = grid_set.communities.get(row["community_code"], {})
        out.append(
            {
                "code": str(row["code"]),
                "name": row["name"],
                "community_code": row["community_code"],
                "community_name": community.get("name"),
                "community_kind": community.get("kind"),
                "town_code": grid_set.town.get("code"),
                "town_name": grid_set.town.get("name"),
                "area_m2": round(float(row["area_m2"]), 1),
                "population": _int(row.get("population")),
                "households": _int(row.get("households")),
                "version_id": version.id,
                "version_label": version.label,
            }
        )
    return out


def _community_features(grid_set: GridSet, _window: dict) -> tuple[list[str], np.ndarray, list[dict]]:
    shapes = auth.services().grids.community_shapes(grid_set.version.id).sort_values("code")
    per_community = grid_set.grids["community_code"].value_counts()
    ids, props = [], []
    for r in shapes.itertuples(index=False):
        info = grid_set.communities.get(r.code, {})
        ids.append(str(r.code))
        props.append(
            {
                "code": str(r.code),
                "name": info.get("name"),
                "kind": info.get("kind"),
                "town_code": grid_set.town.get("code"),
                "town_name": grid_set.town.get("name"),
                "area_m2": round(float(r.area_m2), 1),
                "grids": int(per_community.get(r.code, 0)),
                "version_id": grid_set.version.id,
                "version_label": grid_set.version.label,
            }
        )
    return ids, np.asarray(shapes.geometry.values, dtype=object), props


def _count_features(grid_set: GridSet, window: dict) -> tuple[list[str], np.ndarray, list[dict]]:
    counts = _counter().by_grid(window.get("since"), window.get("until"))
    since, until = window.get("since"), window.get("until")
    props = []
    for p in _grid_props(grid_set):
        n = counts.get(p["code"], 0)
        population = p["population"]
        props.append(
            {
                "code": p["code"],
                "name": p["name"],
                "community_code": p["community_code"],
                "community_name": p["community_name"],
                "complaints": n,
                "population": population,
                "per_1000_residents": round(1000.0 * n / population, 3) if population else None,
                "reported_since": since.isoformat() if since else None,
                "reported_until": until.isoformat() if until else None,
                "version_id": p["version_id"],
            }
        )
    codes = [p["code"] for p in props]
    return codes, np.asarray(grid_set.index.geoms, dtype=object), props


COLLECTIONS = {
    c.id: c
    for c in (
        Collection(
            "grids",
            "网格 Grids",
            "The grids (网格) of a version, with their community and town; codes are GB/T 30428.1.",
            _grid_features,
        ),
        Collection(
            "communities",
            "社区 Communities",
            "Community outlines: the union of their grids in a version.",
            _community_features,
        ),
        Collection(
            "grid_complaint_counts",
            "网格诉求数 Complaints per grid",
            "Complaints per grid over a report-time window (datetime=), drawn on a version's grids; "
            "counts only, no personal data.",
            _count_features,
            counts=True,
        ),
    )
}


def _counter() -> ComplaintCounts:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    counter = app.extensions.get("redgrid.complaint_counts")
    if counter is None:
        counter = app.extensions["redgrid.complaint_counts"] = ComplaintCounts(auth.services().cases)
    return counter


# --- requests ----------------------------------------------------------------------------------


def _only(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise Problem(
            f"unknown query parameter {', '.join(unknown)}; this resource takes {', '.join(sorted(allowed))}",
            code="InvalidParameterValue",
        )
    f = request.args.get("f")
    if f is not None and f not in ("json", "geojson"):
        raise Problem(
            f"f={f!r}: this server answers json (GeoJSON for features)", code="InvalidParameterValue"
        )


def _crs(name: str) -> str:
    value = request.args.get(name)
    if value is None:
        return CRS84
    uri = CRS_ALIASES.get(value.upper(), value.strip("[]<>"))
    if uri not in CRS_LIST:
        raise Problem(
            f"{name}={value!r}; this server offers {', '.join(CRS_LIST)}", code="InvalidParameterValue"
        )
    return uri


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    if not value.isdigit():
        raise Problem(f"{name}={value!r} must be a whole number", code="InvalidParameterValue")
    return int(value)


def _bbox() -> tuple[float, float, float, float] | None:
    value = request.args.get("bbox")
    if value is None:
        return None
    try:
        numbers = [float(v) for v in value.split(",")]
    except ValueError as exc:
        raise Problem(f"bbox={value!r} must be 4 or 6 numbers", code="InvalidParameterValue") from exc
    if len(numbers) not in (4, 6) or not all(np.isfinite(numbers)):
        raise Problem(f"bbox={value!r} must be 4 or 6 numbers", code="InvalidParameterValue")
    half = len(numbers) // 2
    low, high = numbers[:2], numbers[half : half + 2]
    lat_lon, cgcs = CRS_LIST[_crs("bbox-crs")]
    if lat_lon:
        low, high = low[::-1], high[::-1]
    if cgcs:
        lons, lats = to_wgs84(np.array([low[0], high[0]]), np.array([low[1], high[1]]), "cgcs2000")
        low, high = [float(lons[0]), float(lats[0])], [float(lons[1]), float(lats[1])]
    if low[1] > high[1]:
        raise Problem(f"bbox={value!r}: the lower corner is north of the upper", code="InvalidParameterValue")
    return low[0], low[1], high[0], high[1]


def _datetime() -> tuple[datetime.datetime | None, datetime.datetime | None] | None:
    """``datetime``: an instant (start == end) or an interval ``a/b`` with ``..`` or nothing for open ends."""
    value = request.args.get("datetime")
    if value is None:
        return None
    try:
        if "/" not in value:
            return parse_since(value, name="datetime"), parse_when(value, name="datetime")
        start, end = value.split("/", 1)
        since = parse_since(start, name="datetime") if start not in ("", "..") else None
        until = parse_when(end, name="datetime") if end not in ("", "..") else None
    except GeoError as exc:
        raise Problem(exc.message, code="InvalidParameterValue") from exc
    if since and until and since > until:
        raise Problem(f"datetime={value!r}: the interval ends before it starts", code="InvalidParameterValue")
    return since, until


def _grid_set(collection: Collection) -> tuple[GridSet | None, dict]:
    """The version asked for (``version``, or for the grid layers ``datetime``) and the counts window."""
    grids = auth.services().grids
    version = request.args.get("version")
    if version is not None and not version.isdigit():
        raise Problem(f"version={version!r} must be a version number", code="InvalidParameterValue")
    when = _datetime()
    window: dict = {}
    at = None
    if when is not None:
        if collection.counts:
            since, until = when
            # the instant or the end is inclusive: the store's until is exclusive
            window = {"since": since, "until": until + datetime.timedelta(microseconds=1) if until else None}
        elif version is not None:
            raise Problem("give either version or datetime, not both", code="InvalidParameterValue")
        else:
            at = when[1]
    try:
        version_id = grids.resolve_version(int(version) if version is not None else None, at)
    except domain.NotFound:
        if at is not None:  # no version was in force then: nothing matches
            return None, window
        raise
    return grids.grid_set(version_id), window


def _collection(collection_id: str) -> Collection:
    found = COLLECTIONS.get(collection_id)
    if found is None:
        raise Problem(
            f"no collection {collection_id!r}; there are {', '.join(COLLECTIONS)}",
            code="not_found",
            status=404,
        )
    return found


# --- answers -----------------------------------------------------------------------------------


def _answer(body: Any, mimetype: str = JSON, crs: str | None = None) -> Response:
    response = Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), mimetype=mimetype)
    response.headers["Access-Control-Allow-Origin"] = "*"
    if crs is not None:
        response.headers["Content-Crs"] = f"<{crs}>"
    return response


def _url(endpoint: str, **values) -> str:
    return url_for(endpoint, _external=True, **values)


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


def _to_crs(geoms: np.ndarray, crs: str) -> np.ndarray:
    lat_lon, cgcs = CRS_LIST[crs]
    if cgcs:
        geoms = geometries_from_wgs84(geoms, "cgcs2000")
    if lat_lon:
        geoms = shapely.transform(geoms, lambda xy: xy[:, ::-1])
    return geoms


def _feature(fid: str, geom, props: dict, *, links: list[dict] | None = None) -> dict:
    feature = {"type": "Feature", "id": fid, "geometry": shapely.geometry.mapping(geom), "properties": props}
    if links:
        feature["links"] = links
    return feature


def _extent(collection: Collection, grid_set: GridSet | None) -> dict:
    extent: dict = {}
    if grid_set is not None:
        bounds = [round(float(v), 6) for v in shapely.total_bounds(grid_set.index.geoms)]
        extent["spatial"] = {"bbox": [bounds], "crs": CRS84}
    if collection.counts:
        first, last = _counter().report_period()
        interval = [first.isoformat() if first else None, last.isoformat() if last else None]
    elif grid_set is not None:
        active = grid_set.version.activated_at
        interval = [active.isoformat() if active else None, None]
    else:
        interval = [None, None]
    extent["temporal"] = {
        "interval": [interval],
        "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
    }
    return extent


def _collection_json(collection: Collection) -> dict:
    try:
        grid_set: GridSet | None = auth.services().grids.grid_set(auth.services().grids.resolve_version())
    except domain.Unavailable:
        grid_set = None
    cid = collection.id
    return {
        "id": cid,
        "title": collection.title,
        "description": collection.description,
        "itemType": "feature",
        "links": [
            _link(_url("ogcapi.collection", collection_id=cid), "self", JSON, collection.title),
            _link(_url("ogcapi.items", collection_id=cid), "items", GEOJSON, "the features"),
        ],
        "extent": _extent(collection, grid_set),
        "crs": list(CRS_LIST),
        "storageCrs": CRS84,
    }


# --- the resources -------------------------------------------------------------------------------


@bp.get("")
@bp.get("/")
def landing():
    _only({"f"})
    return _answer(
        {
            "title": "RedGrid OGC API – Features",
            "description": "Grids (网格), communities and complaint counts per grid of RedGrid.",
            "links": [
                _link(_url("ogcapi.landing"), "self", JSON, "this document"),
                _link(_url("ogcapi.api"), "service-desc", OAS30, "the API definition (OpenAPI 3.0)"),
                _link(_url("openapi.docs"), "service-doc", "text/html", "the RedGrid API documentation"),
                _link(_url("ogcapi.conformance"), "conformance", JSON, "conformance classes"),
                _link(_url("ogcapi.collections"), "data", JSON, "the collections"),
            ],
        }
    )


@bp.get("/conformance")
def conformance():
    _only({"f"})
    return _answer({"conformsTo": CONFORMANCE})


@bp.get("/collections")
def collections():
    _only({"f"})
    return _answer(
        {
            "links": [_link(_url("ogcapi.collections"), "self", JSON, "the collections")],
            "collections": [_collection_json(c) for c in COLLECTIONS.values()],
            "crs": list(CRS_LIST),
        }
    )


@bp.get("/collections/<collection_id>")
def collection(collection_id: str):
    _only({"f"})
    return _answer(_collection_json(_collection(collection_id)))


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str):
    _only(ITEM_PARAMS)
    found = _collection(collection_id)
    crs = _crs("crs")
    limit = min(max(_int_arg("limit", DEFAULT_LIMIT), 1), MAX_LIMIT)
    offset = _int_arg("offset", 0)
    bbox = _bbox()
    grid_set, window = _grid_set(found)
    features: list[dict] = []
    matched = 0
    if grid_set is not None:
        ids, geoms, props = found.features(grid_set, window)
        keep = np.arange(len(ids))
        if bbox is not None:
            keep = np.flatnonzero(shapely.intersects(geoms, shapely.box(*bbox)))
        matched = len(keep)
        page = keep[offset : offset + limit]
        out = _to_crs(geoms[page], crs) if len(page) else geoms[page]
        features = [_feature(ids[i], g, props[i]) for i, g in zip(page, out, strict=True)]
    args = {k: v for k, v in request.args.items() if k not in ("offset", "limit", "f")}
    here = {"collection_id": collection_id, **args}
    links = [
        _link(_url("ogcapi.items", **here, limit=limit, offset=offset), "self", GEOJSON, "this page"),
        _link(_url("ogcapi.collection", collection_id=collection_id), "collection", JSON, found.title),
    ]
    if offset + len(features) < matched:
        links.append(
            _link(
                _url("ogcapi.items", **here, limit=limit, offset=offset + limit), "next", GEOJSON, "next page"
            )
        )
    if offset > 0:
        links.append(
            _link(
                _url("ogcapi.items", **here, limit=limit, offset=max(offset - limit, 0)),
                "prev",
                GEOJSON,
                "previous page",
            )
        )
    body = {
        "type": "FeatureCollection",
        "features": features,
        "links": links,
        "timeStamp": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "numberMatched": matched,
        "numberReturned": len(features),
    }
    return _answer(body, GEOJSON, crs)


@bp.get("/collections/<collection_id>/items/<feature_id>")
def item(collection_id: str, feature_id: str):
    _only(ONE_ITEM_PARAMS)
    found = _collection(collection_id)
    crs = _crs("crs")
    grid_set, window = _grid_set(found)
    if grid_set is not None:
        ids, geoms, props = found.features(grid_set, window)
        if feature_id in ids:
            i = ids.index(feature_id)
            links = [
                _link(
                    _url("ogcapi.item", collection_id=collection_id, feature_id=feature_id), "self", GEOJSON
                ),
                _link(
                    _url("ogcapi.collection", collection_id=collection_id), "collection", JSON, found.title
                ),
            ]
            geom = _to_crs(geoms[i : i + 1], crs)[0]
            return _answer(_feature(feature_id, geom, props[i], links=links), GEOJSON, crs)
    version = grid_set.version.id if grid_set is not None else None
    raise Problem(
        f"{collection_id} has no feature {feature_id!r} in version {version}", code="not_found", status=404
    )


@bp.get("/api")
def api():
    _only({"f"})
    response = _answer(openapi30())
    response.headers["Content-Type"] = OAS30
    return response


# --- errors: OGC clients read JSON, whatever their Accept header says -------------------------


def _problem(exc: Exception) -> Response:
    status, code, message, details = describe(exc)
    response = problem(status, code, message, details)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


for _cls in (Problem, domain.DomainError, RowErrors, ComplaintsError, GeoError, HTTPException):
    bp.register_error_handler(_cls, _problem)


# --- the API definition (OpenAPI 3.0, the oas30 conformance class) -----------------------------


def _param(name: str, where: str, schema: dict, description: str, *, required: bool = False, **extra) -> dict:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "schema": schema,
        "description": description,
        **extra,
    }


def openapi30() -> dict:
    crs_schema = {"type": "string", "format": "uri", "enum": list(CRS_LIST), "default": CRS84}
    common = {
        "f": _param("f", "query", {"type": "string", "enum": ["json", "geojson"]}, "the answer format"),
        "collectionId": _param(
            "collectionId", "path", {"type": "string", "enum": list(COLLECTIONS)}, "a collection"
        ),
        "featureId": _param("featureId", "path", {"type": "string"}, "a grid or community code"),
        "limit": _param(
            "limit",
            "query",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            "the page size (larger values are clamped)",
            style="form",
            explode=False,
        ),
        "offset": _param(
            "offset", "query", {"type": "integer", "minimum": 0, "default": 0}, "features to skip"
        ),
        "bbox": _param(
            "bbox",
            "query",
            {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
            "only features intersecting this box (in bbox-crs; CRS84 by default)",
            style="form",
            explode=False,
        ),
        "bbox-crs": _param("bbox-crs", "query", crs_schema, "the CRS of bbox"),
        "crs": _param("crs", "query", crs_schema, "the CRS of the geometries answered"),
        "datetime": _param(
            "datetime",
            "query",
            {"type": "string"},
            "an instant or interval (a/b, ../b, a/..): on grid_complaint_counts the report-time window; "
            "on grids and communities the version in force then",
        ),
        "version": _param("version", "query", {"type": "integer", "minimum": 0}, "a grid version number"),
    }
    ref = {name: {"$ref": f"#/components/parameters/{name}"} for name in common}

    def get(summary: str, params: list[str], mimetype: str, schema: dict) -> dict:
        return {
            "get": {
                "summary": summary,
                "operationId": summary.replace(" ", "_").lower(),
                "parameters": [ref[p] for p in params],
                "responses": {
                    "200": {"description": summary, "content": {mimetype: {"schema": schema}}},
                    "400": {
                        "description": "a bad parameter",
                        "content": {"application/problem+json": {"schema": {"type": "object"}}},
                    },
                    "404": {
                        "description": "not found",
                        "content": {"application/problem+json": {"schema": {"type": "object"}}},
                    },
                },
            }
        }

    obj = {"type": "object"}
    return {
        "openapi": "3.0.3",
        "info": {"title": "RedGrid OGC API – Features", "version": "1.0.0"},
        "servers": [{"url": _url("ogcapi.landing").rstrip("/")}],
        "paths": {
            "/": get("landing page", ["f"], JSON, obj),
            "/conformance": get("conformance", ["f"], JSON, obj),
            "/api": get("api definition", ["f"], OAS30, obj),
            "/collections": get("collections", ["f"], JSON, obj),
            "/collections/{collectionId}": get("collection", ["collectionId", "f"], JSON, obj),
            "/collections/{collectionId}/items": get(
                "items",
                ["collectionId", "bbox", "bbox-crs", "crs", "datetime", "limit", "offset", "version", "f"],
                GEOJSON,
                obj,
            ),
            "/collections/{collectionId}/items/{featureId}": get(
                "item", ["collectionId", "featureId", "crs", "datetime", "version", "f"], GEOJSON, obj
            ),
        },
        "components": {"parameters": common},
    }


def _int(value) -> int | None:
    if value is None:
        return None
    try:
        if np.isnan(value):
            return None
    except TypeError:
        pass
    return int(value)
