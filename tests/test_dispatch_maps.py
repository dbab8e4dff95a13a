"""The folium maps of the dispatcher page and the grid overview, rendered without a browser.

The maps are built from the bundled demo files (not the store), so these tests check the
builders alone: local assets only, names escaped, the GCJ-02 shift over Amap tiles, colours.
The page and API tests at the end use the demo app.
"""

from __future__ import annotations

import datetime
import json
import re

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from jinja2.utils import htmlsafe_json_dumps

from geo import datums
from geo.gridset import community_outlines
from services.caching import Memo
from store.base import VersionInfo
from tests.apps import DEMO_COMMUNITIES
from tests.apps import DEMO_COMMUNITY_COUNT
from tests.apps import DEMO_GRIDS
from tests.apps import DEMO_OUTLINE
from webmap import maps
from webmap.maps import gridmaps

EVIL = '<script>alert(1)</script><img src=x onerror="alert(2)">`${alert(3)}`\\'
NAMES = {
    "layer_grids": "网格",
    "layer_communities": "社区边界",
    "layer_town": "镇界",
    "tip_name": "网格",
    "tip_code": "编码",
    "tip_community": "社区",
    "tip_kind": "类别",
    "kind_urban": "城市社区",
    "kind_rural": "农村社区",
}
PAIR = re.compile(r"\[(1\d\d\.\d+), (2\d\.\d+)\]")


@pytest.fixture(scope="module", autouse=True)
def local_assets():
    maps.configure_assets("/static")


def shapes_from_files(
    rename: dict[int, str] | None = None,
    community_name: str | None = None,
) -> gridmaps.VersionShapes:
    grids = gpd.read_file(DEMO_GRIDS)
    grids["code"] = grids["code"].astype(str)
    grids["community_code"] = grids["community_code"].astype(str)
    grids = grids.sort_values("code").reset_index(drop=True)
    for i, name in (rename or {}).items():
        grids.loc[i, "name"] = name
    outlines = community_outlines(grids)
    registry = pd.read_csv(DEMO_COMMUNITIES, dtype=str)
    communities = {
        r.code: {"code": r.code, "name": r.name, "short_name": r.short_name, "kind": r.kind}
        for r in registry.itertuples(index=False)
    }
    if community_name is not None:
        first = grids["community_code"].iloc[0]
        communities[first] = {**communities[first], "short_name": community_name}
    town = shapely.union_all(np.asarray(gpd.read_file(DEMO_OUTLINE).geometry.values, dtype=object))
    now = datetime.datetime.now(datetime.UTC)
    version = VersionInfo(
        1,
        "demo",
        "440605125",
        now,
        "test",
        "demo",
        "EPSG:4326",
        None,
        len(grids),
        None,
        None,
        None,
        True,
        now,
    )
    return gridmaps.VersionShapes(
        version=version,
        town={"code": "440605125", "name": "大沥镇"},
        town_outline=town,
        codes=list(grids["code"]),
        names=list(grids["name"]),
        grid_communities=list(grids["community_code"]),
        grid_geoms=np.asarray(grids.geometry.values, dtype=object),
        community_codes=list(outlines["code"]),
        community_geoms=np.asarray(outlines.geometry.values, dtype=object),
        communities=communities,
    )


@pytest.fixture(scope="module")
def shapes() -> gridmaps.VersionShapes:
    return shapes_from_files()


def rendered(m: folium.Map) -> str:
    e = maps.embed(m)
    return "\n".join([e.header, e.html, e.script])


def build(kind: str, shapes: gridmaps.VersionShapes, tiles: str = "none") -> folium.Map:
    if kind == "dispatcher":
        return gridmaps.dispatcher_map(shapes, tiles=tiles)
    colours = gridmaps.community_colours(shapes.community_codes, shapes.community_geoms)
    return gridmaps.grids_map(shapes, colours, NAMES, tiles=tiles)


def coordinate_pairs(text: str) -> np.ndarray:
    return np.array([(float(x), float(y)) for x, y in PAIR.findall(text)])


def has_pair(pairs: np.ndarray, lon: float, lat: float, tol: float = 1e-9) -> bool:
    return bool(np.any((np.abs(pairs[:, 0] - lon) < tol) & (np.abs(pairs[:, 1] - lat) < tol)))


# --- the builders -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dispatcher", "grids"])
def test_maps_load_only_local_assets(kind, shapes):
    html = rendered(build(kind, shapes))
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", html)
    assert urls, "the map loads Leaflet from somewhere"
    assert all(u.startswith("/static/") for u in urls), urls
    assert "/static/vendor/leaflet/dist/leaflet.js" in urls
    assert not re.search(r"https?://|//cdn|\bcdn\.", html), re.findall(r".{40}https?://.{40}", html)


