"""The planner's folium map: six switchable layers over one analysis, outlines and legends."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import folium
import numpy as np

from geo.heat import WeightedPoints
from services.grids import GridSet
from services.planner import H3_RES
from services.planner import Analysis
from webmap.maps import base as maps
from webmap.maps import choropleth
from webmap.maps import heatmap
from webmap.maps import hotspots
from webmap.maps import popups
from webmap.maps.legend import Legend

LAYERS = ("heat", "animation", "counts", "rates", "hotspots", "h3")
DEFAULT_LAYER = "counts"


def trend_label(analysis: Analysis, i: int, tr) -> str:
    if analysis.trend is None:
        return tr("pl_trend_short")
    direction = int(analysis.trend["direction"].iat[i])
    slope = f"{float(analysis.trend['sen_slope'].iat[i]):+.2f}"
    if direction > 0:
        return tr("pl_trend_up", slope=slope)
    if direction < 0:
        return tr("pl_trend_down", slope=slope)
    return tr("pl_trend_none")


def build_map(
    analysis: Analysis,
    grid_set: GridSet,
    *,
    tr,
    category_names: Mapping[str, str],
    tiles: str = "none",
    tianditu_key: str | None = None,
    layer: str = DEFAULT_LAYER,
    title: str | None = None,
    note: str | None = None,
) -> folium.Map:
    """The planner's folium map: six switchable layers (one shown at a time), outlines, legends."""
    if layer not in LAYERS:
        raise ValueError(f"layer={layer!r}; expected one of {', '.join(LAYERS)}")
    m = maps.base_map(grid_set.index.bounds, tiles=tiles, tianditu_key=tianditu_key)
    if title:
        m.get_root().title = title
    geoms = maps.shift_geoms(grid_set.index.geoms, tiles)
    names = grid_set.grids["name"].to_numpy(dtype=object)
    data = choropleth.GridData(
        geoms,
        grid_set.index.codes,
        [n if isinstance(n, str) else None for n in names],
        grid_popups(analysis, grid_set, tr=tr, category_names=category_names),
    )
    m.add_child(data)
    m.planner_grid_data = data  # the page's script reaches the popups through it

    heat = _shifted(analysis.heat, tiles)
    heat_layer = heatmap.heat_layer(heat, name=tr("pl_layer_heat"), show=layer == "heat")
    m.add_child(heat_layer)

    animation = dataclasses.replace(
        analysis.animation, frames=[_shifted(f, tiles) for f in analysis.animation.frames]
    )
    anim_layer = None
    if animation.labels:
        anim_layer = heatmap.animation_layer(
            animation, name=tr("pl_layer_animation"), show=layer == "animation"
        )
        m.add_child(anim_layer)

    count_tips = [f"{c:,}" for c in analysis.counts.tolist()]
    counts_group, _ = choropleth.class_layer(
        data,
        analysis.count_classes,
        choropleth.COUNT_COLORS,
        name=tr("pl_layer_counts"),
        tips=count_tips,
        show=layer == "counts",
    )
    m.add_child(counts_group)
    rate_tips = ["–" if not np.isfinite(r) else f"{r:.1f}‰" for r in analysis.rates.tolist()]
    rates_group, _ = choropleth.class_layer(
        data,
        analysis.rate_classes,
        choropleth.RATE_COLORS,
        name=tr("pl_layer_rates"),
        tips=rate_tips,
        show=layer == "rates",
    )
    m.add_child(rates_group)
    gi_tips = [
        hotspots.gi_bin_label(int(b), tr) if s == "tested" else tr("pl_gi_untested")
        for b, s in zip(analysis.gi["gi_bin"], analysis.gi["status"], strict=True)
    ]
    hot_group, _ = hotspots.hotspot_layer(
        data, analysis.gi, name=tr("pl_layer_hotspots"), tips=gi_tips, show=layer == "hotspots"
    )
    m.add_child(hot_group)

    hexes = analysis.hexes
    if tiles == "amap" and len(hexes):
        hexes = hexes.set_geometry(maps.shift_geoms(hexes.geometry.values, tiles))
    hex_tips = [f"{h} · {c:,}" for h, c in zip(hexes["hex_id"], hexes["count"].tolist(), strict=True)]
    h3_group, _ = choropleth.h3_layer(
        hexes, analysis.hex_classes, name=tr("pl_layer_h3"), tips=hex_tips, show=layer == "h3"
    )
    m.add_child(h3_group)
    m.add_child(choropleth.outline_layer(data, name=tr("pl_layer_outlines")))

    heat_note = tr("pl_heat_note", cell=f"{heat.cell_m:.0f}", n=f"{len(heat):,}", total=f"{heat.total:,}")
    if heat.coarse_m:
        heat_note += " " + tr("pl_heat_coarse", coarse=f"{heat.coarse_m:.0f}")
    m.add_child(
        Legend(
            heat_layer,
            "heat",
            tr("pl_layer_heat"),
            [(heatmap.HEAT_GRADIENT[0.2], tr("pl_few")), (heatmap.HEAT_GRADIENT[1.0], tr("pl_many"))],
            note=heat_note,
        )
    )
    if anim_layer is not None:
        m.add_child(
            Legend(
                anim_layer,
                "animation",
                tr("pl_layer_animation"),
                [],
                note=tr(
                    "pl_anim_note",
                    cell=f"{animation.cell_m:.0f}",
                    months=len(animation.labels),
                    scale=animation.scale,
                    peak=animation.max_weight,
                ),
            )
        )
    m.add_child(
        Legend(
            counts_group,
            "counts",
            tr("pl_legend_counts"),
            choropleth.class_legend_entries(analysis.count_classes, choropleth.COUNT_COLORS),
            note=tr("pl_fisher_jenks"),
        )
    )
    m.add_child(
        Legend(
            rates_group,
            "rates",
            tr("pl_legend_rates"),
            choropleth.class_legend_entries(
                analysis.rate_classes, choropleth.RATE_COLORS, tr("pl_no_population")
            ),
            note=tr("pl_fisher_jenks"),
        )
    )
    m.add_child(
        Legend(
            hot_group,
            "hotspots",
            tr("pl_legend_hotspots"),
            hotspots.hotspot_legend_entries(analysis.gi, tr),
            note=tr("pl_gi_note", value=tr("pl_gi_value_" + analysis.gi.attrs["value"])),
        )
    )
    m.add_child(
        Legend(
            h3_group,
            "h3",
            tr("pl_legend_h3", res=analysis.hexes.attrs.get("res", H3_RES)),
            choropleth.class_legend_entries(analysis.hex_classes, choropleth.H3_COLORS),
            note=tr("pl_fisher_jenks"),
        )
    )
    if note:
        box = f'<div class="planner-export-note">{maps.text(note)}</div>'
        m.get_root().html.add_child(folium.Element(box))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m


