"""The JSON API on the bundled Dali demo: one point, many points, grids, versions, keys, headers.

Expected answers come from the demo files themselves (grid shapes, communities, roster) and
from distances measured here with pyproj in UTM 49N, not from the service's own helpers.
"""

from __future__ import annotations

import csv
import datetime
import io
import itertools
import json
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
import pytest
import shapely
from pyproj import Transformer

from geo.crs import from_wgs84
from geo.datums import gcj02_to_wgs84
from geo.datums import wgs84_to_gcj02
from services import batch_io
from tests.apps import DEMO_COMMUNITIES
from tests.apps import DEMO_COMMUNITY_COUNT
from tests.apps import DEMO_GRID_COUNT
from tests.apps import DEMO_ROSTER
from tests.apps import DEMO_TOWN
from tests.apps import cli_ok
from tests.apps import error_of
from tests.apps import inside_point
from tests.apps import point_where_versions_differ

API = "/api/v1"
TO_UTM = Transformer.from_crs(4326, 32649, always_xy=True)
FROM_UTM = Transformer.from_crs(32649, 4326, always_xy=True)
BEIJING = (116.397, 39.909)
LEVEL_ROLES = {
    1: {"组长"},
    2: {"副组长"},
    3: {"指导员/小红格格长"},
    4: {"小红格组长"},
    5: {"网格员", "兼职网格员"},
}
MASKED = re.compile(r"^138\*{4}\d{4}$")
FULL = re.compile(r"^1380013\d{4}$")


def _get(client, path: str, **kwargs):
    response = client.get(API + path, **kwargs)
    return response, response.get_json()


def _point(client, lon: float, lat: float, coordsys: str = "wgs84", **kwargs):
    return _get(client, f"/point/{coordsys}/{lon!r},{lat!r}", **kwargs)


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


# --- places in the demo -------------------------------------------------------------------


@dataclass(frozen=True)
class Places:
    inside: tuple[float, float]
    inside_code: str
    edge_a: str  # two neighbours sharing a long straight edge, a < b
    edge_b: str
    edge_mid: tuple[float, float]  # the middle of that edge
    near: tuple[float, float]  # NEAR_M_OFFSET metres into a from that middle
    vertex: tuple[float, float]  # a vertex shared by exactly two grids
    vertex_codes: tuple[str, str]
    outside: tuple[float, float]  # in no grid, but inside the served area
    outside_nearest: str
    outside_m: float
    datum: tuple[float, float]  # in no grid as WGS84, in datum_code when read as GCJ-02
    datum_code: str


NEAR_OFFSET_M = 5.0


def _to_utm(lon, lat):
    return TO_UTM.transform(lon, lat)


def _edges(poly) -> set[tuple[tuple[float, float], tuple[float, float]]]:
    c = [tuple(p) for p in poly.exterior.coords]
    return {tuple(sorted((a, b))) for a, b in itertools.pairwise(c)}


@pytest.fixture(scope="module")
def places(demo_grids) -> Places:
    codes = demo_grids["code"].tolist()
    geoms = np.asarray(demo_grids.geometry.values, dtype=object)
    metric = demo_grids.to_crs(32649).geometry.values
    edges = [_edges(g) for g in geoms]
    tree = shapely.STRtree(geoms)
    vertex_count: dict[tuple[float, float], int] = {}
    for g in geoms:
        for v in set(g.exterior.coords):
            vertex_count[v] = vertex_count.get(v, 0) + 1

    # the longest edge two grids share vertex for vertex, whose middle (as computed in floating
    # point) lies in neither grid's interior: exactly on the edge, where rule 3 decides
    best = None
    for i in range(len(geoms)):
        for j in tree.query(geoms[i]):
            if j > i:
                for a, b in edges[i] & edges[j]:
                    mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
                    if shapely.contains_xy(geoms[i], *mid) or shapely.contains_xy(geoms[j], *mid):
                        continue
                    length = math.dist(_to_utm(*a), _to_utm(*b))
                    if best is None or length > best[0]:
                        best = (length, i, j, a, b, mid)
    assert best is not None and best[0] > 200
    _, i, j, a, b, mid = best
    assert shapely.intersects_xy(geoms[i], *mid) and shapely.intersects_xy(geoms[j], *mid)
    (ax, ay), (bx, by) = _to_utm(*a), _to_utm(*b)
    mx, my = _to_utm(*mid)
    nx, ny = -(by - ay), bx - ax
    norm = math.hypot(nx, ny)
    near = None
    for sign in (1, -1):
        step = sign * NEAR_OFFSET_M / norm
        lon, lat = FROM_UTM.transform(mx + step * nx, my + step * ny)
        if geoms[i].contains(shapely.Point(lon, lat)):
            near = (lon, lat)
    assert near is not None
    near_m = shapely.Point(_to_utm(*near))
    others = sorted((shapely.distance(metric[k], near_m), codes[k]) for k in range(len(codes)) if k != i)
    assert others[0][1] == codes[j] and abs(others[0][0] - NEAR_OFFSET_M) < 0.01 and others[1][0] > 30

    # a vertex of exactly two grids, away from the town outline and from other grids
    vertex = None
    for v, count in vertex_count.items():
        if count != 2:
            continue
        owners = list(tree.query(shapely.Point(v), predicate="dwithin", distance=1e-6))
        if len(owners) == 2 and all(v in set(geoms[k].exterior.coords) for k in owners):
            vertex = (v, tuple(sorted(codes[k] for k in owners)))
            break
    assert vertex is not None

    # 1 km west of the westernmost point of the grids: in no grid, inside the served area
    xmin = shapely.total_bounds(geoms)[0]
    west = min((g for g in geoms), key=lambda g: g.bounds[0])
    west_lat = min(west.exterior.coords, key=lambda c: c[0])[1]
    outside = (float(xmin) - 0.01, float(west_lat))
    out_m = shapely.Point(_to_utm(*outside))
    dist = sorted((shapely.distance(m, out_m), c) for m, c in zip(metric, codes, strict=True))

    # a point in a grid, shifted as GCJ-02 would shift it, landing in no grid
    union = shapely.union_all(geoms)
    datum = None
    for k in range(len(geoms)):
        q = geoms[k].representative_point()
        plon, plat = (float(v) for v in wgs84_to_gcj02(q.x, q.y))
        if not union.intersects(shapely.Point(plon, plat).buffer(0.001)):
            back = gcj02_to_wgs84(plon, plat)
            assert geoms[k].contains(shapely.Point(*back))
            datum = ((plon, plat), codes[k])
            break
    assert datum is not None

    inside_code = codes[0]
    return Places(
        inside=inside_point(demo_grids, inside_code),
        inside_code=inside_code,
        edge_a=codes[i],
        edge_b=codes[j],
        edge_mid=mid,
        near=near,
        vertex=vertex[0],
        vertex_codes=vertex[1],
        outside=outside,
        outside_nearest=dist[0][1],
        outside_m=float(dist[0][0]),
        datum=datum[0],
        datum_code=datum[1],
    )


