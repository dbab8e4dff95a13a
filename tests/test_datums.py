"""GCJ-02 / BD-09 against published pairs, round trips, and a real district outline.

A datum slip of ~600 m puts a complaint in the wrong grid, so every check here is
tight enough to catch a wrong constant, a missing iteration or a swapped axis.
"""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from pyproj import Geod

from geo.datums import bd09_to_gcj02
from geo.datums import bd09_to_wgs84
from geo.datums import gcj02_to_bd09
from geo.datums import gcj02_to_wgs84
from geo.datums import outside_china
from geo.datums import wgs84_to_bd09
from geo.datums import wgs84_to_gcj02
from tests.shared_data import shared_file

GEOD = Geod(ellps="WGS84")
ALL = [wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09, bd09_to_wgs84]
ROUND_TRIPS = [(wgs84_to_gcj02, gcj02_to_wgs84), (wgs84_to_bd09, bd09_to_wgs84)]
CONTRACT_M = 0.5  # the promise to callers
TIGHT_M = 0.001  # what the iteration reaches (~2e-6 m measured), with a wide margin


def metres(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


# --- 1. Published reference pairs -------------------------------------------------
# (input lon, lat, published output lon, lat, tolerance in degrees). Values computed
# by other implementations in double precision are held to 1e-9; outputs of the
# providers' servers or docs to the precision they were published with.
WGS84_TO_GCJ02 = [
    # googollee/eviltransform python/test.py (TESTS; same values in go/transform_test.go)
    pytest.param(121.5272106, 31.1774276, 121.531541859215, 31.17530398364597, 1e-9, id="shanghai"),
    pytest.param(113.912316, 22.543847, 113.9171764808363, 22.540796131694766, 1e-9, id="shenzhen"),
    pytest.param(116.377817, 39.911954, 116.38404722455657, 39.91334545536069, 1e-9, id="beijing"),
    # wandergis/coordtransform README.md, "wgs84togcj02" result (Tiananmen area)
    pytest.param(116.404, 39.915, 116.41024449916938, 39.91640428150164, 1e-9, id="tiananmen"),
    # Amap web-service coordinate convert (coordsys=gps), example response in the Amap docs
    # (lbs.amap.com/api/webservice/guide/api/convert, mirrored at
    # apifox.com/apidoc/docs-site/759159/api-14671355); also asserted in TsingJyujing/GeoScala
    # src/test/scala/com/github/tsingjyujing/geo/GeoAutoTest.scala ("GCJ02 ensure").
    # Amap's server differs from the public formula by up to 4e-7 degree (~4 cm).
    pytest.param(116.481499, 39.990475, 116.487585177952, 39.991754014757, 1e-6, id="amap-doc-1"),
    pytest.param(116.481499, 39.990375, 116.487585177952, 39.991653917101, 1e-6, id="amap-doc-2"),
]

GCJ02_TO_BD09 = [
    # wandergis/coordtransform README.md, "gcj02tobd09" result
    pytest.param(116.404, 39.915, 116.41036949371029, 39.92133699351021, 1e-9, id="tiananmen"),
    # Aliyun address purification "TransferCoord" doc example, 6 decimals (help.aliyun.com
    # /zh/address-purification/addrpapi/developer-reference/coordinate-system-conversion)
    pytest.param(120.026268, 30.279164, 120.032768, 30.285238, 1e-6, id="aliyun-hangzhou"),
    # hujiulong/gcoord test/fixtures/china-cities.json (GCJ02 -> BD09 columns, 7 decimals
    # on both sides); three Guangdong cities. Its WGS84 column is ~0.6 m off the formula
    # (probably from a provider's server), so only its GCJ02/BD09 pairs are used.
    pytest.param(116.6819735, 23.3540964, 116.6885014, 23.3598884, 2e-7, id="gcoord-shantou"),
    pytest.param(114.7009627, 23.7436914, 114.7074093, 23.7498752, 2e-7, id="gcoord-heyuan"),
    pytest.param(116.1222426, 24.2886182, 116.1287823, 24.2944828, 2e-7, id="gcoord-meizhou"),
]


@pytest.mark.parametrize(("lon", "lat", "out_lon", "out_lat", "tol"), WGS84_TO_GCJ02)
def test_wgs84_to_gcj02_matches_published(lon, lat, out_lon, out_lat, tol):
    got_lon, got_lat = wgs84_to_gcj02(lon, lat)
    assert abs(got_lon - out_lon) < tol
    assert abs(got_lat - out_lat) < tol
    back_lon, back_lat = gcj02_to_wgs84(out_lon, out_lat)
    assert metres(back_lon, back_lat, lon, lat) < CONTRACT_M


@pytest.mark.parametrize(("lon", "lat", "out_lon", "out_lat", "tol"), GCJ02_TO_BD09)
def test_gcj02_to_bd09_matches_published(lon, lat, out_lon, out_lat, tol):
    got_lon, got_lat = gcj02_to_bd09(lon, lat)
    assert abs(got_lon - out_lon) < tol
    assert abs(got_lat - out_lat) < tol
    back_lon, back_lat = bd09_to_gcj02(out_lon, out_lat)
    assert metres(back_lon, back_lat, lon, lat) < CONTRACT_M


def test_offset_near_foshan_is_about_one_grid_width():
    # The reason this module exists: at Dali town the GCJ-02 shift is ~600 m.
    lon, lat = 113.15, 23.12
    assert 500 < metres(*wgs84_to_gcj02(lon, lat), lon, lat) < 700


# --- 2. Properties ------------------------------------------------------------------
IN_CHINA = st.tuples(st.floats(73.5, 135.0), st.floats(18.0, 53.5))
FOSHAN = st.tuples(st.floats(112.8, 113.5), st.floats(22.8, 23.4))
POINTS = st.one_of(FOSHAN, IN_CHINA)
ANYWHERE = st.tuples(st.floats(-180.0, 180.0), st.floats(-90.0, 90.0))


@pytest.mark.parametrize(("forward", "inverse"), ROUND_TRIPS)
@given(point=POINTS)
def test_round_trip_stays_within_a_millimetre(forward, inverse, point):
    lon, lat = point
    dist = metres(*inverse(*forward(lon, lat)), lon, lat)
    assert dist < CONTRACT_M
    assert dist < TIGHT_M


@given(point=POINTS)
def test_bd09_to_gcj02_inverts_exactly(point):
    lon, lat = point
    assert metres(*bd09_to_gcj02(*gcj02_to_bd09(lon, lat)), lon, lat) < TIGHT_M


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
@given(points=st.lists(st.one_of(POINTS, ANYWHERE), min_size=1, max_size=30))
def test_vectorised_and_scalar_calls_agree_exactly(fn, points):
    lons = np.array([p[0] for p in points])
    lats = np.array([p[1] for p in points])
    vx, vy = fn(lons, lats)
    scalar = [fn(lon, lat) for lon, lat in points]
    assert all(isinstance(v, float) for pair in scalar for v in pair)
    np.testing.assert_array_equal(vx, [s[0] for s in scalar])
    np.testing.assert_array_equal(vy, [s[1] for s in scalar])


@pytest.mark.parametrize(
    ("region", "lon_range", "lat_range"),
    [("china", (73.5, 135.0), (18.0, 53.5)), ("foshan", (112.8, 113.5), (22.8, 23.4))],
)
def test_max_round_trip_error_on_a_dense_sample(region, lon_range, lat_range):
    rng = np.random.default_rng(20240611)
    lon = rng.uniform(*lon_range, 200_000)
    lat = rng.uniform(*lat_range, 200_000)
    for forward, inverse in ROUND_TRIPS:
        err = metres(*inverse(*forward(lon, lat)), lon, lat).max()
        print(f"{region} {forward.__name__}/{inverse.__name__}: max round trip {err:.2e} m")
        assert err < TIGHT_M


# --- 3. Real-world check: OSM outline of Nanhai vs the DataV/Amap GCJ-02 outline -----
def _converted(geom, fn):
    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = fn(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, apply)


def _iou(a, b) -> float:
    a, b = gpd.GeoSeries([a, b], crs="EPSG:4326").to_crs("EPSG:32649")
    return a.intersection(b).area / a.union(b).area


@pytest.fixture(scope="module")
def nanhai():
    osm = gpd.read_file(shared_file("data/nanhai_district_boundary.geojson"))
    gcj = gpd.read_file(shared_file("qa/nanhai_district_boundary_gcj02.geojson"))
    return osm.geometry.union_all(), gcj.geometry.union_all()


def test_nanhai_outline_lines_up_after_conversion(nanhai):
    osm_wgs84, amap_gcj02 = nanhai
    raw = _iou(osm_wgs84, amap_gcj02)
    forward = _iou(_converted(osm_wgs84, wgs84_to_gcj02), amap_gcj02)
    inverse = _iou(osm_wgs84, _converted(amap_gcj02, gcj02_to_wgs84))
    wrong_way = _iou(_converted(osm_wgs84, gcj02_to_wgs84), amap_gcj02)
    print(f"Nanhai IoU raw {raw:.4f}, WGS84->GCJ-02 {forward:.4f}, GCJ-02->WGS84 {inverse:.4f}")
    assert forward > 0.98
    assert forward - raw > 0.05
    assert inverse > 0.98
    assert wrong_way < raw  # a sign error would look like this


# --- 4. Edge cases -------------------------------------------------------------------
@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_nan_and_inf_come_out_as_nan_without_warnings(fn):
    # pytest turns warnings into errors, so a stray RuntimeWarning fails here.
    assert np.isnan(fn(np.nan, 23.0)).all()
    assert np.isnan(fn(113.0, np.nan)).all()
    assert np.isnan(fn(np.inf, 23.0)).all()
    x, y = fn([113.0, np.nan, 113.2, 0.0], [23.0, 23.1, np.nan, 90.0])
    assert np.isnan(x[1:3]).all()
    assert np.isnan(y[1:3]).all()
    assert np.isfinite(x[[0, 3]]).all()
    assert np.isfinite(y[[0, 3]]).all()


@pytest.mark.parametrize(
    ("lon", "lat"), [(-0.1276, 51.5072), (139.6917, 35.6895), (100.5, 0.5), (105.0, 56.0)]
)
def test_gcj02_is_the_identity_outside_china(lon, lat):
    assert outside_china(lon, lat) is True
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)
    # BD-09's own shift has no such exception; only its GCJ-02 step is skipped.
    assert wgs84_to_bd09(lon, lat) == gcj02_to_bd09(lon, lat)
    assert metres(*bd09_to_wgs84(*wgs84_to_bd09(lon, lat)), lon, lat) < TIGHT_M


