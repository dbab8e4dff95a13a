"""The existing pages load offline in a real browser, with a clean console."""

from tests.browser.conftest import assert_clean
from tests.browser.pages import ComplaintListPage
from tests.browser.pages import LoginPage


def test_login_then_complaint_list_loads_offline(page):
    LoginPage(page).login("dispatcher", "dispatcher-pass-123")
    complaints = ComplaintListPage(page).open()
    assert complaints.rows().count() > 10
    assert "王调度" in page.content()
    assert complaints.logout_button.is_visible()
    assert_clean(page)


def test_wrong_password_is_refused_on_the_login_page(page):
    login = LoginPage(page).open()
    login.log_in("dispatcher", "not-the-password")
    assert "/login" in page.url
    assert login.error.inner_text() == login.t("login_failed")
    assert login.username.is_visible() and not login.logout_button.is_visible()
    # the refusal is a 401 (which Chromium logs); the page handled it
    page.record.console = [(k, m) for k, m in page.record.console if "401" not in m]
    assert_clean(page)


def test_complaint_list_filters_by_grid_and_opens_a_complaint(page, live_server):
    store = live_server.app.extensions["redgrid"].store
    LoginPage(page).login("dispatcher", "dispatcher-pass-123")
    complaints = ComplaintListPage(page).open()
    first = complaints.complaint_rows().first.get_by_role("cell")
    grid = store.complaint(int(first.nth(0).inner_text())).grid_code
    # the list shows the grid's name, the filter offers it by name
    name = first.nth(5).inner_text()
    assert complaints.grid_filter.locator(f"option[value='{grid}']").inner_text() == name
    complaints.filter(grid=grid)
    assert "grid=" + grid in page.url
    expected = store.count_complaints({"grid_code": grid})
    assert f"({expected})" in complaints.heading()
    assert complaints.complaint_rows().count() == min(expected, 50)
    complaint_id = complaints.complaint_rows().first.get_by_role("link").inner_text()
    complaint = complaints.open_complaint(complaint_id)
    page.wait_for_url(f"**/complaints/{complaint_id}")
    assert complaint.complaint_id() == int(complaint_id)
    assert complaint.value("grid").startswith(name)
    assert_clean(page)


def grid_names(app) -> dict[str, str]:
    """grid code → name in the active version, from the grid service."""
    grids = app.extensions["redgrid"].grids
    frame = grids.grid_set(grids.active_or_none()).grids
    return dict(zip(frame["code"].astype(str), frame["name"].astype(str), strict=True))
