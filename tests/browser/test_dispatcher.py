"""The dispatcher's page (``/``) in a real browser: every way of asking, what it shows, offline.

The expected answers come from the JSON API of the same server (``/api/v1/point``), read
through Flask's test client, so the page is checked against the service, not against itself.
"""

from __future__ import annotations

import base64
import csv
import re
from pathlib import Path

import numpy as np
import pytest
import shapely

from geo import datums
from tests.browser.conftest import assert_clean
from tests.browser.conftest import login
from tests.browser.conftest import serve_copy_of_demo
from tests.browser.pages import DispatcherPage
from tests.browser.pages import NewComplaintPage
from webmap.i18n import translate

REPO = Path(__file__).resolve().parents[2]
GAZETTEER = REPO / "data" / "gazetteer" / "dali-demo-addresses.csv"
ADDRESS = "奇槎大道38号"  # a road and door number of the demo gazetteer
LEVELS = ["组长", "副组长", "指导员/小红格格长", "小红格组长", "网格员"]
# a blank tile, served by the test for every Amap tile request so that none leaves the machine
BLANK_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
AMAP_TILES = re.compile(r"^https?://webrd0\d\.is\.autonavi\.com/")


def gazetteer_row(text: str) -> dict:
    with GAZETTEER.open(encoding="utf-8-sig") as f:
        return next(row for row in csv.DictReader(f) if row["text"] == text)


def test_address_shows_its_grid_and_the_five_level_team(page, api):
    row = gazetteer_row(ADDRESS)
    expected = api(f"/api/v1/point/wgs84/{row['lon']},{row['lat']}")
    code = expected["grid"]["code"]
    dispatcher = DispatcherPage(page).open()
    assert dispatcher.html_lang() == "zh-CN"
    dispatcher.search(ADDRESS)
    dispatcher.wait_located(code)
    assert dispatcher.card_value("grid_name").inner_text() == expected["grid"]["name"]
    assert dispatcher.card_value("community").inner_text() == expected["grid"]["community"]["name"]
    assert dispatcher.card_value("kind").inner_text() in ("城市社区", "农村社区")
    assert f"#{expected['version']['id']}" in dispatcher.card_value("version").inner_text()
    roles = dispatcher.team_roles()
    for level in LEVELS:
        assert level in roles, (level, roles)
    assert dispatcher.team_levels() == sorted(p["level"] for p in expected["team"])
    # anonymous: the API masks the phones and the page shows them masked, with the note why
    phones = dispatcher.phones()
    assert phones and all(re.fullmatch(r"138\*{4}\d{4}", p) for p in phones), phones
    assert dispatcher.phone_links().count() == 0
    assert dispatcher.phones_masked_note.is_visible()
    assert dispatcher.file_here.is_hidden()  # filing is for logged-in dispatchers
    # the grid drawn on the map is the one answered, the marker sits at the address
    assert dispatcher.markers().count() == 1
    assert ADDRESS in dispatcher.status.inner_text()
    assert "q=" in page.url
    # open complaints of that grid: never a final state
    states = dispatcher.open_complaint_states()
    assert not {"已办结", "不予受理", "重复诉求"} & set(states)
    assert_clean(page)


def test_logged_in_dispatcher_sees_full_phones(page, api):
    row = gazetteer_row(ADDRESS)
    code = api(f"/api/v1/point/wgs84/{row['lon']},{row['lat']}")["grid"]["code"]
    login(page, "dispatcher", "dispatcher-pass-123")
    dispatcher = DispatcherPage(page).open({"q": ADDRESS})
    dispatcher.wait_located(code)
    numbers = dispatcher.phones()
    assert numbers and all(re.fullmatch(r"1380013\d{4}", p) for p in numbers), numbers
    links = dispatcher.phone_links()
    assert links.count() == len(numbers)
    assert [link.get_attribute("href") for link in links.all()] == [f"tel:{n}" for n in numbers]
    assert dispatcher.phones_masked_note.is_hidden()
    assert dispatcher.file_here.is_visible()
    assert_clean(page)


