"""The complaint pages and logins: roles, CSRF, safe redirects, escaping and masked contacts.

People are created the way an administrator creates them, with ``redgrid users create``.
"""

from __future__ import annotations

import datetime
import html
import re
from urllib.parse import quote
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pytest

from tests.apps import cli_ok
from tests.apps import create_user
from tests.apps import inside_point
from tests.test_complaints_service import Clock
from tests.test_complaints_service import file_at
from tests.test_complaints_service import grid_of_kind
from tests.test_complaints_service import install
from tests.test_complaints_service import step

PASSWORD = "correct horse battery"
CHINA = datetime.timezone(datetime.timedelta(hours=8))
XSS_TEXT = "路灯坏了 <script>alert(1)</script> 和 <img src=x onerror=alert(1)>"
CONFLICT = "该诉求已被他人修改，请刷新后重试"


@pytest.fixture
def people(demo_db, fresh_app):
    """A dispatcher (through the command line) and a planner."""
    result = cli_ok(
        demo_db.cli(
            "users", "create", "wang", "--name", "王调度", "--role", "dispatcher", "--password", PASSWORD
        )
    )
    assert result.stdout.strip() == "user wang (dispatcher) created"
    create_user(fresh_app.extensions["redgrid"].store, "li", "李研判", PASSWORD, "planner")
    return fresh_app


def _token(page_html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_html).group(1)


def _login(client, username: str, password: str = PASSWORD, next_url: str | None = None):
    token = _token(client.get("/login").get_data(as_text=True))
    path = "/login" + (f"?next={quote(next_url, safe='')}" if next_url is not None else "")
    return client.post(path, data={"username": username, "password": password, "csrf_token": token})


def _now_text(minutes_ago: int = 1) -> str:
    return (datetime.datetime.now(CHINA) - datetime.timedelta(minutes=minutes_ago)).strftime("%Y-%m-%d %H:%M")


# --- logins ---------------------------------------------------------------------------------------


def test_users_create_stores_a_scrypt_hash_and_refuses_a_short_password(demo_db, people):
    row = people.extensions["redgrid"].store.user(username="wang")
    assert (row.role, row.display_name, row.active) == ("dispatcher", "王调度", True)
    assert row.password_hash.startswith("scrypt:") and PASSWORD not in row.password_hash
    result = demo_db.cli(
        "users", "create", "zhao", "--name", "赵", "--role", "dispatcher", "--password", "short"
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: password too short: at least 10 characters"
    result = demo_db.cli(
        "users", "create", "wang", "--name", "王", "--role", "planner", "--password", PASSWORD
    )
    assert (result.exit_code, result.stderr.strip()) == (2, "error: user 'wang' already exists")


def test_a_wrong_password_or_unknown_user_is_401_with_the_message(people):
    client = people.test_client()
    for username, password in (("wang", "wrong password!"), ("nobody", PASSWORD)):
        response = _login(client, username, password)
        assert response.status_code == 401
        assert '<div class="error" role="alert">用户名或密码错误</div>' in response.get_data(as_text=True)
    token = _token(client.get("/login?lang=en").get_data(as_text=True))
    response = client.post(
        "/login?lang=en", data={"username": "wang", "password": "nope nope nope", "csrf_token": token}
    )
    assert response.status_code == 401 and "Wrong username or password" in response.get_data(as_text=True)
    response = _login(client, "wang")
    assert (response.status_code, response.headers["Location"]) == (302, "/")


def test_a_form_post_without_the_csrf_token_is_refused(people):
    client = people.test_client()
    response = client.post("/login", data={"username": "wang", "password": PASSWORD})
    assert response.status_code == 400
    # a browser page gets the HTML error page in the reader's language; the English one names the reason
    assert response.mimetype == "text/html"
    assert "请求有误" in response.get_data(as_text=True)
    assert "CSRF" not in response.get_data(as_text=True)
    response = client.post("/login?lang=en", data={"username": "wang", "password": PASSWORD})
    assert response.status_code == 400
    assert "The CSRF token is missing." in html.unescape(response.get_data(as_text=True))
    assert _login(client, "wang").status_code == 302
    store = people.extensions["redgrid"].store
    before = store.count_complaints()
    response = client.post(
        "/complaints/new", data={"category": "noise", "text": "噪音", "lon": "113.14", "lat": "23.1"}
    )
    assert response.status_code == 400 and store.count_complaints() == before
    response = client.post(
        "/complaints/new", data={"category": "noise", "text": "噪音", "csrf_token": "forged"}
    )
    assert response.status_code == 400 and store.count_complaints() == before


def test_a_session_write_to_the_api_needs_the_csrf_token(people, demo_grids):
    client = people.test_client()
    _login(client, "wang")
    lon, lat = inside_point(demo_grids, sorted(demo_grids["code"])[0])
    body = {"external_id": "page-api", "category": "noise", "text": "噪音", "lon": lon, "lat": lat}
    response = client.post("/api/v1/complaints", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "The CSRF token is missing."
    token = _token(client.get("/complaints/new").get_data(as_text=True))
    response = client.post("/api/v1/complaints", json=body, headers={"X-CSRFToken": token})
    assert response.status_code == 201 and response.get_json()["source"] == "api:wang"


def test_roles_a_planner_gets_403_and_anonymous_visitors_go_to_the_login(people):
    anonymous = people.test_client()
    response = anonymous.get("/complaints/new")
    assert (response.status_code, response.headers["Location"]) == (302, "/login?next=%2Fcomplaints%2Fnew")
    planner = people.test_client()
    _login(planner, "li")
    assert planner.get("/complaints/new").status_code == 403
    dispatcher = people.test_client()
    _login(dispatcher, "wang")
    assert dispatcher.get("/complaints/new").status_code == 200


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/x",
        "//evil.example/x",
        "/\\evil.example/x",
        "\\\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "http:evil.example",
        "/\t/evil.example",
    ],
)
def test_next_cannot_send_anyone_off_site(people, target):
    response = _login(people.test_client(), "wang", next_url=target)
    location = response.headers["Location"]
    assert response.status_code == 302
    # browsers read a backslash as a slash, so "/\\evil" would be "//evil": none may reach the header
    assert "\\" not in location and not location.startswith("//")
    assert urlsplit(urljoin("http://localhost/login", location)).netloc == "localhost", location


