"""Folium layers for the planner's page: heat, monthly animation, choropleths, Gi* hot spots, H3.

Everything here is built from numbers the server has already aggregated (``webmap.planner``
does the counting), so a page for 50,000 complaints carries a few thousand weighted points
and one copy of the grid outlines, not 50,000 markers. The choices, and why:

Heat points. Leaflet.heat draws every point it is given, on every zoom and pan, and the page
has to carry them all. Complaints are therefore binned into small square cells (50 m, in a
local equirectangular frame, so cells stay put whatever the filters) and each cell becomes
one point at the mean position of its complaints, weighted by their number. When more cells
are occupied than the cap allows, the busiest fine cells are kept and the rest of the
complaints are merged into coarser cells (4 × the size, doubled again if needed) — the
largest number of fine cells for which the total stays within the cap. Hot streets keep
their 50 m detail, the thin background costs little, and the weights always add up to the
number of complaints drawn.

Animation. One HeatMapWithTime frame per calendar month (China time), on coarser 250 m cells
with a per-frame cap (and a cap on all frames together, so ten years do not weigh ten times
two). Folium's frames are drawn by heatmap.js, whose intensity scale starts at 1, so the
layer passes one scale for all frames (the 98th percentile of the cell counts): frames are
comparable, a quiet month looks quiet, and the few busiest cells saturate. Folium's template
calls jQuery's ``$.extend``, which the offline pages do not load; ``TimeHeatMap`` uses
Leaflet's ``L.extend`` instead.

Grids. The outlines go into the page once (``GridData``, with each grid's popup and name);
the count, rate and hot-spot layers each add only a class number per grid
(``ClassedPolygons``). Popups are HTML built on the server, with user-supplied strings
escaped (``maps.text``) and embedded as JSON escaped for a script element.

Legends follow their layer: a legend is on the map while its layer is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass

import folium
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium import plugins
from folium.template import Template
from numpy.typing import ArrayLike
from numpy.typing import NDArray

from geo.aggregate import LOCAL_TZ
from geo.aggregate import Classification
from geo.aggregate import month_labels
from webmap.maps import text

HEAT_CELL_M = 50.0
HEAT_CAP = 6_000
ANIM_CELL_M = 250.0
ANIM_CAP = 600  # weighted points per month at most
ANIM_TOTAL_CAP = 12_000  # and over all months together
COARSE_FACTOR = 4
M_PER_DEG = 111_320.0

#: ColorBrewer sequential schemes, five classes (colour-blind safe, print friendly).
COUNT_COLORS = ("#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000")  # OrRd
RATE_COLORS = ("#f1eef6", "#bdc9e1", "#74a9cf", "#2b8cbe", "#045a8d")  # PuBu
H3_COLORS = ("#ffffcc", "#c2e699", "#78c679", "#31a354", "#006837")  # YlGn
#: Gi_Bin −3…+3 (ArcGIS's hot/cold spot colours: RdBu diverging), and grids not tested.
GI_COLORS = {-3: "#2166ac", -2: "#67a9cf", -1: "#d1e5f0", 0: "#f7f7f7",
             1: "#fddbc7", 2: "#ef8a62", 3: "#b2182b"}
UNTESTED_COLOR = "#bdbdbd"
HEAT_GRADIENT = {0.2: "#2c7bb6", 0.4: "#abd9e9", 0.6: "#ffffbf", 0.8: "#fdae61", 1.0: "#d7191c"}

Translate = Callable[..., str]


def js_json(obj) -> str:
    """Compact JSON that is safe inside an HTML script element.

    A script element ends only at ``</`` + ``script`` and is disturbed only by ``<!--``, so
    ``</`` becomes ``<\\/`` (the same string in JSON) and ``<!`` becomes ``\\u003c!``: popups
    full of markup stay a third smaller than with every ``<`` and ``>`` escaped. User text
    inside them is HTML-escaped before (``maps.text``), so it holds no ``<`` at all.
    """
    out = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in (("</", "<\\/"), ("<!", "\\u003c!"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        out = out.replace(raw, escaped)
    return out


# --------------------------------------------------------------------------- weighted points


@dataclass(frozen=True)
class WeightedPoints:
    """Cells of complaints as points: mean position of each cell's complaints, and their number."""

    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    weight: NDArray[np.int64]
    cell_m: float  # size of the fine cells
    coarse_m: float | None  # size of the cells the thinner rest was merged into (None: not needed)
    n_fine: int  # how many of the points are fine cells

    def __len__(self) -> int:
        return len(self.weight)

    @property
    def total(self) -> int:
        return int(self.weight.sum())

    def rows(self, digits: int = 5) -> list[list[float]]:
        """``[lat, lon, weight]`` rows for Leaflet (5 decimals: about a metre)."""
        return [[y, x, w] for y, x, w in zip(np.round(self.lat, digits).tolist(),
                                             np.round(self.lon, digits).tolist(),
                                             self.weight.tolist(), strict=True)]


