"""The planner's Getis-Ord Gi* layer: grids coloured by hot or cold spot and its confidence.

The statistics are ``geo.hotspots.gi_star``'s; this draws its ``gi_bin`` (−3…+3) and
``status`` per grid over the shared ``choropleth.GridData``, and words its legend.
"""

from __future__ import annotations

from collections.abc import Sequence

import folium
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from webmap.maps.base import Translate
from webmap.maps.choropleth import ClassedPolygons
from webmap.maps.choropleth import GridData

#: Gi_Bin −3…+3 (ArcGIS's hot/cold spot colours: RdBu diverging), and grids not tested.
GI_COLORS = {
    -3: "#2166ac",
    -2: "#67a9cf",
    -1: "#d1e5f0",
    0: "#f7f7f7",
    1: "#fddbc7",
    2: "#ef8a62",
    3: "#b2182b",
}
UNTESTED_COLOR = "#bdbdbd"


def gi_classes(gi_bin: ArrayLike, status: ArrayLike) -> list[int]:
    """Palette positions for Gi*: 0…6 for bins −3…+3, 7 for grids that were not tested."""
    bins = np.asarray(gi_bin, dtype=np.int64)
    tested = np.asarray(status) == "tested"
    return np.where(tested, bins + 3, len(GI_COLORS)).tolist()


GI_PALETTE = [GI_COLORS[b] for b in range(-3, 4)] + [UNTESTED_COLOR]


def hotspot_layer(
    data: GridData,
    gi: pd.DataFrame,
    *,
    name: str,
    tips: Sequence[str],
    show: bool = False,
    overlay: bool = False,
) -> tuple[folium.FeatureGroup, ClassedPolygons]:
    """Getis-Ord Gi* per grid (``geo.hotspots.gi_star``): red hot, blue cold, by confidence."""
    group = folium.FeatureGroup(name=name, overlay=overlay, show=show)
    polygons = ClassedPolygons(
        gi_classes(gi["gi_bin"], gi["status"]),
        GI_PALETTE,
        data=data,
        tips=tips,
        popups=True,
        fill_opacity=0.78,
    )
    group.add_child(polygons)
    return group, polygons


def hotspot_legend_entries(gi: pd.DataFrame, tr: Translate) -> list[tuple[str | None, str]]:
    bins = gi["gi_bin"].to_numpy()
    tested = (gi["status"] == "tested").to_numpy()
    entries = []
    for b in (3, 2, 1, 0, -1, -2, -3):
        entries.append((GI_COLORS[b], f"{gi_bin_label(b, tr)} ({int((tested & (bins == b)).sum())})"))
    untested = int((~tested).sum())
    if untested:
        entries.append((UNTESTED_COLOR, f"{tr('pl_gi_untested')} ({untested})"))
    return entries


def gi_bin_label(gi_bin: int, tr: Translate) -> str:
    conf = {3: "99%", 2: "95%", 1: "90%"}
    if gi_bin > 0:
        return tr("pl_gi_hot", conf=conf[gi_bin])
    if gi_bin < 0:
        return tr("pl_gi_cold", conf=conf[-gi_bin])
    return tr("pl_gi_ns")
