"""The dispatcher's page (``/``) in a real browser: every way of asking, what it shows, offline.

The expected answers come from the JSON API of the same server (``/api/v1/point``), read
through Flask's test client, so the page is checked against the service, not against itself.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import re
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest
import shapely

from geo import datums
from tests.browser.conftest import SCREENSHOTS
from tests.browser.conftest import assert_clean
from tests.browser.conftest import keep_screenshot
from tests.browser.conftest import login
from webmap import create_app

REPO = Path(__file__).resolve().parents[2]
GAZETTEER = REPO / "data" / "gazetteer" / "dali-demo-addresses.csv"
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"
ADDRESS = "奇槎大道38号"  # a road and door number of the demo gazetteer
LEVELS = ["组长", "副组长", "指导员/小红格格长", "小红格组长", "网格员"]
TIMEOUT = 10_000
# a blank tile, served by the test for every Amap tile request so that none leaves the machine
BLANK_PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8"
                             "AAAAASUVORK5CYII=")
AMAP_TILES = re.compile(r"^https?://webrd0\d\.is\.autonavi\.com/")


def gazetteer_row(text: str) -> dict:
    with GAZETTEER.open(encoding="utf-8-sig") as f:
        return next(row for row in csv.DictReader(f) if row["text"] == text)


@pytest.fixture
def api(live_server):
    client = live_server.app.test_client()

    def get(url: str) -> dict:
        response = client.get(url)
        assert response.status_code == 200, (url, response.get_json())
        return response.get_json()

    return get


def ask(page, text: str, coordsys: str = "wgs84") -> None:
    page.select_option("#coordsys", coordsys)
    page.fill("#q", text)
    page.click("#search-button")


def located(page, code: str) -> None:
    """Wait until the grid card shows ``code`` and its team and complaints have arrived."""
    page.wait_for_selector(f"#grid-card[data-code='{code}']:not([hidden])", timeout=TIMEOUT)
    page.wait_for_selector("#team:not([hidden]) tbody tr", timeout=TIMEOUT)
    page.wait_for_selector("#open-complaints:not([hidden])", timeout=TIMEOUT)
    page.wait_for_function("() => !document.body.dataset.busy", timeout=TIMEOUT)


def open_dispatcher(page, query: str = "") -> None:
    page.goto(f"{page.base}/{query}")
    page.wait_for_function("() => window.RedGridDispatcher && window.RedGridDispatcher.map", timeout=TIMEOUT)


def click_map(page, lon: float, lat: float) -> None:
    """Centre the map on a point (in the map's own datum) at zoom 15 and click it."""
    x, y = page.evaluate("([lat, lon]) => { const m = window.RedGridDispatcher.map; "
                         "m.setView([lat, lon], 15, {animate: false}); "
                         "const p = m.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }", [lat, lon])
    box = page.locator(".folium-map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def team_roles(page) -> list[str]:
    return page.locator("#team tbody td.role").all_inner_texts()


def phones(page) -> list[str]:
    return page.locator("#team tbody td.phone").all_inner_texts()


def test_address_shows_its_grid_and_the_five_level_team(page, api):
    row = gazetteer_row(ADDRESS)
    expected = api(f"/api/v1/point/wgs84/{row['lon']},{row['lat']}")
    code = expected["grid"]["code"]
    open_dispatcher(page)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    ask(page, ADDRESS)
    located(page, code)
    card = page.locator("#grid-card")
    assert card.locator("dd.grid-name").inner_text() == expected["grid"]["name"]
    assert card.locator("dd.grid-community").inner_text() == expected["grid"]["community"]["name"]
    assert card.locator("dd.grid-kind").inner_text() in ("城市社区", "农村社区")
    assert f"#{expected['version']['id']}" in card.locator("dd.grid-version").inner_text()
    roles = team_roles(page)
    for level in LEVELS:
        assert level in roles, (level, roles)
    assert [int(x) for x in page.locator("#team tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.level)")] == sorted(p["level"] for p in expected["team"])
    # anonymous: the API masks the phones and the page shows them masked, with the note why
    assert all(re.fullmatch(r"138\*{4}\d{4}", p) for p in phones(page)), phones(page)
    assert page.locator("#phones-masked").is_visible()
    assert page.locator("#file-here").is_hidden()  # filing is for logged-in dispatchers
    # the grid drawn on the map is the one answered, the marker sits at the address
    assert page.locator(".leaflet-marker-icon").count() == 1
    assert ADDRESS in page.locator("#status").inner_text()
    assert "q=" in page.url
    # open complaints of that grid: never a final state
    states = page.locator("#open-complaints .badge.state").all_inner_texts()
    assert not {"已办结", "不予受理", "重复诉求"} & set(states)
    assert_clean(page)


def test_logged_in_dispatcher_sees_full_phones(page, api):
    row = gazetteer_row(ADDRESS)
    code = api(f"/api/v1/point/wgs84/{row['lon']},{row['lat']}")["grid"]["code"]
    login(page, "dispatcher", "dispatcher-pass-123")
    open_dispatcher(page, f"?q={ADDRESS}")
    located(page, code)
    numbers = phones(page)
    assert numbers and all(re.fullmatch(r"1380013\d{4}", p) for p in numbers), numbers
    assert page.locator("#team tbody td.phone a[href^='tel:1380013']").count() == len(numbers)
    assert page.locator("#phones-masked").is_hidden()
    assert page.locator("#file-here").is_visible()
    page.wait_for_timeout(300)  # let the fitBounds animation settle for the picture
    page.screenshot(path=str(SCREENSHOTS / "dispatcher.png"))
    keep_screenshot("dispatcher", DOCS_SCREENSHOTS)
    assert_clean(page)


def test_planner_gets_masked_phones_and_no_file_button(page, api):
    row = gazetteer_row(ADDRESS)
    code = api(f"/api/v1/point/wgs84/{row['lon']},{row['lat']}")["grid"]["code"]
    login(page, "planner", "planner-pass-123")
    open_dispatcher(page, f"?q={ADDRESS}")
    located(page, code)
    assert all("****" in p for p in phones(page))
    assert page.locator("#file-here").is_hidden()
    assert_clean(page)


def test_uncertain_address_lists_candidates_and_a_click_locates_one(page, api):
    open_dispatcher(page)
    ask(page, "奇槎大道")  # a road without a door number runs through many grids
    page.wait_for_selector("#candidates:not([hidden]) button.candidate", timeout=TIMEOUT)
    buttons = page.locator("#candidates button.candidate")
    assert buttons.count() >= 2
    assert page.locator("#grid-card").is_hidden()  # nothing is dispatched on a guess
    second = buttons.nth(1)
    text = second.locator(".text").inner_text()
    lon, lat = second.get_attribute("data-lon"), second.get_attribute("data-lat")
    expected = api(f"/api/v1/point/wgs84/{lon},{lat}")["grid"]["code"]
    second.click()
    located(page, expected)
    assert page.locator("#candidates").is_hidden()
    assert page.locator("#q").input_value() == text
    assert_clean(page)


def test_a_typo_still_matches_and_an_unknown_place_says_so(page, api):
    row = gazetteer_row(ADDRESS)
    code = api(f"/api/v1/point/wgs84/{row['lon']},{row['lat']}")["grid"]["code"]
    open_dispatcher(page)
    ask(page, ADDRESS.replace("槎", "茶"))  # 奇茶大道38号: a homophone typo
    located(page, code)
    ask(page, "火星路999号")
    page.wait_for_selector("#status.error", timeout=TIMEOUT)
    assert "未找到该地址" in page.locator("#status").inner_text()
    assert page.locator("#grid-card").is_hidden()
    assert_clean(page)


def test_gcj02_pair_is_read_in_gcj02(page, api, demo_grids):
    lon, lat = shapely.point_on_surface(demo_grids.geometry.iloc[40]).coords[0]
    glon, glat = datums.wgs84_to_gcj02(lon, lat)
    pair = f"{glon:.7f},{glat:.7f}"
    expected = api(f"/api/v1/point/gcj02/{pair}")["grid"]["code"]
    as_wgs84 = api(f"/api/v1/point/wgs84/{pair}")
    assert as_wgs84["grid"] is None or as_wgs84["grid"]["code"] != expected  # the datum matters here
    open_dispatcher(page)
    ask(page, pair.replace(",", ", "), "gcj02")
    located(page, expected)
    assert expected == demo_grids["code"].iloc[40]
    assert "coordsys=gcj02" in page.url
    assert_clean(page)


def test_grid_code_shows_the_grid_without_a_marker(page, api, demo_grids):
    code = demo_grids["code"].iloc[100]
    expected = api(f"/api/v1/grids/{code}")
    open_dispatcher(page)
    ask(page, code)
    located(page, code)
    assert page.locator("#grid-card dd.grid-name").inner_text() == expected["name"]
    assert page.locator(".leaflet-marker-icon").count() == 0
    ask(page, "440605125999999")
    page.wait_for_selector("#status.error", timeout=TIMEOUT)
    assert "未找到该网格编码" in page.locator("#status").inner_text()
    # a 404 from the API is expected here; the page handled it
    page.record.console = [(k, m) for k, m in page.record.console if "404" not in m]
    assert_clean(page)


def test_a_click_on_the_map_locates_the_grid_there(page, api, demo_grids):
    lon, lat = shapely.point_on_surface(demo_grids.geometry.iloc[150]).coords[0]
    open_dispatcher(page)
    click_map(page, lon, lat)
    clicked = page.locator("#q").input_value()
    expected = api(f"/api/v1/point/wgs84/{clicked.replace(' ', '')}")["grid"]["code"]
    assert expected == demo_grids["code"].iloc[150]
    located(page, expected)
    assert page.locator("#coordsys").input_value() == "wgs84"  # the offline map is drawn in WGS84
    assert_clean(page)


def test_warnings_near_a_boundary_and_outside_every_grid(page, api, demo_grids):
    near = _point_near_boundary(demo_grids, api)
    open_dispatcher(page)
    ask(page, f"{near[0]:.8f},{near[1]:.8f}")
    body = api(f"/api/v1/point/wgs84/{near[0]:.8f},{near[1]:.8f}")
    located(page, body["grid"]["code"])
    warning = page.locator("#warnings .warning[data-code='near_boundary']")
    assert body["near_boundary"]["grid"]["code"] in warning.inner_text()
    assert "米" in warning.inner_text()

    lon, lat = _shared_vertex(demo_grids)
    body = api(f"/api/v1/point/wgs84/{lon!r},{lat!r}")
    assert body["also_touches"]
    ask(page, f"{lon!r},{lat!r}")
    located(page, body["grid"]["code"])
    warning = page.locator("#warnings .warning[data-code='on_boundary']")
    assert all(g["code"] in warning.inner_text() for g in body["also_touches"])

    outside = api("/api/v1/point/wgs84/113.3,23.3")
    assert outside["status"] == "outside" or outside["status"] == "far_outside"
    ask(page, "113.3,23.3")
    page.wait_for_selector("#warnings .warning", timeout=TIMEOUT)
    page.wait_for_function("() => !document.body.dataset.busy", timeout=TIMEOUT)
    assert page.locator("#grid-card").is_hidden()
    codes = page.locator("#warnings .warning").evaluate_all("ws => ws.map(w => w.dataset.code)")
    assert codes == [w["code"] for w in outside["warnings"]]
    if outside["nearest"]:
        assert outside["nearest"]["grid"]["code"] in page.locator("#warnings").inner_text()
    assert_clean(page)


def test_a_point_given_in_the_wrong_datum_is_flagged(page, api, demo_grids):
    point = _datum_suspect_point(demo_grids, api)
    open_dispatcher(page)
    ask(page, f"{point[0]:.7f},{point[1]:.7f}")
    page.wait_for_selector("#warnings .warning[data-code='datum_suspect']", timeout=TIMEOUT)
    text = page.locator("#warnings .warning[data-code='datum_suspect']").inner_text()
    assert "坐标系可能选错" in text and "gcj02" in text
    assert_clean(page)


def test_file_a_complaint_here_and_it_is_listed_as_open(page, api, filing_server):
    page.base = filing_server
    row = gazetteer_row("奇槎大道30号")
    code = api(f"/api/v1/point/wgs84/{row['lon']},{row['lat']}")["grid"]["code"]
    login(page, "dispatcher", "dispatcher-pass-123")
    open_dispatcher(page, "?q=奇槎大道30号")
    located(page, code)
    page.click("#file-here")
    page.wait_for_selector("#complaint-form")
    assert float(page.input_value("#lon")) == pytest.approx(float(row["lon"]))
    assert float(page.input_value("#lat")) == pytest.approx(float(row["lat"]))
    assert page.input_value("#coordsys") == "wgs84"
    assert page.input_value("#address") == "奇槎大道30号"
    page.select_option("#category", index=1)
    page.fill("#text", "路灯不亮，晚上很黑（浏览器测试）")
    page.click("#complaint-form button[type=submit]")
    page.wait_for_url(re.compile(r"/complaints/\d+$"))
    complaint_id = int(page.url.rsplit("/", 1)[1])
    open_dispatcher(page, "?q=奇槎大道30号")
    located(page, code)
    item = page.locator(f"#open-complaints li.complaint[data-id='{complaint_id}']")
    assert item.count() == 1
    assert item.locator(".complaint-text").inner_text() == "路灯不亮，晚上很黑（浏览器测试）"
    assert item.locator("a.complaint-link").get_attribute("href") == f"/complaints/{complaint_id}"
    assert_clean(page)


def test_complaint_text_with_markup_is_shown_as_text(page, api, filing_server):
    page.base = filing_server
    row = gazetteer_row("奇槎大道44号")
    code = api(f"/api/v1/point/wgs84/{row['lon']},{row['lat']}")["grid"]["code"]
    payload = '<script>window.__xss=1</script> 和 <img src=x onerror="window.__xss=2">'
    login(page, "dispatcher", "dispatcher-pass-123")
    page.goto(f"{page.base}/complaints/new?lon={row['lon']}&lat={row['lat']}&coordsys=wgs84")
    page.select_option("#category", index=1)
    page.fill("#text", payload)
    page.click("#complaint-form button[type=submit]")
    page.wait_for_url(re.compile(r"/complaints/\d+$"))
    complaint_id = page.url.rsplit("/", 1)[1]
    open_dispatcher(page)
    ask(page, code)
    located(page, code)
    item = page.locator(f"#open-complaints li.complaint[data-id='{complaint_id}'] .complaint-text")
    assert item.inner_text() == payload
    assert page.locator("#open-complaints img").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert not [u for u in page.record.requests if u.endswith("/x")]  # no <img src=x> was ever made
    assert_clean(page)


def test_english_switch(page, api):
    row = gazetteer_row(ADDRESS)
    code = api(f"/api/v1/point/wgs84/{row['lon']},{row['lat']}")["grid"]["code"]
    open_dispatcher(page, f"?lang=en&q={ADDRESS}")
    located(page, code)
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#team h2").inner_text() == "Grid team"
    assert "Grid worker" in team_roles(page)
    assert page.locator("#grid-card dd.grid-kind").inner_text() in ("urban", "rural")
    assert_clean(page)


def test_marker_shift_matches_the_server_formula(page):
    """The page shifts single points to GCJ-02 itself (over Amap tiles): same numbers as geo.datums."""
    open_dispatcher(page)
    points = [(113.1457, 23.1110), (113.0916973, 23.1055932), (116.39, 39.91), (2.35, 48.85)]
    got = page.evaluate("ps => ps.map(p => window.RedGridDispatcher.wgs84ToGcj02(p[0], p[1]))", points)
    lon, lat = np.array(points).T
    want = np.column_stack(datums.wgs84_to_gcj02(lon, lat))
    assert np.allclose(np.array(got), want, atol=1e-9, rtol=0)
    assert_clean(page)


# --- places found from the demo data ------------------------------------------------------------------


def _point_near_boundary(grids, api) -> tuple[float, float]:
    """A point 10 m inside a grid, near the edge it shares with another grid."""
    from geo.crs import MetricFrame

    frame = MetricFrame.for_lonlat(113.14, 23.11)
    metric = frame.project(np.asarray(grids.geometry.values, dtype=object))
    for i in range(0, len(grids), 7):
        a = metric[i]
        for j in range(len(grids)):
            if j == i or not shapely.intersects(a, metric[j]):
                continue
            edge = shapely.intersection(a.boundary, metric[j].boundary)
            if edge.length < 100:
                continue
            mid = edge.interpolate(0.5, normalized=True)
            inner = shapely.intersection(a.buffer(-10), mid.buffer(15))
            if inner.is_empty:
                continue
            p = inner.representative_point()
            lon, lat = frame.inverse(p.x, p.y)
            body = api(f"/api/v1/point/wgs84/{float(lon):.8f},{float(lat):.8f}")
            if body["near_boundary"]:
                return float(lon), float(lat)
    raise AssertionError("no point near a shared boundary found")


def _shared_vertex(grids) -> tuple[float, float]:
    """A corner two grids share: on both their edges."""
    first = shapely.get_coordinates(grids.geometry.iloc[1])
    others = np.vstack([shapely.get_coordinates(g) for g in grids.geometry.iloc[2:]])
    for x, y in first:
        if (np.abs(others - (x, y)).sum(axis=1) == 0).any():
            return float(x), float(y)
    raise AssertionError("no shared corner")


def _datum_suspect_point(grids, api) -> tuple[float, float]:
    """A WGS84 point in no grid that lands in one when read as GCJ-02: a mislabelled datum."""
    outline = shapely.union_all(np.asarray(grids.geometry.values, dtype=object))
    for geom in grids.geometry:
        lon, lat = geom.representative_point().coords[0]
        glon, glat = datums.wgs84_to_gcj02(lon, lat)
        if outline.contains(shapely.Point(glon, glat)):
            continue
        body = api(f"/api/v1/point/wgs84/{glon:.7f},{glat:.7f}")
        if any(w["code"] == "datum_suspect" for w in body["warnings"]):
            return glon, glat
    raise AssertionError("no point found that only a datum mix-up explains")


# --- servers of these tests' own, and over Amap tiles (GCJ-02) ------------------------------------------


def _serve(demo_template, root: Path, **config):
    """A copy of the demo database served on a free port, with the two test users."""
    from werkzeug.serving import make_server

    from webmap.users import create_user

    db = root / "redgrid.db"
    with contextlib.closing(sqlite3.connect(demo_template.path)) as src, \
            contextlib.closing(sqlite3.connect(db)) as dst:
        src.backup(dst)
    app = create_app({"DATABASE_URL": f"sqlite:///{db}", "CACHE_DIR": str(demo_template.cache_dir),
                      "SECRET_KEY": "browser-tests", "ACTIVE_TTL_S": 0.0, **config})
    store = app.extensions["redgrid"].store
    create_user(store, "dispatcher", "王调度", "dispatcher-pass-123", "dispatcher")
    create_user(store, "planner", "李研判", "planner-pass-123", "planner")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


@pytest.fixture(scope="module")
def amap_server(demo_template, tmp_path_factory):
    """The demo with MAP_TILES=amap: the map is drawn in GCJ-02."""
    server, url = _serve(demo_template, tmp_path_factory.mktemp("amap"), MAP_TILES="amap")
    yield url
    server.shutdown()


@pytest.fixture(scope="module")
def filing_server(demo_template, tmp_path_factory):
    """A server of our own for the tests that file complaints: the shared one keeps its 3,000."""
    server, url = _serve(demo_template, tmp_path_factory.mktemp("filing"))
    yield url
    server.shutdown()


MARKER_IN_GRID = """() => {
    const d = window.RedGridDispatcher;
    let marker = null, ring = null;
    d.drawn.eachLayer(l => {
        if (l.getLatLng) { marker = l.getLatLng(); }
        else if (!ring) { ring = l.toGeoJSON().features[0].geometry.coordinates[0]; }
    });
    let inside = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const [xi, yi] = ring[i], [xj, yj] = ring[j];
        if ((yi > marker.lat) !== (yj > marker.lat) &&
            marker.lng < (xj - xi) * (marker.lat - yi) / (yj - yi) + xi) { inside = !inside; }
    }
    return {inside: inside, lon: marker.lng, lat: marker.lat};
}"""


def test_over_amap_tiles_clicks_are_gcj02_and_shapes_are_shifted(page, api, demo_grids, amap_server):
    page.base = amap_server
    page.route(AMAP_TILES, lambda route: route.fulfill(status=200, content_type="image/png", body=BLANK_PNG))
    lon, lat = shapely.point_on_surface(demo_grids.geometry.iloc[60]).coords[0]
    glon, glat = datums.wgs84_to_gcj02(lon, lat)
    open_dispatcher(page)
    click_map(page, glon, glat)  # the map is in GCJ-02: that is where the grid is drawn
    assert page.locator("#coordsys").input_value() == "gcj02"
    clicked = page.locator("#q").input_value()
    cx, cy = (float(v) for v in clicked.split(","))
    assert abs(cx - glon) < 1e-4 and abs(cy - glat) < 1e-4
    expected = api(f"/api/v1/point/gcj02/{clicked}")["grid"]["code"]
    assert expected == demo_grids["code"].iloc[60]
    located(page, expected)
    assert any(f"/api/v1/point/gcj02/{clicked}" in u for u in page.record.requests)
    shapes = [u for u in page.record.requests if f"/api/v1/grids/{expected}.geojson" in u]
    assert shapes and all("coordsys=gcj02" in u for u in shapes)
    drawn = page.evaluate(MARKER_IN_GRID)
    assert drawn["inside"]  # the marker (GCJ-02 click) sits in the grid drawn in GCJ-02

    # an address comes back in WGS84: the page shifts its marker onto the GCJ-02 map too
    row = gazetteer_row(ADDRESS)
    ask(page, ADDRESS)
    located(page, api(f"/api/v1/point/wgs84/{row['lon']},{row['lat']}")["grid"]["code"])
    drawn = page.evaluate(MARKER_IN_GRID)
    want = datums.wgs84_to_gcj02(float(row["lon"]), float(row["lat"]))
    assert drawn["inside"]
    assert abs(drawn["lon"] - want[0]) < 1e-9 and abs(drawn["lat"] - want[1]) < 1e-9
    tiles = page.record.foreign(page.base)
    assert tiles and all(AMAP_TILES.match(u) for u in tiles)  # tiles only, answered by the test
    page.record.requests = [u for u in page.record.requests if not AMAP_TILES.match(u)]
    assert_clean(page)