def test_planner_gets_masked_phones_and_no_file_button(page, api):
    row = gazetteer_row(ADDRESS)
    code = api(f"/api/v1/point/wgs84/{row['lon']},{row['lat']}")["grid"]["code"]
    login(page, "planner", "planner-pass-123")
    dispatcher = DispatcherPage(page).open({"q": ADDRESS})
    dispatcher.wait_located(code)
    phones = dispatcher.phones()
    assert phones and all("****" in p for p in phones), phones
    assert dispatcher.file_here.is_hidden()
    assert_clean(page)


def test_uncertain_address_lists_candidates_and_a_click_locates_one(page, api):
    dispatcher = DispatcherPage(page).open()
    dispatcher.search("奇槎大道")  # a road without a door number runs through many grids
    buttons = dispatcher.wait_for_candidates()
    assert buttons.count() >= 2
    assert dispatcher.grid_card.is_hidden()  # nothing is dispatched on a guess
    second = buttons.nth(1)
    chosen = dispatcher.candidate(second)
    expected = api(f"/api/v1/point/wgs84/{chosen['lon']},{chosen['lat']}")["grid"]["code"]
    second.click()
    dispatcher.wait_located(expected)
    assert dispatcher.candidates.is_hidden()
    assert dispatcher.query() == chosen["text"]
    assert_clean(page)


def test_a_typo_still_matches_and_an_unknown_place_says_so(page, api):
    row = gazetteer_row(ADDRESS)
    code = api(f"/api/v1/point/wgs84/{row['lon']},{row['lat']}")["grid"]["code"]
    dispatcher = DispatcherPage(page).open()
    dispatcher.search(ADDRESS.replace("槎", "茶"))  # 奇茶大道38号: a homophone typo
    dispatcher.wait_located(code)
    dispatcher.search("火星路999号")
    assert "未找到该地址" in dispatcher.wait_error()
    assert dispatcher.grid_card.is_hidden()
    assert_clean(page)


def test_gcj02_pair_is_read_in_gcj02(page, api, demo_grids):
    lon, lat = shapely.point_on_surface(demo_grids.geometry.iloc[40]).coords[0]
    glon, glat = datums.wgs84_to_gcj02(lon, lat)
    pair = f"{glon:.7f},{glat:.7f}"
    expected = api(f"/api/v1/point/gcj02/{pair}")["grid"]["code"]
    as_wgs84 = api(f"/api/v1/point/wgs84/{pair}")
    assert as_wgs84["grid"] is None or as_wgs84["grid"]["code"] != expected  # the datum matters here
    dispatcher = DispatcherPage(page).open()
    dispatcher.search(pair.replace(",", ", "), "gcj02")
    dispatcher.wait_located(expected)
    assert expected == demo_grids["code"].iloc[40]
    assert "coordsys=gcj02" in page.url
    assert_clean(page)


def test_grid_code_shows_the_grid_without_a_marker(page, api, demo_grids):
    code = demo_grids["code"].iloc[100]
    expected = api(f"/api/v1/grids/{code}")
    dispatcher = DispatcherPage(page).open()
    dispatcher.search(code)
    dispatcher.wait_located(code)
    assert dispatcher.card_value("grid_name").inner_text() == expected["name"]
    assert dispatcher.markers().count() == 0
    dispatcher.search("440605125999999")
    assert "未找到该网格编码" in dispatcher.wait_error()
    # a 404 from the API is expected here; the page handled it
    page.record.console = [(k, m) for k, m in page.record.console if "404" not in m]
    assert_clean(page)


def test_a_click_on_the_map_locates_the_grid_there(page, api, demo_grids):
    lon, lat = shapely.point_on_surface(demo_grids.geometry.iloc[150]).coords[0]
    dispatcher = DispatcherPage(page).open()
    dispatcher.click_map(lon, lat)
    clicked = dispatcher.query()
    expected = api(f"/api/v1/point/wgs84/{clicked.replace(' ', '')}")["grid"]["code"]
    assert expected == demo_grids["code"].iloc[150]
    dispatcher.wait_located(expected)
    assert dispatcher.chosen_coordsys() == "wgs84"  # the offline map is drawn in WGS84
    assert_clean(page)


