"""The grid overview (``/grids``) in a real browser: legend, layers, labels, versions, escaping.

The version tests run on a server of their own: a copy of the demo database with a second,
inactive grid version whose first grid is named with markup (and whose label has some too).
"""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from tests.apps import DEMO_COMMUNITY_COUNT
from tests.apps import DEMO_GRIDS
from tests.browser.conftest import assert_clean
from tests.browser.conftest import serve_copy_of_demo
from tests.browser.harness import grid_importer
from tests.browser.pages import GridsPage

EVIL_NAME = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">网格`${1+1}`'
EVIL_LABEL = "第二版 <b>v2</b>"


@pytest.fixture(scope="module")
def two_versions(demo_template, tmp_path_factory):
    """A server whose database has the demo (version 1, active) and a renamed copy (version 2)."""
    root = tmp_path_factory.mktemp("two-versions")
    grids = gpd.read_file(DEMO_GRIDS)
    grids["code"] = grids["code"].astype(str)
    grids = grids.sort_values("code").reset_index(drop=True)
    grids.loc[0, "name"] = EVIL_NAME
    path = root / "renamed.geojson"
    grids.to_file(path, driver="GeoJSON")
    server, url, app = serve_copy_of_demo(demo_template, root, users=False)
    outcome = grid_importer(app).import_file(path, label=EVIL_LABEL, activate=False)
    evil = grids.iloc[0]
    yield {
        "url": url,
        "version": outcome.version_id,
        "code": evil["code"],
        "point": evil.geometry.representative_point().coords[0],
    }
    server.shutdown()


def test_overview_has_legend_layers_and_labels_from_zoom_14(page, demo_grids):
    grids = GridsPage(page).open()
    legend = grids.legend_items()
    assert legend.count() == DEMO_COMMUNITY_COUNT
    kinds = set(legend.evaluate_all("items => items.map(i => i.dataset.kind)"))
    assert kinds == {"urban", "rural"}
    assert grids.kind_badges("urban").first.inner_text() == "城"
    assert grids.kind_badges("rural").first.inner_text() == "农"
    colours = legend.evaluate_all(
        "items => items.map(i => getComputedStyle(i.querySelector('i')).backgroundColor)"
    )
    assert len(set(colours)) >= 6
    assert grids.legend_list().evaluate("ul => getComputedStyle(ul).overflowY") == "auto"
    assert grids.overlay_names() == ["网格", "社区边界", "镇界"]
    assert grids.shown_version_option().inner_text().endswith("(现行)")
    # fitted to the town: too far out for names
    assert grids.zoom() < 14
    assert grids.grid_labels().count() == 0
    # zoomed in: names appear, and a grid's tooltip names it with its code
    target = demo_grids.iloc[120]
    lon, lat = shapely.point_on_surface(target.geometry).coords[0]
    grids.zoom_to(lon, lat, 15)
    names = set(grids.wait_for_grid_labels())
    assert target["name"] in names
    tip = grids.hover(lon, lat).inner_text()
    assert target["name"] in tip and target["code"] in tip
    # switching the grid layer off and on through the layer control
    grid_box = grids.layer_checkbox("grids")
    grid_box.uncheck()
    assert not grid_box.is_checked()
    grid_box.check()
    grids.zoom_to(lon, lat, 13)
    grids.wait_without_grid_labels()
    assert_clean(page)


def test_version_picker_shows_the_chosen_version(page, two_versions):
    page.base = two_versions["url"]
    grids = GridsPage(page).open()
    assert grids.shown_version() == "1"
    options = grids.version_options()
    assert options.count() == 2
    assert EVIL_LABEL in options.all_inner_texts()[1]  # the label is text, not markup
    grids.choose_version(two_versions["version"])
    assert grids.shown_version() == str(two_versions["version"])
    assert grids.version_picker.input_value() == str(two_versions["version"])
    assert "(现行)" not in grids.shown_version_option().inner_text()
    assert grids.legend_items().count() == DEMO_COMMUNITY_COUNT
    assert grids.goto("?version=999").status == 404
    page.record.console = [(k, m) for k, m in page.record.console if "404" not in m]
    assert_clean(page)


def test_grid_names_with_markup_are_shown_as_text(page, two_versions):
    page.base = two_versions["url"]
    grids = GridsPage(page).open(f"?version={two_versions['version']}")
    lon, lat = two_versions["point"]
    grids.zoom_to(lon, lat, 16)
    assert EVIL_NAME in grids.wait_for_grid_labels()
    tip = grids.hover(lon, lat)
    assert EVIL_NAME in tip.inner_text()
    assert two_versions["code"] in tip.inner_text()
    assert tip.locator("img, script").count() == 0
    assert page.locator(".leaflet-container img[src='x'], .leaflet-container script").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert not [u for u in page.record.requests if u.endswith("/x")]
    assert_clean(page)
