"""The case page's action forms (issue 9, item 3), through the test client with real logins:
each form offers only its fields, a refused step says in Chinese which field is wrong and
changes nothing, and a step done is confirmed in words.
"""

from __future__ import annotations

import datetime
import re

import pytest

from services.callers import user_caller
from services.errors import Invalid
from tests.apps import create_user
from tests.test_complaint_pages import PASSWORD
from tests.test_complaint_pages import _login
from tests.test_complaint_pages import _token
from tests.test_complaints_service import Clock
from tests.test_complaints_service import file_at
from tests.test_complaints_service import grid_of_kind
from tests.test_complaints_service import install
from tests.test_complaints_service import step

BEIJING = datetime.timezone(datetime.timedelta(hours=8))
NOW = "2026-06-15T09:00:00+08:00"
DEPARTMENT = "urban_management"
#: English words that must never reach a Chinese page's refusal
ENGLISH = re.compile(r"\b(cannot|needs|deadline|department|allowed|overdue|is not)\b")


@pytest.fixture
def office(fresh_app, demo_grids):
    """A dispatcher, a clerk of the department the noise category goes to, and a filed case,
    on a service whose clock the test moves."""
    store = fresh_app.extensions["redgrid"].store
    create_user(store, "wang", "王调度", PASSWORD, "dispatcher")
    create_user(store, "cg", "城管张", PASSWORD, "department", DEPARTMENT)
    create_user(store, "sw", "水务李", PASSWORD, "department", "water_affairs")
    clock = Clock(NOW)
    svc = install(fresh_app, clock)
    row = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "forms-1", "2026-06-15 08:30")
    return fresh_app, svc, clock, row


def _client(app, username: str):
    client = app.test_client()
    _login(client, username)
    return client


def _post(client, row, **fields):
    token = _token(client.get(f"/complaints/{row.id}").get_data(as_text=True))
    data = {"csrf_token": token, "version": str(row.row_version), **fields}
    return client.post(f"/complaints/{row.id}", data=data)


def _forms(page: str) -> list[str]:
    """The actions offered, by the hidden field of each form."""
    return re.findall(r'name="action" value="([a-z_]+)"', page)


def _refused(response, *expected: str) -> str:
    page = response.get_data(as_text=True)
    assert response.status_code == 422, page[:400]
    alert = re.search(r'role="alert">([^<]*)<', page).group(1)
    for text in expected:
        assert text in alert, alert
    assert not ENGLISH.search(alert), alert
    return alert


def _unchanged(svc, row):
    after = svc.store.complaint(row.id)
    # every step writes an event and a new row version: the same version is the same history
    assert (after.row_version, after.state, after.deadline) == (row.row_version, row.state, row.deadline)
    assert after.extension_deadline == row.extension_deadline


def test_a_collected_case_offers_a_dispatch_form_with_the_suggestion_and_no_department_steps(office):
    app, svc, _, row = office
    page = _client(app, "wang").get(f"/complaints/{row.id}").get_data(as_text=True)
    offered = _forms(page)
    assert "dispatch" in offered and "reject" in offered and "mark_duplicate" in offered
    assert not {"return", "request_extension", "urge", "supervise", "resolve"} & set(offered)
    route = svc.catalog.route("noise", "urban")
    assert re.search(rf'<option value="{route.department.code}" selected>', page)
    assert f"建议派至 {route.department.name_zh}" in page and route.whistle_group.name_zh in page
    due = svc.calendar.add_workdays(svc.now(), route.deadline_days).astimezone(BEIJING)
    assert f'name="deadline" required value="{due:%Y-%m-%dT%H:%M}"' in page
    assert f"按目录 {route.deadline_days} 个工作日预填" in page
    # 标记重复 has its field for the original (the include the duplicates work replaces)
    assert 'name="duplicate_of"' in page and "原诉求编号" in page
    # the only 满意/不满意 choice is on the follow-up form, which a collected case does not have
    assert 'name="satisfied"' not in page