def test_warnings_near_a_boundary_and_outside_every_grid(page, api, demo_grids):
    near = _point_near_boundary(demo_grids, api)
    dispatcher = DispatcherPage(page).open()
    dispatcher.search(f"{near[0]:.8f},{near[1]:.8f}")
    body = api(f"/api/v1/point/wgs84/{near[0]:.8f},{near[1]:.8f}")
    dispatcher.wait_located(body["grid"]["code"])
    warning = dispatcher.warning("near_boundary")
    assert body["near_boundary"]["grid"]["code"] in warning.inner_text()
    assert "米" in warning.inner_text()

    lon, lat = _shared_vertex(demo_grids)
    body = api(f"/api/v1/point/wgs84/{lon!r},{lat!r}")
    assert body["also_touches"]
    dispatcher.search(f"{lon!r},{lat!r}")
    dispatcher.wait_located(body["grid"]["code"])
    warning = dispatcher.warning("on_boundary")
    assert all(g["code"] in warning.inner_text() for g in body["also_touches"])

    outside = api("/api/v1/point/wgs84/113.3,23.3")
    assert outside["status"] == "outside" or outside["status"] == "far_outside"
    dispatcher.search("113.3,23.3")
    dispatcher.wait_for_warning()
    dispatcher.wait_idle()
    assert dispatcher.grid_card.is_hidden()
    assert dispatcher.warning_codes() == [w["code"] for w in outside["warnings"]]
    if outside["nearest"]:
        assert outside["nearest"]["grid"]["code"] in dispatcher.warnings.inner_text()
    assert_clean(page)


def test_a_point_given_in_the_wrong_datum_is_flagged(page, api, demo_grids):
    point = _datum_suspect_point(demo_grids, api)
    dispatcher = DispatcherPage(page).open()
    dispatcher.search(f"{point[0]:.7f},{point[1]:.7f}")
    text = dispatcher.wait_for_warning("datum_suspect").inner_text()
    # the datum it may be, in the page's words (the service's English detail stays in the API)
    assert "坐标系可能选错" in text and translate("coordsys_gcj02", "zh") in text and "coordsys=" not in text
    assert_clean(page)


def test_file_a_complaint_here_and_it_is_listed_as_open(page, api, filing_server):
    page.base = filing_server
    row = gazetteer_row("奇槎大道30号")
    found = api(f"/api/v1/point/wgs84/{row['lon']},{row['lat']}")["grid"]
    code = found["code"]
    login(page, "dispatcher", "dispatcher-pass-123")
    dispatcher = DispatcherPage(page).open({"q": "奇槎大道30号"})
    dispatcher.wait_located(code)
    form = dispatcher.file_complaint_here()
    assert float(form.value("lon")) == pytest.approx(float(row["lon"]))
    assert float(form.value("lat")) == pytest.approx(float(row["lat"]))
    assert form.value("coordsys") == "wgs84"
    assert form.value("address") == "奇槎大道30号"
    complaint = form.file("路灯不亮，晚上很黑（浏览器测试）")
    complaint_id = complaint.complaint_id()
    assert complaint.value("text") == "路灯不亮，晚上很黑（浏览器测试）"
    assert complaint.value("grid").startswith(found["name"])  # the grid's name, not its code
    dispatcher.open({"q": "奇槎大道30号"})
    dispatcher.wait_located(code)
    item = dispatcher.open_complaint(complaint_id)
    assert item.count() == 1
    assert dispatcher.complaint_text(item) == "路灯不亮，晚上很黑（浏览器测试）"
    link = item.get_by_role("link", name=f"#{complaint_id}", exact=True)
    assert link.get_attribute("href") == f"/complaints/{complaint_id}"
    assert_clean(page)