def test_grid_and_community_names_reach_the_map_escaped():
    shapes = shapes_from_files({0: EVIL}, community_name=EVIL)
    html = rendered(build("grids", shapes))
    for raw in ("<script>alert", "<img src=x", 'onerror="alert'):
        assert raw not in html, raw
    # tooltips: the GeoJSON properties carry the HTML-escaped text (as JSON inside the script)
    escaped = maps.text(EVIL)
    assert "&lt;script&gt;" in escaped and "&#96;" in escaped and "&#36;{" in escaped
    assert htmlsafe_json_dumps(escaped)[1:-1] in html
    data = _geojson_payloads(html)
    grid_props = next(f["properties"] for d in data for f in d["features"] if f["properties"].get("code"))
    assert grid_props["name"] == escaped and grid_props["community"] == escaped
    # labels: the raw name as JSON data, set with textContent (never parsed as HTML)
    assert htmlsafe_json_dumps(EVIL)[1:-1] in html
    assert "span.textContent = d[2]" in html


def test_the_dispatcher_map_carries_no_names_only_outlines(shapes):
    html = rendered(build("dispatcher", shapes))
    assert shapes.names[0] not in html
    assert html.count("L.geoJson(") == 3  # grids, communities, town
    assert "LayerControl" not in html and "control_layers" not in html


@pytest.mark.parametrize("kind", ["dispatcher", "grids"])
def test_amap_tiles_shift_every_overlay_to_gcj02(kind, shapes):
    lon, lat = shapely.get_coordinates(shapes.grid_geoms[0])[0]
    glon, glat = datums.wgs84_to_gcj02(lon, lat)
    assert 0.004 < glon - lon < 0.006 and -0.0035 < glat - lat < -0.0015  # ≈ +0.005°, −0.0025° at Foshan
    on_amap = coordinate_pairs(rendered(build(kind, shapes, tiles="amap")))
    assert has_pair(on_amap, glon, glat) and not has_pair(on_amap, lon, lat)
    offline = coordinate_pairs(rendered(build(kind, shapes)))
    assert has_pair(offline, lon, lat) and not has_pair(offline, glon, glat)
    # the town outline too, not only the grids
    tlon, tlat = shapely.get_coordinates(shapes.town_outline)[0]
    assert has_pair(on_amap, *datums.wgs84_to_gcj02(tlon, tlat)) and not has_pair(on_amap, tlon, tlat)


def test_amap_labels_sit_on_the_shifted_grids():
    shapes = shapes_from_files()
    html = rendered(build("grids", shapes, tiles="amap"))
    labels = json.loads(re.search(r"(\[\[[-\d.]+, [-\d.]+, .*?\]\])\.forEach", html).group(1))
    assert len(labels) == len(shapes.codes)
    shifted = maps.shift_geoms(shapes.grid_geoms, "amap")
    for (lat, lon, name), geom, expected in zip(labels, shifted, shapes.names, strict=True):
        assert name == expected
        assert geom.buffer(1e-6).contains(shapely.Point(lon, lat))


def test_neighbouring_communities_never_share_a_colour(shapes):
    colours = gridmaps.community_colours(shapes.community_codes, shapes.community_geoms)
    assert set(colours) == set(shapes.community_codes) and len(colours) == DEMO_COMMUNITY_COUNT
    assert set(colours.values()) <= set(gridmaps.PALETTE)
    assert len(set(colours.values())) >= 6  # spread over the palette, not piled on four colours
    geoms = shapes.community_geoms
    pairs = 0
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            if shapely.dwithin(geoms[i], geoms[j], gridmaps.NEIGHBOUR_DEG):
                pairs += 1
                a, b = shapes.community_codes[i], shapes.community_codes[j]
                assert colours[a] != colours[b], (a, b)
    assert pairs > DEMO_COMMUNITY_COUNT  # the test did look at neighbours
    assert gridmaps.community_colours(shapes.community_codes, geoms) == colours  # deterministic


def test_legend_lists_each_community_with_colour_kind_and_count(shapes):
    colours = gridmaps.community_colours(shapes.community_codes, shapes.community_geoms)
    rows = gridmaps.legend(shapes, colours)
    assert [r["code"] for r in rows] == sorted(shapes.community_codes)
    assert sum(r["grids"] for r in rows) == len(shapes.codes)
    assert {r["kind"] for r in rows} == {"urban", "rural"}
    assert all(r["colour"] == colours[r["code"]] for r in rows)


def test_text_is_safe_inside_folium_tooltips():
    """``maps.text`` also neutralises what would end or interpolate folium's JS template literal."""
    assert maps.text(None) == ""
    assert maps.text("a`b${c}\\d<e>&\"'") == "a&#96;b&#36;{c}&#92;d&lt;e&gt;&amp;&quot;&#x27;"
    m = folium.Map(tiles=None)
    folium.Marker([23.1, 113.1], tooltip=folium.Tooltip(maps.text(EVIL))).add_to(m)
    script = maps.embed(m).script
    body = re.search(r"bindTooltip\(\s*`(.*?)`,", script, re.S).group(1)
    assert "`" not in body and "${" not in body and "<script" not in body