@pytest.fixture(scope="module")
def roster() -> pd.DataFrame:
    return pd.read_csv(DEMO_ROSTER, dtype=str, encoding="utf-8-sig", keep_default_na=False)


@pytest.fixture(scope="module")
def communities() -> pd.DataFrame:
    return pd.read_csv(DEMO_COMMUNITIES, dtype=str).set_index("code")


def _api_key(db, name: str, *scopes: str) -> str:
    args = ["apikey", "create", name]
    for scope in scopes:
        args += ["--scope", scope]
    token = cli_ok(db.cli(*args)).stdout.strip()
    assert token.startswith("rg_")
    return token


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# --- one point ----------------------------------------------------------------------------


def test_point_inside_a_grid_names_grid_community_town_version_and_team(
    demo_client, places, demo_grids, communities, roster
):
    response, body = _point(demo_client, *places.inside)
    assert response.status_code == 200
    assert body["status"] == "ok"
    row = demo_grids.set_index("code").loc[places.inside_code]
    community = communities.loc[row["community_code"]]
    grid = body["grid"]
    assert (grid["code"], grid["name"]) == (places.inside_code, row["name"])
    assert grid["community"] == {
        "code": row["community_code"],
        "name": community["name"],
        "kind": community["kind"],
    }
    assert grid["town"] == {"code": DEMO_TOWN, "name": "大沥镇"}
    assert (grid["population"], grid["households"]) == (row["population"], row["households"])
    assert body["version"]["id"] == 1 and body["version"]["active"] is True
    assert body["near_boundary"] is None and body["also_touches"] == [] and body["nearest"] is None
    assert body["warnings"] == []
    assert body["input"] == {"coordsys": "wgs84", "lon": places.inside[0], "lat": places.inside[1]}

    team = body["team"]
    levels = [m["level"] for m in team]
    assert levels == sorted(levels) and set(levels) == {1, 2, 3, 4, 5}
    for member in team:
        assert member["role_zh"] in LEVEL_ROLES[member["level"]]
    assert "网格员" in {m["role_zh"] for m in team if m["level"] == 5}
    units = {DEMO_TOWN, row["community_code"], places.inside_code}
    expected = roster[roster["单位编码"].isin(units)]
    assert sorted((m["name"], m["role_zh"], m["unit_code"]) for m in team) == sorted(
        zip(expected["姓名"], expected["角色"], expected["单位编码"], strict=True)
    )
    assert all(MASKED.fullmatch(m["phone"]) and m["phone_masked"] for m in team)


def test_phones_are_full_with_a_personal_data_key_and_masked_without(fresh_client, demo_db, places, roster):
    full_key = _api_key(demo_db, "hotline", "personal_data")
    plain_key = _api_key(demo_db, "map-viewer")
    _, anonymous = _point(fresh_client, *places.inside)
    _, unmasked = _point(fresh_client, *places.inside, headers=_bearer(full_key))
    _, still_masked = _point(fresh_client, *places.inside, headers=_bearer(plain_key))
    _, by_header = _point(fresh_client, *places.inside, headers={"X-API-Key": full_key})

    assert "team" in unmasked, unmasked
    phone_of = {(r["姓名"], r["角色"], r["单位编码"]): r["电话"] for r in roster.to_dict("records")}
    for member in unmasked["team"]:
        phone = phone_of[(member["name"], member["role_zh"], member["unit_code"])]
        assert member["phone"] == phone and FULL.fullmatch(phone) and member["phone_masked"] is False
    assert [m["phone"] for m in by_header["team"]] == [m["phone"] for m in unmasked["team"]]
    for body in (anonymous, still_masked):
        assert [m["phone"] for m in body["team"]] == [
            p[:3] + "****" + p[-4:] for p in (m["phone"] for m in unmasked["team"])
        ]
        assert all(m["phone_masked"] for m in body["team"])


