"""Point-in-grid: the boundary rule, near-boundary flags, bad coordinates, batch = single."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from geo.lookup import EDGE_TOLERANCE_DEG
from geo.lookup import GridIndex
from geo.lookup import Status
from geo.lut import LookupTable
from tests.conftest import metric_box_grid


def _index(grids, lut: bool = False) -> GridIndex:
    index = GridIndex(grids["code"], grids.geometry.values)
    if lut:
        index.attach_lut(LookupTable.build(index))
    return index


@pytest.fixture(scope="module")
def grids():
    return metric_box_grid()


@pytest.fixture(scope="module", params=[False, True], ids=["exact", "lut"])
def index(request, grids):
    return _index(grids, lut=request.param)


def _lonlat(index: GridIndex, dx: float, dy: float, origin_code: str) -> tuple[float, float]:
    """A point dx, dy metres from the south-west corner of a grid."""
    i = index.position[origin_code]
    minx, miny = shapely.bounds(index.metric[i])[:2]
    lon, lat = index.frame.inverse(minx + dx, miny + dy)
    return float(lon), float(lat)


def test_interior_point_is_in_its_grid_and_not_near_a_boundary(index):
    lon, lat = _lonlat(index, 250, 250, "440605125001001")
    match = index.locate(lon, lat)
    assert match.status == Status.OK
    assert index.codes[match.grid] == "440605125001001"
    assert not match.near_boundary and match.also_touches == ()


def test_point_near_a_shared_edge_is_flagged_with_the_runner_up_and_distance(index):
    # 12 m west of the edge between 001001 (west) and 001002 (east)
    lon, lat = _lonlat(index, 488, 250, "440605125001001")
    match = index.locate(lon, lat)
    assert index.codes[match.grid] == "440605125001001"
    assert match.near_boundary
    assert index.codes[match.runner_up] == "440605125001002"
    assert match.runner_up_m == pytest.approx(12.0, abs=0.05)


def test_point_40m_from_the_edge_is_not_near(index):
    lon, lat = _lonlat(index, 460, 250, "440605125001001")
    assert not index.locate(lon, lat).near_boundary


def test_point_on_a_shared_edge_belongs_to_the_lowest_code_and_lists_the_other(index):
    # the middle of the edge shared by 001001 and 001002
    a = index.geoms[index.position["440605125001001"]]
    b = index.geoms[index.position["440605125001002"]]
    middle = shapely.line_interpolate_point(shapely.intersection(a, b), 0.5, normalized=True)
    lon, lat = shapely.get_x(middle), shapely.get_y(middle)
    match = index.locate(lon, lat)
    assert index.codes[match.grid] == "440605125001001"
    assert [index.codes[g] for g in match.also_touches] == ["440605125001002"]


def test_shared_corner_of_four_grids_goes_to_lowest_code_with_three_touching():
    grids = metric_box_grid(nx=2, ny=2)
    index = _index(grids)
    corner = shapely.get_coordinates(shapely.intersection(index.geoms[0], index.geoms[len(index) - 1]))[0]
    match = index.locate(*corner)
    assert match.grid == 0
    assert len(match.also_touches) == 3


def test_point_in_no_grid_reports_the_nearest_and_its_distance(index):
    # 100 m south of the southern edge of the south-west grid
    lon, lat = _lonlat(index, 250, -100, "440605125001003")
    match = index.locate(lon, lat)
    assert match.status == Status.OUTSIDE and match.grid == -1
    assert index.codes[match.nearest] == "440605125001003"
    assert match.nearest_m == pytest.approx(100.0, abs=0.1)


@pytest.mark.parametrize(
    ("lon", "lat", "status"),
    [
        (math.nan, 23.1, Status.NOT_A_NUMBER),
        (113.1, math.nan, Status.NOT_A_NUMBER),
        (200.0, 23.1, Status.OUT_OF_RANGE),
        (113.1, -95.0, Status.OUT_OF_RANGE),
        (116.4, 39.9, Status.FAR_OUTSIDE),  # Beijing
    ],
)
def test_bad_coordinates_are_named(index, lon, lat, status):
    assert index.locate(lon, lat).status == status
    assert index.locate_many([lon], [lat]).status[0] == status


def test_swapped_lon_lat_is_detected(index):
    lon, lat = _lonlat(index, 250, 250, "440605125001001")
    assert index.locate(lat, lon).status == Status.SWAPPED
    assert index.locate_many([lat], [lon]).status[0] == Status.SWAPPED


def test_batch_matches_single_on_edges_corners_and_random_points(grids):
    exact, fast = _index(grids), _index(grids, lut=True)
    rng = np.random.default_rng(7)
    xmin, ymin, xmax, ymax = exact.bounds
    lon = rng.uniform(xmin - 0.002, xmax + 0.002, 3000)
    lat = rng.uniform(ymin - 0.002, ymax + 0.002, 3000)
    # plus points exactly on boundaries and vertices
    edges = shapely.get_coordinates(shapely.segmentize(shapely.boundary(exact.geoms), 0.0003))
    lon = np.r_[lon, edges[:, 0]]
    lat = np.r_[lat, edges[:, 1]]
    for index in (exact, fast):
        batch = index.locate_many(lon, lat)
        for i in range(len(lon)):
            single = index.locate(lon[i], lat[i])
            got = batch.point(i)
            assert (got.status, got.grid, got.also_touches, got.runner_up, got.nearest) == (
                single.status,
                single.grid,
                single.also_touches,
                single.runner_up,
                single.nearest,
            ), i
            assert np.allclose(
                [got.runner_up_m, got.nearest_m], [single.runner_up_m, single.nearest_m], equal_nan=True
            )
    a, b = exact.locate_many(lon, lat), fast.locate_many(lon, lat)
    assert (a.grid == b.grid).all() and (a.runner_up == b.runner_up).all()
    assert (exact.locate_many(lon, lat, annotate=False).grid == a.grid).all()
    assert (fast.locate_many(lon, lat, annotate=False).grid == a.grid).all()


def test_unannotated_batch_marks_outside_points(index):
    lon, lat = _lonlat(index, 250, -100, "440605125001003")
    batch = index.locate_many([lon], [lat], annotate=False)
    assert batch.status[0] == Status.OUTSIDE and batch.grid[0] == -1


@st.composite
def _points_in(draw, bounds):
    xmin, ymin, xmax, ymax = bounds
    return (draw(st.floats(xmin, xmax, allow_nan=False)), draw(st.floats(ymin, ymax, allow_nan=False)))


_TILED = metric_box_grid(nx=4, ny=3, size_m=300)
_TILED_INDEX = _index(_TILED, lut=True)
_OUTLINE = shapely.union_all(_TILED_INDEX.geoms)
shapely.prepare(_OUTLINE)


@settings(max_examples=300, deadline=None)
@given(st.lists(_points_in(_TILED_INDEX.bounds), min_size=1, max_size=40))
def test_property_every_point_inside_a_tiled_outline_gets_exactly_one_grid(points):
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    batch = _TILED_INDEX.locate_many(lon, lat)
    inside = shapely.covers(_OUTLINE, shapely.points(lon, lat))
    assert (batch.grid[inside] >= 0).all()
    assert (batch.status[inside] == Status.OK).all()
    for i in np.flatnonzero(inside):
        containing = shapely.contains_xy(_TILED_INDEX.geoms, lon[i], lat[i])
        if containing.sum() == 1:  # strictly inside exactly one: rule 1
            assert batch.grid[i] == int(np.flatnonzero(containing)[0])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(_points_in(_TILED_INDEX.bounds), min_size=1, max_size=30), st.floats(0, 1), st.integers(0, 11)
)
def test_property_batch_and_single_agree(points, t, g):
    # mix free points with one on a grid boundary
    on_edge = shapely.line_interpolate_point(shapely.boundary(_TILED_INDEX.geoms[g]), t, normalized=True)
    points = [*points, (shapely.get_x(on_edge), shapely.get_y(on_edge))]
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    batch = _TILED_INDEX.locate_many(lon, lat)
    for i in range(len(points)):
        single = _TILED_INDEX.locate(lon[i], lat[i])
        assert batch.grid[i] == single.grid
        assert batch.status[i] == single.status
        assert batch.also_touches.get(i, ()) == single.also_touches
        assert batch.runner_up[i] == single.runner_up


def test_edge_tolerance_is_about_a_micrometre():
    assert EDGE_TOLERANCE_DEG * 111_320 == pytest.approx(1.11e-6, rel=0.01)


def test_lookup_table_is_exact_where_it_answers(grids):
    index = _index(grids)
    lut = LookupTable.build(index)
    rng = np.random.default_rng(3)
    xmin, ymin, xmax, ymax = index.bounds
    lon, lat = rng.uniform(xmin, xmax, 20000), rng.uniform(ymin, ymax, 20000)
    grid, deep, pure, _ = lut.probe_many(lon, lat)
    truth = index.locate_many(lon, lat)
    assert (grid[pure] == truth.grid[pure]).all()
    assert pure.mean() > 0.85  # most points never touch a polygon
    # deep cells are farther than near_m from every other grid
    assert (truth.runner_up[deep] == -1).all()


def test_lookup_table_round_trips_through_disk(grids, tmp_path):
    index = _index(grids)
    lut = LookupTable.build(index)
    lut.save(tmp_path / "lut.npz")
    back = LookupTable.load(tmp_path / "lut.npz")
    assert (back.table == lut.table).all() and (back.deep == lut.deep).all()
    assert (back.cand_grid == lut.cand_grid).all()
    assert LookupTable.load(tmp_path / "missing.npz") is None


def test_full_batch_with_the_table_keeps_every_answer_of_the_plain_batch(grids):
    """The annotated batch with a lookup table (deep cells, far-outside cells, nearest grids found
    by cell) answers exactly as without one, on points in, near and far around the grids."""
    plain, fast = _index(grids), _index(grids, lut=True)
    rng = np.random.default_rng(17)
    xmin, ymin, xmax, ymax = plain.bounds
    dx, dy = (xmax - xmin) * 0.4, (ymax - ymin) * 0.4
    n = 60_000
    lon, lat = rng.uniform(xmin - dx, xmax + dx, n), rng.uniform(ymin - dy, ymax + dy, n)
    a, b = plain.locate_many(lon, lat, annotate=True), fast.locate_many(lon, lat, annotate=True)
    assert (b.status == Status.OUTSIDE).sum() > 10_000 and (b.runner_up >= 0).sum() > 1_000
    for name in ("status", "grid", "runner_up", "nearest"):
        assert (getattr(a, name) == getattr(b, name)).all(), name
    for name in ("runner_up_m", "nearest_m"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name
    assert a.also_touches == b.also_touches
    outside = np.flatnonzero(b.status == Status.OUTSIDE)
    pts = shapely.points(*plain.frame.forward(lon[outside], lat[outside]))
    (_, nearest), dist = plain.tree_m.query_nearest(pts, return_distance=True, all_matches=False)
    assert (b.nearest[outside] == nearest).all() and (b.nearest_m[outside] == dist).all()
