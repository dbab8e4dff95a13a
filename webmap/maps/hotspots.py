"""The planner's hot-spot layers: Gi* hot and cold spots, Local Moran's I, emerging hot spots.

The statistics are ``geo.hotspots``'s; this draws them per grid over the shared
``choropleth.GridData`` and words their legends. A grid that Gi* puts in a hot bin only
because of its neighbours (``spot == "hot_nearby"``: no or few complaints of its own) is
drawn in a colour of its own and named 邻近热点, never 热点 (issue 10).
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


#: grids in a hot (cold) bin only through their neighbours: a pale colour outside the hot ramp
NEAR_HOT_COLOR = "#fee090"
NEAR_COLD_COLOR = "#c7e9c0"


def gi_classes(gi_bin: ArrayLike, status: ArrayLike, spot: ArrayLike | None = None) -> list[int]:
    """Palette positions for Gi*: 0…6 for bins −3…+3, 7 not tested, 8 next to hot, 9 next to cold."""
    bins = np.asarray(gi_bin, dtype=np.int64)
    tested = np.asarray(status) == "tested"
    out = np.where(tested, bins + 3, len(GI_COLORS))
    if spot is not None:
        kinds = np.asarray(spot, dtype=object)
        out = np.where(kinds == "hot_nearby", len(GI_COLORS) + 1, out)
        out = np.where(kinds == "cold_nearby", len(GI_COLORS) + 2, out)
    return out.tolist()


GI_PALETTE = [GI_COLORS[b] for b in range(-3, 4)] + [UNTESTED_COLOR, NEAR_HOT_COLOR, NEAR_COLD_COLOR]


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
        gi_classes(gi["gi_bin"], gi["status"], gi["spot"] if "spot" in gi else None),
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
    spot = gi["spot"].to_numpy(dtype=object) if "spot" in gi else np.full(len(gi), "", dtype=object)
    near_hot = spot == "hot_nearby"
    near_cold = spot == "cold_nearby"
    own = tested & ~near_hot & ~near_cold
    entries = []
    for b in (3, 2, 1):
        entries.append((GI_COLORS[b], f"{gi_bin_label(b, tr)} ({int((own & (bins == b)).sum())})"))
    if near_hot.any():
        entries.append((NEAR_HOT_COLOR, f"{tr('pl_gi_nearby_legend')} ({int(near_hot.sum())})"))
    for b in (0, -1, -2, -3):
        entries.append((GI_COLORS[b], f"{gi_bin_label(b, tr)} ({int((own & (bins == b)).sum())})"))
    if near_cold.any():
        entries.append((NEAR_COLD_COLOR, f"{tr('pl_gi_cold_nearby_legend')} ({int(near_cold.sum())})"))
    untested = int((~tested).sum())
    if untested:
        entries.append((UNTESTED_COLOR, f"{tr('pl_gi_untested')} ({untested})"))
    return entries


def spot_label(spot: str, gi_bin: int, tr: Translate) -> str:
    """What a grid is presented as: 热点/冷点 by confidence, 邻近热点/邻近冷点, 不显著 or 未检验."""
    conf = {3: "99%", 2: "95%", 1: "90%"}
    if spot == "hot_nearby":
        return tr("pl_gi_hot_nearby", conf=conf[abs(gi_bin)])
    if spot == "cold_nearby":
        return tr("pl_gi_cold_nearby", conf=conf[abs(gi_bin)])
    if spot == "untested":
        return tr("pl_gi_untested")
    return gi_bin_label(gi_bin, tr)


def spot_css(spot: str) -> str:
    """The page's class for a presented class (only grids hot or cold on their own are coloured)."""
    return {"hot": "gi-hot", "cold": "gi-cold"}.get(spot, "")


def cluster_label(gi: pd.DataFrame, i: int, tr: Translate) -> str:
    k = int(gi["cluster"].iat[i]) if "cluster" in gi else 0
    if k <= 0:
        return "–"
    return tr(
        "pl_cluster_value",
        id=k,
        size=int(gi["cluster_size"].iat[i]),
        total=f"{int(gi['cluster_total'].iat[i]):,}",
    )


# --------------------------------------------------------------------------- Local Moran's I

LISA_COLORS = {"HH": "#d7191c", "HL": "#fdae61", "LH": "#abd9e9", "LL": "#2c7bb6", "ns": "#f7f7f7"}
LISA_ORDER = ("HH", "HL", "LH", "LL", "ns")