def test_an_unknown_key_is_refused_not_treated_as_anonymous(demo_client, places):
    response, body = _point(demo_client, *places.inside, headers=_bearer("rg_not-a-key"))
    assert response.status_code == 401
    assert error_of(body) == _error("invalid_api_key", "API key not recognised or revoked")


@pytest.mark.parametrize("path", ["/grids.geojson", "/versions", "/health"])
def test_an_unknown_key_is_refused_on_endpoints_without_people_too(demo_client, path):
    response, body = _get(demo_client, path, headers={"X-API-Key": "rg_revoked"})
    assert response.status_code == 401
    assert error_of(body) == _error("invalid_api_key", "API key not recognised or revoked")


def test_an_unknown_key_is_refused_on_batches(demo_client):
    response, data = _post(demo_client, b"[[113.1, 23.1]]", "application/json", headers=_bearer("rg_x"))
    assert response.status_code == 401
    assert error_of(json.loads(data)) == _error("invalid_api_key", "API key not recognised or revoked")


@pytest.mark.parametrize(
    ("coordsys", "name"),
    [
        ("gcj02", "gcj02"),
        ("amap", "gcj02"),
        ("bd09", "bd09"),
        ("baidu", "bd09"),
        ("cgcs2000", "cgcs2000"),
        ("EPSG:4490", "cgcs2000"),
        ("4326", "wgs84"),
    ],
)
def test_the_same_place_in_another_coordinate_system_finds_the_same_grid(demo_client, places, coordsys, name):
    lon, lat = (float(v) for v in from_wgs84(*places.inside, name))
    response, body = _point(demo_client, lon, lat, coordsys=coordsys)
    assert response.status_code == 200
    assert body["grid"]["code"] == places.inside_code
    assert body["input"] == {"coordsys": name, "lon": lon, "lat": lat}
    assert abs(body["wgs84"]["lon"] - places.inside[0]) < 1e-7
    assert abs(body["wgs84"]["lat"] - places.inside[1]) < 1e-7


def test_gcj02_input_really_is_converted(demo_client, places):
    """The same numbers read as GCJ-02 are a few hundred metres from where WGS84 puts them."""
    _, as_wgs = _point(demo_client, *places.inside)
    _, as_gcj = _point(demo_client, *places.inside, coordsys="gcj02")
    moved = math.dist(_to_utm(as_gcj["wgs84"]["lon"], as_gcj["wgs84"]["lat"]), _to_utm(*places.inside))
    assert 100 < moved < 1000
    assert as_wgs["wgs84"] == {"lon": round(places.inside[0], 8), "lat": round(places.inside[1], 8)}


def test_point_a_few_metres_from_a_shared_edge_is_near_boundary_with_runner_up(demo_client, places):
    response, body = _point(demo_client, *places.near)
    assert response.status_code == 200
    assert body["status"] == "ok" and body["grid"]["code"] == places.edge_a
    near = body["near_boundary"]
    assert near["grid"]["code"] == places.edge_b and near["threshold_m"] == 30.0
    assert abs(near["distance_m"] - NEAR_OFFSET_M) < 0.02
    assert [w["code"] for w in body["warnings"]] == ["near_boundary"]
    assert body["also_touches"] == []


def test_point_on_a_vertex_two_grids_share_goes_to_the_lower_code_and_touches_the_other(demo_client, places):
    response, body = _point(demo_client, *places.vertex)
    low, high = places.vertex_codes
    assert response.status_code == 200
    assert body["grid"]["code"] == low
    assert [t["code"] for t in body["also_touches"]] == [high]
    assert body["near_boundary"]["grid"]["code"] == high and body["near_boundary"]["distance_m"] == 0.0
    assert "on_boundary" in [w["code"] for w in body["warnings"]]


def test_point_in_the_middle_of_a_shared_edge_goes_to_the_lower_code_and_touches_the_other(
    demo_client, places
):
    response, body = _point(demo_client, *places.edge_mid)
    assert response.status_code == 200
    assert body["grid"]["code"] == places.edge_a
    assert [t["code"] for t in body["also_touches"]] == [places.edge_b]
    assert "on_boundary" in [w["code"] for w in body["warnings"]]


def test_point_in_no_grid_inside_the_served_area_names_the_nearest_grid(demo_client, places):
    response, body = _point(demo_client, *places.outside)
    assert response.status_code == 200
    assert body["status"] == "outside" and body["grid"] is None and body["team"] == []
    assert body["nearest"]["grid"]["code"] == places.outside_nearest
    assert abs(body["nearest"]["distance_m"] - places.outside_m) < 0.2
    assert 500 < body["nearest"]["distance_m"] < 2000
    assert [w["code"] for w in body["warnings"]] == ["outside_grids"]