def test_a_dispatch_with_a_chosen_deadline_is_stored_and_confirmed(office):
    app, svc, _, row = office
    client = _client(app, "wang")
    response = _post(
        client,
        row,
        action="dispatch",
        department="water_affairs",
        deadline="2026-06-18T17:30",
        note="先查管道",
    )
    assert response.status_code == 302
    after = svc.store.complaint(row.id)
    assert after.department_code == "water_affairs"
    assert after.deadline == datetime.datetime(2026, 6, 18, 17, 30, tzinfo=BEIJING)
    page = client.get(f"/complaints/{row.id}").get_data(as_text=True)
    water = svc.catalog.departments["water_affairs"].name_zh
    assert f"已派单至 {water}，限 2026-06-18 17:30 前办结" in page
    assert "时限 2026-06-18 17:30" in page  # the history shows the deadline the step set


@pytest.mark.parametrize(
    ("deadline", "expected"),
    [
        ("2026-06-15T09:30", "“办理时限（北京时间）”不能早于 2026-06-15 10:00"),  # within the hour
        ("2026-06-14T12:00", "“办理时限（北京时间）”必须晚于当前时间"),
        ("2027-12-31T12:00", "“办理时限（北京时间）”不能超过一年"),
        ("明天下午", "“办理时限（北京时间）”不是有效的日期时间"),
    ],
)
def test_a_dispatch_with_a_bad_deadline_is_refused_in_chinese_and_changes_nothing(office, deadline, expected):
    app, svc, _, row = office
    response = _post(
        _client(app, "wang"), row, action="dispatch", department="water_affairs", deadline=deadline
    )
    _refused(response, expected)
    _unchanged(svc, row)
    assert 'aria-invalid="true"' in response.get_data(as_text=True)


def test_the_service_itself_refuses_a_deadline_within_the_hour(office):
    _, svc, _, row = office
    centre = user_caller("wang", "dispatcher")
    with pytest.raises(Invalid) as refused:
        svc.act(centre, row.id, "dispatch", expected_version=1, deadline="2026-06-15T09:59")
    assert (refused.value.code, refused.value.field) == ("deadline_too_soon", "deadline")
    _unchanged(svc, row)


def _dispatched(office):
    _, svc, clock, row = office
    return step(svc, clock, row, "2026-06-15T09:30:00+08:00", "dispatch", department=DEPARTMENT)


def test_a_redispatch_needs_a_reason(office):
    app, svc, _, _ = office
    row = _dispatched(office)
    client = _client(app, "wang")
    page = client.get(f"/complaints/{row.id}").get_data(as_text=True)
    assert "改派理由" in page and ">改派</summary>" in page
    response = _post(client, row, action="dispatch", department="water_affairs", deadline="2026-06-19T18:00")
    _refused(response, "请填写“改派理由”")
    _unchanged(svc, row)
    response = _post(
        client,
        row,
        action="dispatch",
        department="water_affairs",
        deadline="2026-06-19T18:00",
        reason="属水务",
    )
    assert response.status_code == 302
    assert svc.store.complaint_events(row.id)[-1].note == "改派理由：属水务"


def test_a_department_clerk_lands_on_its_cases_and_sees_only_its_own_steps(office):
    app = office[0]
    row = _dispatched(office)
    client = app.test_client()
    response = _login(client, "cg")
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/complaints?department={DEPARTMENT}"
    )
    page = client.get(f"/complaints/{row.id}").get_data(as_text=True)
    assert set(_forms(page)) == {"resolve", "return", "request_extension"}
    other = _client(app, "sw").get(f"/complaints/{row.id}").get_data(as_text=True)
    assert _forms(other) == []


def test_a_return_without_a_reason_is_refused_and_with_one_goes_back_to_the_centre(office):
    app, svc, _, _ = office
    row = _dispatched(office)
    client = _client(app, "cg")
    _refused(_post(client, row, action="return", note="  "), "请填写“退单理由”")
    _unchanged(svc, row)
    response = _post(client, row, action="return", note="不属城管")
    assert response.status_code == 302 and svc.store.complaint(row.id).state == "returned"
    assert "已退单，退回调度中心" in client.get(f"/complaints/{row.id}").get_data(as_text=True)


