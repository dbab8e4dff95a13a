"""Numpy point-to-edge distances (geo.edges) and the annotated batch built on them: the same
answers as shapely's exact distances, grid for grid, except where grids tie exactly (then the
lowest code, a rule of its own)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from geo.crs import MetricFrame
from geo.edges import segment_distance
from geo.lookup import GridIndex
from geo.lookup import Status
from geo.lut import LookupTable
from tests.apps import DEMO_GRIDS
from tests.conftest import metric_box_grid


def _index(frame, lut: bool) -> GridIndex:
    index = GridIndex(frame["code"], frame.geometry.values)
    if lut:
        index.attach_lut(LookupTable.build(index))
    return index


_DEMO = gpd.read_file(DEMO_GRIDS)
_DEMO_LUT = _index(_DEMO, lut=True)
_DEMO_PLAIN = _index(_DEMO, lut=False)
_BOXES = _index(metric_box_grid(nx=4, ny=3, size_m=300), lut=True)


def _reference(index: GridIndex, lon: np.ndarray, lat: np.ndarray):
    """Runner-ups and nearest grids from shapely's distance to every grid (the definition)."""
    pts = shapely.points(*index.frame.forward(lon, lat))
    dist = shapely.distance(index.metric[None, :], pts[:, None])
    return dist


def _check_against_reference(index: GridIndex, lon: np.ndarray, lat: np.ndarray) -> int:
    """Every annotation equals the one from shapely's distances; returns the exact ties seen."""
    batch = index.locate_many(lon, lat, annotate=True)
    dist = _reference(index, lon, lat)
    ties = 0
    for i in range(len(lon)):
        d = dist[i]
        if batch.status[i] == Status.OUTSIDE:
            least = d.min()
            assert batch.nearest_m[i] == least, i
            tied = np.flatnonzero(d == least)
            ties += len(tied) > 1
            assert batch.nearest[i] == tied.min(), i  # ties: the lowest code
        elif batch.status[i] == Status.OK:
            others = d.copy()
            others[batch.grid[i]] = np.inf
            least = others.min()
            if least <= index.near_m:
                tied = np.flatnonzero(others == least)
                ties += len(tied) > 1
                assert (batch.runner_up[i], batch.runner_up_m[i]) == (tied.min(), least), i
            else:
                assert batch.runner_up[i] == -1, i
    return ties


