"""The planner's page (``/planner``) in a real browser: layers, filters, popups, export, offline.

Expected numbers come from the store of the same server (3,000 demo complaints), not from
the page itself.
"""

from __future__ import annotations

import datetime
import re

import pandas as pd
import pytest

from geo.aggregate import month_labels
from tests.browser.conftest import assert_clean
from tests.browser.conftest import login
from tests.browser.pages import DispatcherPage
from tests.browser.pages import LoginPage
from tests.browser.pages import PlannerPage

TIMEOUT = 15_000
GLYPHICONS_LOADED = """() => Array.from(document.fonts).some(
    f => f.family.replace(/["']/g, '') === 'Glyphicons Halflings' && f.status === 'loaded')"""
LAYERS = [
    ("heat", "热力图"),
    ("animation", "逐月动画"),
    ("rates", "每千人诉求率"),
    ("hotspots", "热点分析 Gi*"),
    ("moran", "局部 Moran 指数"),
    ("emerging", "时空热点趋势"),
    ("h3", "H3 六边形"),
    ("counts", "网格诉求数"),
]


@pytest.fixture
def store(live_server):
    return live_server.app.extensions["redgrid"].store


def months_in_store(store, filters: dict) -> list[str]:
    times = pd.to_datetime(store.complaints_frame(["reported_at"], filters)["reported_at"], utc=True)
    return month_labels(times.min(), times.max())


def test_anonymous_visitor_is_sent_to_login(page):
    PlannerPage(page).goto()
    page.wait_for_load_state("networkidle")
    assert "/login" in page.url and "next=%2Fplanner" in page.url
    assert LoginPage(page).username.is_visible()
    assert_clean(page)


def test_planner_switches_layers_filters_and_opens_a_grid_popup(page, store):
    login(page, "planner", "planner-pass-123")
    planner = PlannerPage(page).open()
    assert planner.total() == store.count_complaints({}) == 3000
    assert planner.legends() == ["counts"]
    assert planner.time_control.is_hidden()

    for key, label in LAYERS:
        planner.choose_layer(key, label)
        assert planner.legends() == [key], key
        assert planner.remembered_layer() == key
        assert f"layer={key}" in page.url
        if key == "animation":
            assert planner.time_control.is_visible()
            first_month = planner.time_date.inner_text().strip()
            assert re.fullmatch(r"\d{4}-\d{2}", first_month)
            assert first_month == months_in_store(store, {})[0]
            planner.step_forward()
            page.wait_for_function(
                "m => document.querySelector('.timecontrol-date').innerText.trim() !== m",
                arg=first_month,
                timeout=TIMEOUT,
            )
            assert planner.time_date.inner_text().strip() == months_in_store(store, {})[1]
            # the font of the slider's buttons (Bootstrap 3 Glyphicons) came from our static files
            page.wait_for_function(GLYPHICONS_LOADED, timeout=TIMEOUT)
            assert any(
                u.startswith(f"{page.base}/static/vendor/bootstrap/dist/fonts/glyphicons-halflings")
                for u in page.record.requests
            )
        else:
            assert planner.time_control.is_hidden()
        if key == "heat":
            assert planner.heat_canvas.count() == 1

    # a grid's popup: the busiest grid of the side table, clicked on the map
    i, code = planner.busiest_grid()
    popup = planner.open_popup_of(i)
    assert popup.get_attribute("data-code") == code
    assert planner.sparkline_points() == len(months_in_store(store, {}))
    expected = store.count_complaints({"grid_code": code})
    assert f"{expected:,}" in popup.inner_text()

    # filters: a summer, two categories
    before = planner.total()
    planner.apply_filters(since="2025-06-01", until="2025-08-31", categories=["noise", "rubbish"])
    china = datetime.timezone(datetime.timedelta(hours=8))
    filters = {
        "since": datetime.datetime(2025, 6, 1, tzinfo=china),
        "until": datetime.datetime(2025, 9, 1, tzinfo=china),
        "category_code": ["noise", "rubbish"],
    }
    after = planner.total()
    assert after == store.count_complaints(filters)
    assert 0 < after < before
    assert "2025-06 – 2025-08 (3)" in planner.side.inner_text()
    assert planner.months() == "2025-06 – 2025-08 (3)"
    assert planner.since.input_value() == "2025-06-01"
    assert planner.selected_categories() == ["noise", "rubbish"]
    i, code = planner.busiest_grid()
    planner.open_popup_of(i)
    assert planner.sparkline_points() == 3  # one point per month of the summer
    in_grid = store.count_complaints({**filters, "grid_code": code})
    assert f"{in_grid:,}" in planner.popup.inner_text()
    assert_clean(page)


def test_dispatcher_reaches_the_planner_from_the_nav(page):
    login(page, "dispatcher", "dispatcher-pass-123")
    DispatcherPage(page).go_to("nav_planner")
    planner = PlannerPage(page)
    planner.wait_for_map(layer="counts")
    assert planner.layer_radios().count() == 8
    assert_clean(page)


def test_exported_map_file_works_with_the_apps_static_files(page):
    login(page, "planner", "planner-pass-123")
    planner = PlannerPage(page).open("?layer=hotspots")
    body = planner.download_map_html()
    assert f'"{page.base}/static/vendor/leaflet/dist/leaflet.js"' in body
    # opened as a page of its own (served here under the app's address, as a browser opening the
    # file would fetch the same scripts from it)
    planner.open_exported(body)
    planner.wait_for_map(layer="hotspots")
    assert planner.export_note.is_visible()
    planner.choose_layer("animation", "逐月动画")
    assert planner.time_control.is_visible()
    assert_clean(page)
