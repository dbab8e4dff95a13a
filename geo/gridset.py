"""Derived facts of a grid set that are stored with it: areas, and community outlines.

Community outlines are the union of their grids, recomputed for every version,
so a community map can never disagree with the grids it is drawn from.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from geo.crs import MetricFrame


def metric_frame_for(geoms: np.ndarray) -> MetricFrame:
    """The UTM frame of a set of WGS84 geometries (by the centre of their bounds)."""
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    return MetricFrame.for_lonlat((xmin + xmax) / 2, (ymin + ymax) / 2)


def with_areas(grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy with ``area_m2`` measured in the data's UTM zone."""
    geoms = np.asarray(grids.geometry.values, dtype=object)
    frame = metric_frame_for(geoms)
    out = grids.copy()
    out["area_m2"] = shapely.area(frame.project(geoms))
    return out


def community_outlines(grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One (Multi)Polygon per community: the union of its grids, with its area in m²."""
    geoms = np.asarray(grids.geometry.values, dtype=object)
    frame = metric_frame_for(geoms)
    codes, unions = [], []
    for code, members in grids.groupby("community_code", sort=True).groups.items():
        codes.append(code)
        unions.append(shapely.union_all(geoms[grids.index.get_indexer(members)]))
    outlines = np.asarray(unions, dtype=object)
    return gpd.GeoDataFrame(
        {"code": codes, "area_m2": shapely.area(frame.project(outlines))},
        geometry=gpd.GeoSeries(outlines, crs=4326),
        crs=4326,
    )