def test_point_far_away_is_far_outside(demo_client):
    response, body = _point(demo_client, *BEIJING)
    assert response.status_code == 200
    assert body["status"] == "far_outside" and body["grid"] is None and body["nearest"] is None
    assert body["warnings"] == [{"code": "far_outside", "message": "point is far outside the served area"}]


def test_a_gcj02_point_sent_as_wgs84_gets_a_datum_warning(demo_client, places):
    response, body = _point(demo_client, *places.datum)
    assert response.status_code == 200
    assert body["status"] == "outside"
    suspect = [w for w in body["warnings"] if w["code"] == "datum_suspect"]
    assert {
        "code": "datum_suspect",
        "message": f"read as gcj02, the point falls in grid {places.datum_code}: check the "
        f"coordinate system (coordsys=gcj02?)",
        "coordsys": "gcj02",  # the same as members, for a page to say in its own language
        "grid_code": places.datum_code,
    } in suspect


def test_a_point_inside_a_grid_gets_no_datum_warning(demo_client, places):
    _, body = _point(demo_client, *places.inside)
    assert "datum_suspect" not in [w["code"] for w in body["warnings"]]


@pytest.mark.parametrize(
    ("path", "code", "message"),
    [
        (
            "/point/wgs84/23.111,113.1457",
            "swapped",
            "lon and lat look swapped: exchanged, the point falls inside the served area (lon=23.111, "
            "lat=113.1457); did you mean /point/wgs84/113.1457,23.111?",
        ),
        (
            "/point/gcj02/23.111,113.1457",
            "swapped",
            "lon and lat look swapped: exchanged, the point falls inside the served area (lon=23.111, "
            "lat=113.1457); did you mean /point/gcj02/113.1457,23.111?",
        ),
        ("/point/wgs84/nan,23.111", "not_a_number", "coordinates 'nan,23.111': coordinate is not a number"),
        (
            "/point/wgs84/113.1457,NaN",
            "not_a_number",
            "coordinates '113.1457,NaN': coordinate is not a number",
        ),
        (
            "/point/wgs84/abc,23.111",
            "bad_coordinates",
            "coordinates 'abc,23.111' are not numbers; expected 'lon,lat'",
        ),
        (
            "/point/wgs84/113.1457",
            "bad_coordinates",
            "coordinates '113.1457' must be 'lon,lat', e.g. 113.1457,23.1110",
        ),
        (
            "/point/wgs84/200,23.111",
            "out_of_range",
            "coordinate out of range (lon must be within ±180, lat within ±90) (lon=200.0, lat=23.111)",
        ),
        (
            "/point/wgs84/113.1457,95",
            "out_of_range",
            "coordinate out of range (lon must be within ±180, lat within ±90) (lon=113.1457, lat=95.0)",
        ),
        (
            "/point/utm49/113.1457,23.111",
            "unknown_coordsys",
            "unknown coordinate system 'utm49'; expected one of wgs84, cgcs2000, gcj02, bd09",
        ),
        (
            "/point/wgs84/113.1457,23.111?version=first",
            "bad_parameter",
            "version='first' must be a version number",
        ),
        (
            "/point/wgs84/113.1457,23.111?at=soon",
            "bad_parameter",
            "at='soon' is not an ISO date or date-time (e.g. 2025-06-30 or 2025-06-30T09:00+08:00)",
        ),
    ],
)
def test_bad_points_are_400_with_a_code_naming_the_fault(demo_client, path, code, message):
    response, body = _get(demo_client, path)
    assert response.status_code == 400
    assert error_of(body) == _error(code, message)


def test_unknown_version_and_a_date_before_any_version_are_404(demo_client):
    response, body = _get(demo_client, "/point/wgs84/113.1457,23.111?version=99")
    assert (response.status_code, error_of(body)) == (
        404,
        _error("unknown_version", "grid version 99 does not exist"),
    )
    response, body = _get(demo_client, "/point/wgs84/113.1457,23.111?at=2020-01-01")
    assert (response.status_code, error_of(body)) == (
        404,
        _error("no_version_at", "no grid version was active at 2020-01-01T23:59:59.999999+08:00"),
    )


# --- versions -----------------------------------------------------------------------------


