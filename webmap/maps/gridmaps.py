"""Folium maps of the dispatcher page (``/``) and the grid overview (``/grids``).

Both draw one grid version from the store. The dispatcher's map is only the base
(town, community and grid outlines, light) that its JavaScript draws the located
grid on; the overview colours every grid by its community, labels grids from zoom
14 up and carries a legend and a layer control. Everything a user typed (grid and
community names) reaches the map escaped with ``text`` or as JSON data set with
``textContent``; nothing is built from raw strings in HTML.

Rendering a map costs tens of milliseconds and a version never changes once stored,
so the rendered parts are cached per app, keyed by page, version, tiles and language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import folium
import numpy as np
import shapely
from branca.element import MacroElement
from flask import Flask
from jinja2 import Template
from shapely.geometry.base import BaseGeometry

from services.caching import Memo
from services.grids import GridService
from services.grids import VersionInfo
from webmap.maps.base import base_map
from webmap.maps.base import outline_layer
from webmap.maps.base import shift_geoms
from webmap.maps.base import text

#: Tableau 10 without its grey (grey reads as "no data"): nine categorical colours that stay apart
#: at half opacity. Neighbouring communities never share one (see ``community_colours``).
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
LABEL_MIN_ZOOM = 14
#: communities closer than this (degrees, about 2 m) count as neighbours when colouring
NEIGHBOUR_DEG = 2e-5

# the base outlines of the dispatcher's map: light, so the located grid stands out
TOWN_STYLE = {"color": "#6b6358", "weight": 2.5}
COMMUNITY_STYLE = {"color": "#9a9284", "weight": 1.4}
GRID_STYLE = {"color": "#c4bcae", "weight": 0.7}


@dataclass(frozen=True)
class VersionShapes:
    """What the maps draw of one grid version (WGS84)."""

    version: VersionInfo
    town: Mapping  # code, name
    town_outline: BaseGeometry | None
    codes: list[str]
    names: list[str]
    grid_communities: list[str]
    grid_geoms: np.ndarray
    community_codes: list[str]
    community_geoms: np.ndarray
    communities: Mapping[str, dict]  # code -> code, name, short_name, kind

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        xmin, ymin, xmax, ymax = shapely.total_bounds(self.grid_geoms)
        return float(xmin), float(ymin), float(xmax), float(ymax)


def version_shapes(svc: GridService, version_id: int) -> VersionShapes:
    grid_set = svc.grid_set(version_id)
    shapes = svc.community_shapes(version_id).sort_values("code")
    return VersionShapes(
        version=grid_set.version,
        town=grid_set.town,
        town_outline=svc.town_outline(grid_set.version.town_code),
        codes=[str(c) for c in grid_set.index.codes],
        names=[str(n) for n in grid_set.grids["name"]],
        grid_communities=[str(c) for c in grid_set.grids["community_code"]],
        grid_geoms=np.asarray(grid_set.index.geoms, dtype=object),
        community_codes=[str(c) for c in shapes["code"]],
        community_geoms=np.asarray(shapes.geometry.values, dtype=object),
        communities=grid_set.communities,
    )


# --- colours ------------------------------------------------------------------------------------


def community_colours(codes: list[str], geoms, palette: tuple[str, ...] = PALETTE) -> dict[str, str]:
    """A colour per community such that neighbouring communities never share one.

    Greedy colouring, most-connected first (Welsh-Powell), taking the least-used colour
    no neighbour has, so the palette is spread over the town rather than piled on four
    colours. Planar maps need at most four, so nine never run out in practice; if they
    did, the colour least used among the neighbours is reused.
    """
    geoms = np.asarray(geoms, dtype=object)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=NEIGHBOUR_DEG)
    neighbours: dict[int, set[int]] = {i: set() for i in range(len(codes))}
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a != b:
            neighbours[a].add(b)
            neighbours[b].add(a)
    order = sorted(range(len(codes)), key=lambda i: (-len(neighbours[i]), codes[i]))
    chosen: dict[int, int] = {}
    used = [0] * len(palette)
    for i in order:
        taken = [chosen[n] for n in neighbours[i] if n in chosen]
        free = [c for c in range(len(palette)) if c not in taken]
        pick = (
            min(free, key=lambda c: (used[c], c))
            if free
            else min(range(len(palette)), key=lambda c: (taken.count(c), used[c], c))
        )
        chosen[i] = pick
        used[pick] += 1
    return {codes[i]: palette[c] for i, c in chosen.items()}


# --- grid labels ----------------------------------------------------------------------------------


class GridLabels(MacroElement):
    """Grid names at their representative points, shown only from ``min_zoom`` up.

    The names travel as JSON and are set with ``textContent``: a name is never HTML.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.layerGroup();
        {{ this.labels|tojson }}.forEach(function (d) {
            var span = document.createElement("span");
            span.textContent = d[2];
            L.marker([d[0], d[1]], {interactive: false, keyboard: false,
                icon: L.divIcon({className: "grid-label", html: span, iconSize: null})
            }).addTo({{ this.get_name() }});
        });
        (function (map, labels, minZoom) {
            function sync() {
                if (map.getZoom() >= minZoom) { if (!map.hasLayer(labels)) { labels.addTo(map); } }
                else if (map.hasLayer(labels)) { map.removeLayer(labels); }
            }
            map.on("zoomend", sync);
            sync();
        })({{ this._parent.get_name() }}, {{ this.get_name() }}, {{ this.min_zoom|tojson }});
        {% endmacro %}
    """)

    def __init__(self, points: list[tuple[float, float]], names: list[str], min_zoom: int = LABEL_MIN_ZOOM):
        super().__init__()
        self._name = "GridLabels"
        self.labels = [
            [round(lat, 7), round(lon, 7), str(name)] for (lon, lat), name in zip(points, names, strict=True)
        ]
        self.min_zoom = int(min_zoom)


# --- the two maps ---------------------------------------------------------------------------------


def dispatcher_map(
    shapes: VersionShapes,
    *,
    tiles: str = "none",
    tianditu_key: str | None = None,
) -> folium.Map:
    """The dispatcher's base: the version's outlines, light, fitted to its grids."""
    m = base_map(shapes.bounds, tiles=tiles, tianditu_key=tianditu_key)
    outline_layer("grids", shapes.grid_geoms, tiles=tiles, control=False, **GRID_STYLE).add_to(m)
    outline_layer(
        "communities", shapes.community_geoms, tiles=tiles, control=False, **COMMUNITY_STYLE
    ).add_to(m)
    if shapes.town_outline is not None:
        outline_layer("town", [shapes.town_outline], tiles=tiles, control=False, **TOWN_STYLE).add_to(m)
    return m


def grids_map(
    shapes: VersionShapes,
    colours: Mapping[str, str],
    names: Mapping[str, str],
    *,
    tiles: str = "none",
    tianditu_key: str | None = None,
) -> folium.Map:
    """Every grid coloured by its community, with tooltips, labels, outlines and a layer control.

    ``names`` holds the page's words (layer names, tooltip headings) in its language.
    """
    m = base_map(shapes.bounds, tiles=tiles, tianditu_key=tianditu_key)
    shifted = shift_geoms(shapes.grid_geoms, tiles)
    features = []
    for code, name, community, geom in zip(
        shapes.codes, shapes.names, shapes.grid_communities, shifted, strict=True
    ):
        info = shapes.communities.get(community, {})
        features.append(
            {
                "type": "Feature",
                "id": code,
                "geometry": shapely.geometry.mapping(geom),
                "properties": {
                    "code": code,
                    "name": text(name),
                    "community": text(info.get("short_name") or info.get("name") or community),
                    "kind": text(names.get(f"kind_{info.get('kind')}", "")),
                    "colour": colours.get(community, "#cccccc"),
                },
            }
        )
    grid_group = folium.FeatureGroup(name=text(names["layer_grids"]), show=True)
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        style_function=lambda f: {
            "fillColor": f["properties"]["colour"],
            "fillOpacity": 0.55,
            "color": "#ffffff",
            "weight": 0.8,
        },
        highlight_function=lambda _f: {"color": "#222222", "weight": 2.5, "fillOpacity": 0.7},
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "code", "community", "kind"],
            aliases=[text(names[k]) for k in ("tip_name", "tip_code", "tip_community", "tip_kind")],
            class_name="grid-tooltip",
        ),
        smooth_factor=0.5,
        control=False,
    ).add_to(grid_group)
    grid_group.add_to(m)
    outline_layer(
        text(names["layer_communities"]), shapes.community_geoms, tiles=tiles, color="#3d3a35", weight=1.8
    ).add_to(m)
    if shapes.town_outline is not None:
        outline_layer(
            text(names["layer_town"]), [shapes.town_outline], tiles=tiles, color="#c0392b", weight=3.0
        ).add_to(m)
    points = shapely.point_on_surface(shifted)
    GridLabels([(float(p.x), float(p.y)) for p in points], shapes.names).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m


def legend(shapes: VersionShapes, colours: Mapping[str, str]) -> list[dict]:
    """The overview's legend rows: each community of the version with its colour, kind and grid count."""
    counts: dict[str, int] = {}
    for community in shapes.grid_communities:
        counts[community] = counts.get(community, 0) + 1
    rows = []
    for code in sorted(counts):
        info = shapes.communities.get(code, {})
        rows.append(
            {
                "code": code,
                "name": info.get("short_name") or info.get("name") or code,
                "kind": info.get("kind"),
                "colour": colours.get(code, "#cccccc"),
                "grids": counts[code],
            }
        )
    return rows


MAP_CACHE = 16


# --- the per-app cache ------------------------------------------------------------------------------


def cache_for(app: Flask) -> Memo:
    """Rendered maps (``base.Embedded``) by key, a few at a time; safe across request threads."""
    return app.extensions.setdefault("redgrid.map_cache", Memo(MAP_CACHE))