def test_map_cache_builds_once_per_key():
    cache = Memo(2)
    calls = []

    def build(key):
        return lambda: calls.append(key) or key

    assert cache.get("a", build("a")) == "a"
    assert cache.get("a", build("a")) == "a"
    cache.get("b", build("b"))
    cache.get("c", build("c"))  # evicts a
    cache.get("a", build("a"))
    assert calls == ["a", "b", "c", "a"]


# --- the API option and the pages -------------------------------------------------------------------


def test_grid_geojson_can_be_shifted_for_amap_tiles(demo_client):
    code = demo_client.get("/api/v1/grids").get_json()["grids"][0]["code"]
    plain = demo_client.get(f"/api/v1/grids/{code}.geojson").get_json()
    shifted = demo_client.get(f"/api/v1/grids/{code}.geojson?coordsys=gcj02")
    assert shifted.status_code == 200 and shifted.mimetype == "application/geo+json"
    body = shifted.get_json()
    assert body["coordsys"] == "gcj02" and "coordsys" not in plain
    assert body["properties"] == plain["properties"]
    xy = np.array(plain["geometry"]["coordinates"][0])
    want = np.column_stack(datums.wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
    assert np.allclose(np.array(body["geometry"]["coordinates"][0]), want, atol=1e-12, rtol=0)
    everything = demo_client.get("/api/v1/grids.geojson?coordsys=gcj02").get_json()
    assert everything["coordsys"] == "gcj02"
    first = next(f for f in everything["features"] if f["id"] == code)
    assert first["geometry"] == body["geometry"]
    assert demo_client.get(f"/api/v1/grids/{code}.geojson?coordsys=wgs84").get_json() == plain
    bad = demo_client.get(f"/api/v1/grids/{code}.geojson?coordsys=mars")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "unknown_coordsys"


def _settings(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="dispatcher-settings">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))


def test_dispatcher_page_embeds_the_map_and_its_settings(demo_client):
    response = demo_client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    settings = _settings(html)
    assert settings["mapName"].startswith("map_") and f"var {settings['mapName']} = L.map(" in html
    assert settings["overlay"] == "wgs84" and settings["canFile"] is False
    assert "closed" not in settings["openStates"] and "collected" in settings["openStates"]
    assert settings["urls"]["api"] == "/api/v1"
    assert 'href="/grids"' in html and "/static/js/dispatcher.js" in html
    assert 'value="gcj02"' in html
    assert _settings(demo_client.get("/").get_data(as_text=True))["mapName"] == settings["mapName"]  # cached
    english = demo_client.get("/?lang=en").get_data(as_text=True)
    assert _settings(english)["strings"]["team"] == "Grid team"
    demo_client.get("/?lang=zh")


def test_grids_page_lists_versions_and_the_legend(demo_client):
    html = demo_client.get("/grids").get_data(as_text=True)
    assert html.count('<li data-code="') == DEMO_COMMUNITY_COUNT
    assert re.search(r'<option value="1"\s+selected>', html)
    assert demo_client.get("/grids?version=1").status_code == 200
    assert demo_client.get("/grids?version=999").status_code == 404


def test_pages_on_amap_tiles_draw_in_gcj02(demo_template):
    app = demo_template.app(MAP_TILES="amap")
    client = app.test_client()
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert _settings(html)["overlay"] == "gcj02"
    assert "webrd0{s}.is.autonavi.com" in html
    assert "webrd0{s}.is.autonavi.com" in client.get("/grids").get_data(as_text=True)
    # the tiles are images from Amap's servers: the CSP lets exactly those in, nothing else
    policy = dict(p.strip().split(" ", 1) for p in response.headers["Content-Security-Policy"].split(";"))
    assert policy["img-src"] == "'self' data: https://*.is.autonavi.com"
    assert policy["connect-src"] == "'self'" and policy["default-src"] == "'self'"


def test_offline_pages_allow_images_from_the_app_only(demo_client):
    policy = demo_client.get("/grids").headers["Content-Security-Policy"]
    assert "img-src 'self' data:;" in policy
    assert maps.tile_origins("none") == ()
    assert maps.tile_origins("tianditu") == ("https://*.tianditu.gov.cn",)
    assert maps.tile_origins("osm") == ("https://tile.openstreetmap.org",)


def _geojson_payloads(html: str) -> list[dict]:
    """The GeoJSON documents folium passes to its layers (``geo_json_…_add({...});``)."""
    out = []
    decoder = json.JSONDecoder()
    for match in re.finditer(r"_add\(", html):
        try:
            value, _ = decoder.raw_decode(html, match.end())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and value.get("type") == "FeatureCollection":
            out.append(value)
    return out


def test_pages_without_any_grid_version_say_so(empty_db):
    client = empty_db.app().test_client()
    for url in ("/", "/grids"):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert "尚无现行网格版本" in html and "L.map(" not in html
