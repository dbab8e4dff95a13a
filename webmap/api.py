"""The JSON API: point-in-grid (one or many), grids and communities as GeoJSON, versions.

URL shapes follow MapIt: the coordinate system is part of the path, x before y
(lon, lat), e.g. ``/api/v1/point/gcj02/113.1502,23.1083``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import shapely
from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request
from flask import stream_with_context

from geo.crs import COORDSYS_NAMES
from geo.crs import geometries_from_wgs84
from geo.crs import normalise_coordsys
from geo.lookup import STATUS_MESSAGES
from geo.lookup import Status
from webmap import auth
from webmap import batch_io
from webmap.errors import ApiError
from webmap.grid_service import GridService
from webmap.grid_service import GridSet
from webmap.grid_service import parse_when
from webmap.serialize import grid_json
from webmap.serialize import point_json
from webmap.serialize import team_json
from webmap.serialize import version_json

bp = Blueprint("api", __name__)


def service() -> GridService:
    return current_app.extensions["redgrid"]


bp.before_request(auth.check_request)


def _version_args() -> dict:
    """``version=N`` or ``at=DATE`` from the query string."""
    version = request.args.get("version")
    at = request.args.get("at")
    out: dict = {"version": None, "at": None}
    if version is not None:
        if not version.isdigit():
            raise ApiError(f"version={version!r} must be a version number", code="bad_parameter")
        out["version"] = int(version)
    if at:
        out["at"] = parse_when(at)
    return out


def _grid_set() -> GridSet:
    svc = service()
    return svc.grid_set(svc.resolve_version(**_version_args()))


@bp.get("/health")
def health():
    """Liveness plus the active version, for load balancers and monitoring."""
    svc = service()
    active = svc.store.active_version_id()
    return jsonify({"status": "ok" if active else "no_active_version", "active_version": active})


@bp.get("/point/<coordsys>/<coords>")
def point(coordsys: str, coords: str):
    """The grid at one point, with its team; ``coords`` is ``lon,lat``."""
    name = normalise_coordsys(coordsys)
    lon, lat = _parse_pair(coords)
    svc = service()
    grid_set, match, wgs84 = svc.locate(lon, lat, coordsys=name, **_version_args())
    if match.status in (Status.NOT_A_NUMBER, Status.OUT_OF_RANGE, Status.SWAPPED):
        message = f"{STATUS_MESSAGES[match.status]} (lon={lon}, lat={lat})"
        if match.status == Status.SWAPPED:
            message += f"; did you mean /point/{name}/{lat},{lon}?"
        raise ApiError(message, code=match.status.label, status=400)
    team = svc.team(str(grid_set.index.codes[match.grid])) if match.status == Status.OK else None
    body = point_json(grid_set, match, given={"coordsys": name, "lon": lon, "lat": lat},
                      wgs84=wgs84, team=team, show_phone=auth.may(auth.PERSONAL_DATA),
                      near_m=svc.near_m)
    if match.status in (Status.OUTSIDE, Status.FAR_OUTSIDE):
        body["warnings"].extend(_datum_hints(svc, lon, lat, name, grid_set))
    return _json(body, cache=False)


def _datum_hints(svc: GridService, lon: float, lat: float, given: str, grid_set: GridSet) -> list:
    """A point in no grid that would land in one if read in another datum was probably mislabelled."""
    hints = []
    for other in COORDSYS_NAMES:
        if other in (given, "cgcs2000") or (given == "cgcs2000" and other == "wgs84"):
            continue
        _, match, _ = svc.locate(lon, lat, coordsys=other, version=grid_set.version.id)
        if match.status == Status.OK:
            hints.append({"code": "datum_suspect",
                          "message": f"read as {other}, the point falls in grid "
                                     f"{grid_set.index.codes[match.grid]}: check the coordinate "
                                     f"system (coordsys={other}?)"})
    return hints


@bp.post("/points")
def points():
    """Batch point-in-grid, streamed: JSON, GeoJSON, CSV, Arrow or Parquet in; JSON, NDJSON, CSV or
    Arrow out (``format=`` or the Accept header)."""
    coordsys = normalise_coordsys(request.args.get("coordsys", "wgs84"))
    annotate = request.args.get("fields", "full") != "grid"
    svc = service()
    grid_set = _grid_set()
    reader = batch_io.reader_for(request.mimetype, request.stream, request.get_data
                                 if request.mimetype not in batch_io.STREAMED else None)
    writer = batch_io.writer_for(request.args.get("format"), request.accept_mimetypes,
                                 request.mimetype)
    # Read the first chunk before answering: a body that is not CSV/Arrow/Parquet, or lacks the
    # lon/lat columns, must get its 400 now, not break a stream that already sent 200.
    reader = iter(reader)
    head = next(reader, None)

    def generate():
        yield writer.head()
        first = True
        for chunk in itertools.chain([head] if head is not None else [], reader):
            _, match, wlon, wlat = svc.locate_many(chunk.lon, chunk.lat, coordsys=coordsys,
                                                   version=grid_set.version.id, annotate=annotate)
            yield writer.rows(chunk, wlon, wlat, match, grid_set, first=first)
            first = False
        yield writer.tail()

    response = Response(stream_with_context(generate()), mimetype=writer.mimetype)
    response.headers["X-RedGrid-Version"] = str(grid_set.version.id)
    return response


@bp.get("/grids")
def grids():
    """All grids of a version (attributes only; ``/grids.geojson`` has the shapes)."""
    grid_set = _grid_set()
    return _json({"version": version_json(grid_set.version),
                  "grids": [grid_json(grid_set, i) for i in range(len(grid_set.index))]})


@bp.get("/grids.geojson")
def grids_geojson():
    grid_set = _grid_set()
    simplify, coordsys = _simplify_arg(), _output_coordsys()
    features = [_grid_feature(grid_set, i, simplify, coordsys) for i in range(len(grid_set.index))]
    return _geojson(_with_coordsys({"type": "FeatureCollection", "features": features}, coordsys))


@bp.get("/grids/<code>")
def grid(code: str):
    """One grid by its 15-digit code, with its team."""
    grid_set, i = _grid_by_code(code)
    body = grid_json(grid_set, i)
    body["team"] = team_json(service().team(code), show_phone=auth.may(auth.PERSONAL_DATA))
    return _json(body, cache=False)


@bp.get("/grids/<code>.geojson")
def grid_geojson(code: str):
    grid_set, i = _grid_by_code(code)
    coordsys = _output_coordsys()
    return _geojson(_with_coordsys(_grid_feature(grid_set, i, _simplify_arg(), coordsys), coordsys))


@bp.get("/communities.geojson")
def communities_geojson():
    grid_set = _grid_set()
    shapes = service().store.community_shapes(grid_set.version.id)
    simplify = _simplify_arg()
    features = [_community_feature(grid_set, r.code, r.geometry, r.area_m2, simplify)
                for r in shapes.itertuples(index=False)]
    return _geojson({"type": "FeatureCollection", "features": features})


@bp.get("/communities/<code>.geojson")
def community_geojson(code: str):
    grid_set = _grid_set()
    shapes = service().store.community_shapes(grid_set.version.id)
    found = shapes[shapes["code"] == code]
    if found.empty:
        raise ApiError(f"community {code} has no grids in version {grid_set.version.id}",
                       code="not_found", status=404)
    r = found.iloc[0]
    return _geojson(_community_feature(grid_set, code, r.geometry, r.area_m2, _simplify_arg()))


@bp.get("/versions")
def versions():
    return _json({"versions": [version_json(v) for v in service().store.versions()]}, cache=False)


@bp.get("/versions/<int:version_id>")
def version(version_id: int):
    info = service().store.version(version_id)
    if info is None:
        raise ApiError(f"grid version {version_id} does not exist", code="not_found", status=404)
    body = version_json(info)
    body["report"], body["repairs"] = info.report, info.repairs
    return _json(body, cache=False)


# --- helpers ------------------------------------------------------------------------------


def _parse_pair(coords: str) -> tuple[float, float]:
    parts = coords.split(",")
    if len(parts) != 2:
        raise ApiError(f"coordinates {coords!r} must be 'lon,lat', e.g. 113.1457,23.1110",
                       code="bad_coordinates")
    try:
        lon, lat = float(parts[0]), float(parts[1])
    except ValueError as exc:
        raise ApiError(f"coordinates {coords!r} are not numbers; expected 'lon,lat'",
                       code="bad_coordinates") from exc
    if math.isnan(lon) or math.isnan(lat):
        raise ApiError(f"coordinates {coords!r}: {STATUS_MESSAGES[Status.NOT_A_NUMBER]}",
                       code="not_a_number")
    return lon, lat


def _grid_by_code(code: str) -> tuple[GridSet, int]:
    grid_set = _grid_set()
    i = grid_set.index.position.get(code)
    if i is None:
        raise ApiError(f"grid {code} is not in version {grid_set.version.id}", code="not_found",
                       status=404)
    return grid_set, i


def _simplify_arg() -> float:
    value = request.args.get("simplify", "0")
    try:
        metres = float(value)
    except ValueError as exc:
        raise ApiError(f"simplify={value!r} must be a tolerance in metres", code="bad_parameter") from exc
    return max(metres, 0.0) / 111_320.0


def _output_coordsys() -> str:
    """``coordsys=`` on the grid GeoJSON: draw in another datum (gcj02 over Amap tiles); WGS84 by default."""
    return normalise_coordsys(request.args.get("coordsys", "wgs84"))


def _with_coordsys(body: dict, coordsys: str) -> dict:
    """Shifted GeoJSON says so (a foreign member): it is no longer the RFC 7946 WGS84."""
    if coordsys != "wgs84":
        body["coordsys"] = coordsys
    return body


def _grid_feature(grid_set: GridSet, i: int, simplify: float, coordsys: str = "wgs84") -> dict:
    geom = grid_set.index.geoms[i]
    if simplify:
        geom = shapely.simplify(geom, simplify, preserve_topology=True)
    if coordsys != "wgs84":
        geom = geometries_from_wgs84(np.asarray([geom], dtype=object), coordsys)[0]
    return {"type": "Feature", "id": str(grid_set.index.codes[i]),
            "properties": grid_json(grid_set, i), "geometry": shapely.geometry.mapping(geom)}


def _community_feature(grid_set: GridSet, code: str, geom, area_m2: float, simplify: float) -> dict:
    if simplify:
        geom = shapely.simplify(geom, simplify, preserve_topology=True)
    info = grid_set.communities.get(code, {"code": code})
    props = {"code": code, "name": info.get("name"), "kind": info.get("kind"),
             "town": grid_set.town, "area_m2": round(float(area_m2), 1),
             "grids": int((grid_set.grids["community_code"] == code).sum()),
             "version": {"id": grid_set.version.id, "label": grid_set.version.label}}
    return {"type": "Feature", "id": code, "properties": props,
            "geometry": shapely.geometry.mapping(geom)}


def _json(body: dict, *, cache: bool = True) -> Response:
    response = jsonify(body)
    _cache_headers(response, cache)
    return response


def _geojson(body: dict) -> Response:
    response = jsonify(body)
    response.mimetype = "application/geo+json"
    _cache_headers(response, True)
    return response


def _cache_headers(response: Response, cache: bool) -> None:
    response.headers["Access-Control-Allow-Origin"] = "*"
    # answers with people in them may change with the roster: never cache those
    response.headers["Cache-Control"] = "public, max-age=300" if cache else "no-store"