def test_complaint_text_with_markup_is_shown_as_text(page, api, filing_server):
    page.base = filing_server
    row = gazetteer_row("奇槎大道44号")
    code = api(f"/api/v1/point/wgs84/{row['lon']},{row['lat']}")["grid"]["code"]
    payload = '<script>window.__xss=1</script> 和 <img src=x onerror="window.__xss=2">'
    login(page, "dispatcher", "dispatcher-pass-123")
    form = NewComplaintPage(page).open({"lon": row["lon"], "lat": row["lat"], "coordsys": "wgs84"})
    complaint_id = form.file(payload).complaint_id()
    dispatcher = DispatcherPage(page).open()
    dispatcher.search(code)
    dispatcher.wait_located(code)
    item = dispatcher.open_complaint(complaint_id)
    assert dispatcher.complaint_text(item) == payload
    assert dispatcher.open_complaints.locator("img").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert not [u for u in page.record.requests if u.endswith("/x")]  # no <img src=x> was ever made
    assert_clean(page)


def test_english_switch(page, api):
    row = gazetteer_row(ADDRESS)
    code = api(f"/api/v1/point/wgs84/{row['lon']},{row['lat']}")["grid"]["code"]
    dispatcher = DispatcherPage(page, lang="en").open({"lang": "en", "q": ADDRESS})
    dispatcher.wait_located(code)
    assert dispatcher.html_lang() == "en"
    assert dispatcher.team.get_by_role("heading").inner_text() == "Grid team"
    assert "Grid worker" in dispatcher.team_roles()
    assert dispatcher.card_value("kind").inner_text() in ("urban", "rural")
    assert_clean(page)


def test_marker_shift_matches_the_server_formula(page):
    """The page shifts single points to GCJ-02 itself (over Amap tiles): same numbers as geo.datums."""
    dispatcher = DispatcherPage(page).open()
    points = [(113.1457, 23.1110), (113.0916973, 23.1055932), (116.39, 39.91), (2.35, 48.85)]
    got = dispatcher.wgs84_to_gcj02(points)
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


@pytest.fixture(scope="module")
def amap_server(demo_template, tmp_path_factory):
    """The demo with MAP_TILES=amap: the map is drawn in GCJ-02."""
    server, url, _app = serve_copy_of_demo(demo_template, tmp_path_factory.mktemp("amap"), MAP_TILES="amap")
    yield url
    server.shutdown()


@pytest.fixture(scope="module")
def filing_server(demo_template, tmp_path_factory):
    """A server of our own for the tests that file complaints: the shared one keeps its 3,000."""
    server, url, _app = serve_copy_of_demo(demo_template, tmp_path_factory.mktemp("filing"))
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
    dispatcher = DispatcherPage(page).open()
    dispatcher.click_map(glon, glat)  # the map is in GCJ-02: that is where the grid is drawn
    assert dispatcher.chosen_coordsys() == "gcj02"
    clicked = dispatcher.query()
    cx, cy = (float(v) for v in clicked.split(","))
    assert abs(cx - glon) < 1e-4 and abs(cy - glat) < 1e-4
    expected = api(f"/api/v1/point/gcj02/{clicked}")["grid"]["code"]
    assert expected == demo_grids["code"].iloc[60]
    dispatcher.wait_located(expected)
    assert any(f"/api/v1/point/gcj02/{clicked}" in u for u in page.record.requests)
    shapes = [u for u in page.record.requests if f"/api/v1/grids/{expected}.geojson" in u]
    assert shapes and all("coordsys=gcj02" in u for u in shapes)
    drawn = page.evaluate(MARKER_IN_GRID)
    assert drawn["inside"]  # the marker (GCJ-02 click) sits in the grid drawn in GCJ-02

    # an address comes back in WGS84: the page shifts its marker onto the GCJ-02 map too
    row = gazetteer_row(ADDRESS)
    dispatcher.search(ADDRESS)
    dispatcher.wait_located(api(f"/api/v1/point/wgs84/{row['lon']},{row['lat']}")["grid"]["code"])
    drawn = page.evaluate(MARKER_IN_GRID)
    want = datums.wgs84_to_gcj02(float(row["lon"]), float(row["lat"]))
    assert drawn["inside"]
    assert abs(drawn["lon"] - want[0]) < 1e-9 and abs(drawn["lat"] - want[1]) < 1e-9
    tiles = page.record.foreign(page.base)
    assert tiles and all(AMAP_TILES.match(u) for u in tiles)  # tiles only, answered by the test
    page.record.requests = [u for u in page.record.requests if not AMAP_TILES.match(u)]
    assert_clean(page)
