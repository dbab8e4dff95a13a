"""Shared fixtures: small hand-made grid sets, a PostGIS cluster, apps on fresh databases."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.crs import MetricFrame

# the demo-database fixtures (tests/apps.py), for every test module
pytest_plugins = ["tests.apps"]

TOWN = "440605125"
COMM_A = "440605125001"
COMM_B = "440605125002"
ORIGIN = (113.14, 23.10)


def metric_box_grid(
    nx: int = 3, ny: int = 2, size_m: float = 500.0, origin: tuple[float, float] = ORIGIN
) -> gpd.GeoDataFrame:
    """nx × ny square grids of size_m built in UTM and shared edges kept bit-identical.

    Columns split between two communities (A west, B east). Codes are numbered per
    community west→east, north→south.
    """
    frame = MetricFrame.for_lonlat(*origin)
    x0, y0 = frame.forward(*origin)
    xs = x0 + np.arange(nx + 1) * size_m
    ys = y0 + np.arange(ny + 1) * size_m
    lon_grid, lat_grid = frame.inverse(*np.meshgrid(xs, ys))  # shared corners computed once
    rows = []
    counters = {COMM_A: 0, COMM_B: 0}
    for j in reversed(range(ny)):  # north to south
        for i in range(nx):
            community = COMM_A if i < (nx + 1) // 2 else COMM_B
            counters[community] += 1
            ring = [
                (lon_grid[j, i], lat_grid[j, i]),
                (lon_grid[j, i + 1], lat_grid[j, i + 1]),
                (lon_grid[j + 1, i + 1], lat_grid[j + 1, i + 1]),
                (lon_grid[j + 1, i], lat_grid[j + 1, i]),
                (lon_grid[j, i], lat_grid[j, i]),
            ]
            rows.append(
                {
                    "code": f"{community}{counters[community]:03d}",
                    "name": f"网格{community[-3:]}-{counters[community]}",
                    "community_code": community,
                    "population": 1000 + i,
                    "households": 400,
                    "geometry": shapely.Polygon(ring),
                }
            )
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=4326)


def outline_of(grids: gpd.GeoDataFrame) -> shapely.Geometry:
    return shapely.union_all(np.asarray(grids.geometry.values, dtype=object))


COMMUNITIES = pd.DataFrame(
    [
        {
            "code": COMM_A,
            "name": "沥苑社区居委会",
            "short_name": "沥苑社区",
            "kind": "urban",
            "town_code": TOWN,
        },
        {
            "code": COMM_B,
            "name": "沥南社区居委会",
            "short_name": "沥南社区",
            "kind": "rural",
            "town_code": TOWN,
        },
    ]
)


@pytest.fixture
def box_grids() -> gpd.GeoDataFrame:
    return metric_box_grid()


@pytest.fixture(scope="session")
def postgis():
    """A PostGIS cluster for the session; call the fixture's value to get a fresh database URL."""
    from tests.pg_server import PostgisCluster

    cluster = PostgisCluster()
    cluster.start()
    counter = iter(range(10_000))
    try:
        yield lambda name: cluster.create_database(f"{name}_{next(counter)}")
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgis"])
def store_url(request, tmp_path) -> str:
    """A fresh, empty database of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgis")("store")
