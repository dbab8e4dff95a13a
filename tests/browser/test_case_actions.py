"""Case work as the dispatch centre and a department do it (issue 9, item 3), in a real browser
with real logins: dispatch with a chosen deadline; a department returns a case and the centre
re-dispatches it elsewhere; an extension asked and approved; an overdue case chased (催办, 督办).
Each step is taken through its own form and confirmed in words; the case shows the result.
"""

from __future__ import annotations

import datetime

import pytest

from geo.timeutil import BEIJING
from services.cases import ComplaintService
from tests.browser.conftest import serve_copy_of_demo
from tests.browser.harness import assert_clean
from tests.browser.harness import new_recorded_page
from tests.browser.pages import ComplaintPage
from tests.browser.pages import LoginPage
from tests.test_complaints_service import file_at
from tests.test_complaints_service import grid_of_kind

DISPATCHER = ("dispatcher", "dispatcher-pass-123")
CLERK = ("cg", "cg-clerk-pass-123")  # 城市管理 (urban management), where noise goes
URBAN, WATER = "urban_management", "water_affairs"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def office(demo_template, tmp_path_factory):
    """The demo with a dispatcher and an urban-management clerk, on its own port."""
    server, url, app = serve_copy_of_demo(demo_template, tmp_path_factory.mktemp("case-actions"))
    app.extensions["redgrid"].accounts.create_user("cg", "城管张", CLERK[1], "department", URBAN)
    yield url, app
    server.shutdown()


@pytest.fixture
def browse(browser, office):
    """Open a fresh logged-in browser for a user: ``browse(user) -> page``; all closed after."""
    contexts = []

    def open_as(user: tuple[str, str]):
        context, page = new_recorded_page(browser, office[0])
        contexts.append(context)
        LoginPage(page, office[0]).login(*user)
        return page

    yield open_as
    for context in contexts:
        context.close()


def _case(app, demo_grids, name: str, *, dispatched_days_ago: int | None = None) -> int:
    """A noise case filed an hour ago, or dispatched to urban management that many days ago
    (by a service whose clock stands then, so its deadline may be long past)."""
    base = app.extensions["redgrid"].cases
    when = datetime.datetime.now(BEIJING) - datetime.timedelta(days=dispatched_days_ago or 0, hours=1)
    svc = ComplaintService(base.store, base.grids, base.catalog, base.calendar, clock=lambda: when)
    case = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), name, f"{when:%Y-%m-%d %H:%M}")
    if dispatched_days_ago is not None:
        when += datetime.timedelta(minutes=30)
        svc.transition(case.id, "dispatch", expected_version=1, actor="user:dispatcher", department=URBAN)
    return case.id


def _in_days(days: int, time: str = "17:30") -> datetime.datetime:
    day = datetime.datetime.now(BEIJING).date() + datetime.timedelta(days=days)
    return datetime.datetime.fromisoformat(f"{day}T{time}")


def test_a_dispatch_with_a_chosen_deadline_shows_that_deadline(browse, office, demo_grids):
    url, app = office
    complaint_id = _case(app, demo_grids, "browser-dispatch")
    page = browse(DISPATCHER)
    case = ComplaintPage(page, url).open(complaint_id)
    catalog = app.extensions["redgrid"].cases.catalog
    suggested = catalog.route("noise", "urban").department
    assert case.field("dispatch", "department").input_value() == suggested.code  # suggested, pre-selected
    assert case.field("dispatch", "act_field_deadline").input_value()  # pre-filled from the catalogue
    page.set_viewport_size(PHONE)  # the open form fits a phone: nothing scrolls sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for step in ("return", "request_extension", "resolve"):
        assert case.t(f"action_{step}") not in case.offered_actions()
    chosen = _in_days(3)
    case.act(
        "dispatch",
        note="夜间到场核查",
        department=catalog.departments[WATER].name_zh,
        deadline=f"{chosen:%Y-%m-%dT%H:%M}",
    )
    shown = f"{chosen:%Y-%m-%d %H:%M}"
    assert case.confirmation() == f"已派单至 {catalog.departments[WATER].name_zh}，限 {shown} 前办结"
    assert case.value("deadline").startswith(shown)
    assert case.value("department") == catalog.departments[WATER].name_zh
    assert case.history_steps()[-1] == case.t("action_dispatch")
    assert_clean(page)


