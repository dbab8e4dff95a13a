"""The demo grid generator: counts, codes, tiling, numbering, determinism.

The real OSM outline is read from the shared folder only; nothing derived from it
is written anywhere (see shared/data/PROVENANCE.md).
"""

from __future__ import annotations

import math
import time

import geopandas
import numpy as np
import pandas
import pytest
import shapely

from geo.generate import DALI_CENTER
from geo.generate import GeneratedGrids
from geo.generate import GeneratorInputError
from geo.generate import demo_outline
from geo.generate import generate_grids
from geo.generate import reading_order
from tests.shared_data import shared_file

UTM49N = "EPSG:32649"
TOLERANCE_M2 = 1e-6


def _dali_communities() -> pandas.DataFrame:
    return pandas.read_csv(shared_file("data/dali_communities.csv"), dtype=str)


def _real_outline() -> shapely.Polygon:
    return geopandas.read_file(shared_file("data/dali_town_boundary.geojson")).geometry.iloc[0]


def _to_utm(geoms) -> np.ndarray:
    return geopandas.GeoSeries(list(geoms), crs="EPSG:4326").to_crs(UTM49N).to_numpy()


def _three_communities() -> pandas.DataFrame:
    return pandas.DataFrame(
        {
            "code": ["440605125001", "440605125002", "440605125003"],
            "name": ["沥苑社区居委会", "新龙村委会", "黄岐社区居委会"],
        }
    )


def assert_tiles(grids: geopandas.GeoDataFrame, outline: shapely.Geometry) -> dict[str, float]:
    """Every grid a valid Polygon; no overlap, gap or spill over 1e-6 m² (in UTM 49N)."""
    assert grids.crs.to_epsg() == 4326
    geoms = grids.geometry.to_numpy()
    assert (shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON).all()
    assert shapely.is_valid(geoms).all()
    # Shared edges are identical vertex for vertex (GEOS coverage rules), in lon/lat.
    assert shapely.coverage_is_valid(geoms)

    metric = _to_utm(geoms)
    region = _to_utm([outline])[0]
    assert shapely.is_valid(metric).all()
    left, right = shapely.STRtree(metric).query(metric, predicate="intersects")
    pair = left < right
    overlaps = shapely.area(shapely.intersection(metric[left[pair]], metric[right[pair]]))
    union = shapely.union_all(metric)
    gaps = shapely.area(shapely.get_parts(shapely.difference(region, union)))
    spill = shapely.area(shapely.get_parts(shapely.difference(union, region)))
    assert overlaps.max(initial=0.0) < TOLERANCE_M2
    assert gaps.max(initial=0.0) < TOLERANCE_M2
    assert spill.max(initial=0.0) < TOLERANCE_M2
    # Float noise only: one needle per border crossing on the outline, summing to µm².
    assert gaps.sum() + spill.sum() < 1e-4
    assert abs(union.area - region.area) / region.area < 1e-6
    assert abs(shapely.area(metric).sum() - region.area) / region.area < 1e-6
    return {"overlap": float(overlaps.sum()), "gap": float(gaps.sum()), "spill": float(spill.sum())}


def assert_codes(result: GeneratedGrids, communities: pandas.DataFrame, n_grids: int) -> None:
    grids, comms = result.grids, result.communities
    assert len(grids) == n_grids
    assert list(comms["code"]) == list(communities["code"].astype(str))
    assert grids["code"].is_unique
    assert grids["code"].str.fullmatch(r"\d{15}").all()
    assert (grids["code"].str[:12] == grids["community_code"]).all()
    assert set(grids["community_code"]) == set(comms["code"])  # every community ≥ 1 grid
    for code, group in grids.groupby("community_code"):
        seq = sorted(int(c[12:]) for c in group["code"])
        assert seq == list(range(1, len(group) + 1)), code
        short = comms.loc[comms["code"] == code, "short_name"].iloc[0]
        expected = {f"{short}第{int(c[12:]):02d}网格" for c in group["code"]}
        assert set(group["name"]) == expected