def test_a_new_version_answers_by_default_and_the_old_one_by_version_or_date(
    fresh_client, demo_db, demo_grids, reseeded_grids, reseeded_grids_file
):
    lon, lat, old_code, new_code = point_where_versions_differ(demo_grids, reseeded_grids)
    _, before = _point(fresh_client, lon, lat)
    assert (before["version"]["id"], before["grid"]["code"]) == (1, old_code)

    cli_ok(demo_db.cli("grids", "import", str(reseeded_grids_file), "--label", "seed 7"))
    _, still = _point(fresh_client, lon, lat)
    assert still["version"]["id"] == 1  # imported, not active yet
    cli_ok(demo_db.cli("versions", "activate", "2"))

    _, now = _point(fresh_client, lon, lat)
    assert (now["version"], now["grid"]["code"]) == ({"id": 2, "label": "seed 7", "active": True}, new_code)
    assert now["grid"]["version"]["id"] == 2
    _, old = _point(fresh_client, lon, lat, query_string={"version": "1"})
    assert (old["version"], old["grid"]["code"]) == (
        {"id": 1, "label": "大沥镇演示网格 (generated demo)", "active": False},
        old_code,
    )

    _, listing = _get(fresh_client, "/versions")
    versions = {v["id"]: v for v in listing["versions"]}
    assert sorted(versions) == [1, 2]
    assert (versions[1]["active"], versions[2]["active"]) == (False, True)
    assert (versions[1]["grids"], versions[2]["grids"]) == (DEMO_GRID_COUNT, DEMO_GRID_COUNT)
    first = datetime.datetime.fromisoformat(versions[1]["activated_at"])
    second = datetime.datetime.fromisoformat(versions[2]["activated_at"])
    assert first < second
    between = (first + (second - first) / 2).isoformat()
    _, then = _point(fresh_client, lon, lat, query_string={"at": between})
    assert (then["version"]["id"], then["grid"]["code"]) == (1, old_code)
    _, today = _point(fresh_client, lon, lat, query_string={"at": second.isoformat()})
    assert (today["version"]["id"], today["grid"]["code"]) == (2, new_code)
    response, body = _point(fresh_client, lon, lat, query_string={"version": "1", "at": between})
    assert (response.status_code, error_of(body)) == (
        400,
        _error("bad_parameter", "give either version or at, not both"),
    )


def test_versions_list_and_one_version(demo_client):
    response, body = _get(demo_client, "/versions")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    [version] = body["versions"]
    assert (version["id"], version["active"], version["grids"], version["town_code"]) == (
        1,
        True,
        DEMO_GRID_COUNT,
        DEMO_TOWN,
    )
    response, body = _get(demo_client, "/versions/1")
    assert response.status_code == 200 and body["id"] == 1
    assert (body["report"]["ok"], body["report"]["errors"]) == (True, 0)
    assert body["repairs"] == []
    response, body = _get(demo_client, "/versions/7")
    assert (response.status_code, error_of(body)) == (
        404,
        _error("not_found", "grid version 7 does not exist"),
    )


def test_health_names_the_active_version(demo_client):
    response, body = _get(demo_client, "/health")
    assert (response.status_code, body) == (200, {"status": "ok", "active_version": 1})


# --- grids and communities ----------------------------------------------------------------


def test_one_grid_with_its_team(demo_client, places, demo_grids):
    response, body = _get(demo_client, f"/grids/{places.inside_code}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    row = demo_grids.set_index("code").loc[places.inside_code]
    assert (body["code"], body["name"], body["community"]["code"]) == (
        places.inside_code,
        row["name"],
        row["community_code"],
    )
    levels = [m["level"] for m in body["team"]]
    assert levels == sorted(levels) and set(levels) == {1, 2, 3, 4, 5}
    assert all(MASKED.fullmatch(m["phone"]) for m in body["team"])
    _, point = _point(demo_client, *places.inside)
    assert body["team"] == point["team"]


def test_one_grid_as_geojson_is_a_feature_with_properties(demo_client, places, demo_grids):
    response, body = _get(demo_client, f"/grids/{places.inside_code}.geojson")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    assert body["type"] == "Feature" and body["id"] == places.inside_code
    assert body["properties"]["code"] == places.inside_code
    assert body["properties"]["community"]["code"] == places.inside_code[:12]
    assert "team" not in body["properties"]
    geom = shapely.geometry.shape(body["geometry"])
    expected = demo_grids.set_index("code").loc[places.inside_code].geometry
    assert geom.equals_exact(expected, 1e-12)


def test_all_grids_as_a_feature_collection(demo_client, demo_grids):
    response, body = _get(demo_client, "/grids.geojson")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) == DEMO_GRID_COUNT
    assert [f["id"] for f in body["features"]] == demo_grids["code"].tolist()
    assert all(f["type"] == "Feature" and f["properties"]["code"] == f["id"] for f in body["features"])
    assert {f["geometry"]["type"] for f in body["features"]} <= {"Polygon", "MultiPolygon"}


def test_simplified_grids_have_fewer_vertices(demo_client):
    _, full = _get(demo_client, "/grids.geojson")
    _, simple = _get(demo_client, "/grids.geojson?simplify=50")

    def count(body):
        return sum(len(shapely.geometry.shape(f["geometry"]).exterior.coords) for f in body["features"])

    assert count(simple) < count(full)
    response, body = _get(demo_client, "/grids.geojson?simplify=lots")
    assert (response.status_code, error_of(body)) == (
        400,
        _error("bad_parameter", "simplify='lots' must be a tolerance in metres"),
    )


def test_all_grids_as_json(demo_client, demo_grids):
    response, body = _get(demo_client, "/grids")
    assert response.status_code == 200
    assert [g["code"] for g in body["grids"]] == demo_grids["code"].tolist()
    assert body["version"]["id"] == 1