def _shifted(points: WeightedPoints, tiles: str) -> WeightedPoints:
    if maps.overlay_coordsys(tiles) == "wgs84" or not len(points):
        return points
    lon, lat = maps.shift_points(points.lon, points.lat, tiles)
    return dataclasses.replace(points, lon=np.asarray(lon, dtype=float), lat=np.asarray(lat, dtype=float))


def grid_popups(analysis: Analysis, grid_set: GridSet, *, tr, category_names: Mapping[str, str]) -> list[str]:
    grids = grid_set.grids
    status = analysis.gi["status"].to_numpy()
    bins = analysis.gi["gi_bin"].to_numpy(dtype=np.int64)
    z = analysis.gi["z"].to_numpy(dtype=float)
    monthly = analysis.monthly.T.tolist()
    names = grids["name"].tolist()
    codes = grids["code"].astype(str).tolist()
    community = [(grid_set.communities.get(c) or {}).get("short_name") for c in grids["community_code"]]
    out = []
    for i in range(len(codes)):
        tested = status[i] == "tested"
        label = hotspots.gi_bin_label(int(bins[i]), tr) if tested else tr("pl_gi_untested")
        if tested and np.isfinite(z[i]):
            label += f" (z = {z[i]:.2f})"
        out.append(
            popups.grid_popup(
                popups.GridFacts(
                    name=names[i] if isinstance(names[i], str) else None,
                    code=codes[i],
                    community=community[i],
                    count=int(analysis.counts[i]),
                    population=float(analysis.population[i]),
                    rate=float(analysis.rates[i]),
                    gi_label=label,
                    gi_bin=int(bins[i]) if tested else 0,
                    trend=trend_label(analysis, i, tr),
                    monthly=monthly[i],
                    months=analysis.months,
                    top=[(category_names.get(c, c), k) for c, k in analysis.top[i]],
                ),
                tr,
            )
        )
    return out