def assert_reading_order(grids: geopandas.GeoDataFrame) -> None:
    """Within a community, a later number is never clearly north, nor north-and-west."""
    metric = grids.to_crs(UTM49N)
    cent = geopandas.GeoSeries(metric.geometry.centroid, crs=UTM49N).to_crs("EPSG:4326")
    lon, lat = cent.x.to_numpy(), cent.y.to_numpy()
    for _, idx in grids.groupby("community_code").indices.items():
        idx = idx[np.argsort(grids["code"].to_numpy()[idx])]
        size_deg = math.sqrt(metric.area.to_numpy()[idx].mean()) / 111_320.0
        for a in range(len(idx)):
            later = idx[a + 1 :]
            i = idx[a]
            assert (lat[later] <= lat[i] + size_deg).all()
            north = later[lat[later] > lat[i]]
            assert (lon[north] > lon[i]).all()


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def dali() -> pandas.DataFrame:
    return _dali_communities()


@pytest.fixture(scope="module")
def outline() -> shapely.Polygon:
    return demo_outline()


@pytest.fixture(scope="module")
def demo(outline, dali) -> GeneratedGrids:
    return generate_grids(outline, dali, 309, seed=0)


# ------------------------------------------------------------- demo outline


def test_demo_outline_has_dali_size_and_centre(outline):
    assert isinstance(outline, shapely.Polygon)
    assert outline.is_valid
    assert len(outline.interiors) == 0
    assert outline.exterior.is_ccw
    assert 300 <= shapely.get_num_coordinates(outline) <= 601
    area = _to_utm([outline])[0].area / 1e6
    assert abs(area - 90.9) / 90.9 < 0.001
    centroid = _to_utm([outline])[0].centroid
    centre = _to_utm([shapely.Point(DALI_CENTER)])[0]
    assert centroid.distance(centre) < 1000.0


def test_demo_outline_is_not_the_osm_outline(outline):
    ours, real = _to_utm([outline, _real_outline()])
    iou = ours.intersection(real).area / ours.union(real).area
    assert iou < 0.8  # same place and size, but its own shape (about 0.6)
    assert ours.hausdorff_distance(real) > 1000.0


def test_demo_outline_is_deterministic_per_seed(outline):
    assert demo_outline().equals_exact(outline, tolerance=0.0)
    other = demo_outline(seed=7)
    assert not other.equals_exact(outline, tolerance=1e-6)
    assert abs(_to_utm([other])[0].area / 1e6 - 90.9) < 0.0909


def test_demo_outline_other_size_and_place():
    small = demo_outline(113.30, 22.80, area_km2=4.0, seed=1)
    metric = geopandas.GeoSeries([small], crs="EPSG:4326").to_crs(UTM49N).iloc[0]
    assert abs(metric.area / 1e6 - 4.0) / 4.0 < 0.001
    assert abs(small.centroid.x - 113.30) < 0.01 and abs(small.centroid.y - 22.80) < 0.01


# ------------------------------------------------------------ demo 309 grids


def test_demo_has_309_grids_under_43_communities(demo, dali):
    assert len(demo.communities) == 43
    assert_codes(demo, dali, 309)
    assert demo.grids.crs.to_epsg() == 4326 and demo.communities.crs.to_epsg() == 4326
    assert list(demo.grids.columns) == [
        "code",
        "name",
        "community_code",
        "population",
        "households",
        "geometry",
    ]
    assert list(demo.communities.columns) == ["code", "name", "short_name", "kind", "geometry"]
    assert demo.communities.loc[0, "short_name"] == "沥苑社区"
    assert demo.grids.loc[0, "name"] == "沥苑社区第01网格"


def test_demo_grids_tile_the_outline(demo, outline):
    assert_tiles(demo.grids, outline)


def test_demo_communities_are_unions_of_their_grids(demo, outline):
    comms = demo.communities
    assert shapely.is_valid(comms.geometry.to_numpy()).all()
    assert shapely.coverage_is_valid(comms.geometry.to_numpy())
    grids_utm = demo.grids.to_crs(UTM49N)
    comm_utm = comms.to_crs(UTM49N).set_index("code").geometry
    for code, group in grids_utm.groupby("community_code"):
        union = shapely.union_all(group.geometry.to_numpy())
        assert shapely.symmetric_difference(union, comm_utm[code]).area < TOLERANCE_M2


def test_demo_numbering_reads_north_to_south_west_to_east(demo):
    assert_reading_order(demo.grids)