def test_a_department_returns_a_case_and_the_centre_dispatches_it_to_another(browse, office, demo_grids):
    url, app = office
    complaint_id = _case(app, demo_grids, "browser-return", dispatched_days_ago=0)
    clerk = browse(CLERK)
    assert f"department={URBAN}" in clerk.url  # the clerk lands on the department's cases
    case = ComplaintPage(clerk, url).open(complaint_id)
    assert sorted(case.offered_actions()) == sorted(
        case.t(f"action_{a}") for a in ("resolve", "return", "request_extension")
    )
    case.act("return", note="路面积水属水务，不属城管")
    assert case.confirmation() == "已退单，退回调度中心"
    assert case.t("state_returned") in case.heading()
    assert case.offered_actions() == []  # back with the centre: nothing left for the department

    dispatcher = browse(DISPATCHER)
    case = ComplaintPage(dispatcher, url).open(complaint_id)
    assert "路面积水属水务" in case.history_rows().last.inner_text()
    water = app.extensions["redgrid"].cases.catalog.departments[WATER].name_zh
    case.act("dispatch", department=water, deadline=f"{_in_days(2):%Y-%m-%dT%H:%M}")
    assert case.confirmation().startswith(f"已派单至 {water}，限 ")
    assert case.value("department") == water
    assert case.history_steps()[-2:] == [case.t("action_return"), case.t("action_dispatch")]
    assert_clean(dispatcher)


def test_an_extension_is_asked_by_the_department_and_approved_by_the_centre(browse, office, demo_grids):
    url, app = office
    complaint_id = _case(app, demo_grids, "browser-extension", dispatched_days_ago=0)
    wanted = _in_days(20, "18:00")
    clerk = ComplaintPage(browse(CLERK), url).open(complaint_id)
    clerk.act("request_extension", note="管材需调货", deadline=f"{wanted:%Y-%m-%dT%H:%M}")
    assert clerk.confirmation() == f"已提交延期申请：申请延至 {wanted:%Y-%m-%d %H:%M}，等待调度中心审批"
    assert clerk.t("action_request_extension") not in clerk.offered_actions()  # one request at a time

    case = ComplaintPage(browse(DISPATCHER), url).open(complaint_id)
    assert case.value("act_extension_pending") == f"{wanted:%Y-%m-%d %H:%M}"
    asked = case.field("approve_extension", "act_field_deadline")
    assert asked.input_value() == f"{wanted:%Y-%m-%dT%H:%M}"  # the asked deadline, pre-filled
    granted = wanted - datetime.timedelta(days=2)
    case.act("approve_extension", deadline=f"{granted:%Y-%m-%dT%H:%M}")
    assert case.confirmation() == f"已批准延期，办理时限延至 {granted:%Y-%m-%d %H:%M}"
    assert case.value("deadline").startswith(f"{granted:%Y-%m-%d %H:%M}")
    assert case.history_steps()[-2:] == [
        case.t("action_request_extension"),
        case.t("action_approve_extension"),
    ]


def test_an_overdue_case_is_chased_then_supervised_and_both_are_counted(browse, office, demo_grids):
    url, app = office
    complaint_id = _case(app, demo_grids, "browser-chase", dispatched_days_ago=20)
    case = ComplaintPage(browse(DISPATCHER), url).open(complaint_id)
    assert case.t("overdue") in case.heading()
    assert (case.value("act_urge_count"), case.value("act_supervise_count")) == ("0 次", "0 次")
    case.act("urge", note="请今日回复")
    assert case.confirmation() == "已催办（第 1 次）"
    case.act("supervise", note="限明日办结并反馈")
    assert case.confirmation() == "已督办（第 1 次）"
    assert (case.value("act_urge_count"), case.value("act_supervise_count")) == ("1 次", "1 次")
    assert case.history_steps()[-2:] == [case.t("action_urge"), case.t("action_supervise")]


def test_a_refused_step_says_in_chinese_which_field_is_wrong(browse, office, demo_grids):
    url, app = office
    complaint_id = _case(app, demo_grids, "browser-refused", dispatched_days_ago=0)
    case = ComplaintPage(browse(CLERK), url).open(complaint_id)
    reason = case.field("return", "act_note_return")
    reason.evaluate("el => el.removeAttribute('required')")  # what a browser without checks sends
    case.act("return")
    assert case.error().inner_text() == "请填写“退单理由”"
    assert app.extensions["redgrid"].cases.store.complaint(complaint_id).state == "dispatched"