def test_communities_as_a_feature_collection(demo_client, communities):
    response, body = _get(demo_client, "/communities.geojson")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) == DEMO_COMMUNITY_COUNT
    assert sorted(f["id"] for f in body["features"]) == sorted(communities.index)
    assert sum(f["properties"]["grids"] for f in body["features"]) == DEMO_GRID_COUNT
    first = body["features"][0]
    assert first["properties"]["name"] == communities.loc[first["id"], "name"]
    assert first["properties"]["kind"] == communities.loc[first["id"], "kind"]
    response, one = _get(demo_client, f"/communities/{first['id']}.geojson")
    assert response.status_code == 200
    assert one == first


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/grids/440605125001999", "grid 440605125001999 is not in version 1"),
        ("/grids/440605125001999.geojson", "grid 440605125001999 is not in version 1"),
        ("/communities/440605125999.geojson", "community 440605125999 has no grids in version 1"),
    ],
)
def test_unknown_codes_are_404_json(demo_client, path, message):
    response, body = _get(demo_client, path)
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert error_of(body) == _error("not_found", message)


# --- headers ------------------------------------------------------------------------------


def test_security_headers_on_every_answer(demo_client, places):
    for path in ("/grids.geojson", f"/point/wgs84/{places.inside[0]},{places.inside[1]}", "/nope"):
        response = demo_client.get(API + path)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_geojson_is_open_to_other_sites_and_cacheable(demo_client, places):
    for path in ("/grids.geojson", f"/grids/{places.inside_code}.geojson", "/communities.geojson"):
        response = demo_client.get(API + path)
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["Cache-Control"] == "public, max-age=300"


def test_answers_with_people_are_never_cached(demo_client, places):
    for path in (f"/point/wgs84/{places.inside[0]},{places.inside[1]}", f"/grids/{places.inside_code}"):
        response = demo_client.get(API + path)
        assert response.headers["Cache-Control"] == "no-store"


# --- many points --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed(places) -> list[tuple[str, float, float]]:
    """(id, lon, lat): inside, near an edge, on an edge, on a vertex, outside, far, NaN, swapped."""
    return [
        ("inside", *places.inside),
        ("near", *places.near),
        ("edge", *places.edge_mid),
        ("vertex", *places.vertex),
        ("outside", *places.outside),
        ("beijing", *BEIJING),
        ("nan", math.nan, 23.111),
        ("swapped", places.inside[1], places.inside[0]),
        ("range", 200.0, 23.1),
        ("datum", *places.datum),
    ]


def _single(client, lon: float, lat: float) -> dict:
    """The GET answer for one point, in the batch row's terms."""
    response, body = _point(client, lon, lat)
    if response.status_code == 400:
        return {
            "status": body["error"]["code"],
            "grid_code": None,
            "runner_up_code": None,
            "runner_up_m": None,
            "nearest_code": None,
            "nearest_m": None,
            "also_touches": None,
            "near_boundary": False,
        }
    near, nearest = body["near_boundary"], body["nearest"]
    return {
        "status": body["status"],
        "grid_code": body["grid"]["code"] if body["grid"] else None,
        "runner_up_code": near["grid"]["code"] if near else None,
        "runner_up_m": near["distance_m"] if near else None,
        "nearest_code": nearest["grid"]["code"] if nearest else None,
        "nearest_m": nearest["distance_m"] if nearest else None,
        "also_touches": ";".join(t["code"] for t in body["also_touches"]) or None,
        "near_boundary": near is not None,
    }


def _comparable(record: dict) -> dict:
    return {
        k: record[k]
        for k in (
            "status",
            "grid_code",
            "runner_up_code",
            "runner_up_m",
            "nearest_code",
            "nearest_m",
            "also_touches",
            "near_boundary",
        )
    }


def _bodies(points: list[tuple[str, float, float]]) -> dict[str, tuple[str, bytes]]:
    def num(v: float):
        return None if math.isnan(v) else v

    ids = [p[0] for p in points]
    lons = [p[1] for p in points]
    lats = [p[2] for p in points]
    table = pa.table({"id": ids, "lon": lons, "lat": lats})
    arrow = io.BytesIO()
    with pyarrow.ipc.new_stream(arrow, table.schema) as writer:
        writer.write_table(table)
    parquet = io.BytesIO()
    pq.write_table(table, parquet)
    csv_text = "id,经度,纬度\n" + "".join(
        f"{i},{'' if math.isnan(x) else repr(x)},{y!r}\n" for i, x, y in points
    )
    return {
        "pairs": ("application/json", json.dumps([[num(x), num(y)] for _, x, y in points]).encode()),
        "objects": (
            "application/json",
            json.dumps([{"id": i, "lng": num(x), "lat": num(y)} for i, x, y in points]).encode(),
        ),
        "geojson": (
            "application/geo+json",
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "id": i,
                            "properties": {},
                            "geometry": {"type": "Point", "coordinates": [num(x), num(y)]},
                        }
                        for i, x, y in points
                    ],
                }
            ).encode(),
        ),
        "csv": ("text/csv", csv_text.encode()),
        "arrow": (batch_io.ARROW, arrow.getvalue()),
        "parquet": (batch_io.PARQUET[0], parquet.getvalue()),
    }


