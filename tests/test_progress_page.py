"""Issue 9, item 11: a resident's progress page (/progress).

A ticket number (the case number or the channel's ticket number) and the last four digits of
the reporter's phone show the case's stage, its dates and the department, nothing else; a
wrong pair answers exactly as an unknown ticket; look-ups are limited per address and
recorded in the audit log without the digits.
"""

from __future__ import annotations

import datetime
import re

import pytest

from services.cases import PROGRESS_LOOKUP
from tests.security.accounts_helpers import fresh
from tests.test_complaints_service import file_at
from tests.test_complaints_service import grid_of_kind

CHINA = datetime.timezone(datetime.timedelta(hours=8))
TEXT = "楼下烧烤店油烟扰民 <script>alert(1)</script> <img src=x onerror=alert(1)>"
ADDRESS = "奇槎大道1号<b>3栋</b>"
NAME = "陈<i>女士</i>"
PHONE = "138-0013-8000"
STAFF_NOTE = "内部：王师傅已联系城管李队"
RESOLVE_NOTE = "已约谈店主，加装净化器"
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _look(client, ticket: str, digits: str, lang: str | None = None):
    path = "/progress" + (f"?lang={lang}" if lang else "")
    token = _token(client.get(path).get_data(as_text=True))
    return client.post(path, data={"ticket": ticket, "phone_last4": digits, "csrf_token": token})


def _without_token(page: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", page)


@pytest.fixture
def case(fresh_app, demo_grids):
    """A case with a hostile text, address and reporter, dispatched and resolved with staff notes."""
    svc = fresh_app.extensions["redgrid"].cases
    now = datetime.datetime.now(CHINA) - datetime.timedelta(minutes=5)
    row = file_at(
        svc,
        demo_grids,
        grid_of_kind(demo_grids, "urban"),
        "HL-<img src=x onerror=alert(2)>",
        now.strftime("%Y-%m-%d %H:%M"),
        text=TEXT,
        address=ADDRESS,
        reporter_name=NAME,
        reporter_phone=PHONE,
    )
    row = svc.transition(
        row.id,
        "dispatch",
        expected_version=row.row_version,
        actor="user:wang",
        note=STAFF_NOTE,
        department="urban_management",
    )
    row = svc.transition(
        row.id, "resolve", expected_version=row.row_version, actor="user:zhao_cg", note=RESOLVE_NOTE
    )
    return row


def test_the_right_pair_shows_the_stage_dates_and_department_and_nothing_personal(fresh_app, case):
    client = fresh_app.test_client()
    answer = _look(client, str(case.id), "8000")
    page = answer.get_data(as_text=True)
    # the case number and the form's token are not personal: taken out, they cannot hide a match
    bare = _without_token(page).replace(f">{case.id}<", "><")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert 'id="progress-result"' in page
    assert "已答复（待回访）" in page and "办理中" in page and "已受理" in page
    assert "城市管理和综合执法（城管）" in page
    reported = case.reported_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    assert reported in page
    assert "<script" not in page  # no inline scripts (CSP)
    for secret in (
        "油烟",
        "烧烤",
        "奇槎大道",
        "3栋",
        "陈",
        "女士",
        "8000",
        "138",
        STAFF_NOTE,
        "王师傅",
        RESOLVE_NOTE,
        "user:",
        "wang",
        "zhao_cg",
        "intake",
        "HL-",
        case.grid_code or "?",
        case.community_code or "?",
    ):
        assert secret not in bare, secret


def test_the_channel_ticket_number_finds_the_case_too_and_hostile_text_stays_out(fresh_app, case):
    client = fresh_app.test_client()
    page = _look(client, case.external_id, "8000").get_data(as_text=True)
    assert 'id="progress-result"' in page
    assert "<img" not in page and "onerror" not in page and "<script" not in page
    assert "&lt;" not in page  # none of the stored markup is shown, escaped or not


def test_a_wrong_pair_and_an_unknown_ticket_give_the_identical_page(fresh_app, case):
    client = fresh_app.test_client()
    answers = [
        _look(client, str(case.id), "8001"),  # wrong digits
        _look(client, "999999", "8000"),  # no such case
        _look(client, "no-such-ticket", "8000"),
        _look(client, str(case.id), "80a0"),  # not four digits
        _look(client, str(case.id), ""),
        _look(client, "", "8000"),
    ]
    pages = {_without_token(a.get_data(as_text=True)) for a in answers}
    assert {a.status_code for a in answers} == {404}
    assert len(pages) == 1
    (page,) = pages
    assert "未查到与该工单编号和手机号码后四位相符的诉求" in page
    assert str(case.id) not in re.sub(r"<form.*?</form>", "", page, flags=re.S)


def test_a_case_without_a_phone_is_never_found(fresh_app, demo_grids):
    svc = fresh_app.extensions["redgrid"].cases
    now = datetime.datetime.now(CHINA) - datetime.timedelta(minutes=5)
    row = file_at(
        svc, demo_grids, grid_of_kind(demo_grids, "urban"), "no-phone", now.strftime("%Y-%m-%d %H:%M")
    )
    answer = _look(fresh_app.test_client(), str(row.id), "0000")
    assert answer.status_code == 404


def test_the_english_page_has_no_chinese_outside_the_language_switch(fresh_app, case):
    client = fresh_app.test_client()
    for answer in (
        client.get("/progress?lang=en"),
        _look(client, str(case.id), "8000", lang="en"),
        _look(client, str(case.id), "1234", lang="en"),
    ):
        page = answer.get_data(as_text=True).replace(">中文<", "><")
        assert CJK.findall(page) == [], answer.status_code
    page = _look(client, str(case.id), "8000", lang="en").get_data(as_text=True)
    assert "Answered (follow-up call pending)" in page and "Urban management and law enforcement" in page


def test_the_chinese_form_is_the_default_and_posts_without_putting_digits_in_the_url(fresh_app):
    page = fresh_app.test_client().get("/progress").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "诉求办理进度查询" in page
    assert 'method="post"' in page and 'name="phone_last4"' in page and "<script" not in page


def test_every_look_up_is_audited_without_the_phone_digits(fresh_app, case):
    client = fresh_app.test_client()
    _look(client, str(case.id), "8000")
    _look(client, str(case.id), "4321")
    store = fresh_app.extensions["redgrid"].store
    entries = store.audit_entries(action=PROGRESS_LOOKUP, limit=10, offset=0)
    assert len(entries) == 2
    assert sorted(e.detail["found"] for e in entries) == [False, True]
    assert {e.target for e in entries} == {f"complaint:{case.id}", None}
    for entry in entries:
        shown = f"{entry.target} {entry.detail}"
        assert "8000" not in shown and "4321" not in shown
        assert entry.address


def test_look_ups_are_limited_per_address(tmp_path):
    app = fresh(tmp_path, RATELIMIT_ENABLED=True, LIMIT_PROGRESS="3/minute")
    client = app.test_client()
    codes = [_look(client, str(n), "1234").status_code for n in range(1, 6)]
    assert codes == [404, 404, 404, 429, 429]
    # the form itself is still shown; another address has its own budget
    assert client.get("/progress").status_code == 200
    other = app.test_client()
    token = _token(other.get("/progress").get_data(as_text=True))
    answer = other.post(
        "/progress",
        data={"ticket": "1", "phone_last4": "1234", "csrf_token": token},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert answer.status_code == 404
