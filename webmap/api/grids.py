"""The JSON API: point-in-grid (one or many), grids and communities as GeoJSON, versions.

URL shapes follow MapIt: the coordinate system is part of the path, x before y
(lon, lat), e.g. ``/api/v1/point/gcj02/113.1502,23.1083``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import queue
import threading
from collections.abc import Iterator

import numpy as np
import orjson
import shapely
from cachetools import LRUCache
from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request
from flask import stream_with_context

from geo.crs import geometries_from_wgs84
from geo.crs import normalise_coordsys
from services import batch_io
from services.callers import PERSONAL_DATA
from services.grids import GridSet
from services.shapes import community_json
from services.shapes import grid_json
from services.shapes import point_answer_json
from services.shapes import team_json
from services.shapes import version_json
from webmap import auth
from webmap.api.params import json_response
from webmap.api.params import parse_pair
from webmap.api.params import version_args
from webmap.errors import Problem
from webmap.limits import LeanLimit

bp = Blueprint("api", __name__)
bp.before_request(auth.check_request)


@bp.record_once
def _lean_point_path(state) -> None:
    """Anonymous ``GET /point/...`` is answered before Flask's request machinery (see LeanPoint)."""
    lean = LeanPoint(state.app.wsgi_app, state.app, f"{state.url_prefix or ''}/point/")
    state.app.wsgi_app = lean
    state.app.extensions["redgrid.lean_point"] = lean  # for the server's event loop (webmap.serving)


def _grid_set() -> GridSet:
    grids = auth.services().grids
    return grids.grid_set(grids.resolve_version(**version_args()))


@bp.get("/health")
def health():
    """Liveness plus the active version, for load balancers and monitoring."""
    return jsonify(auth.services().grids.health())


@bp.get("/point/<coordsys>/<coords>")
def point(coordsys: str, coords: str):
    """The grid at one point, with its team; ``coords`` is ``lon,lat``."""
    lon, lat = parse_pair(coords)
    grids = auth.services().grids
    answer = grids.point(lon, lat, coordsys=coordsys, **version_args())
    show = _phones_shown(f"point:{coordsys}/{coords}", answer.team)
    response = Response(point_body(grids, answer, show), mimetype="application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "no-store"  # the team changes with the roster
    return response


class LeanPoint:
    """The hot path of other systems: an anonymous single lookup, answered in a few microseconds.

    A plain ``GET /api/v1/point/{coordsys}/{lon},{lat}`` (no query string, no key, no cookie:
    the anonymous caller, phones masked) is answered here, in front of Flask: routing, the
    session, the login manager and the response hooks cost several times the lookup itself.
    Only while rate limits are off (``RATELIMIT_ENABLED``, e.g. behind a gateway that limits
    callers itself) or, with them on, after counting the request here against the anonymous
    caller's budget (``webmap.limits.LeanLimit``: the same counters, under the same key, as
    Flask-Limiter's, so the two paths spend one budget); a caller whose budget is spent goes
    to Flask, which answers 429. The answer is the very bytes ``point`` gives (``point_body``),
    and the headers are those Flask sent for the first such request, learnt from it, so the
    hooks' headers (CORS, CSP, caching) stay theirs. Anything else, and any request this path
    cannot answer (a bad coordinate, an unknown coordinate system, an error), goes to Flask.
    """

    def __init__(self, wsgi_app, app, prefix: str) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.prefix = prefix
        self.headers: list[tuple[str, str]] | None = None
        self.limit = LeanLimit(app, wsgi_app)

    def __call__(self, environ, start_response):
        if not self._plain(environ):
            return self.wsgi_app(environ, start_response)
        if self.headers is None:
            return self.wsgi_app(environ, self._learn(start_response))
        body = self._answer(environ["PATH_INFO"][len(self.prefix) :])
        if body is None or not self.limit.admit(environ):  # counted only when answered here
            return self.wsgi_app(environ, start_response)
        start_response("200 OK", [*self.headers, ("Content-Length", str(len(body)))])
        return [body]

    def answer_in_loop(self, environ: dict) -> tuple[list[tuple[str, str]], bytes] | None:
        """The headers and body for a request the server's event loop may answer itself
        (``webmap.serving``), or None: then a thread answers it through ``__call__``. Only what
        ``__call__`` would answer here, and only while the caller's rate-limit lease has hits
        left (taking a new one writes to the shared storage, which may wait on a lock)."""
        if self.headers is None or not self._plain(environ):
            return None
        body = self._answer(environ["PATH_INFO"][len(self.prefix) :])
        if body is None or not self.limit.admit_leased(environ):
            return None
        return [*self.headers, ("Content-Length", str(len(body)))], body

    def _plain(self, environ) -> bool:
        return (
            environ.get("PATH_INFO", "").startswith(self.prefix)
            and environ.get("REQUEST_METHOD") == "GET"
            and not environ.get("QUERY_STRING")
            and "HTTP_AUTHORIZATION" not in environ
            and "HTTP_X_API_KEY" not in environ
            and "HTTP_COOKIE" not in environ
        )

    def _answer(self, rest: str) -> bytes | None:
        parts = rest.split("/")
        if len(parts) != 2:
            return None
        coordsys, coords = parts
        pair = coords.split(",")
        try:
            lon, lat = float(pair[0]), float(pair[1])
            if len(pair) != 2 or lon != lon or lat != lat:
                return None
            grids = self.app.extensions["redgrid"].grids
            return point_body(grids, grids.point(lon, lat, coordsys=coordsys), False)
        except Exception:  # Flask answers it, through the error mapping
            return None

    def _learn(self, start_response):
        def learning(status, headers, exc_info=None):
            names = {k.lower() for k, _ in headers}
            if status.startswith("200 ") and "set-cookie" not in names and "content-type" in names:
                self.headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            return start_response(status, headers, exc_info)

        return learning


def point_body(grids, answer, show_phone: bool) -> bytes:
    """The point answer as JSON bytes (as ``jsonify`` would give it), the team rendered once per
    grid, roster and day."""
    team = None
    if answer.team:
        code = str(answer.grid_set.index.codes[answer.match.grid])
        team = grids.team_fragment(
            code, ("json", show_phone), lambda people: orjson.dumps(team_json(people, show_phone=show_phone))
        )
        answer = dataclasses.replace(answer, team=[])
    body = point_answer_json(answer, show_phone=show_phone, near_m=grids.near_m)
    if team is not None:
        body["team"] = orjson.Fragment(team)
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE)


