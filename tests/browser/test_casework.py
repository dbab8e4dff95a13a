"""吹哨报到 and 多元议事 in a real browser (issue 10, items 2 and 3): the dispatch centre
whistles a case, two departments report in and one responds, and the case shows who came and
when; a deliberation is recorded with its participants (at 390 px) and settles a case."""

from __future__ import annotations

import datetime

import pytest

from geo.timeutil import BEIJING
from tests.apps import create_user
from tests.browser.conftest import assert_clean
from tests.browser.conftest import serve_copy_of_demo
from tests.browser.harness import new_recorded_page
from tests.browser.pages import CaseWhistles
from tests.browser.pages import ComplaintPage
from tests.browser.pages import DeliberationFormPage
from tests.browser.pages import DeliberationPage
from tests.browser.pages import LoginPage
from tests.test_complaints_service import file_at
from tests.test_complaints_service import grid_of_kind

PHONE = {"width": 390, "height": 844}
PASSWORD = "department-pass-123"


@pytest.fixture(scope="module")
def casework_server(demo_template, tmp_path_factory):
    server, url, app = serve_copy_of_demo(demo_template, tmp_path_factory.mktemp("casework-live"))
    store = app.extensions["redgrid"].store
    create_user(store, "police", "派出所值班", PASSWORD, "department", "police")
    create_user(store, "water", "水务值班", PASSWORD, "department", "water_affairs")
    yield url, app
    server.shutdown()


@pytest.fixture
def fresh_page(browser, casework_server):
    context, page = new_recorded_page(browser, casework_server[0])
    yield page
    context.close()


def _new_case(app, demo_grids, external_id: str) -> int:
    cases = app.extensions["redgrid"].cases
    reported = datetime.datetime.now(BEIJING) - datetime.timedelta(hours=1)
    case = file_at(
        cases,
        demo_grids,
        grid_of_kind(demo_grids, "urban"),
        external_id,
        reported.strftime("%Y-%m-%d %H:%M"),
        text="夜市占道，油烟扰民",
    )
    return case.id


def _as(page, url: str, username: str, password: str) -> None:
    page.context.clear_cookies()
    LoginPage(page, url).login(username, password)


def test_a_whistle_two_departments_report_in_and_one_responds(fresh_page, casework_server, demo_grids):
    url, app = casework_server
    complaint_id = _new_case(app, demo_grids, "browser-whistle")
    _as(fresh_page, url, "dispatcher", "dispatcher-pass-123")
    case = CaseWhistles(fresh_page, url).open(complaint_id)
    case.blow("请各部门到场会商")
    assert case.t("whistle_blown") in case.flash()
    for name in ("派出所", "水务"):
        assert case.t("whistle_not_reported") in case.summons(name).inner_text()

    _as(fresh_page, url, "police", PASSWORD)
    case.open(complaint_id)
    case.report_in("派出所")
    assert case.t("whistle_reported") in case.flash()
    case.respond("派出所", "已安排民警今晚到场劝离")
    _as(fresh_page, url, "water", PASSWORD)
    case.open(complaint_id)
    # the police's row offers the water clerk nothing
    assert case.summons("派出所").get_by_role("button").count() == 0
    case.report_in("水务")

    _as(fresh_page, url, "dispatcher", "dispatcher-pass-123")
    case.open(complaint_id)
    police, water = case.summons("派出所").inner_text(), case.summons("水务").inner_text()
    assert "报到（用时" in police and "响应（用时" in police and "已安排民警今晚到场劝离" in police
    assert "报到（用时" in water and "响应" not in water.replace("报到", "")
    assert case.t("whistle_not_reported") in case.summons("城市管理").inner_text()
    store = app.extensions["redgrid"].store
    (whistle,) = store.whistles(complaint_id)
    reported = {s.department_code for s in whistle.summons if s.reported_at is not None}
    assert reported == {"police", "water_affairs"}
    assert [e.action for e in store.complaint_events(complaint_id)][-1] == "whistle"
    assert_clean(fresh_page)


def test_a_deliberation_recorded_on_a_phone_settles_a_case(fresh_page, casework_server, demo_grids):
    url, app = casework_server
    complaint_id = _new_case(app, demo_grids, "browser-deliberation")
    fresh_page.set_viewport_size(PHONE)
    _as(fresh_page, url, "dispatcher", "dispatcher-pass-123")
    ComplaintPage(fresh_page, url).open(complaint_id)
    fresh_page.get_by_role("link", name="记录本诉求的多元议事", exact=True).click()
    form = DeliberationFormPage(fresh_page, url)
    form.settle()
    assert form.rows().count() == 5
    assert fresh_page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    form.field("deliberation_place").fill("沥雄社区红色会客厅")
    form.field("deliberation_matter").fill("夜市占道经营、油烟扰民")
    form.participant(1, "resident", "陈大妈", "3栋")
    form.participant(2, "party_member", "李党员")
    form.participant(3, "deputy", "黄代表", "镇人大代表")
    form.participant(4, "department", "刘科长", "城管")
    form.participant(5, "grid_team", "周网格员")
    form.add_row()
    assert form.rows().count() == 6
    form.participant(6, "resident", "王阿叔", "5栋")
    form.field("deliberation_outcome").fill("夜市移至停车场，晚上十点收摊")
    form.save(settle=True)
    fresh_page.wait_for_url("**/deliberations/*")
    record = DeliberationPage(fresh_page, url)
    assert record.participant_names() == ["陈大妈", "李党员", "黄代表", "刘科长", "周网格员", "王阿叔"]
    assert record.value("deliberation_outcome") == "夜市移至停车场，晚上十点收摊"
    assert fresh_page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    fresh_page.get_by_role("link", name=f"#{complaint_id}", exact=True).click()
    case = ComplaintPage(fresh_page, url)
    assert case.t("state_resolved_on_site") in case.heading()
    assert app.extensions["redgrid"].store.complaint(complaint_id).state == "resolved_on_site"
    assert_clean(fresh_page)
