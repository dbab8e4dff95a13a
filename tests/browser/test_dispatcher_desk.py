"""The dispatcher's desk (issue 9, item 8) in a real browser: pasted pairs read as GCJ-02 unless the
person chose otherwise (kept on the server when signed in, in the browser when not), both readings
shown when they fall in different grids, communities and grids asked by name, road-only candidates
as pins to pick, a click that leaves the map where it is, the call text carried into the intake
form with a suggested category, and the search box focused on arrival.

Expected answers come from the same server's JSON API (Flask's test client), never from the page.
"""

from __future__ import annotations

import shapely
from playwright.sync_api import expect

from geo import datums
from tests.browser.conftest import assert_clean
from tests.browser.conftest import login
from tests.browser.harness import new_recorded_page
from tests.browser.pages import TIMEOUT
from tests.browser.pages import DispatcherPage
from tests.browser.pages import NewComplaintPage

PHONE = {"width": 390, "height": 844}


def _readings_differ(grids, api):
    """A pasted pair (GCJ-02 numbers of a point inside a grid) that, read as WGS84, lands in another grid."""
    for i in range(0, len(grids), 3):
        lon, lat = shapely.point_on_surface(grids.geometry.iloc[i]).coords[0]
        glon, glat = datums.wgs84_to_gcj02(lon, lat)
        pair = f"{glon:.7f},{glat:.7f}"
        as_gcj = api(f"/api/v1/point/gcj02/{pair}")["grid"]
        as_wgs = api(f"/api/v1/point/wgs84/{pair}")["grid"]
        if as_gcj and as_wgs and as_gcj["code"] != as_wgs["code"]:
            return pair, as_gcj["code"], as_wgs["code"]
    raise AssertionError("no pair whose two readings fall in two grids")


def _other_reading_outside(grids, api):
    """A pasted pair that, read as GCJ-02, is in a grid and, read as WGS84, in none (near the town's edge)."""
    import numpy as np

    town = shapely.union_all(np.asarray(grids.geometry.values, dtype=object))
    x0, y0, x1, y1 = town.bounds
    xs, ys = np.meshgrid(np.linspace(x0, x1, 120), np.linspace(y0, y1, 120))
    xs, ys = xs.ravel(), ys.ravel()
    wx, wy = datums.gcj02_to_wgs84(xs, ys)
    hits = np.flatnonzero(
        shapely.contains_xy(town, wx, wy) & ~shapely.contains_xy(town.buffer(0.001), xs, ys)
    )
    for k in hits[:20]:
        pair = f"{xs[k]:.7f},{ys[k]:.7f}"
        as_gcj = api(f"/api/v1/point/gcj02/{pair}")["grid"]
        as_wgs = api(f"/api/v1/point/wgs84/{pair}")["grid"]
        if as_gcj and as_wgs is None:
            return pair, as_gcj["code"]
    raise AssertionError("no pair in a grid as GCJ-02 and in none as WGS84")


def test_the_search_box_has_the_focus_when_the_page_opens(page):
    dispatcher = DispatcherPage(page).open()
    expect(dispatcher.search_box).to_be_focused(timeout=TIMEOUT)
    page.keyboard.type("奇槎大道38号")  # typing at once goes into the box
    assert dispatcher.query() == "奇槎大道38号"
    assert_clean(page)


def test_pasted_pairs_are_gcj02_by_default_and_an_anonymous_choice_is_kept_in_the_browser(
    page, api, demo_grids, browser, live_server
):
    pair, gcj_code, wgs_code = _readings_differ(demo_grids, api)
    dispatcher = DispatcherPage(page).open()
    assert dispatcher.chosen_coordsys() == "gcj02"
    assert "本浏览器" in dispatcher.coordsys_note.inner_text()
    dispatcher.paste(pair)
    dispatcher.wait_located(gcj_code)  # an Amap/WeChat pair lands where the caller is
    dispatcher.choose_coordsys("wgs84")
    assert dispatcher.t("coordsys_wgs84") in dispatcher.coordsys_note.inner_text()
    dispatcher.open()  # the same browser again: the choice is still there, and used
    assert dispatcher.chosen_coordsys() == "wgs84"
    dispatcher.paste(pair)
    dispatcher.wait_located(wgs_code)
    assert_clean(page)
    # another browser (a fresh context) starts from GCJ-02 again
    context, other = new_recorded_page(browser, live_server.url)
    try:
        assert DispatcherPage(other).open().chosen_coordsys() == "gcj02"
    finally:
        context.close()


