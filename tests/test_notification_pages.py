"""未送达的通知 / the page of undelivered notifications: for the dispatch centre, Chinese first,
a retry button behind the CSRF token, webhook keys never shown, unmasked phones audited."""

from __future__ import annotations

import datetime
import re

import pytest

from services.callers import system
from tests.apps import create_user

pytest_plugins = ["tests.apps"]

PASSWORD = "correct horse battery"
DEPARTMENT = "urban_management"
PAGE = "/notifications/undelivered"


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _login(client, username: str) -> None:
    token = _token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


@pytest.fixture
def app(fresh_app):
    store = fresh_app.extensions["redgrid"].store
    create_user(store, "wang", "王调度", PASSWORD, "dispatcher")
    create_user(store, "zhou", "周规划", PASSWORD, "planner")
    return fresh_app


def _undelivered_dispatch(app) -> tuple[int, int]:
    """A dispatch whose department has no contact yet (one undelivered row), and one whose SMS
    failed for good. Returns (the case without contact, the failed SMS message id)."""
    services = app.extensions["redgrid"]
    cases = services.store.list_complaints(filters={"state": "collected"}, limit=2)
    lost, failing = cases
    services.cases.transition(
        lost.id, "dispatch", expected_version=lost.row_version, actor="user:wang", department=DEPARTMENT
    )
    services.notifications.add_contact(system(), "centre", "centre", "sms", "13900139000")
    services.cases.transition(
        failing.id, "resolve_on_site", expected_version=failing.row_version, actor="user:wang"
    )
    store = services.store
    (sms,) = store.claim_messages("w", now=services.notifications.now(), lease=datetime.timedelta(minutes=5))
    store.mark_failed(sms.id, "w", error="SMS gateway answered HTTP 400", retry_at=None)
    return lost.id, sms.id


def test_the_dispatch_centre_sees_undelivered_messages_in_chinese_and_retries_one(app):
    lost_case, sms_id = _undelivered_dispatch(app)
    client = app.test_client()
    _login(client, "wang")
    page = client.get(PAGE)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"].startswith("no-store")
    assert "<h1>未送达的通知</h1>" in html
    assert "无联系方式" in html and "发送失败（已尝试 1 次）" in html
    assert f"诉求 #{lost_case}" in html and "已派至城市管理和综合执法（城管）" in html
    assert "13900139000" in html  # a dispatcher may see phones: unmasked, and recorded
    store = app.extensions["redgrid"].store
    assert store.audit_entries(action="notify.view")[0].detail == {"ids": [sms_id]}
    assert "HTTP 400" not in html and "gateway" not in html  # the sender's English stays off the Chinese page
    english = client.get(PAGE + "?lang=en").get_data(as_text=True)
    assert "Undelivered notifications" in english and "HTTP 400" in english
    client.get(PAGE + "?lang=zh")  # back to Chinese (the choice is kept in a cookie)

    # the retry button: refused without the CSRF token, done with it
    assert client.post(f"{PAGE}/{sms_id}/retry").status_code == 400
    assert store.outbox_message(sms_id).status == "failed"
    done = client.post(f"{PAGE}/{sms_id}/retry", data={"csrf_token": _token(html)}, follow_redirects=True)
    assert done.status_code == 200 and "已重新排队发送 1 条通知" in done.get_data(as_text=True)
    assert store.outbox_message(sms_id).status == "pending"
    # a message with no recipient: refused until an administrator adds a contact
    (lost,) = store.outbox_messages(complaint_id=lost_case)
    again = client.post(f"{PAGE}/{lost.id}/retry", data={"csrf_token": _token(html)}, follow_redirects=True)
    assert "接收方仍无联系方式" in again.get_data(as_text=True)
    assert store.outbox_message(lost.id).status == "failed"


def test_webhook_keys_are_never_shown(app):
    services = app.extensions["redgrid"]
    (case,) = services.store.list_complaints(filters={"state": "collected"}, limit=1)
    services.notifications.add_contact(
        system(), "centre", "centre", "wecom", "http://127.0.0.1:9/cgi-bin/webhook/send?key=SECRETKEY"
    )
    services.cases.transition(
        case.id, "resolve_on_site", expected_version=case.row_version, actor="user:wang"
    )
    store = services.store
    for m in store.claim_messages("w", now=services.notifications.now(), lease=datetime.timedelta(minutes=5)):
        store.mark_failed(m.id, "w", error="企业微信 robot errcode 93000", retry_at=None)
    client = app.test_client()
    _login(client, "wang")
    html = client.get(PAGE).get_data(as_text=True)
    assert "http://127.0.0.1:9/cgi-bin/webhook/send?key=***" in html and "SECRETKEY" not in html
    assert "企业微信群" in html


def test_others_may_not_see_the_page(app):
    anonymous = app.test_client()
    assert anonymous.get(PAGE).status_code == 302  # to the login page
    planner = app.test_client()
    _login(planner, "zhou")
    assert planner.get(PAGE).status_code == 403
    token = _token(planner.get("/dashboard").get_data(as_text=True))  # the logout form's token
    assert planner.post(f"{PAGE}/1/retry", data={"csrf_token": token}).status_code == 403