def lisa_classes(lisa: pd.DataFrame) -> list[int]:
    """Palette positions for LISA: HH, HL, LH, LL, ns; grids not analysed are grey (5)."""
    position = {name: k for k, name in enumerate(LISA_ORDER)}
    analysed = np.isfinite(lisa["p"].to_numpy(dtype=float))
    return [position[c] if a else len(LISA_ORDER) for c, a in zip(lisa["lisa"], analysed, strict=True)]


LISA_PALETTE = [LISA_COLORS[c] for c in LISA_ORDER] + [UNTESTED_COLOR]


def moran_layer(
    data: GridData, lisa: pd.DataFrame, *, name: str, tips: Sequence[str], show: bool = False
) -> tuple[folium.FeatureGroup, ClassedPolygons]:
    group = folium.FeatureGroup(name=name, overlay=False, show=show)
    polygons = ClassedPolygons(
        lisa_classes(lisa), LISA_PALETTE, data=data, tips=tips, popups=True, fill_opacity=0.78
    )
    group.add_child(polygons)
    return group, polygons


def moran_legend_entries(lisa: pd.DataFrame, tr: Translate) -> list[tuple[str | None, str]]:
    classes = np.asarray(lisa_classes(lisa))
    entries: list[tuple[str | None, str]] = [
        (LISA_COLORS[c], f"{tr('pl_lisa_' + c)} ({int((classes == k).sum())})")
        for k, c in enumerate(LISA_ORDER)
    ]
    missing = int((classes == len(LISA_ORDER)).sum())
    if missing:
        entries.append((UNTESTED_COLOR, f"{tr('pl_gi_untested')} ({missing})"))
    return entries


# --------------------------------------------------------------------------- emerging hot spots

#: ESRI's classes (``geo.hotspots.EMERGING_CLASSES``): reds for hot, blues for cold.
EMERGING_COLORS = {
    "new_hot": "#fcbba1",
    "consecutive_hot": "#fc9272",
    "intensifying_hot": "#a50f15",
    "persistent_hot": "#de2d26",
    "diminishing_hot": "#fb6a4a",
    "sporadic_hot": "#fee0d2",
    "oscillating_hot": "#fdae6b",
    "historical_hot": "#bcbddc",
    "new_cold": "#c6dbef",
    "consecutive_cold": "#9ecae1",
    "intensifying_cold": "#08519c",
    "persistent_cold": "#3182bd",
    "diminishing_cold": "#6baed6",
    "sporadic_cold": "#deebf7",
    "oscillating_cold": "#a1d99b",
    "historical_cold": "#dadaeb",
    "no_pattern": "#f7f7f7",
}
EMERGING_ORDER = tuple(EMERGING_COLORS)


def emerging_classes(emerging: pd.DataFrame | None, n: int) -> list[int]:
    if emerging is None:
        return [len(EMERGING_ORDER)] * n
    position = {name: k for k, name in enumerate(EMERGING_ORDER)}
    return [position[c] for c in emerging["emerging"]]


EMERGING_PALETTE = [EMERGING_COLORS[c] for c in EMERGING_ORDER] + [UNTESTED_COLOR]


def emerging_layer(
    data: GridData,
    emerging: pd.DataFrame | None,
    n: int,
    *,
    name: str,
    tips: Sequence[str],
    show: bool = False,
) -> tuple[folium.FeatureGroup, ClassedPolygons]:
    group = folium.FeatureGroup(name=name, overlay=False, show=show)
    polygons = ClassedPolygons(
        emerging_classes(emerging, n), EMERGING_PALETTE, data=data, tips=tips, popups=True, fill_opacity=0.78
    )
    group.add_child(polygons)
    return group, polygons


def emerging_legend_entries(
    emerging: pd.DataFrame | None, n: int, tr: Translate
) -> list[tuple[str | None, str]]:
    if emerging is None:
        return [(UNTESTED_COLOR, f"{tr('pl_emerging_short')} ({n})")]
    counts = emerging["emerging"].value_counts()
    return [
        (EMERGING_COLORS[c], f"{tr('pl_emerging_' + c)} ({int(counts.get(c, 0))})")
        for c in EMERGING_ORDER
        if counts.get(c, 0) or c == "no_pattern"
    ]


def emerging_label(emerging: pd.DataFrame | None, i: int, tr: Translate) -> str:
    if emerging is None:
        return tr("pl_emerging_short")
    return tr("pl_emerging_" + str(emerging["emerging"].iat[i]))


def gi_bin_label(gi_bin: int, tr: Translate) -> str:
    conf = {3: "99%", 2: "95%", 1: "90%"}
    if gi_bin > 0:
        return tr("pl_gi_hot", conf=conf[gi_bin])
    if gi_bin < 0:
        return tr("pl_gi_cold", conf=conf[-gi_bin])
    return tr("pl_gi_ns")
