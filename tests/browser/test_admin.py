"""The admin pages in a real browser (issue 10, item 7): an administrator uploads a roster,
reads what it would change, applies it and finds the change in the audit log; every admin
page fits a 390 px phone."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import serve_copy_of_demo
from tests.browser.harness import new_recorded_page
from tests.browser.pages import AdminRostersPage
from tests.browser.pages import LoginPage

ROSTER = Path(__file__).resolve().parents[1] / "fixtures" / "rosters" / "good_utf8.csv"
PASSWORD = "admin-pass-123456"
ADMIN_PAGES = [
    "/admin/users",
    "/admin/rosters",
    "/admin/grids",
    "/admin/catalog",
    "/admin/audit",
    "/admin/grids/compare?a=1&b=1",
]


@pytest.fixture(scope="module")
def admin_server(demo_template, tmp_path_factory):
    """The demo on its own port with an administrator, so the roster applied here changes no other test."""
    server, url, app = serve_copy_of_demo(demo_template, tmp_path_factory.mktemp("admin-live"))
    app.extensions["redgrid"].accounts.create_user("boss", "赵管理", PASSWORD, "admin")
    yield url, app
    server.shutdown()


def test_an_administrator_previews_applies_a_roster_and_finds_it_in_the_audit_log(browser, admin_server):
    url, app = admin_server
    context, page = new_recorded_page(browser, url)
    try:
        LoginPage(page).login("boss", PASSWORD)
        rosters = AdminRostersPage(page)
        rosters.go_to("admin_nav_link")
        page.get_by_role("navigation", name=rosters.t("admin_nav")).get_by_role(
            "link", name=rosters.t("admin_rosters_title"), exact=True
        ).click()
        before = len(app.extensions["redgrid"].store.assignments())
        rosters.upload("2026年名册.csv", ROSTER.read_bytes())
        expect(rosters.preview).to_contain_text("陈志强")
        expect(rosters.preview).to_contain_text("440605125001001")
        assert len(app.extensions["redgrid"].store.assignments()) == before  # nothing stored yet
        rosters.apply()
        expect(rosters.status).to_contain_text(rosters.t("admin_roster_applied"))
        assert len(app.extensions["redgrid"].store.assignments()) > before
        rosters.open_audit()
        # the action and its target in words (导入网格员名册, 名册 2026年名册.csv), the person by name
        entry = page.locator("#audit-entries tr", has_text=rosters.t("audit_action_roster.import"))
        expect(entry).to_have_count(1)
        expect(entry).to_contain_text("赵管理")
        expect(entry).to_contain_text(f"{rosters.t('audit_target_roster')} 2026年名册.csv")
        assert not page.record.page_errors
        assert all(r.startswith(url) or r.startswith("data:") for r in page.record.requests)
    finally:
        context.close()


def test_the_admin_pages_fit_a_phone(browser, admin_server):
    url, _ = admin_server
    context, page = new_recorded_page(browser, url, viewport={"width": 390, "height": 844}, has_touch=True)
    try:
        LoginPage(page).login("boss", PASSWORD)
        for path in ADMIN_PAGES:
            page.goto(url + path)
            page.wait_for_load_state("load")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    finally:
        context.close()
