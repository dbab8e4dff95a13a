"""The planner's folium map: eight switchable layers over one analysis, outlines and legends.

The hot-spot layers are three views of one question: Gi* (``hotspots``, grids hot on
their own apart from grids only next to hot ones), Local Moran's I (``moran``) and the
emerging hot spots over the complete months (``emerging``).
"""

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
from webmap.maps.base import text
from webmap.maps.legend import Legend

LAYERS = ("heat", "animation", "counts", "rates", "hotspots", "moran", "emerging", "h3")
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
    """The planner's folium map: eight switchable layers (one shown at a time), outlines, legends."""
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
    rate_tips = [
        "–" if not np.isfinite(e) else f"{e:.1f}‰ ({tr('pl_eb_rate')}) · {r:.1f}‰"
        for e, r in zip(analysis.eb_rates.tolist(), analysis.rates.tolist(), strict=True)
    ]
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
        f"{hotspots.spot_label(s, int(b), tr)} · {tr('pl_gi_own', n=f'{int(c):,}')}"
        for s, b, c in zip(analysis.gi["spot"], analysis.gi["gi_bin"], analysis.counts.tolist(), strict=True)
    ]
    hot_group, _ = hotspots.hotspot_layer(
        data, analysis.gi, name=tr("pl_layer_hotspots"), tips=gi_tips, show=layer == "hotspots"
    )
    m.add_child(hot_group)
    lisa_tips = [tr("pl_lisa_" + c) for c in analysis.lisa["lisa"]]
    moran_group, _ = hotspots.moran_layer(
        data, analysis.lisa, name=tr("pl_layer_moran"), tips=lisa_tips, show=layer == "moran"
    )
    m.add_child(moran_group)
    n_grids = len(analysis.counts)
    emerging_tips = [hotspots.emerging_label(analysis.emerging, i, tr) for i in range(n_grids)]
    emerging_group, _ = hotspots.emerging_layer(
        data,
        analysis.emerging,
        n_grids,
        name=tr("pl_layer_emerging"),
        tips=emerging_tips,
        show=layer == "emerging",
    )
    m.add_child(emerging_group)

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
            note=tr("pl_rate_eb_note"),
        )
    )
    m.add_child(
        Legend(
            hot_group,
            "hotspots",
            tr("pl_legend_hotspots"),
            hotspots.hotspot_legend_entries(analysis.gi, tr),
            note=tr("pl_gi_note", value=_value_name(analysis, tr))
            + " "
            + tr("pl_gi_flag_note", min_own=analysis.gi.attrs.get("min_own", 1)),
        )
    )
    m.add_child(
        Legend(
            moran_group,
            "moran",
            tr("pl_legend_moran"),
            hotspots.moran_legend_entries(analysis.lisa, tr),
            note=tr("pl_lisa_note", value=_value_name(analysis, tr)),
        )
    )
    months = int(analysis.emerging.attrs["months"]) if analysis.emerging is not None else 0
    m.add_child(
        Legend(
            emerging_group,
            "emerging",
            tr("pl_legend_emerging"),
            hotspots.emerging_legend_entries(analysis.emerging, n_grids, tr),
            note=tr("pl_emerging_note", months=months)
            if analysis.emerging is not None
            else tr("pl_emerging_short"),
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


def _value_name(analysis: Analysis, tr) -> str:
    value = analysis.gi.attrs["value"]
    if value == "rate" and analysis.gi.attrs.get("smoothed"):
        return tr("pl_gi_value_rate_eb")
    return tr("pl_gi_value_" + value)


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
    spots = analysis.gi["spot"].to_numpy(dtype=object)
    for i in range(len(codes)):
        tested = status[i] == "tested"
        # what the grid is presented as, its z and its own count side by side (issue 10)
        label = hotspots.spot_label(str(spots[i]), int(bins[i]), tr)
        if tested and np.isfinite(z[i]):
            label += f" (z = {z[i]:.2f})"
        label += " · " + tr("pl_gi_own", n=f"{int(analysis.counts[i]):,}")
        shown_bin = int(bins[i]) if spots[i] in ("hot", "cold") else 0
        popup = popups.grid_popup(
            popups.GridFacts(
                name=names[i] if isinstance(names[i], str) else None,
                code=codes[i],
                community=community[i],
                count=int(analysis.counts[i]),
                population=float(analysis.population[i]),
                rate=float(analysis.rates[i]),
                gi_label=label,
                gi_bin=shown_bin,
                trend=trend_label(analysis, i, tr),
                monthly=monthly[i],
                months=analysis.months,
                top=[(category_names.get(c, c), k) for c, k in analysis.top[i]],
            ),
            tr,
        )
        popup = popup.replace("<tr><th>Gi*</th>", f"<tr><th>{text(tr('pl_gi_window'))}</th>", 1)
        out.append(popup.replace("</table>", _extra_rows(analysis, i, tr) + "</table>", 1))
    return out


def _extra_rows(analysis: Analysis, i: int, tr) -> str:
    """Rows the shared popup does not have: hot cluster, smoothed rate, LISA, emerging."""
    eb = float(analysis.eb_rates[i])
    rows = [
        (tr("pl_eb_rate"), "–" if not np.isfinite(eb) else f"{eb:.1f}"),
        (tr("pl_cluster"), hotspots.cluster_label(analysis.gi, i, tr)),
        (tr("pl_lisa"), tr("pl_lisa_" + str(analysis.lisa["lisa"].iat[i]))),
        (tr("pl_emerging"), hotspots.emerging_label(analysis.emerging, i, tr)),
    ]
    return "".join(f"<tr><th>{text(k)}</th><td>{text(v)}</td></tr>" for k, v in rows)