def _post(client, body: bytes, content_type: str, **kwargs):
    response = client.post(API + "/points", data=body, content_type=content_type, **kwargs)
    data = response.get_data()  # always drain: the answer is a stream tied to the request
    return response, data


@pytest.mark.parametrize("form", ["pairs", "objects", "geojson", "csv", "arrow", "parquet"])
def test_batch_in_every_input_format_answers_like_the_single_lookup(demo_client, mixed, form):
    content_type, body = _bodies(mixed)[form]
    response, data = _post(demo_client, body, content_type, query_string={"format": "json"})
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["X-RedGrid-Version"] == "1"
    rows = json.loads(data)
    assert [r["row"] for r in rows] == list(range(len(mixed)))
    assert [r["id"] for r in rows] == ([None] * len(mixed) if form == "pairs" else [p[0] for p in mixed])
    for record, (name, lon, lat) in zip(rows, mixed, strict=True):
        assert _comparable(record) == _single(demo_client, lon, lat), name
    statuses = [r["status"] for r in rows]
    assert statuses == [
        "ok",
        "ok",
        "ok",
        "ok",
        "outside",
        "far_outside",
        "not_a_number",
        "swapped",
        "out_of_range",
        "outside",
    ]


def _parse(mimetype: str, data: bytes) -> list[dict]:
    if mimetype == "application/json":
        return json.loads(data)
    if mimetype == "application/x-ndjson":
        return [json.loads(line) for line in data.decode().splitlines()]
    if mimetype == "text/csv":
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        out = []
        for r in rows:
            r = {k: (v or None) for k, v in r.items()}
            r["row"] = int(r["row"])
            r["near_boundary"] = r["near_boundary"] == "True"
            for k in ("lon", "lat", "wgs84_lon", "wgs84_lat", "runner_up_m", "nearest_m"):
                r[k] = float(r[k]) if r[k] is not None else None
            out.append(r)
        return out
    assert mimetype == batch_io.ARROW
    frame = pyarrow.ipc.open_stream(data).read_all().to_pylist()
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in frame]


@pytest.mark.parametrize(
    ("how", "mimetype"),
    [
        ({"query_string": {"format": "ndjson"}}, "application/x-ndjson"),
        ({"query_string": {"format": "csv"}}, "text/csv"),
        ({"query_string": {"format": "arrow"}}, batch_io.ARROW),
        ({"headers": {"Accept": "application/x-ndjson"}}, "application/x-ndjson"),
        ({"headers": {"Accept": "text/csv"}}, "text/csv"),
        ({"headers": {"Accept": batch_io.ARROW}}, batch_io.ARROW),
        ({"headers": {"Accept": "application/json"}}, "application/json"),
        ({"query_string": {"format": "json"}, "headers": {"Accept": "text/csv"}}, "application/json"),
    ],
)
def test_batch_output_formats_carry_the_same_answers(demo_client, mixed, how, mimetype):
    content_type, body = _bodies(mixed)["csv"]
    _, reference = _post(demo_client, body, content_type, query_string={"format": "json"})
    expected = json.loads(reference)
    response, data = _post(demo_client, body, content_type, **how)
    assert response.status_code == 200 and response.mimetype == mimetype
    got = _parse(mimetype, data)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert {k: g[k] for k in e} == e


def test_batch_output_defaults_to_the_input_family(demo_client, mixed):
    for form, mimetype in (
        ("csv", "text/csv"),
        ("arrow", batch_io.ARROW),
        ("parquet", batch_io.ARROW),
        ("geojson", "application/json"),
        ("pairs", "application/json"),
    ):
        content_type, body = _bodies(mixed)[form]
        response, _ = _post(demo_client, body, content_type)
        assert response.mimetype == mimetype, form


def test_batch_answer_is_streamed(demo_client, mixed):
    content_type, body = _bodies(mixed)["csv"]
    response = demo_client.post(API + "/points", data=body, content_type=content_type)
    try:
        assert response.is_streamed
        assert not isinstance(response.response, list | tuple)
    finally:
        response.get_data()


def test_batch_in_another_coordinate_system(demo_client, places):
    lon, lat = (float(v) for v in from_wgs84(*places.inside, "gcj02"))
    _, data = _post(
        demo_client, json.dumps([[lon, lat]]).encode(), "application/json", query_string={"coordsys": "gcj02"}
    )
    [row] = json.loads(data)
    assert row["grid_code"] == places.inside_code
    assert abs(row["wgs84_lon"] - places.inside[0]) < 1e-7 and abs(row["wgs84_lat"] - places.inside[1]) < 1e-7


