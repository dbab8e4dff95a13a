"""The planner's page (``/planner``) in a real browser: layers, filters, popups, export, offline.

Expected numbers come from the store of the same server (3,000 demo complaints), not from
the page itself.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pandas as pd
import pytest

from geo.aggregate import month_labels
from tests.browser.conftest import SCREENSHOTS
from tests.browser.conftest import assert_clean
from tests.browser.conftest import keep_screenshot
from tests.browser.conftest import login

REPO = Path(__file__).resolve().parents[2]
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"
TIMEOUT = 15_000
GLYPHICONS_LOADED = """() => Array.from(document.fonts).some(
    f => f.family.replace(/["']/g, '') === 'Glyphicons Halflings' && f.status === 'loaded')"""
LAYERS = [("heat", "热力图"), ("animation", "逐月动画"), ("rates", "每千人诉求率"),
          ("hotspots", "热点分析 Gi*"), ("h3", "H3 六边形"), ("counts", "网格诉求数")]


@pytest.fixture
def store(live_server):
    return live_server.app.extensions["redgrid"].store


def months_in_store(store, filters: dict) -> list[str]:
    times = pd.to_datetime(store.complaints_frame(["reported_at"], filters)["reported_at"], utc=True)
    return month_labels(times.min(), times.max())


def open_planner(page, query: str = "") -> None:
    page.goto(f"{page.base}/planner{query}")
    page.wait_for_selector(".planner-legend[data-legend]", timeout=TIMEOUT)
    page.wait_for_load_state("networkidle")


def total(page) -> int:
    return int(page.get_attribute("#pl-total", "data-value"))


def legends(page) -> list[str]:
    return page.eval_on_selector_all(".planner-legend", "els => els.map(e => e.dataset.legend)")


def choose_layer(page, key: str, label: str) -> None:
    page.locator(".leaflet-control-layers-base label", has_text=label).click()
    page.wait_for_selector(f".planner-legend[data-legend='{key}']", timeout=TIMEOUT)


def open_popup_of(page, i: int) -> None:
    """Click the map where grid ``i`` lies (its point on surface), as a user would."""
    x, y = page.evaluate("""(i) => {
        const map = window.plannerMap, at = window.plannerGrids.points[i];
        map.closePopup();
        map.setView(at, 16, {animate: false});
        const p = map.latLngToContainerPoint(at), box = map.getContainer().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
    }""", i)
    page.wait_for_timeout(300)
    page.mouse.click(x, y)
    page.wait_for_selector(".leaflet-popup .pl-pop", timeout=TIMEOUT)


def sparkline_points(page) -> int:
    points = page.get_attribute(".leaflet-popup .pl-pop svg.spark polyline", "points")
    return len(points.split())


def test_anonymous_visitor_is_sent_to_login(page):
    page.goto(f"{page.base}/planner")
    page.wait_for_load_state("networkidle")
    assert "/login" in page.url and "next=%2Fplanner" in page.url
    assert page.locator("#username").is_visible()
    assert_clean(page)


def test_planner_switches_layers_filters_and_opens_a_grid_popup(page, store):
    login(page, "planner", "planner-pass-123")
    open_planner(page)
    assert total(page) == store.count_complaints({}) == 3000
    assert legends(page) == ["counts"]
    assert page.locator(".leaflet-bar-timecontrol").first.is_hidden()

    for key, label in LAYERS:
        choose_layer(page, key, label)
        assert legends(page) == [key], key
        assert page.input_value("#pl-layer") == key
        assert f"layer={key}" in page.url
        timecontrol = page.locator(".leaflet-bar-timecontrol").first
        if key == "animation":
            assert timecontrol.is_visible()
            date = page.locator(".timecontrol-date").first
            first_month = date.inner_text().strip()
            assert re.fullmatch(r"\d{4}-\d{2}", first_month)
            assert first_month == months_in_store(store, {})[0]
            page.locator(".timecontrol-forward").first.click()
            page.wait_for_function("m => document.querySelector('.timecontrol-date').innerText.trim() !== m",
                                   arg=first_month, timeout=TIMEOUT)
            assert date.inner_text().strip() == months_in_store(store, {})[1]
            # the font of the slider's buttons (Bootstrap 3 Glyphicons) came from our static files
            page.wait_for_function(GLYPHICONS_LOADED, timeout=TIMEOUT)
            assert any(u.startswith(f"{page.base}/static/vendor/bootstrap/dist/fonts/glyphicons-halflings")
                       for u in page.record.requests)
        else:
            assert timecontrol.is_hidden()
        if key == "heat":
            assert page.locator("canvas.leaflet-heatmap-layer").count() == 1

    # a grid's popup: the busiest grid of the side table, clicked on the map
    row = page.locator("#pl-top-grids tr[data-i]").first
    i, code = int(row.get_attribute("data-i")), row.get_attribute("data-code")
    open_popup_of(page, i)
    popup = page.locator(".leaflet-popup .pl-pop")
    assert popup.get_attribute("data-code") == code
    assert sparkline_points(page) == len(months_in_store(store, {}))
    expected = store.count_complaints({"grid_code": code})
    assert f"{expected:,}" in popup.inner_text()
    # for the screenshot: the town around the grid, the popup settled, no tooltip in the way
    page.evaluate("(i) => { plannerMap.setView(plannerGrids.points[i], 14, {animate: false}); }", i)
    box = page.locator("#planner-map").bounding_box()
    page.mouse.move(box["x"] - 100, box["y"] + 20)  # over the side panel
    page.wait_for_function("() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'",
                           timeout=TIMEOUT)
    page.screenshot(path=str(SCREENSHOTS / "planner.png"))
    keep_screenshot("planner", DOCS_SCREENSHOTS)

    # filters: a summer, two categories
    before = total(page)
    page.fill("#pl-since", "2025-06-01")
    page.fill("#pl-until", "2025-08-31")
    page.select_option("#pl-category", ["noise", "rubbish"])
    page.click("#pl-apply")
    page.wait_for_selector(".planner-legend[data-legend='counts']", timeout=TIMEOUT)
    page.wait_for_load_state("networkidle")
    china = datetime.timezone(datetime.timedelta(hours=8))
    filters = {"since": datetime.datetime(2025, 6, 1, tzinfo=china),
               "until": datetime.datetime(2025, 9, 1, tzinfo=china), "category_code": ["noise", "rubbish"]}
    after = total(page)
    assert after == store.count_complaints(filters)
    assert 0 < after < before
    assert "2025-06 – 2025-08 (3)" in page.inner_text(".planner-side")
    assert page.input_value("#pl-since") == "2025-06-01"
    assert sorted(page.eval_on_selector_all("#pl-category option:checked", "os => os.map(o => o.value)")) \
        == ["noise", "rubbish"]
    row = page.locator("#pl-top-grids tr[data-i]").first
    i, code = int(row.get_attribute("data-i")), row.get_attribute("data-code")
    open_popup_of(page, i)
    assert sparkline_points(page) == 3  # one point per month of the summer
    in_grid = store.count_complaints({**filters, "grid_code": code})
    assert f"{in_grid:,}" in page.inner_text(".leaflet-popup .pl-pop")
    assert_clean(page)


def test_dispatcher_reaches_the_planner_from_the_nav(page):
    login(page, "dispatcher", "dispatcher-pass-123")
    page.click("header.top nav a[href='/planner']")
    page.wait_for_selector(".planner-legend[data-legend='counts']", timeout=TIMEOUT)
    page.wait_for_load_state("networkidle")
    assert page.locator(".leaflet-control-layers-base input[type=radio]").count() == 6
    assert_clean(page)


def test_exported_map_file_works_with_the_apps_static_files(page):
    login(page, "planner", "planner-pass-123")
    open_planner(page, "?layer=hotspots")
    with page.expect_download() as download:
        page.click("#pl-export-html")
    body = Path(download.value.path()).read_text(encoding="utf-8")
    assert f'"{page.base}/static/vendor/leaflet/dist/leaflet.js"' in body
    # opened as a page of its own (served here under the app's address, as a browser opening the
    # file would fetch the same scripts from it)
    target = f"{page.base}/__exported_planner_map.html"
    page.route(target, lambda route: route.fulfill(status=200, content_type="text/html; charset=utf-8",
                                                     body=body))
    page.goto(target)
    page.wait_for_selector(".planner-legend[data-legend='hotspots']", timeout=TIMEOUT)
    page.wait_for_load_state("networkidle")
    assert page.locator(".planner-export-note").is_visible()
    choose_layer(page, "animation", "逐月动画")
    assert page.locator(".leaflet-bar-timecontrol").first.is_visible()
    assert_clean(page)
