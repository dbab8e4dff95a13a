"""The page of undelivered notifications in a real browser at phone width: a dispatcher reads
which message did not arrive and where it went, sends it again, and the row is gone."""

from __future__ import annotations

import datetime

import pytest

from services.callers import system
from tests.browser.conftest import assert_clean
from tests.browser.conftest import serve_copy_of_demo
from tests.browser.pages import LoginPage
from tests.browser.pages import UndeliveredPage

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def server(demo_template, tmp_path):
    """A private copy of the demo with one SMS to the dispatch centre that failed for good."""
    srv, url, app = serve_copy_of_demo(demo_template, tmp_path)
    services = app.extensions["redgrid"]
    services.notifications.add_contact(system(), "centre", "centre", "sms", "13900139000")
    (case,) = services.store.list_complaints(filters={"state": "collected"}, limit=1)
    services.cases.transition(
        case.id, "resolve_on_site", expected_version=case.row_version, actor="user:test"
    )
    store = services.store
    (sms,) = store.claim_messages("w", now=services.notifications.now(), lease=datetime.timedelta(minutes=5))
    store.mark_failed(sms.id, "w", error="SMS gateway answered HTTP 400", retry_at=None)
    yield url, case.id, app
    srv.shutdown()


def test_a_dispatcher_sends_an_undelivered_message_again_on_a_phone(page, server):
    url, case_id, app = server
    page.base = url
    page.set_viewport_size(PHONE)
    LoginPage(page, url).login("dispatcher", "dispatcher-pass-123")
    undelivered = UndeliveredPage(page, url).open()
    row = undelivered.row_about(f"诉求 #{case_id}")
    assert row.count() == 1
    cells = row.inner_text()
    assert (
        "已办结，请回访群众" in cells and "调度中心" in cells and "短信" in cells and "13900139000" in cells
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    undelivered.retry(row)
    assert undelivered.flash() == undelivered.t("notify_retried", n=1)
    assert undelivered.rows().count() == 0
    assert page.get_by_text(undelivered.t("notify_none")).is_visible()
    assert app.extensions["redgrid"].store.outbox_messages(statuses=["pending"])[0].complaint_id == case_id
    assert_clean(page)