@bp.post("/points")
def points():
    """Batch point-in-grid: JSON, GeoJSON, CSV, Arrow or Parquet in (read whole); JSON, NDJSON, CSV or
    Arrow out, streamed chunk by chunk (``format=`` or the Accept header)."""
    coordsys = normalise_coordsys(request.args.get("coordsys", "wgs84"))
    annotate = request.args.get("fields", "full") != "grid"
    grids = auth.services().grids
    grid_set = _grid_set()
    # The body is read whole (at most BATCH_MAX_BYTES) before the answer starts: an answer that
    # streamed back while the upload still ran would deadlock a client that sends everything before
    # it reads (requests, http.client) once both socket buffers fill. The answer still streams.
    reader = batch_io.reader_for(request.mimetype, request.stream, request.get_data)
    writer = batch_io.writer_for(
        request.args.get("format"), request.accept_mimetypes, request.mimetype, grid_only=not annotate
    )
    # Read the first chunk before answering: a body that is not CSV/Arrow/Parquet, or lacks the
    # lon/lat columns, must get its 400 now, not break a stream that already sent 200.
    reader = iter(reader)
    head = next(reader, None)

    def generate() -> Iterator[bytes]:
        yield writer.head()
        first = True
        chunks = itertools.chain([head] if head is not None else [], reader)
        located = grids.locate_chunks(
            chunks, coordsys=coordsys, version=grid_set.version.id, annotate=annotate
        )
        for chunk, _, match, wlon, wlat in located:
            yield writer.rows(chunk, wlon, wlat, match, grid_set, first=first)
            first = False
        yield writer.tail()

    response = Response(stream_with_context(_ahead(generate())), mimetype=writer.mimetype)
    response.headers["X-RedGrid-Version"] = str(grid_set.version.id)
    return response