def test_a_signed_in_choice_is_kept_on_the_server_across_browsers(page, browser, live_server):
    accounts = live_server.app.extensions["redgrid"].accounts
    accounts.create_user("desk", "许调度", "desk-pass-12345", "dispatcher")
    login(page, "desk", "desk-pass-12345")
    dispatcher = DispatcherPage(page).open()
    assert dispatcher.chosen_coordsys() == "gcj02"
    assert "账户" in dispatcher.coordsys_note.inner_text()
    dispatcher.choose_coordsys("bd09")
    store = live_server.app.extensions["redgrid"].store
    assert store.preferences(accounts.user_id("desk")) == {"coordsys": "bd09"}
    assert_clean(page)
    context, other = new_recorded_page(browser, live_server.url)  # no localStorage of the first
    try:
        login(other, "desk", "desk-pass-12345")
        assert DispatcherPage(other).open().chosen_coordsys() == "bd09"
    finally:
        context.close()


def test_both_readings_are_shown_when_they_fall_in_different_grids_the_chosen_first(page, api, demo_grids):
    pair, gcj_code, wgs_code = _readings_differ(demo_grids, api)
    page.set_viewport_size(PHONE)
    dispatcher = DispatcherPage(page).open()
    dispatcher.paste(pair)
    dispatcher.wait_located(gcj_code)
    expect(dispatcher.readings).to_be_visible(timeout=TIMEOUT)
    items = dispatcher.reading_items()
    assert items.count() == 2
    gcj, wgs = dispatcher.t("coordsys_gcj02"), dispatcher.t("coordsys_wgs84")
    assert items.nth(0).inner_text().startswith(dispatcher.t("reading_chosen", name=gcj))
    assert items.nth(1).inner_text().startswith(dispatcher.t("reading_other", name=wgs))
    assert dispatcher.reading_grid_codes() == [gcj_code, wgs_code]
    wgs_answer = api(f"/api/v1/point/wgs84/{pair}")
    assert wgs_answer["grid"]["name"] in items.nth(1).inner_text()
    assert "米" in dispatcher.readings.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # the other reading, chosen: its grid is the answer now, and it is listed first
    dispatcher.read_instead("wgs84")
    dispatcher.wait_located(wgs_code)
    assert dispatcher.chosen_coordsys() == "wgs84"
    expect(dispatcher.reading_items().nth(0)).to_contain_text(dispatcher.t("reading_chosen", name=wgs))
    assert dispatcher.reading_grid_codes() == [wgs_code, gcj_code]
    # a pair whose other reading is in no grid has one answer only (the WGS84 reading is not offered)
    dispatcher.choose_coordsys("gcj02")
    edge, code = _other_reading_outside(demo_grids, api)
    dispatcher.paste(edge)
    dispatcher.wait_located(code)
    assert dispatcher.readings.is_hidden()
    assert_clean(page)


def test_both_readings_in_english(page, api, demo_grids):
    pair, gcj_code, wgs_code = _readings_differ(demo_grids, api)
    dispatcher = DispatcherPage(page, lang="en").open({"lang": "en"})
    dispatcher.paste(pair)
    dispatcher.wait_located(gcj_code)
    expect(dispatcher.readings).to_be_visible(timeout=TIMEOUT)
    assert dispatcher.reading_items().nth(0).inner_text().startswith("Read as GCJ-02")
    assert "(chosen)" in dispatcher.reading_items().nth(0).inner_text()
    assert dispatcher.reading_grid_codes() == [gcj_code, wgs_code]
    assert_clean(page)


def test_a_community_name_alone_answers_with_the_community_its_grids_and_team(page, api):
    grids = api("/api/v1/grids")["grids"]
    community = grids[0]["community"]
    expected = api(f"/api/v1/communities/{community['code']}")
    dispatcher = DispatcherPage(page).open()
    dispatcher.search(community["name"])
    expect(dispatcher.community_card).to_be_visible(timeout=TIMEOUT)
    dispatcher.wait_idle()
    assert dispatcher.community_value("community").inner_text() == community["name"]
    assert dispatcher.community_value("community_code").inner_text() == community["code"]
    buttons = dispatcher.community_grid_buttons()
    assert buttons.all_inner_texts() == [g["name"] for g in expected["grids"]]
    assert sorted(dispatcher.team_levels()) == sorted(p["level"] for p in expected["team"])
    assert dispatcher.grid_card.is_hidden()  # a community is not one grid: nothing to file on yet
    # one of its grids, picked from the card
    chosen = expected["grids"][1]
    buttons.nth(1).click()
    dispatcher.wait_located(chosen["code"])
    assert dispatcher.community_card.is_hidden()
    assert_clean(page)