def test_an_extension_asked_badly_is_refused_then_asked_and_approved(office):
    app, svc, _, _ = office
    row = _dispatched(office)
    clerk = _client(app, "cg")
    _refused(_post(clerk, row, action="request_extension", deadline="2026-06-25T18:00"), "请填写“延期理由”")
    _refused(_post(clerk, row, action="request_extension", note="零件在途"), "请填写“申请延至（北京时间）”")
    _refused(
        _post(clerk, row, action="request_extension", deadline="2026-06-16T12:00", note="零件在途"),
        "“申请延至（北京时间）”必须晚于现有办理时限",
    )
    _unchanged(svc, row)
    assert (
        _post(
            clerk, row, action="request_extension", deadline="2026-06-25T18:00", note="零件在途"
        ).status_code
        == 302
    )
    asked = svc.store.complaint(row.id)
    centre = _client(app, "wang")
    page = centre.get(f"/complaints/{row.id}").get_data(as_text=True)
    assert {"approve_extension", "refuse_extension"} <= set(_forms(page))
    assert "部门申请延至 2026-06-25 18:00" in page and 'value="2026-06-25T18:00"' in page
    _refused(_post(centre, asked, action="refuse_extension"), "请填写“驳回理由”")
    _unchanged(svc, asked)
    response = _post(centre, asked, action="approve_extension", deadline="2026-06-24T18:00")
    assert response.status_code == 302
    assert svc.store.complaint(row.id).deadline == datetime.datetime(2026, 6, 24, 18, tzinfo=BEIJING)
    assert "已批准延期，办理时限延至 2026-06-24 18:00" in centre.get(f"/complaints/{row.id}").get_data(
        as_text=True
    )


def test_supervising_is_offered_only_once_overdue_and_both_chasing_steps_are_counted(office):
    app, svc, clock, _ = office
    row = _dispatched(office)
    board = app.extensions["redgrid"].dashboard
    month = board_period("2026-06-15T12:00:00+08:00")
    before = board.figures(month)
    centre = _client(app, "wang")
    page = centre.get(f"/complaints/{row.id}").get_data(as_text=True)
    assert "urge" in _forms(page) and "supervise" not in _forms(page)
    _refused(_post(centre, row, action="supervise", note="限期"), "尚未超期")
    _unchanged(svc, row)
    clock.set("2026-07-01T09:00:00+08:00")
    page = centre.get(f"/complaints/{row.id}").get_data(as_text=True)
    assert "supervise" in _forms(page)
    assert _post(centre, row, action="urge").status_code == 302
    row = svc.store.complaint(row.id)
    _refused(_post(centre, row, action="supervise"), "请填写“督办意见”")
    assert _post(centre, row, action="supervise", note="今日办结").status_code == 302
    page = centre.get(f"/complaints/{row.id}").get_data(as_text=True)
    assert "已督办（第 1 次）" in page
    assert re.search(r'class="urge-count">1 次<', page) and re.search(r'class="supervise-count">1 次<', page)
    after = board.figures(month)
    assert (after.urges, after.supervisions) == (before.urges + 1, before.supervisions + 1)


def board_period(when: str):
    from services.dashboard import periods

    return periods("month", datetime.datetime.fromisoformat(when))[0]


def test_follow_up_and_duplicate_forms_name_their_missing_field(office):
    app, svc, clock, row = office
    centre = _client(app, "wang")
    _refused(_post(centre, row, action="mark_duplicate"), "请填写“原诉求编号”")
    _unchanged(svc, row)
    resolved = step(svc, clock, row, "2026-06-15T10:00:00+08:00", "resolve_on_site")
    page = centre.get(f"/complaints/{row.id}").get_data(as_text=True)
    assert page.count('name="satisfied"') == 2  # 满意 and 不满意, on the follow-up form only
    _refused(_post(centre, resolved, action="follow_up"), "请填写“回访结果”")
    _unchanged(svc, resolved)
    assert _post(centre, resolved, action="follow_up", satisfied="yes").status_code == 302
    assert "已记录回访：满意，诉求已办结" in centre.get(f"/complaints/{row.id}").get_data(as_text=True)