def test_segment_distances_are_shapelys_bit_for_bit():
    rng = np.random.default_rng(5)
    a = rng.uniform(0, 1000, (5000, 2))
    b = a + rng.normal(0, 300, (5000, 2))
    p = rng.uniform(-500, 1500, (5000, 2))
    ours = segment_distance(p[:, 0], p[:, 1], a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    lines = shapely.linestrings(np.stack([a, b], axis=1))
    assert np.array_equal(ours, shapely.distance(lines, shapely.points(p)))


@pytest.mark.parametrize("index", [_DEMO_LUT, _DEMO_PLAIN], ids=["lut", "plain"])
def test_annotated_batch_equals_shapely_distances_on_the_demo_grids(index):
    rng = np.random.default_rng(23)
    x0, y0, x1, y1 = index.bounds
    dx, dy = (x1 - x0) * 0.3, (y1 - y0) * 0.3
    lon, lat = rng.uniform(x0 - dx, x1 + dx, 1500), rng.uniform(y0 - dy, y1 + dy, 1500)
    # and points within a few metres of boundaries, where runner-ups and touching grids are
    edge = shapely.get_coordinates(shapely.segmentize(shapely.boundary(index.geoms[:60]), 0.0004))
    jitter = rng.normal(0, 0.00008, edge.shape)
    lon, lat = np.r_[lon, edge[:, 0] + jitter[:, 0]], np.r_[lat, edge[:, 1] + jitter[:, 1]]
    _check_against_reference(index, lon, lat)


@pytest.mark.parametrize("index", [_DEMO_LUT, _DEMO_PLAIN], ids=["lut", "plain"])
def test_a_single_lookup_outside_finds_the_nearest_grid_as_shapely_does(index):
    """The single path's nearest grid (far cells in plain Python floats) is shapely's, to the bit."""
    rng = np.random.default_rng(31)
    x0, y0, x1, y1 = index.bounds
    lon, lat = rng.uniform(x0 - 0.03, x1 + 0.03, 3000), rng.uniform(y0 - 0.03, y1 + 0.03, 3000)
    batch = index.locate_many(lon, lat)
    outside = np.flatnonzero(batch.status == Status.OUTSIDE)
    assert len(outside) > 500
    dist = _reference(index, lon[outside], lat[outside])
    for k, i in enumerate(outside):
        single = index.locate(float(lon[i]), float(lat[i]))
        least = dist[k].min()
        assert single.status == Status.OUTSIDE, i
        assert single.nearest_m == least, (i, single.nearest_m, least)
        assert single.nearest == np.flatnonzero(dist[k] == least).min() == batch.nearest[i], i


def test_ties_go_to_the_lowest_code_in_batch_and_single():
    """Two grids meet at a corner of the outline; beyond it both are exactly as far (the same
    vertex): the lowest code wins, in the batch and in a single lookup alike."""
    frame = MetricFrame.for_lonlat(113.15, 23.11)
    x0, y0 = frame.forward_one(113.15, 23.11)
    square = shapely.Polygon([(0, 0), (100, 0), (100, 100), (0, 100)])
    triangle = shapely.Polygon([(100, 0), (200, 0), (100, 100)])
    metric = shapely.transform(np.array([triangle, square]), lambda xy: xy + np.array([x0, y0]))
    grids = frame.unproject(metric)
    index = GridIndex(["440605125001002", "440605125001001"], grids)  # the square has the lower code
    lon, lat = frame.inverse(np.array([x0 + 120.0, x0 + 110.0]), np.array([y0 + 200.0, y0 + 300.0]))
    dist = _reference(index, lon, lat)
    assert (dist[:, 0] == dist[:, 1]).all()  # exact ties
    batch = index.locate_many(lon, lat)
    assert (batch.status == Status.OUTSIDE).all()
    assert list(batch.nearest) == [0, 0] and list(index.codes[batch.nearest]) == ["440605125001001"] * 2
    for i in range(2):
        single = index.locate(float(lon[i]), float(lat[i]))
        assert (single.nearest, single.nearest_m) == (0, dist[i, 0]) == (batch.nearest[i], batch.nearest_m[i])


@st.composite
def _points_near(draw, index: GridIndex):
    x0, y0, x1, y1 = index.bounds
    dx, dy = (x1 - x0) * 0.5, (y1 - y0) * 0.5
    return draw(st.floats(x0 - dx, x1 + dx)), draw(st.floats(y0 - dy, y1 + dy))


@settings(max_examples=150, deadline=None)
@given(st.lists(_points_near(_DEMO_LUT), min_size=1, max_size=25))
def test_property_annotations_equal_shapely_distances(points):
    _check_against_reference(_DEMO_LUT, *np.array(points).T)


@settings(max_examples=150, deadline=None)
@given(st.lists(_points_near(_BOXES), min_size=1, max_size=25))
def test_property_on_boxes_batch_single_and_shapely_agree(points):
    lon, lat = np.array(points).T
    _check_against_reference(_BOXES, lon, lat)
    batch = _BOXES.locate_many(lon, lat)
    for i in range(len(lon)):
        single = _BOXES.locate(lon[i], lat[i])
        assert (batch.nearest[i], batch.runner_up[i]) == (single.nearest, single.runner_up)


def test_far_cells_filled_ahead_are_saved_reloaded_and_answer_as_the_lazy_ones(tmp_path):
    grids = metric_box_grid(nx=4, ny=3, size_m=300)
    ahead, again, lazy = (_index(grids, lut=True) for _ in range(3))
    path = tmp_path / "far.npz"
    ahead.edges.fill_far(path)
    assert path.exists() and (ahead.edges._far.start >= 0).all()  # every cell, before any point
    again.edges.fill_far(path)  # read back, not recomputed
    assert np.array_equal(again.edges._far.entry, ahead.edges._far.entry)
    x0, y0, x1, y1 = ahead.served
    rng = np.random.default_rng(8)
    lon, lat = rng.uniform(x0, x1, 4000), rng.uniform(y0, y1, 4000)
    want = lazy.locate_many(lon, lat)
    for index in (ahead, again):
        got = index.locate_many(lon, lat)
        assert np.array_equal(got.nearest, want.nearest)
        assert np.array_equal(got.nearest_m, want.nearest_m, equal_nan=True)
        for i in np.flatnonzero(want.status == Status.OUTSIDE)[:300]:
            one, ref = index.locate(lon[i], lat[i]), lazy.locate(lon[i], lat[i])
            assert (one.nearest, one.nearest_m) == (ref.nearest, ref.nearest_m)
    other = _index(metric_box_grid(nx=2, ny=2, size_m=300), lut=True)
    other.edges.fill_far(path)  # cells saved for another grid set are not taken: made afresh
    assert not np.array_equal(other.edges._far.entry_owner, ahead.edges._far.entry_owner)
    assert other.locate_many(lon[:50], lat[:50]).nearest.max() < 4