def test_next_within_the_site_is_followed(people):
    response = _login(people.test_client(), "wang", next_url="/complaints?state=closed")
    assert response.headers["Location"] == "/complaints?state=closed"
    anonymous = people.test_client()
    login_url = anonymous.get("/complaints/new").headers["Location"]
    token = _token(anonymous.get("/login").get_data(as_text=True))
    response = anonymous.post(login_url, data={"username": "wang", "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/complaints/new"


# --- filing and acting through the pages --------------------------------------------------------


def test_a_dispatcher_files_a_complaint_and_moves_it_through_the_form(people, demo_grids):
    client = people.test_client()
    _login(client, "wang")
    code = grid_of_kind(demo_grids, "urban")
    lon, lat = inside_point(demo_grids, code)
    token = _token(client.get("/complaints/new").get_data(as_text=True))
    response = client.post(
        "/complaints/new",
        data={
            "csrf_token": token,
            "category": "noise",
            "channel": "hotline",
            "reported_at": _now_text(),
            "text": "夜间施工",
            "lon": repr(lon),
            "lat": repr(lat),
            "coordsys": "wgs84",
            "reporter_name": "陈女士",
            "reporter_phone": "13800138000",
        },
    )
    assert response.status_code == 302
    complaint_id = int(response.headers["Location"].rsplit("/", 1)[1])
    store = people.extensions["redgrid"].store
    row = store.complaint(complaint_id)
    assert (row.source, row.grid_code, row.state) == ("form", code, "collected")
    assert store.complaint_events(complaint_id)[0].actor == "user:wang"

    page = client.get(f"/complaints/{complaint_id}").get_data(as_text=True)
    token = _token(page)
    assert 'name="version" value="1"' in page
    response = client.post(
        f"/complaints/{complaint_id}",
        data={"csrf_token": token, "version": "1", "action": "deliberate", "note": "议事"},
    )
    assert response.status_code == 302 and store.complaint(complaint_id).state == "deliberation"
    # a second dispatcher's form still says version 1
    response = client.post(
        f"/complaints/{complaint_id}",
        data={"csrf_token": token, "version": "1", "action": "reject", "note": "重复"},
    )
    assert response.status_code == 409 and CONFLICT in response.get_data(as_text=True)
    response = client.post(
        f"/complaints/{complaint_id}", data={"csrf_token": token, "version": "2", "action": "resolve"}
    )
    assert response.status_code == 422
    # issue 9: the refusal in the page language, naming the state and the step (never English)
    refused = response.get_data(as_text=True)
    assert "该诉求当前为“多元议事”，不能办结反馈" in refused and "cannot resolve" not in refused
    assert store.complaint(complaint_id).row_version == 2


def test_a_form_with_bad_fields_shows_them_and_stores_nothing(people):
    client = people.test_client()
    _login(client, "wang")
    store = people.extensions["redgrid"].store
    before = store.count_complaints()
    token = _token(client.get("/complaints/new").get_data(as_text=True))
    response = client.post(
        "/complaints/new",
        data={
            "csrf_token": token,
            "category": "noise",
            "text": "噪音",
            "reported_at": _now_text(),
            "reporter_phone": "12345",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    # each faulty field named with what it needs, in the page's language (intake's English stays in the API)
    assert "地址: 请填写地址，或填写经纬度" in page and "电话号码有误" in page
    assert "missing" not in page and "is not a phone number" not in page
    assert store.count_complaints() == before


def test_a_planner_cannot_act_on_a_complaint(people, demo_grids):
    svc = install(people, Clock("2025-09-30T15:00:00+08:00"))
    row = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "page-planner", "2025-09-30 14:00")
    planner = people.test_client()
    _login(planner, "li")
    page = planner.get(f"/complaints/{row.id}").get_data(as_text=True)
    assert 'id="action-form"' not in page
    token = _token(planner.get("/login").get_data(as_text=True))
    response = planner.post(
        f"/complaints/{row.id}", data={"csrf_token": token, "version": "1", "action": "deliberate"}
    )
    assert response.status_code == 403 and svc.store.complaint(row.id).row_version == 1


def test_a_dispatch_in_a_year_without_a_calendar_is_done_with_a_provisional_deadline(people, demo_grids):
    # issue 9: it was refused (422 with "no working-day calendar for 2027"); now it is done and
    # the deadline shown as provisional (暂定)
    year = next(y for y in range(2027, 2200) if not people.extensions["redgrid"].cases.calendar.knows(y))
    clock = Clock(f"{year}-03-01T09:00:00+08:00")
    svc = install(people, clock)
    row = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "page-2027", "2026-11-01 09:00")
    client = people.test_client()
    _login(client, "wang")
    token = _token(client.get(f"/complaints/{row.id}").get_data(as_text=True))
    response = client.post(
        f"/complaints/{row.id}", data={"csrf_token": token, "version": "1", "action": "dispatch"}
    )
    assert response.status_code == 302
    after = svc.store.complaint(row.id)
    assert (after.state, after.deadline_provisional) == ("dispatched", True)
    due = after.deadline.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    page = client.get(f"/complaints/{row.id}").get_data(as_text=True)
    assert f"{due}（剩余 3 个工作日，暂定）" in page  # noise: 3 working days


# --- what each visitor sees -----------------------------------------------------------------------


@pytest.fixture
def hostile(people, demo_grids):
    """A complaint whose text and reporter name carry markup, filed just now."""
    svc = people.extensions["redgrid"].cases
    code = grid_of_kind(demo_grids, "urban")
    row = file_at(
        svc,
        demo_grids,
        code,
        "page-xss",
        _now_text(),
        text=XSS_TEXT,
        reporter_name="<b>陈</b>女士",
        reporter_phone="13800138000",
    )
    return row


def test_markup_in_a_complaint_is_shown_escaped_on_the_list_and_the_page(people, hostile):
    client = people.test_client()
    _login(client, "wang")
    for path in ("/complaints", f"/complaints?grid={hostile.grid_code}", f"/complaints/{hostile.id}"):
        page = client.get(path).get_data(as_text=True)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path
        assert "&lt;img src=x onerror=alert(1)&gt;" in page, path
        assert "<script>alert(1)" not in page and "<img src=x" not in page, path
    page = client.get(f"/complaints/{hostile.id}").get_data(as_text=True)
    assert "&lt;b&gt;陈&lt;/b&gt;女士" in page and "<b>陈</b>" not in page


@pytest.mark.parametrize("who", [None, "li"])
def test_the_public_and_planners_see_masked_contacts(people, hostile, who):
    client = people.test_client()
    if who:
        _login(client, who)
    page = client.get(f"/complaints/{hostile.id}").get_data(as_text=True)
    # planners see a masked phone; the public no reporter at all (issue 8: public fields only)
    assert ("138****8000" in page) == bool(who) and "13800138000" not in page and "女士" not in page
    assert 'id="action-form"' not in page
    api = client.get(f"/api/v1/complaints/{hostile.id}").get_json()
    assert api["reporter"] == ({"name": None, "phone": "138****8000"} if who else None)


def test_a_dispatcher_sees_full_contacts_and_the_action_form(people, hostile):
    client = people.test_client()
    _login(client, "wang")
    page = client.get(f"/complaints/{hostile.id}").get_data(as_text=True)
    assert "13800138000" in page and "女士" in page and 'id="action-form"' in page
    api = client.get(f"/api/v1/complaints/{hostile.id}").get_json()
    assert api["reporter"] == {"name": "<b>陈</b>女士", "phone": "13800138000"}


def test_a_reopened_complaint_shows_its_history_in_order(people, demo_grids):
    clock = Clock("2025-09-30T15:00:00+08:00")
    svc = install(people, clock)
    row = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "page-history", "2025-09-30 14:00")
    row = step(svc, clock, row, "2025-09-30T16:00:00+08:00", "dispatch", note="派单备注")
    row = step(svc, clock, row, "2025-10-09T10:00:00+08:00", "resolve", note="办结备注")
    row = step(svc, clock, row, "2025-10-09T17:00:00+08:00", "follow_up", satisfied=False, note="不满意备注")
    client = people.test_client()
    _login(client, "wang")  # staff notes are for staff (issue 8: not shown to the public)
    page = client.get(f"/complaints/{row.id}").get_data(as_text=True)
    positions = [page.index(note) for note in ("派单备注", "办结备注", "不满意备注")]
    assert positions == sorted(positions)
    assert "不满意重办" in page  # the state, in Chinese
