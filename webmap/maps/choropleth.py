"""Grids (and H3 cells) filled by class: the planner's count, rate and H3 layers, and the grid outlines.

The outlines go into the page once (``GridData``, with each grid's popup and name); the
count, rate and hot-spot layers each add only a class number per grid
(``ClassedPolygons``). Names and popups are escaped (``text``) and embedded as JSON
escaped for a script element (``js_json``).
"""

from __future__ import annotations

from collections.abc import Sequence

import folium
import numpy as np
import shapely
from branca.element import MacroElement
from folium.template import Template

from geo.aggregate import Classification
from webmap.maps.base import js_json
from webmap.maps.base import text

#: ColorBrewer sequential schemes, five classes (colour-blind safe, print friendly).
COUNT_COLORS = ("#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000")  # OrRd
RATE_COLORS = ("#f1eef6", "#bdc9e1", "#74a9cf", "#2b8cbe", "#045a8d")  # PuBu
H3_COLORS = ("#ffffcc", "#c2e699", "#78c679", "#31a354", "#006837")  # YlGn


class GridData(MacroElement):
    """The grids' outlines, names and popups, once per page, for the layers that draw grids."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = {{ this.geojson }};
            var {{ this.get_name() }}_names = {{ this.names_js }};
            var {{ this.get_name() }}_popups = {{ this.popups_js }};
            var {{ this.get_name() }}_points = {{ this.points_js }};
        {% endmacro %}
    """)

    def __init__(
        self,
        geoms,
        codes: Sequence[str],
        names: Sequence[str | None],
        popups: Sequence[str],
        *,
        digits: int = 6,
    ) -> None:
        super().__init__()
        self._name = "GridData"
        geoms = np.asarray(geoms, dtype=object)
        if not len(geoms) == len(codes) == len(names) == len(popups):
            raise ValueError("geometries, codes, names and popups differ in length")
        rounded = shapely.transform(geoms, lambda c: np.round(c, digits))
        self.codes = [str(c) for c in codes]
        features = [
            {"type": "Feature", "properties": {"i": i, "code": code}, "geometry": shapely.geometry.mapping(g)}
            for i, (code, g) in enumerate(zip(self.codes, rounded, strict=True))
        ]
        self.geojson = js_json({"type": "FeatureCollection", "features": features})
        self.names = [text(n if n else c) for n, c in zip(names, self.codes, strict=True)]
        self.names_js = js_json(self.names)
        self.popups = list(popups)
        self.popups_js = js_json(self.popups)
        inside = shapely.point_on_surface(geoms)
        self.points_js = js_json([[round(p.y, digits), round(p.x, digits)] for p in inside])


class ClassedPolygons(MacroElement):
    """Polygons filled by class (palette index per feature; −1: no data), with tooltips and popups.

    The polygons are a shared ``GridData`` (features carry their position ``i``) or outer
    rings of their own (``[[lon, lat], …]`` each). Add it to a FeatureGroup.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var palette = {{ this.palette_js }}, classes = {{ this.classes_js }}, tips = {{ this.tips_js }};
            var names = {{ this.names_var }}, popups = {{ this.popups_var }};
            L.geoJson({{ this.data_var }}, {
                interactive: {{ 'true' if this.interactive else 'false' }},
                style: function (f) {
                    var c = classes[f.properties.i], fill = c >= 0 ? palette[c] : null;
                    return {color: {{ this.line_color_js }}, weight: {{ this.line_weight }}, opacity: 0.9,
                            fill: {{ 'true' if this.fill else 'false' }}, fillColor: fill || '#ffffff',
                            fillOpacity: fill ? {{ this.fill_opacity }} : 0.05,
                            dashArray: c >= 0 ? null : '3 3'};
                },
                onEachFeature: function (f, layer) {
                    var i = f.properties.i;
                    {% if this.interactive %}
                    if (tips) {
                        layer.bindTooltip((names ? names[i] + ' · ' : '') + tips[i], {sticky: true});
                    }
                    if (popups) {
                        layer.bindPopup(function () { return popups[i]; },
                                        {maxWidth: 360, minWidth: 240, className: 'planner-popup'});
                    }
                    {% endif %}
                }
            }).addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
    """)

    def __init__(
        self,
        classes: Sequence[int] | None,
        palette: Sequence[str],
        *,
        data: GridData | None = None,
        rings: Sequence | None = None,
        tips: Sequence[str] | None = None,
        popups: bool = False,
        interactive: bool = True,
        fill: bool = True,
        fill_opacity: float = 0.72,
        line_color: str = "#555555",
        line_weight: float = 0.6,
    ) -> None:
        super().__init__()
        self._name = "ClassedPolygons"
        if (data is None) == (rings is None):
            raise ValueError("give either a shared GridData or polygon rings of its own")
        n = len(data.codes) if data is not None else len(rings)
        self.classes = [-1] * n if classes is None else [int(c) for c in classes]
        if len(self.classes) != n:
            raise ValueError(f"{len(self.classes)} classes for {n} polygons")
        self.palette = list(palette)
        if any(c >= len(self.palette) for c in self.classes):
            raise ValueError("a class beyond the palette")
        self.tips = None if tips is None else [str(tip) for tip in tips]
        self.data = data
        self.rings = rings
        self.popups = popups and data is not None
        self.interactive, self.fill = interactive, fill
        self.fill_opacity, self.line_weight = float(fill_opacity), float(line_weight)
        self.line_color_js = js_json(line_color)
        self.palette_js = js_json(self.palette)
        self.classes_js = js_json(self.classes)
        self.tips_js = js_json(self.tips)
        self.rings_js = js_json(rings) if rings is not None else None

    @property
    def fills(self) -> list[str | None]:
        """The fill colour of each polygon (None: no data)."""
        return [self.palette[c] if c >= 0 else None for c in self.classes]

    @property
    def data_var(self) -> str:
        if self.data is not None:
            return self.data.get_name()
        # outer rings only (H3 cells have no holes), built into GeoJSON in the browser
        return (
            "(function (rings) { return {type: 'FeatureCollection', features: rings.map("
            "function (r, i) { return {type: 'Feature', properties: {i: i},"
            " geometry: {type: 'Polygon', coordinates: [r]}}; })}; })"
            f"({self.rings_js})"
        )

    @property
    def names_var(self) -> str:
        return f"{self.data.get_name()}_names" if self.data is not None else "null"

    @property
    def popups_var(self) -> str:
        return f"{self.data.get_name()}_popups" if self.popups else "null"


