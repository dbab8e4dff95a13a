"""The existing pages load offline in a real browser, with a clean console."""

from tests.browser.conftest import assert_clean
from tests.browser.conftest import login


def test_login_then_complaint_list_loads_offline(page):
    login(page, "dispatcher", "dispatcher-pass-123")
    page.goto(f"{page.base}/complaints")
    assert page.locator("table.list tr").count() > 10
    assert "王调度" in page.content()
    assert_clean(page)
