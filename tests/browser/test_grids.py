"""The grid overview (``/grids``) in a real browser: legend, layers, labels, versions, escaping.

The version tests run on a server of their own: a copy of the demo database with a second,
inactive grid version whose first grid is named with markup (and whose label has some too).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from werkzeug.serving import make_server

from tests.apps import DEMO_COMMUNITY_COUNT
from tests.apps import DEMO_GRIDS
from tests.browser.conftest import SCREENSHOTS
from tests.browser.conftest import assert_clean
from tests.browser.conftest import keep_screenshot
from webmap import create_app

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
EVIL_NAME = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">网格`${1+1}`'
EVIL_LABEL = "第二版 <b>v2</b>"
TIMEOUT = 10_000


@pytest.fixture(scope="module")
def two_versions(demo_template, tmp_path_factory):
    """A server whose database has the demo (version 1, active) and a renamed copy (version 2)."""
    root = tmp_path_factory.mktemp("two-versions")
    db = root / "redgrid.db"
    with contextlib.closing(sqlite3.connect(demo_template.path)) as src, \
            contextlib.closing(sqlite3.connect(db)) as dst:
        src.backup(dst)
    grids = gpd.read_file(DEMO_GRIDS)
    grids["code"] = grids["code"].astype(str)
    grids = grids.sort_values("code").reset_index(drop=True)
    grids.loc[0, "name"] = EVIL_NAME
    path = root / "renamed.geojson"
    grids.to_file(path, driver="GeoJSON")
    app = create_app({"DATABASE_URL": f"sqlite:///{db}", "CACHE_DIR": str(demo_template.cache_dir),
                      "SECRET_KEY": "browser-tests", "ACTIVE_TTL_S": 0.0})
    outcome = app.extensions["redgrid"].import_file(path, label=EVIL_LABEL, activate=False)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    evil = grids.iloc[0]
    yield {"url": f"http://127.0.0.1:{server.server_port}", "version": outcome.version_id,
           "code": evil["code"], "point": evil.geometry.representative_point().coords[0]}
    server.shutdown()


def open_grids(page, query: str = "") -> None:
    page.goto(f"{page.base}/grids{query}")
    page.wait_for_function("() => window.RedGridGrids && window.RedGridGrids.map", timeout=TIMEOUT)


def zoom_to(page, lon: float, lat: float, zoom: int) -> None:
    page.evaluate("([lat, lon, z]) => { window.RedGridGrids.map.setView([lat, lon], z, {animate: false}); }",
                  [lat, lon, zoom])


def hover(page, lon: float, lat: float) -> None:
    x, y = page.evaluate("([lat, lon]) => { const m = window.RedGridGrids.map; "
                         "const p = m.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }", [lat, lon])
    box = page.locator(".folium-map").bounding_box()
    page.mouse.move(box["x"] + x - 3, box["y"] + y - 3)
    page.mouse.move(box["x"] + x, box["y"] + y)
    page.wait_for_selector(".leaflet-tooltip.grid-tooltip", timeout=TIMEOUT)


def test_overview_has_legend_layers_and_labels_from_zoom_14(page, demo_grids):
    open_grids(page)
    legend = page.locator("#legend li")
    assert legend.count() == DEMO_COMMUNITY_COUNT
    kinds = set(legend.evaluate_all("items => items.map(i => i.dataset.kind)"))
    assert kinds == {"urban", "rural"}
    assert page.locator("#legend .badge.kind-urban").first.inner_text() == "城"
    assert page.locator("#legend .badge.kind-rural").first.inner_text() == "农"
    colours = legend.evaluate_all(
        "items => items.map(i => getComputedStyle(i.querySelector('i')).backgroundColor)")
    assert len(set(colours)) >= 6
    assert page.locator("#legend").evaluate("ul => getComputedStyle(ul).overflowY") == "auto"
    overlays = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert [o.strip() for o in overlays] == ["网格", "社区边界", "镇界"]
    assert page.locator("#version option[selected]").inner_text().endswith("(现行)")
    # fitted to the town: too far out for names
    assert page.evaluate("window.RedGridGrids.map.getZoom()") < 14
    assert page.locator(".grid-label").count() == 0
    page.screenshot(path=str(SCREENSHOTS / "grids.png"))
    keep_screenshot("grids", DOCS_SCREENSHOTS)
    # zoomed in: names appear, and a grid's tooltip names it with its code
    target = demo_grids.iloc[120]
    lon, lat = shapely.point_on_surface(target.geometry).coords[0]
    zoom_to(page, lon, lat, 15)
    page.wait_for_selector(".grid-label span", timeout=TIMEOUT)
    names = set(page.locator(".grid-label span").all_inner_texts())
    assert target["name"] in names
    hover(page, lon, lat)
    tip = page.locator(".leaflet-tooltip.grid-tooltip").inner_text()
    assert target["name"] in tip and target["code"] in tip
    # switching the grid layer off and on through the layer control
    grid_box = page.locator(".leaflet-control-layers-overlays input").first
    grid_box.uncheck()
    assert not grid_box.is_checked()
    grid_box.check()
    zoom_to(page, lon, lat, 13)
    page.wait_for_function("() => document.querySelectorAll('.grid-label').length === 0", timeout=TIMEOUT)
    assert_clean(page)


def test_version_picker_shows_the_chosen_version(page, two_versions):
    page.base = two_versions["url"]
    open_grids(page)
    summary = page.locator("#version-summary")
    assert summary.get_attribute("data-version") == "1"
    options = page.locator("#version option")
    assert options.count() == 2
    assert EVIL_LABEL in options.all_inner_texts()[1]  # the label is text, not markup
    page.select_option("#version", str(two_versions["version"]))
    page.wait_for_url(f"**/grids?version={two_versions['version']}")
    page.wait_for_function("() => window.RedGridGrids && window.RedGridGrids.map", timeout=TIMEOUT)
    assert page.locator("#version-summary").get_attribute("data-version") == str(two_versions["version"])
    assert page.locator("#version").input_value() == str(two_versions["version"])
    assert "(现行)" not in page.locator("#version option[selected]").inner_text()
    assert page.locator("#legend li").count() == DEMO_COMMUNITY_COUNT
    assert page.goto(f"{page.base}/grids?version=999").status == 404
    page.record.console = [(k, m) for k, m in page.record.console if "404" not in m]
    assert_clean(page)


def test_grid_names_with_markup_are_shown_as_text(page, two_versions):
    page.base = two_versions["url"]
    open_grids(page, f"?version={two_versions['version']}")
    lon, lat = two_versions["point"]
    zoom_to(page, lon, lat, 16)
    page.wait_for_selector(".grid-label span", timeout=TIMEOUT)
    assert EVIL_NAME in page.locator(".grid-label span").all_inner_texts()
    hover(page, lon, lat)
    tip = page.locator(".leaflet-tooltip.grid-tooltip")
    assert EVIL_NAME in tip.inner_text()
    assert two_versions["code"] in tip.inner_text()
    assert tip.locator("img, script").count() == 0
    assert page.locator(".leaflet-container img[src='x'], .leaflet-container script").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert not [u for u in page.record.requests if u.endswith("/x")]
    assert_clean(page)