def test_demo_attributes_are_plausible(demo):
    grids, comms = demo.grids, demo.communities
    assert grids["population"].dtype.kind == "i" and grids["households"].dtype.kind == "i"
    assert grids["population"].sum() == 780_000
    assert (grids["population"] > 0).all() and (grids["households"] > 0).all()
    assert 2.4 < grids["population"].sum() / grids["households"].sum() < 2.8
    assert grids["population"].nunique() > 250  # varied, not one value
    # 35 % of 43 → 15 rural communities, the ones farthest from the centre.
    assert comms["kind"].value_counts().to_dict() == {"urban": 28, "rural": 15}
    metric = comms.to_crs(UTM49N)
    centre = _to_utm([demo_outline()])[0].centroid
    dist = metric.geometry.centroid.distance(centre)
    rural = comms["kind"] == "rural"
    assert dist[rural].min() >= dist[~rural].max()


def test_demo_balance_is_reported(demo):
    balance = demo.balance
    assert len(balance) == 43
    assert balance["n_grids"].sum() == 309 and (balance["n_grids"] >= 1).all()
    assert balance["area_cv"].median() < 0.2
    # Grids are allocated by area: grid size is nearly the same town-wide.
    areas = demo.grids.to_crs(UTM49N).area
    assert areas.std() / areas.mean() < 0.25
    # Community sizes do vary, as real ones do.
    assert balance["area_km2"].max() / balance["area_km2"].min() > 1.5


def test_generation_is_deterministic_per_seed(demo, outline, dali):
    again = generate_grids(outline, dali, 309, seed=0)
    assert list(shapely.to_wkb(again.grids.geometry.to_numpy())) == list(
        shapely.to_wkb(demo.grids.geometry.to_numpy())
    )
    assert list(shapely.to_wkb(again.communities.geometry.to_numpy())) == list(
        shapely.to_wkb(demo.communities.geometry.to_numpy())
    )
    pandas.testing.assert_frame_equal(
        again.grids.drop(columns="geometry"), demo.grids.drop(columns="geometry")
    )
    other = generate_grids(outline, dali, 309, seed=1)
    assert list(shapely.to_wkb(other.grids.geometry.to_numpy())) != list(
        shapely.to_wkb(demo.grids.geometry.to_numpy())
    )


def test_progress_is_reported_per_stage(outline):
    calls: list[tuple[str, int, int]] = []
    generate_grids(outline, _three_communities(), 10, seed=3, progress=lambda *a: calls.append(a))
    stages = [c[0] for c in calls]
    assert {"communities", "grids", "tiling"} <= set(stages)
    assert ("grids", 3, 3) in calls and ("tiling", 3, 3) in calls
    assert all(0 <= done <= total for _, done, total in calls)


# --------------------------------------------------------- real OSM outline


def test_real_outline_309_grids_tile_it(dali):
    real = _real_outline()
    result = generate_grids(real, dali, 309, seed=0)
    assert_codes(result, dali, 309)
    assert_tiles(result.grids, real)
    assert_reading_order(result.grids)


# ----------------------------------------------------------- small outlines


def test_small_square_ten_grids_three_communities():
    square = shapely.box(113.10, 23.10, 113.12, 23.12)
    result = generate_grids(square, _three_communities(), 10, seed=5, total_population=5000)
    assert_codes(result, _three_communities(), 10)
    assert_tiles(result.grids, square)
    assert result.communities["short_name"].tolist() == ["沥苑社区", "新龙村", "黄岐社区"]
    assert result.grids["population"].sum() == 5000
    assert result.communities["kind"].tolist().count("rural") == 1  # floor(0.35 · 3)


def test_one_grid_per_community_and_one_community():
    square = shapely.box(113.10, 23.10, 113.12, 23.12)
    result = generate_grids(square, _three_communities(), 3, seed=0)
    assert result.grids["code"].str[12:].tolist() == ["001", "001", "001"]
    assert_tiles(result.grids, square)
    single = generate_grids(square, _three_communities().iloc[:1], 1, seed=0)
    assert single.grids.geometry.iloc[0].equals(square)


def test_outline_with_hole_and_two_parts():
    holed = shapely.Polygon(
        shapely.box(113.10, 23.10, 113.12, 23.12).exterior.coords,
        [shapely.box(113.105, 23.105, 113.11, 23.11).exterior.coords[::-1]],
    )
    islands = shapely.MultiPolygon([holed, shapely.box(113.13, 23.10, 113.135, 23.105)])
    result = generate_grids(islands, _three_communities(), 9, seed=2)
    assert_codes(result, _three_communities(), 9)
    assert_tiles(result.grids, islands)


