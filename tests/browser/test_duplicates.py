"""A duplicate found at intake and linked (issue 9, item 6), in a real browser: a dispatcher files a
street-light complaint, files a second one 30 m away of the same category, is shown the first as
a possible duplicate while filling in the form, files the second as its duplicate, and both case
pages show the link.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from pyproj import Geod

from tests.apps import inside_point
from tests.browser.conftest import LiveServer
from tests.browser.conftest import assert_clean
from tests.browser.conftest import serve_copy_of_demo
from tests.browser.pages import TIMEOUT
from tests.browser.pages import LoginPage
from tests.browser.pages import NewComplaintPage
from tests.test_complaints_service import grid_of_kind


@pytest.fixture
def own_server(demo_template, tmp_path):
    """A private copy of the demo: the cases filed here must not change the shared server's
    (other tests count its complaints or print its newest case)."""
    server, url, app = serve_copy_of_demo(demo_template, tmp_path)
    yield LiveServer(url, app)
    server.shutdown()


def test_a_duplicate_is_found_while_filing_and_linked_both_ways(page, own_server, demo_grids):
    live_server = own_server
    page.base = own_server.url  # what assert_clean counts as local
    LoginPage(page, live_server.url).login("dispatcher", "dispatcher-pass-123")
    lon, lat = inside_point(demo_grids, grid_of_kind(demo_grids, "urban", skip=3))
    first = NewComplaintPage(page, live_server.url).open()
    first.fill_in("学校门口路灯不亮", "street_light", lon=repr(lon), lat=repr(lat))
    original = first.submit().complaint_id()

    x, y, _ = Geod(ellps="WGS84").fwd(lon, lat, 60.0, 30.0)
    second = NewComplaintPage(page, live_server.url).open()
    second.fill_in("路灯坏了好几天", "street_light", lon=repr(x), lat=repr(y))
    choice = second.duplicate_choice(original)
    expect(choice).to_be_visible(timeout=TIMEOUT)
    expect(second.duplicates).to_contain_text(second.t("dup_distance", m=30))
    expect(second.new_case_choice).to_be_checked()
    choice.check()
    duplicate = second.submit()
    duplicate_id = duplicate.complaint_id()
    assert duplicate_id != original
    assert duplicate.t("state_duplicate") in duplicate.heading()
    expect(duplicate.original_link()).to_have_text(f"#{original}")

    duplicate.original_link().click()
    page.wait_for_url(f"**/complaints/{original}")
    expect(duplicate.duplicate_links()).to_have_text([f"#{duplicate_id}"])
    assert duplicate.t("state_collected") in duplicate.heading()
    assert_clean(page)