def test_batch_with_grid_only_fields_still_finds_the_grids(demo_client, mixed):
    content_type, body = _bodies(mixed)["csv"]
    _, full = _post(demo_client, body, content_type, query_string={"format": "json"})
    _, lean = _post(demo_client, body, content_type, query_string={"format": "json", "fields": "grid"})
    assert [r["grid_code"] for r in json.loads(lean)] == [r["grid_code"] for r in json.loads(full)]


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code", "message"),
    [
        (
            "text/plain",
            b"113.1,23.1",
            415,
            "unsupported_media_type",
            "unsupported Content-Type 'text/plain'; send application/json, application/geo+json, text/csv, "
            "application/vnd.apache.arrow.stream or application/vnd.apache.parquet",
        ),
        ("application/json", b"[[113.1, 23.1", 400, "bad_json", None),
        (
            "application/json",
            b'{"points": 3}',
            400,
            "bad_json",
            "expected a JSON array of [lon, lat] pairs or of {id, lon, lat} objects, or a GeoJSON "
            "FeatureCollection of points",
        ),
        (
            "application/geo+json",
            b'{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": '
            b'{"type": "Polygon", "coordinates": []}}]}',
            400,
            "bad_geojson",
            "feature 0: expected a Point geometry, got 'Polygon'",
        ),
        (
            "text/csv",
            b"name,city\na,b\n",
            400,
            "missing_columns",
            "CSV rows need lon and lat columns (accepted names: lon, lng, long, longitude, x, 经度 / lat, "
            "latitude, y, 纬度); found name, city",
        ),
        ("text/csv", b'lon,lat\n113.1,23.1\n"113.2,23.2\n', 400, "bad_csv", None),
        (batch_io.ARROW, b"not an arrow stream", 400, "bad_arrow", None),
        (batch_io.PARQUET[0], b"not parquet", 400, "bad_parquet", None),
    ],
)
def test_bad_batch_bodies_are_refused_before_any_answer(
    demo_client, content_type, body, status, code, message
):
    response, data = _post(demo_client, body, content_type)
    assert response.status_code == status
    error = json.loads(data)["error"]
    assert error["code"] == code
    if message is not None:
        assert error["message"] == message
    else:
        assert error["message"]


def test_batch_with_an_unknown_output_format_or_coordsys_is_refused(demo_client):
    response, data = _post(
        demo_client, b"[[113.1, 23.1]]", "application/json", query_string={"format": "xlsx"}
    )
    assert (response.status_code, error_of(json.loads(data))) == (
        400,
        _error("bad_parameter", "format='xlsx'; expected one of json, ndjson, csv, arrow"),
    )
    response, data = _post(
        demo_client, b"[[113.1, 23.1]]", "application/json", query_string={"coordsys": "mars"}
    )
    assert (response.status_code, error_of(json.loads(data))) == (
        400,
        _error(
            "unknown_coordsys",
            "unknown coordinate system 'mars'; expected one of wgs84, cgcs2000, gcj02, bd09",
        ),
    )


def test_empty_batch_is_an_empty_answer(demo_client):
    response, data = _post(demo_client, b"[]", "application/json")
    assert (response.status_code, json.loads(data)) == (200, [])


def test_arrow_batch_opening_with_an_empty_record_batch(demo_client, places):
    schema = pa.schema([("lon", pa.float64()), ("lat", pa.float64())])
    sink = io.BytesIO()
    with pyarrow.ipc.new_stream(sink, schema) as writer:
        writer.write_batch(
            pa.record_batch([pa.array([], pa.float64()), pa.array([], pa.float64())], schema=schema)
        )
        writer.write_batch(
            pa.record_batch([pa.array([places.inside[0]]), pa.array([places.inside[1]])], schema=schema)
        )
    for fmt in ("json", "arrow", "csv", "ndjson"):
        response, data = _post(demo_client, sink.getvalue(), batch_io.ARROW, query_string={"format": fmt})
        rows = _parse(response.mimetype, data)
        assert [r["grid_code"] for r in rows] == [places.inside_code], fmt


@pytest.mark.slow
def test_a_300k_point_csv_batch_streams_in_bounded_chunks(demo_client, demo_grids, monkeypatch):
    n = 300_000
    rng = np.random.default_rng(2024)
    xmin, ymin, xmax, ymax = demo_grids.total_bounds
    lon = rng.uniform(xmin, xmax, n).round(6)
    lat = rng.uniform(ymin, ymax, n).round(6)
    frame = pd.DataFrame({"id": [f"p{i}" for i in range(n)], "lon": lon, "lat": lat})
    body = frame.to_csv(index=False).encode()

    sizes = []
    rows = batch_io.CsvWriter.rows

    def spy(self, chunk, *args, **kwargs):
        sizes.append(len(chunk.lon))
        return rows(self, chunk, *args, **kwargs)

    monkeypatch.setattr(batch_io.CsvWriter, "rows", spy)
    response, data = _post(demo_client, body, "text/csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert sizes == [batch_io.CHUNK, batch_io.CHUNK, batch_io.CHUNK]  # never the whole batch at once
    answers = pd.read_csv(io.BytesIO(data), dtype={"id": str, "grid_code": str})
    assert len(answers) == n
    assert (answers["row"].to_numpy() == np.arange(n)).all()
    assert (answers["id"] == frame["id"]).all()
    sample = rng.choice(n, 20, replace=False)
    for k in sample:
        expected = demo_grids.contains(shapely.Point(lon[k], lat[k]))
        code = demo_grids.loc[expected, "code"]
        if len(code) == 1:
            assert answers.loc[k, "grid_code"] == code.iloc[0]