def weighted_points(lon: ArrayLike, lat: ArrayLike, *, cell_m: float = HEAT_CELL_M, cap: int = HEAT_CAP,
                    coarse_factor: int = COARSE_FACTOR, ref_lat: float | None = None) -> WeightedPoints:
    """Complaints binned into ``cell_m`` squares, at most ``cap`` points, weights summing to the count.

    Points without finite coordinates are dropped. ``ref_lat`` fixes the latitude the
    east–west cell size is measured at (default: the points' mean), so that several calls
    (one per month) share one set of cells.
    """
    x = np.asarray(lon, dtype=float).reshape(-1)
    y = np.asarray(lat, dtype=float).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"{x.size} longitudes for {y.size} latitudes")
    if int(cap) < 1 or cell_m <= 0 or int(coarse_factor) < 2:
        raise ValueError("cap must be ≥ 1, cell_m > 0 and coarse_factor ≥ 2")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) == 0:
        empty = np.empty(0)
        return WeightedPoints(empty, empty.copy(), np.empty(0, dtype=np.int64), float(cell_m), None, 0)
    ref = float(np.mean(y)) if ref_lat is None else float(ref_lat)
    ix = np.floor(x * (M_PER_DEG * np.cos(np.radians(ref))) / cell_m).astype(np.int64)
    iy = np.floor(y * M_PER_DEG / cell_m).astype(np.int64)
    fine_keys, fine_of, fine_n = _cells(ix, iy)
    if len(fine_n) <= cap:
        return _collect(x, y, fine_of, len(fine_n), float(cell_m), None, len(fine_n))

    factor = int(coarse_factor)
    while True:  # coarse enough that all points merged would fit
        _, coarse_of, coarse_n = _cells(ix // factor, iy // factor)
        if len(coarse_n) <= cap:
            break
        factor *= 2
    # Fine cells busiest first (ties by cell, for the same answer on every run).
    order = np.lexsort((fine_keys, -fine_n))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    point_rank = rank[fine_of]

    def points_for(k: int) -> int:
        # keeping one more fine cell removes at most one coarse cell (cells nest), so this
        # never decreases with k and the largest k within the cap can be bisected
        return k + len(np.unique(coarse_of[point_rank >= k]))

    lo, hi = 0, len(fine_n)  # points_for(lo) ≤ cap < points_for(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if points_for(mid) <= cap:
            lo = mid
        else:
            hi = mid
    kept = point_rank < lo
    group = np.empty(len(x), dtype=np.int64)
    group[kept] = point_rank[kept]
    _, rest = np.unique(coarse_of[~kept], return_inverse=True)
    group[~kept] = lo + rest.reshape(-1)
    n_groups = lo + (int(rest.max()) + 1 if rest.size else 0)
    return _collect(x, y, group, n_groups, float(cell_m), float(cell_m) * factor, lo)


def _cells(ix: NDArray, iy: NDArray) -> tuple[NDArray, NDArray, NDArray]:
    """Distinct (ix, iy) cells: their keys, each point's cell, points per cell."""
    span = int(iy.max() - iy.min()) + 1
    key = (ix - ix.min()) * span + (iy - iy.min())
    keys, of, n = np.unique(key, return_inverse=True, return_counts=True)
    return keys, of.reshape(-1), n


def _collect(x, y, group, n_groups, cell_m, coarse_m, n_fine) -> WeightedPoints:
    weight = np.bincount(group, minlength=n_groups)
    return WeightedPoints(np.bincount(group, weights=x, minlength=n_groups) / weight,
                          np.bincount(group, weights=y, minlength=n_groups) / weight,
                          weight.astype(np.int64), cell_m, coarse_m, n_fine)


# --------------------------------------------------------------------------- months


def month_of(times: ArrayLike) -> NDArray:
    """Each time's calendar month in China time (naive times are taken as China time already)."""
    stamps = pd.DatetimeIndex(pd.to_datetime(times))
    if stamps.tz is not None:
        stamps = stamps.tz_convert(LOCAL_TZ).tz_localize(None)
    return stamps.to_numpy().astype("datetime64[M]")


@dataclass(frozen=True)
class MonthlyHeat:
    """One frame of weighted points per month, labelled YYYY-MM."""

    labels: list[str]
    frames: list[WeightedPoints]
    totals: NDArray[np.int64]  # complaints drawn per month (their weights' sum)
    cell_m: float

    @property
    def max_weight(self) -> int:
        return max((int(f.weight.max()) for f in self.frames if len(f)), default=0)

    @property
    def scale(self) -> int:
        """The count drawn at full colour: the 98th percentile of all cells of all months.

        With the maximum, a few market-street cells would leave every other cell nearly
        invisible; above this they simply stay at full colour.
        """
        weights = [f.weight for f in self.frames if len(f)]
        if not weights:
            return 1
        return max(1, int(np.ceil(np.quantile(np.concatenate(weights), 0.98))))


def monthly_heat(lon: ArrayLike, lat: ArrayLike, times: ArrayLike, *, start, end,
                 cell_m: float = ANIM_CELL_M, cap: int = ANIM_CAP, total_cap: int = ANIM_TOTAL_CAP,
                 ref_lat: float | None = None) -> MonthlyHeat:
    """Weighted points per month from ``start``'s month to ``end``'s, all on one set of cells."""
    x = np.asarray(lon, dtype=float).reshape(-1)
    y = np.asarray(lat, dtype=float).reshape(-1)
    labels = month_labels(start, end)
    months = month_of(times)
    if len(months) != len(x):
        raise ValueError(f"{len(months)} times for {len(x)} points")
    first = np.datetime64(labels[0], "M") if labels else None
    per_frame = max(1, min(int(cap), int(total_cap) // max(len(labels), 1)))
    finite = y[np.isfinite(y)]
    ref = ref_lat if ref_lat is not None else (float(finite.mean()) if finite.size else 0.0)
    index = (months - first).astype(np.int64) if labels else np.empty(0, dtype=np.int64)
    frames = [weighted_points(x[index == i], y[index == i], cell_m=cell_m, cap=per_frame, ref_lat=ref)
              for i in range(len(labels))]
    totals = np.array([f.total for f in frames], dtype=np.int64)
    return MonthlyHeat(labels, frames, totals, float(cell_m))


# --------------------------------------------------------------------------- sparklines and popups


def sparkline_svg(values: Sequence[float], *, width: int = 200, height: int = 40, pad: int = 3,
                  label: str = "") -> str:
    """An inline SVG line of monthly counts, one polyline point per month (no chart library)."""
    v = np.asarray(values, dtype=float).reshape(-1)
    if v.size == 0:
        return ""
    top = float(v.max()) if v.size and v.max() > 0 else 1.0
    xs = np.full(1, width / 2) if v.size == 1 else pad + np.arange(v.size) * (width - 2 * pad) / (v.size - 1)
    ys = height - pad - v / top * (height - 2 * pad)
    points = " ".join(f"{px:.0f},{py:.0f}" for px, py in zip(xs.tolist(), ys.tolist(), strict=True))
    base = height - pad
    # colours as attributes (not only CSS): the sparkline must also read in an exported file
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="{text(label)}"><path d="M{pad} {base}H{width - pad}" stroke="#ccc"/>'
            f'<polyline fill="none" stroke="#c0392b" stroke-width="1.5" points="{points}"/></svg>')


@dataclass(frozen=True)
class GridFacts:
    """What a grid's popup says (strings as given: the popup escapes them)."""

    name: str | None
    code: str
    community: str | None
    count: int
    population: float | None
    rate: float | None
    gi_label: str
    gi_bin: int
    trend: str
    monthly: Sequence[int]
    months: Sequence[str]
    top: Sequence[tuple[str, int]]  # (category name, complaints)


def grid_popup(facts: GridFacts, tr: Translate) -> str:
    """A grid's popup: name and code, counts, rate, Gi*, monthly sparkline, top categories."""
    rate = "–" if facts.rate is None or not np.isfinite(facts.rate) else f"{facts.rate:.1f}"
    pop = "–" if facts.population is None or not np.isfinite(facts.population) else f"{facts.population:,.0f}"
    gi_class = "hot" if facts.gi_bin > 0 else "cold" if facts.gi_bin < 0 else "ns"
    rows = [
        (tr("pl_complaints"), f"{facts.count:,}"),
        (tr("pl_population"), pop),
        (tr("pl_rate"), rate),
    ]
    table = "".join(f"<tr><th>{text(k)}</th><td>{text(v)}</td></tr>" for k, v in rows)
    table += (f'<tr><th>Gi*</th><td><span class="gi gi-{gi_class}">{text(facts.gi_label)}</span></td></tr>'
              f"<tr><th>{text(tr('pl_trend'))}</th><td>{text(facts.trend)}</td></tr>")
    span = ""
    if facts.months:
        peak = max(facts.monthly) if len(facts.monthly) else 0
        span = (f'<div class="spark-note">{text(facts.months[0])} – {text(facts.months[-1])} · '
                f"{text(tr('pl_peak', n=peak))}</div>")
    spark = sparkline_svg(facts.monthly, label=tr("pl_monthly"))
    top = "".join(f"<li>{text(name)} <b>{n:,}</b></li>" for name, n in facts.top)
    top_html = f"<div class=\"pl-top\">{text(tr('pl_top_categories'))}<ol>{top}</ol></div>" if top else ""
    community = f" · {text(facts.community)}" if facts.community else ""
    return (f'<div class="pl-pop" data-code="{text(facts.code)}">'
            f'<div class="pl-pop-title">{text(facts.name or facts.code)}</div>'
            f'<div class="pl-pop-code">{text(facts.code)}{community}</div>'
            f'<table class="pl-pop-table">{table}</table>'
            f"<div class=\"pl-spark\">{spark}{span}</div>{top_html}</div>")


# --------------------------------------------------------------------------- folium elements


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

    def __init__(self, geoms, codes: Sequence[str], names: Sequence[str | None],
                 popups: Sequence[str], *, digits: int = 6) -> None:
        super().__init__()
        self._name = "GridData"
        geoms = np.asarray(geoms, dtype=object)
        if not len(geoms) == len(codes) == len(names) == len(popups):
            raise ValueError("geometries, codes, names and popups differ in length")
        rounded = shapely.transform(geoms, lambda c: np.round(c, digits))
        self.codes = [str(c) for c in codes]
        features = [{"type": "Feature", "properties": {"i": i, "code": code},
                     "geometry": shapely.geometry.mapping(g)}
                    for i, (code, g) in enumerate(zip(self.codes, rounded, strict=True))]
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

    def __init__(self, classes: Sequence[int] | None, palette: Sequence[str], *, data: GridData | None = None,
                 rings: Sequence | None = None, tips: Sequence[str] | None = None, popups: bool = False,
                 interactive: bool = True, fill: bool = True, fill_opacity: float = 0.72,
                 line_color: str = "#555555", line_weight: float = 0.6) -> None:
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
        return ("(function (rings) { return {type: 'FeatureCollection', features: rings.map("
                "function (r, i) { return {type: 'Feature', properties: {i: i},"
                " geometry: {type: 'Polygon', coordinates: [r]}}; })}; })"
                f"({self.rings_js})")

    @property
    def names_var(self) -> str:
        return f"{self.data.get_name()}_names" if self.data is not None else "null"

    @property
    def popups_var(self) -> str:
        return f"{self.data.get_name()}_popups" if self.popups else "null"


class Legend(MacroElement):
    """A legend that is on the map exactly while its layer is. Add it to the map after the layer."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }}, layer = {{ this.layer.get_name() }};
            var legend = L.control({position: 'bottomright'});
            legend.onAdd = function () {
                var div = L.DomUtil.create('div', 'map-legend planner-legend');
                div.setAttribute('data-legend', {{ this.key_js }});
                div.innerHTML = {{ this.html_js }};
                return div;
            };
            function sync() {
                if (map.hasLayer(layer)) { if (!legend._map) { legend.addTo(map); } }
                else if (legend._map) { legend.remove(); }
            }
            map.on('layeradd layerremove', sync);
            sync();
        })();
        {% endmacro %}
    """)

    def __init__(self, layer, key: str, title: str, entries: Sequence[tuple[str | None, str]],
                 note: str | None = None) -> None:
        super().__init__()
        self._name = "Legend"
        self.layer = layer
        self.key = key
        self.entries = list(entries)
        rows = "".join(
            f'<div class="legend-row"><i style="background:{text(color)}"></i>{text(label)}</div>'
            if color else f'<div class="legend-row"><i class="legend-none"></i>{text(label)}</div>'
            for color, label in self.entries)
        html = f'<div class="legend-title">{text(title)}</div>{rows}'
        if note:
            html += f'<div class="legend-note">{text(note)}</div>'
        self.html = html
        self.key_js = js_json(key)
        self.html_js = js_json(html)


class TimeHeatMap(plugins.HeatMapWithTime):
    """folium's HeatMapWithTime without jQuery, with one intensity scale for all frames.

    The template is folium 0.20's, changed in three places: ``L.extend`` for ``$.extend``
    (the pages load no jQuery), the frames' data carry ``max`` (heatmap.js otherwise
    saturates at a weight of 1, so whole counts can be sent), and the time control is
    hidden while the layer is off the map. Add it to the map itself, not to a FeatureGroup:
    the time dimension belongs to the map.
    """

    _template = Template("""
        {% macro header(this, kwargs) %}
            <script>
            var TDHeatmap = L.TimeDimension.Layer.extend({
                initialize: function(data, options) {
                    var heatmapCfg = {
                        radius: 15,
                        blur: 0.8,
                        maxOpacity: 1.,
                        scaleRadius: false,
                        useLocalExtrema: false,
                        latField: 'lat',
                        lngField: 'lng',
                        valueField: 'count',
                        defaultWeight : 1,
                    };
                    heatmapCfg = L.extend({}, heatmapCfg, options.heatmapOptions || {});
                    var layer = new HeatmapOverlay(heatmapCfg);
                    L.TimeDimension.Layer.prototype.initialize.call(this, layer, options);
                    this._currentLoadedTime = 0;
                    this._currentTimeData = {
                        max: options.maxValue || 1,
                        min: 0,
                        data: []
                        };
                    this.data= data;
                    this.defaultWeight = heatmapCfg.defaultWeight || 1;
                },
                onAdd: function(map) {
                    L.TimeDimension.Layer.prototype.onAdd.call(this, map);
                    map.addLayer(this._baseLayer);
                    if (this._timeDimension) {
                        this._getDataForTime(this._timeDimension.getCurrentTime());
                    }
                },
                _onNewTimeLoading: function(ev) {
                    this._getDataForTime(ev.time);
                    return;
                },
                isReady: function(time) {
                    return (this._currentLoadedTime == time);
                },
                _update: function() {
                    this._baseLayer.setData(this._currentTimeData);
                    return true;
                },
                _getDataForTime: function(time) {
                    delete this._currentTimeData.data;
                    this._currentTimeData.data = [];
                    var data = this.data[time-1] || [];
                    for (var i = 0; i < data.length; i++) {
                        this._currentTimeData.data.push({
                                lat: data[i][0],
                                lng: data[i][1],
                                count: data[i].length>2 ? data[i][2] : this.defaultWeight
                            });
                        }
                    this._currentLoadedTime = time;
                    if (this._timeDimension && time == this._timeDimension.getCurrentTime()
                            && !this._timeDimension.isLoading()) {
                        this._update();
                    }
                    this.fire('timeload', {
                        time: time
                    });
                }
            });

            L.Control.TimeDimensionCustom = L.Control.TimeDimension.extend({
                initialize: function(index, options) {
                    var playerOptions = {
                        buffer: 1,
                        minBufferReady: -1
                        };
                    options.playerOptions = L.extend({}, playerOptions, options.playerOptions || {});
                    L.Control.TimeDimension.prototype.initialize.call(this, options);
                    this.index = index;
                },
                _getDisplayDateFormat: function(date) {
                    return this.index[date.getTime()-1];
                }
            });
            </script>
        {% endmacro %}

        {% macro script(this, kwargs) %}

            var times = {{ this.times_js }};

            {{this._parent.get_name()}}.timeDimension = L.timeDimension(
                {times : times, currentTime: new Date(1)}
            );

            var {{this._control_name}} = new L.Control.TimeDimensionCustom({{ this.index_js }}, {
                autoPlay: {{this.auto_play}},
                backwardButton: {{this.backward_button}},
                displayDate: {{this.display_index}},
                forwardButton: {{this.forward_button}},
                limitMinimumRange: {{this.limit_minimum_range}},
                limitSliders: {{this.limit_sliders}},
                loopButton: {{this.loop_button}},
                maxSpeed: {{this.max_speed}},
                minSpeed: {{this.min_speed}},
                playButton: {{this.play_button}},
                playReverseButton: {{this.play_reverse_button}},
                position: "{{this.position}}",
                speedSlider: {{this.speed_slider}},
                speedStep: {{this.speed_step}},
                styleNS: "{{this.style_NS}}",
                timeSlider: {{this.time_slider}},
                timeSliderDragUpdate: {{this.time_slider_drag_update}},
                timeSteps: {{this.index_steps}}
                })
                .addTo({{this._parent.get_name()}});

                var {{this.get_name()}} = new TDHeatmap({{ this.data_js }},
                {maxValue: {{ this.max_value }},
                 heatmapOptions: {
                        radius: {{this.radius}},
                        blur: {{this.blur}},
                        minOpacity: {{this.min_opacity}},
                        maxOpacity: {{this.max_opacity}},
                        scaleRadius: {{this.scale_radius}},
                        useLocalExtrema: {{this.use_local_extrema}},
                        defaultWeight: 1,
                        {% if this.gradient %}gradient: {{ this.gradient_js }}{% endif %}
                    }
                });

                (function () {
                    var map = {{this._parent.get_name()}}, layer = {{this.get_name()}},
                        control = {{this._control_name}};
                    function sync() {
                        var box = control.getContainer();
                        if (box) { box.style.display = map.hasLayer(layer) ? '' : 'none'; }
                    }
                    map.on('layeradd layerremove', sync);
                    sync();
                })();

        {% endmacro %}
    """)

    def __init__(self, monthly: MonthlyHeat, **kwargs) -> None:
        frames = [f.rows(digits=4) for f in monthly.frames]  # ~10 m: fine for 250 m cells
        super().__init__(frames, index=list(monthly.labels), **kwargs)
        self.monthly = monthly
        self.max_value = monthly.scale
        self.data_js = js_json(frames)
        self.index_js = js_json(list(monthly.labels))
        self.times_js = js_json(self.times)
        self.gradient_js = js_json({str(k): v for k, v in self.gradient.items()}) if self.gradient else "null"

    def _get_self_bounds(self):
        points = [p for frame in self.data for p in frame]
        if not points:
            return [[None, None], [None, None]]
        lats = [p[0] for p in points]
        lons = [p[1] for p in points]
        return [[min(lats), min(lons)], [max(lats), max(lons)]]


# --------------------------------------------------------------------------- layer builders


class CompactHeatMap(plugins.HeatMap):
    """folium's HeatMap with its points as compact JSON (folium writes them with spaces)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.heatLayer(
                {{ this.data_js }},
                {{ this.options|tojavascript }}
            );
        {% endmacro %}
    """)

    def __init__(self, points: WeightedPoints, **kwargs) -> None:
        super().__init__(points.rows(), **kwargs)
        self.points = points
        self.data_js = js_json(self.data)