# --------------------------------------------------------------------------- layers


def class_layer(
    data: GridData,
    classification: Classification,
    palette: Sequence[str],
    *,
    name: str,
    tips: Sequence[str],
    show: bool = False,
    overlay: bool = False,
) -> tuple[folium.FeatureGroup, ClassedPolygons]:
    """A choropleth of the grids, classes from ``classification`` (e.g. Fisher–Jenks, k = 5)."""
    colors = palette_for(classification.k, palette)
    group = folium.FeatureGroup(name=name, overlay=overlay, show=show)
    polygons = ClassedPolygons(classification.classes, colors, data=data, tips=tips, popups=True)
    group.add_child(polygons)
    return group, polygons


def palette_for(k: int, palette: Sequence[str]) -> list[str]:
    """``k`` colours spread over a five-colour scheme (fewer classes keep its ends)."""
    if k <= 0:
        return []
    if k >= len(palette):
        return list(palette)
    picks = np.round(np.linspace(0, len(palette) - 1, k)).astype(int) if k > 1 else [len(palette) - 1]
    return [palette[i] for i in picks]


def class_legend_entries(
    classification: Classification, palette: Sequence[str], no_data: str | None = None
) -> list[tuple[str | None, str]]:
    colors = palette_for(classification.k, palette)
    entries: list[tuple[str | None, str]] = [
        (color, f"{label} ({n})")
        for color, label, n in zip(colors, classification.labels, classification.counts.tolist(), strict=True)
    ]
    missing = int((classification.classes < 0).sum())
    if missing and no_data:
        entries.append((None, f"{no_data} ({missing})"))
    return entries


def h3_layer(
    hexes,
    classification: Classification,
    *,
    name: str,
    tips: Sequence[str],
    show: bool = False,
    overlay: bool = False,
    digits: int = 5,
) -> tuple[folium.FeatureGroup, ClassedPolygons]:
    """H3 cells (``geo.aggregate.h3_counts``) filled by class of their count."""
    rings = [
        np.round(shapely.get_coordinates(g.exterior)[:-1], digits).tolist()
        for g in np.asarray(hexes.geometry.values, dtype=object)
    ]
    group = folium.FeatureGroup(name=name, overlay=overlay, show=show)
    polygons = ClassedPolygons(
        classification.classes,
        palette_for(classification.k, H3_COLORS),
        rings=rings,
        tips=tips,
        line_color="#31a354",
        line_weight=0.4,
        fill_opacity=0.7,
    )
    group.add_child(polygons)
    return group, polygons


def outline_layer(data: GridData, *, name: str, show: bool = True) -> folium.FeatureGroup:
    """The grid outlines over whatever is shown (not clickable, so popups below still open)."""
    group = folium.FeatureGroup(name=name, overlay=True, show=show)
    group.add_child(
        ClassedPolygons(
            None, [], data=data, interactive=False, fill=False, line_color="#666666", line_weight=0.5
        )
    )
    return group