def _ahead(parts: Iterator[bytes], depth: int = 2) -> Iterator[bytes]:
    """The parts of an answer, made by a thread while the server sends the ones before them.

    The lookup (numpy, GEOS) and the socket writes both release the GIL, so on two cores the next
    chunk is computed while the last one is on its way. An error in the thread is raised here, in
    order; a client that goes away stops the thread at its next part.
    """
    done = object()
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for part in parts:
                while not stop.is_set():
                    try:
                        box.put(part, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            box.put(exc)

    worker = threading.Thread(target=produce, name="redgrid-batch", daemon=True)
    worker.start()
    try:
        while True:
            item = box.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


@bp.get("/grids")
def grids():
    """All grids of a version (attributes only; ``/grids.geojson`` has the shapes)."""
    grid_set = _grid_set()
    return json_response(
        {
            "version": version_json(grid_set.version),
            "grids": [grid_json(grid_set, i) for i in range(len(grid_set.index))],
        }
    )


@bp.get("/grids.geojson")
def grids_geojson():
    """All grids as one GeoJSON file GIS tools can open by URL (ETag, If-None-Match, Range)."""
    grid_set = _grid_set()
    simplify, coordsys = _simplify_arg(), _output_coordsys()

    def build() -> dict:
        features = [_grid_feature(grid_set, i, simplify, coordsys) for i in range(len(grid_set.index))]
        return _with_coordsys({"type": "FeatureCollection", "features": features}, coordsys)

    return _conditional_geojson(grid_set, ("grids", simplify, coordsys), build)


@bp.get("/grids/<code>")
def grid(code: str):
    """One grid by its 15-digit code, with its team."""
    grid_set, i = _grid_by_code(code)
    body = grid_json(grid_set, i)
    team = auth.services().grids.team(code)
    body["team"] = team_json(team, show_phone=_phones_shown(f"grid:{code}", team))
    return json_response(body, cache=False)


def _phones_shown(target: str, team) -> bool:
    """Officials' full phones go to callers with ``personal_data``; each answer that shows
    them is one ``team.view`` entry in the audit log."""
    who = auth.caller()
    show = who.can(PERSONAL_DATA)
    if show and team:
        auth.services().audit.record(who, "team.view", target, {"people": len(team)})
    return show


@bp.get("/grids/<code>.geojson")
def grid_geojson(code: str):
    grid_set, i = _grid_by_code(code)
    coordsys = _output_coordsys()
    return _geojson(_with_coordsys(_grid_feature(grid_set, i, _simplify_arg(), coordsys), coordsys))


@bp.get("/communities.geojson")
def communities_geojson():
    """Community outlines as one GeoJSON file (ETag, If-None-Match, Range)."""
    grid_set = _grid_set()
    simplify = _simplify_arg()

    def build() -> dict:
        shapes = auth.services().grids.community_shapes(grid_set.version.id)
        features = [
            _community_feature(grid_set, r.code, r.geometry, r.area_m2, simplify)
            for r in shapes.itertuples(index=False)
        ]
        return {"type": "FeatureCollection", "features": features}

    return _conditional_geojson(grid_set, ("communities", simplify), build)


@bp.get("/communities/<code>")
def community(code: str):
    """One community by its 12-digit code: its grids and the team above the grids."""
    answer = auth.services().grids.community(_grid_set(), code)
    show = _phones_shown(f"community:{code}", answer.team)
    return json_response(community_json(answer, show_phone=show), cache=False)


@bp.get("/communities/<code>.geojson")
def community_geojson(code: str):
    grid_set = _grid_set()
    shapes = auth.services().grids.community_shapes(grid_set.version.id)
    found = shapes[shapes["code"] == code]
    if found.empty:
        raise Problem(
            f"community {code} has no grids in version {grid_set.version.id}", code="not_found", status=404
        )
    r = found.iloc[0]
    return _geojson(_community_feature(grid_set, code, r.geometry, r.area_m2, _simplify_arg()))


@bp.get("/versions")
def versions():
    return json_response(
        {"versions": [version_json(v) for v in auth.services().grids.versions()]}, cache=False
    )


@bp.get("/versions/<int:version_id>")
def version(version_id: int):
    info = auth.services().grids.version(version_id)
    body = version_json(info)
    body["report"], body["repairs"] = info.report, info.repairs
    return json_response(body, cache=False)


# --- helpers ------------------------------------------------------------------------------


def _grid_by_code(code: str) -> tuple[GridSet, int]:
    grid_set = _grid_set()
    return grid_set, auth.services().grids.grid_index(grid_set, code)


def _simplify_arg() -> float:
    value = request.args.get("simplify", "0")
    try:
        metres = float(value)
    except ValueError as exc:
        raise Problem(f"simplify={value!r} must be a tolerance in metres", code="bad_parameter") from exc
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
    return {
        "type": "Feature",
        "id": str(grid_set.index.codes[i]),
        "properties": grid_json(grid_set, i),
        "geometry": shapely.geometry.mapping(geom),
    }


def _community_feature(grid_set: GridSet, code: str, geom, area_m2: float, simplify: float) -> dict:
    if simplify:
        geom = shapely.simplify(geom, simplify, preserve_topology=True)
    info = grid_set.communities.get(code, {"code": code})
    props = {
        "code": code,
        "name": info.get("name"),
        "kind": info.get("kind"),
        "town": grid_set.town,
        "area_m2": round(float(area_m2), 1),
        "grids": int((grid_set.grids["community_code"] == code).sum()),
        "version": {"id": grid_set.version.id, "label": grid_set.version.label},
    }
    return {"type": "Feature", "id": code, "properties": props, "geometry": shapely.geometry.mapping(geom)}


def _geojson(body: dict) -> Response:
    return json_response(body, mimetype="application/geo+json")


_FILES_LOCK = threading.Lock()


def _conditional_geojson(grid_set: GridSet, params: tuple, build) -> Response:
    """A whole GeoJSON file as GDAL's network reader (QGIS, ogr2ogr) wants one: a strong ETag made
    from the version and the parameters, 304 on If-None-Match, byte ranges (206) on Range.

    The bytes are kept per ETag (a few files per app), so the range requests of one download
    serialise the file once; a new or re-activated version has another ETag.
    """
    v = grid_set.version
    key = repr((params, v.id, v.sha256, v.active, v.label, grid_set.town.get("name")))
    etag = hashlib.sha256(key.encode()).hexdigest()[:32]
    if request.if_none_match.contains(etag):
        response = Response(status=304)
        response.set_etag(etag)
        return response
    files = current_app.extensions.setdefault("redgrid.geojson_files", LRUCache(8))
    with _FILES_LOCK:
        data = files.get(etag)
    if data is None:
        data = current_app.json.dumps(build(), separators=(",", ":")).encode()
        with _FILES_LOCK:
            files[etag] = data
    response = Response(data, mimetype="application/geo+json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=300"
    response.set_etag(etag)
    return response.make_conditional(request, accept_ranges=True, complete_length=len(data))