def test_outside_china_shapes_and_types():
    assert outside_china(113.1, 23.0) is False
    mask = outside_china([113.1, 0.0, np.nan], [23.0, 0.0, 23.0])
    assert isinstance(mask, np.ndarray)
    assert mask.tolist() == [False, True, True]


@pytest.mark.parametrize("lon", [72.004, 72.01, 137.83, 137.8347])
@pytest.mark.parametrize("lat", [0.8293, 0.84, 30.0, 55.82, 55.8271])
def test_inverse_terminates_at_the_rectangle_edge(lon, lat):
    # The forward map jumps at the edge, so the inverse is not unique there; it
    # must still stop and give a finite answer.
    x, y = gcj02_to_wgs84(lon, lat)
    assert np.isfinite([x, y]).all()


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_shapes_and_return_types(fn):
    x, y = fn(np.empty(0), np.empty(0))
    assert x.shape == y.shape == (0,)
    assert x.dtype == y.dtype == np.float64
    x, y = fn([[113.0, 113.1], [113.2, 113.3]], [[23.0, 23.1], [23.2, 23.3]])
    assert x.shape == y.shape == (2, 2)
    x, y = fn(np.float64(113), 23)
    assert type(x) is float
    assert type(y) is float


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_mismatched_or_non_numeric_input_is_refused(fn):
    with pytest.raises(ValueError, match="same shape"):
        fn(113.0, [23.0, 23.1])
    with pytest.raises(ValueError, match="same shape"):
        fn([113.0, 113.1, 113.2], [23.0, 23.1])
    with pytest.raises(TypeError, match="numeric"):
        fn("113.0E", "23.0N")


# --- 5. Speed sanity (printed, not asserted: timing on shared CI is noise) ---------
def test_one_million_points_through_gcj02_to_wgs84():
    rng = np.random.default_rng(7)
    lon = rng.uniform(73.5, 135.0, 1_000_000)
    lat = rng.uniform(18.0, 53.5, 1_000_000)
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    start = time.perf_counter()
    back_lon, back_lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    elapsed = time.perf_counter() - start
    print(f"gcj02_to_wgs84: 1,000,000 points in {elapsed:.3f} s")
    assert metres(back_lon, back_lat, lon, lat).max() < TIGHT_M