def test_a_grid_name_answers_with_that_grid_and_its_team(page, api):
    grid = api("/api/v1/grids")["grids"][7]
    dispatcher = DispatcherPage(page).open()
    dispatcher.search(grid["name"])
    dispatcher.wait_located(grid["code"])
    assert dispatcher.card_value("grid_name").inner_text() == grid["name"]
    assert dispatcher.team_roles()
    assert grid["name"] in dispatcher.status.inner_text()
    assert_clean(page)


def test_road_only_candidates_are_pins_on_the_map_to_pick_from(page, api):
    dispatcher = DispatcherPage(page).open()
    dispatcher.search("奇槎大道")  # the road without a door number
    buttons = dispatcher.wait_for_candidates()
    found = api("/api/v1/geocode?q=奇槎大道")
    pins = dispatcher.candidate_pins()
    expect(pins).to_have_count(len(found["candidates"]), timeout=TIMEOUT)
    assert pins.count() == buttons.count() >= 2
    assert pins.all_inner_texts() == [str(i + 1) for i in range(pins.count())]
    third = found["candidates"][2]
    assert third["text"] in pins.nth(2).get_attribute("aria-label")
    expected = api(f"/api/v1/point/wgs84/{third['lon']},{third['lat']}")["grid"]["code"]
    pins.nth(2).click()
    dispatcher.wait_located(expected)
    assert dispatcher.query() == third["text"]
    assert dispatcher.candidates.is_hidden() and dispatcher.candidate_pins().count() == 0
    assert_clean(page)


def test_a_click_on_the_map_answers_without_moving_or_zooming_it(page, api, demo_grids):
    lon, lat = shapely.point_on_surface(demo_grids.geometry.iloc[150]).coords[0]
    dispatcher = DispatcherPage(page).open()
    dispatcher.click_map(lon, lat)  # centres at zoom 15, then clicks there
    before = dispatcher.view()
    expected = api(f"/api/v1/point/wgs84/{dispatcher.query()}")["grid"]["code"]
    dispatcher.wait_located(expected)
    page.wait_for_timeout(400)  # any fitBounds animation would have started by now
    after = dispatcher.view()
    assert after["zoom"] == before["zoom"] == 15
    assert abs(after["lon"] - before["lon"]) < 1e-9 and abs(after["lat"] - before["lat"]) < 1e-9
    assert dispatcher.readings.is_hidden()  # a click is in the map's own datum: one reading
    # a pasted pair still frames its answer
    lon2, lat2 = shapely.point_on_surface(demo_grids.geometry.iloc[20]).coords[0]
    dispatcher.search(f"{lon2:.7f},{lat2:.7f}", "wgs84")
    dispatcher.wait_located(demo_grids["code"].iloc[20])
    page.wait_for_timeout(400)
    assert dispatcher.view() != after
    assert_clean(page)


def test_the_call_text_is_carried_into_the_intake_form_with_a_suggested_category(page, api):
    login(page, "dispatcher", "dispatcher-pass-123")
    dispatcher = DispatcherPage(page).open({"q": "奇槎大道38号", "coordsys": "wgs84"})
    dispatcher.wait_located()
    dispatcher.call_text.fill("楼下路灯不亮，晚上很黑，老人走路不安全")
    form = dispatcher.file_complaint_here()
    assert isinstance(form, NewComplaintPage)
    assert form.value("text") == "楼下路灯不亮，晚上很黑，老人走路不安全"
    assert form.value("address") == "奇槎大道38号"
    catalog = api("/api/v1/catalog")
    light = next(c for c in catalog["categories"] if c["code"] == "street_light")
    assert form.chosen_category() == light["name_zh"]
    note = page.locator("#category-suggested")
    expect(note).to_be_visible()
    assert light["name_zh"] in note.inner_text() and "路灯" in note.inner_text()
    assert_clean(page)