def test_thin_east_west_strip_is_numbered_west_to_east():
    strip = shapely.box(113.10, 23.10, 113.20, 23.11)  # ~10 km × 1.1 km
    grids = generate_grids(strip, _three_communities().iloc[:1], 4, seed=0).grids
    lon = shapely.get_x(shapely.centroid(grids.geometry.to_numpy()))  # sorted by code
    assert grids["code"].str[12:].tolist() == ["001", "002", "003", "004"]
    assert (np.diff(lon) > 0).all()


def test_thin_north_south_strip_is_numbered_north_to_south():
    strip = shapely.box(113.10, 23.10, 113.11, 23.20)
    grids = generate_grids(strip, _three_communities().iloc[:1], 4, seed=0).grids
    lat = shapely.get_y(shapely.centroid(grids.geometry.to_numpy()))
    assert (np.diff(lat) < 0).all()


def test_square_in_four_is_numbered_like_a_page():
    square = shapely.box(113.10, 23.10, 113.12, 23.12)
    grids = generate_grids(square, _three_communities().iloc[:1], 4, seed=0).grids
    cent = shapely.centroid(grids.geometry.to_numpy())
    quadrant = [
        ("N" if y > 23.11 else "S") + ("W" if x < 113.11 else "E")
        for x, y in zip(shapely.get_x(cent), shapely.get_y(cent), strict=True)
    ]
    assert quadrant == ["NW", "NE", "SW", "SE"]


def test_reading_order_on_a_known_layout():
    # Two rows of three, jittered: the northern row first, each row west to east.
    x = np.array([2.1, 0.0, 1.0, 1.9, 0.1, 1.1])
    y = np.array([0.1, 1.2, 0.9, 1.0, -0.2, 0.0])
    ranks = reading_order(x, y, row_height=1.0)
    assert ranks.tolist() == [5, 0, 1, 2, 3, 4]
    # One tall column: purely north to south.
    assert reading_order(np.zeros(3), np.array([0.0, 2.0, 1.0]), 1.0).tolist() == [2, 0, 1]
    with pytest.raises(GeneratorInputError):
        reading_order(x, y, row_height=0.0)


# ----------------------------------------------------------------- errors


def test_bad_inputs_are_refused(outline, dali):
    with pytest.raises(GeneratorInputError, match="n_grids"):
        generate_grids(outline, dali, 42)
    with pytest.raises(GeneratorInputError, match="12-digit"):
        generate_grids(outline, pandas.DataFrame({"code": ["4406"], "name": ["x"]}), 3)
    with pytest.raises(GeneratorInputError, match="lacks column"):
        generate_grids(outline, pandas.DataFrame({"code": ["440605125001"]}), 3)
    with pytest.raises(GeneratorInputError, match="duplicate"):
        generate_grids(outline, pandas.concat([dali.iloc[:1], dali.iloc[:1]]), 3)
    with pytest.raises(GeneratorInputError, match="lon/lat"):
        generate_grids(shapely.box(700_000, 2_500_000, 710_000, 2_510_000), dali, 309)
    with pytest.raises(GeneratorInputError, match="not valid"):
        bowtie = shapely.Polygon([(113.1, 23.1), (113.2, 23.2), (113.2, 23.1), (113.1, 23.2)])
        generate_grids(bowtie, dali, 309)
    with pytest.raises(GeneratorInputError, match="rural_share"):
        generate_grids(outline, dali, 309, rural_share=1.5)
    with pytest.raises(GeneratorInputError, match="total_population"):
        generate_grids(outline, dali, 309, total_population=-1)
    with pytest.raises(GeneratorInputError, match="Polygon"):
        generate_grids(shapely.Point(113.1, 23.1), dali, 309)


# ------------------------------------------------------------------- slow


@pytest.mark.slow
def test_ten_thousand_grids_tile_and_run_in_time(outline):
    communities = pandas.DataFrame(
        {
            "code": [f"440605125{i:03d}" for i in range(1, 101)],
            "name": [f"第{i}社区居委会" for i in range(1, 101)],
        }
    )
    started = time.perf_counter()
    result = generate_grids(outline, communities, 10_000, seed=0)
    elapsed = time.perf_counter() - started
    assert_codes(result, communities, 10_000)
    assert_tiles(result.grids, outline)
    assert elapsed < 60.0
