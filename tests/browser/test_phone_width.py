"""On a 390 px phone no page scrolls sideways: wide tables scroll inside their own box and the
header wraps (issue 10, item 1). Before the header and table rules, the complaint list was 421 px
wide in Chinese and 602 px in English."""

import pytest

from tests.browser.conftest import assert_clean
from tests.browser.pages import LoginPage

PHONE = {"width": 390, "height": 844}
PUBLIC = ["/", "/grids", "/complaints", "/progress", "/login", "/complaints?lang=en", "/?lang=en"]
STAFF = [
    "/complaints",
    "/complaints/1",
    "/complaints/new",
    "/planner",
    "/dashboard",
    "/complaints?lang=en",
    "/notifications/undelivered",
    "/deliberations",
    "/deliberations/new",
    "/queue",
]


def _width(page, url: str) -> int:
    page.goto(url)
    page.wait_for_load_state("load")
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.mark.parametrize("path", PUBLIC)
def test_public_pages_fit_a_phone(page, live_server, path):
    page.set_viewport_size(PHONE)
    assert _width(page, live_server.url + path) <= PHONE["width"]
    assert_clean(page)


def test_staff_pages_fit_a_phone(page, live_server):
    page.set_viewport_size(PHONE)
    LoginPage(page).login("dispatcher", "dispatcher-pass-123")
    widths = {path: _width(page, live_server.url + path) for path in STAFF}
    assert widths == dict.fromkeys(STAFF, PHONE["width"])
    assert_clean(page)