def heat_layer(points: WeightedPoints, *, name: str, show: bool = False, overlay: bool = False,
               ) -> CompactHeatMap:
    """Leaflet.heat over the weighted points (folium's copy scales to the largest cell by itself)."""
    return CompactHeatMap(points, name=name, radius=18, blur=15, min_opacity=0.35,
                          max_zoom=17, gradient=HEAT_GRADIENT, overlay=overlay, show=show)


def animation_layer(monthly: MonthlyHeat, *, name: str, show: bool = False,
                    overlay: bool = False) -> TimeHeatMap:
    return TimeHeatMap(monthly, name=name, radius=22, blur=0.85, min_opacity=0.05, max_opacity=0.8,
                       position="bottomleft", overlay=overlay, show=show, auto_play=False,
                       max_speed=4, speed_step=0.5)


def class_layer(data: GridData, classification: Classification, palette: Sequence[str], *, name: str,
                tips: Sequence[str], show: bool = False, overlay: bool = False,
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


def class_legend_entries(classification: Classification, palette: Sequence[str],
                         no_data: str | None = None) -> list[tuple[str | None, str]]:
    colors = palette_for(classification.k, palette)
    entries: list[tuple[str | None, str]] = [
        (color, f"{label} ({n})") for color, label, n in
        zip(colors, classification.labels, classification.counts.tolist(), strict=True)]
    missing = int((classification.classes < 0).sum())
    if missing and no_data:
        entries.append((None, f"{no_data} ({missing})"))
    return entries


def gi_classes(gi_bin: ArrayLike, status: ArrayLike) -> list[int]:
    """Palette positions for Gi*: 0…6 for bins −3…+3, 7 for grids that were not tested."""
    bins = np.asarray(gi_bin, dtype=np.int64)
    tested = np.asarray(status) == "tested"
    return np.where(tested, bins + 3, len(GI_COLORS)).tolist()


GI_PALETTE = [GI_COLORS[b] for b in range(-3, 4)] + [UNTESTED_COLOR]


def hotspot_layer(data: GridData, gi: pd.DataFrame, *, name: str, tips: Sequence[str], show: bool = False,
                  overlay: bool = False) -> tuple[folium.FeatureGroup, ClassedPolygons]:
    """Getis-Ord Gi* per grid (``geo.hotspots.gi_star``): red hot, blue cold, by confidence."""
    group = folium.FeatureGroup(name=name, overlay=overlay, show=show)
    polygons = ClassedPolygons(gi_classes(gi["gi_bin"], gi["status"]), GI_PALETTE, data=data, tips=tips,
                               popups=True, fill_opacity=0.78)
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


def h3_layer(hexes, classification: Classification, *, name: str, tips: Sequence[str], show: bool = False,
             overlay: bool = False, digits: int = 5) -> tuple[folium.FeatureGroup, ClassedPolygons]:
    """H3 cells (``geo.aggregate.h3_counts``) filled by class of their count."""
    rings = [np.round(shapely.get_coordinates(g.exterior)[:-1], digits).tolist()
             for g in np.asarray(hexes.geometry.values, dtype=object)]
    group = folium.FeatureGroup(name=name, overlay=overlay, show=show)
    polygons = ClassedPolygons(classification.classes, palette_for(classification.k, H3_COLORS),
                               rings=rings, tips=tips, line_color="#31a354", line_weight=0.4,
                               fill_opacity=0.7)
    group.add_child(polygons)
    return group, polygons


def outline_layer(data: GridData, *, name: str, show: bool = True) -> folium.FeatureGroup:
    """The grid outlines over whatever is shown (not clickable, so popups below still open)."""
    group = folium.FeatureGroup(name=name, overlay=True, show=show)
    group.add_child(ClassedPolygons(None, [], data=data, interactive=False, fill=False,
                                    line_color="#666666", line_weight=0.5))
    return group
