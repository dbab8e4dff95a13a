"""The base of every map: offline assets, base tiles, outlines, the GCJ-02 overlay shift, embedding,
and escaping text and JSON for the page.

Pages run on government intranets where every CDN is out of reach, so every script
and style sheet folium would load from a CDN is pointed at the app's own static files
(fetched from npm by ``scripts/fetch_assets.py``). Folium keeps those URLs in class
attributes, so ``configure_assets`` sets them once per process at app start.

Base tiles are a setting. ``none`` (the default) draws the town, community and grid
outlines as the base map and needs no network. OpenStreetMap and Tianditu (CGCS2000,
which is WGS84 at map scale) line up with our WGS84 data. Amap tiles are in GCJ-02,
so with ``amap`` every overlay is shifted to GCJ-02 before drawing (the stored data
never is), and points clicked on such a map are sent to the API as ``gcj02``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import folium
import numpy as np
import shapely
from folium import plugins
from shapely.geometry.base import BaseGeometry

from geo.crs import from_wgs84
from geo.crs import geometries_from_wgs84

Translate = Callable[..., str]  # a page's ``t``: message key and values -> text

TILES = ("none", "osm", "tianditu", "amap")
_TILE_LAYERS = {
    "osm": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "© OpenStreetMap contributors", None),
    "tianditu": (
        "https://t{s}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=%(key)s",
        "© 天地图 Tianditu",
        "01234567",
    ),
    "amap": (
        "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "© 高德地图 Amap",
        "1234",
    ),
}
_configured: list[str] = []


def configure_assets(static_url: str = "/static") -> None:
    """Point folium's script and style lists at the app's static files (process-wide, once)."""
    if static_url in _configured:
        return
    vendor = f"{static_url}/vendor"
    folium.Map.default_js = [
        ("leaflet", f"{vendor}/leaflet/dist/leaflet.js"),
        # Leaflet's own words (zoom, layers, marker, attribution) in the page's language
        ("redgrid_leaflet_words", f"{static_url}/js/leaflet-words.js"),
    ]
    folium.Map.default_css = [
        ("leaflet_css", f"{vendor}/leaflet/dist/leaflet.css"),
        ("redgrid_map_css", f"{static_url}/css/map.css"),
    ]
    plugins.HeatMap.default_js = [("leaflet-heat.js", f"{vendor}/folium/leaflet_heat.min.js")]
    plugins.HeatMapWithTime.default_js = [
        ("iso8601", f"{vendor}/iso8601-js-period/iso8601.js"),
        ("leaflet.timedimension.min.js", f"{vendor}/leaflet-timedimension/dist/leaflet.timedimension.min.js"),
        ("heatmap.min.js", f"{vendor}/folium/pa7_hm.min.js"),
        ("leaflet-heatmap.js", f"{vendor}/folium/pa7_leaflet_hm.min.js"),
    ]
    plugins.HeatMapWithTime.default_css = [
        (
            "leaflet.timedimension.control.min.css",
            f"{vendor}/leaflet-timedimension/dist/leaflet.timedimension.control.min.css",
        )
    ]
    _configured.append(static_url)


def tile_origins(tiles: str) -> tuple[str, ...]:
    """Where browsers fetch these tiles from, as Content-Security-Policy sources (none offline)."""
    if tiles not in _TILE_LAYERS:
        return ()
    host = urlsplit(_TILE_LAYERS[tiles][0]).netloc
    if "{s}" in host:  # subdomains t0…t7, webrd01…04: CSP wildcards only a whole leftmost label
        host = "*." + host.split(".", 1)[1]
    return (f"https://{host}",)


def overlay_coordsys(tiles: str) -> str:
    """The coordinate system overlays must be drawn in to line up with the tiles."""
    return "gcj02" if tiles == "amap" else "wgs84"


def shift_geoms(geoms, tiles: str) -> np.ndarray:
    """WGS84 geometries as they must be drawn over these tiles."""
    return geometries_from_wgs84(np.asarray(geoms, dtype=object), overlay_coordsys(tiles))


def shift_points(lon, lat, tiles: str) -> tuple[np.ndarray, np.ndarray]:
    return from_wgs84(lon, lat, overlay_coordsys(tiles))


def base_map(
    bounds: tuple[float, float, float, float], *, tiles: str = "none", tianditu_key: str | None = None
) -> folium.Map:
    """A map fitted to WGS84 ``bounds`` with the configured base tiles (or none)."""
    if tiles not in TILES:
        raise ValueError(f"tiles={tiles!r}; expected one of {', '.join(TILES)}")
    xmin, ymin, xmax, ymax = bounds
    (cx,), (cy,) = shift_points([(xmin + xmax) / 2], [(ymin + ymax) / 2], tiles)
    m = folium.Map(
        location=[cy, cx],
        zoom_start=13,
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
        zoom_control=True,
    )
    if tiles != "none":
        url, attribution, subdomains = _TILE_LAYERS[tiles]
        if tiles == "tianditu":
            if not tianditu_key:
                raise ValueError("Tianditu tiles need a key (REDGRID_TIANDITU_KEY)")
            url = url % {"key": tianditu_key}
        folium.TileLayer(
            url, attr=attribution, name=tiles, subdomains=subdomains or "abc", max_zoom=18, control=False
        ).add_to(m)
    (x0, x1), (y0, y1) = shift_points([xmin, xmax], [ymin, ymax], tiles)
    m.fit_bounds([[y0, x0], [y1, x1]])
    return m


def outline_layer(
    name: str,
    geoms,
    *,
    tiles: str,
    color: str,
    weight: float,
    fill: bool = False,
    dash: str | None = None,
    show: bool = True,
    control: bool = True,
    interactive: bool = False,
) -> folium.FeatureGroup:
    """Plain outlines (town, communities, grids): the offline base map, or context on tiles."""
    group = folium.FeatureGroup(name=name, show=show, control=control)
    shifted = shift_geoms(geoms, tiles)
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(g)} for g in shifted
        ],
    }
    style = {
        "color": color,
        "weight": weight,
        "fill": fill,
        "fillOpacity": 0.0 if not fill else 0.05,
        "dashArray": dash,
        "interactive": interactive,
    }
    folium.GeoJson(
        collection,
        style_function=lambda _f, s=style: s,
        interactive=interactive,
        control=False,
        smooth_factor=0.5,
    ).add_to(group)
    return group


@dataclass(frozen=True)
class Embedded:
    """A folium map split into the parts a page template places itself."""

    header: str
    html: str
    script: str
    map_name: str


def embed(m: folium.Map) -> Embedded:
    root = m.get_root()
    root.render()
    return Embedded(root.header.render(), root.html.render(), root.script.render(), m.get_name())


#: Characters that end or interpolate a JS template literal: folium pastes Tooltip and Popup text
#: into one (`...`), so they become character references too (the browser shows them unchanged).
_TEMPLATE_LITERAL = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;"})


def text(value) -> str:
    """User-supplied text for map popups and tooltips, escaped (folium inserts them as HTML,
    and ``folium.Tooltip`` inside a JavaScript template literal)."""
    return html.escape("" if value is None else str(value), quote=True).translate(_TEMPLATE_LITERAL)


def geometry_json(geom: BaseGeometry) -> dict:
    return shapely.geometry.mapping(geom)


def js_json(obj) -> str:
    """Compact JSON that is safe inside an HTML script element.

    A script element ends only at ``</`` + ``script`` and is disturbed only by ``<!--``, so
    ``</`` becomes ``<\\/`` (the same string in JSON) and ``<!`` becomes ``\\u003c!``: popups
    full of markup stay a third smaller than with every ``<`` and ``>`` escaped. User text
    inside them is HTML-escaped before (``text``), so it holds no ``<`` at all.
    """
    out = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in (("</", "<\\/"), ("<!", "\\u003c!"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        out = out.replace(raw, escaped)
    return out


_SCRIPT_TAG = re.compile(r"<script(?![^>]*\bnonce=)(?=[\s>])", re.IGNORECASE)


def with_nonce(markup: str, nonce: str) -> str:
    """``markup`` (a folium map's header or script) with ``nonce`` on every ``<script>`` tag.

    Maps are rendered once and cached, the nonce is new for every response: it is added when
    the page is rendered, so the Content-Security-Policy can refuse every other inline script.
    """
    return _SCRIPT_TAG.sub(f'<script nonce="{html.escape(nonce, quote=True)}"', markup)
