"""Notifications through the outbox, on a copy of the demo database and local fake servers.

A dispatch, a resolution (follow-up due) and a deliberation write their messages with the
change; the deadline scan writes due-soon and overdue ones once; the delivery worker sends
them through a fake SMS gateway, a fake 企业微信 robot and a local SMTP server, each of
which receives exactly the expected messages, once each, across a worker that dies after
claiming or after sending, and retries with backoff.
"""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

import pytest

from complaints.workflow import Action
from services.build import Services
from services.build import build_services
from services.callers import DISPATCH
from services.callers import PERSONAL_DATA
from services.callers import Caller
from services.callers import system
from services.config import Config
from services.errors import Conflict
from services.errors import Forbidden
from services.errors import Invalid
from services.errors import Refused
from services.notices import ON_ACTION
from services.senders import idempotency_key
from store.outbox import FAILED
from store.outbox import PENDING
from store.outbox import REPLACED
from store.outbox import SENT
from store.outbox import UNKNOWN
from tests.apps import Db
from tests.notify_fakes import SMS_KEY
from tests.notify_fakes import FakeSmsGateway
from tests.notify_fakes import FakeSmtp
from tests.notify_fakes import FakeWecomRobot
from webmap.i18n import translate

pytest_plugins = ["tests.apps", "tests.notify_fakes"]

CHINA = datetime.timezone(datetime.timedelta(hours=8))
DEPARTMENT = "urban_management"
DEPT_PHONE = "13800138000"
CENTRE_PHONE = "13900139000"
DEPT_MAIL = "cg@dali.example.org"
LEASE_S = 300
BACKOFF_S = 60


class Clock:
    def __init__(self, when: datetime.datetime) -> None:
        self.now = when

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, **delta: float) -> datetime.datetime:
        self.now += datetime.timedelta(**delta)
        return self.now


class ProcessDied(BaseException):
    """The worker process dying: nothing after it runs (not an Exception, so nothing catches it)."""


@dataclasses.dataclass
class DiesAfterSending:
    """A sender that hands the message over and then the process dies (before it is marked sent)."""

    inner: object
    channel: str
    idempotent: bool

    def send(self, message, text, subject):
        self.inner.send(message, text, subject)
        raise ProcessDied


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.datetime(2026, 11, 2, 9, 0, tzinfo=CHINA))  # a Monday


@pytest.fixture
def svc(demo_db: Db, clock: Clock, sms_gateway, smtp_server, tmp_path: Path) -> Services:
    config = Config.from_mapping(
        demo_db.config(
            SMS_URL=sms_gateway.url,
            SMS_KEY=SMS_KEY,
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=smtp_server.port,
            SMTP_FROM="redgrid@dali.example.org",
            NOTIFY_BACKOFF_S=BACKOFF_S,
            NOTIFY_LEASE_S=LEASE_S,
            NOTIFY_MAX_ATTEMPTS=3,
            NOTIFY_TIMEOUT_S=5,
        ),
        instance=tmp_path,
    )
    return build_services(config, clock=clock, translate=translate)


def collected(svc: Services, n: int) -> list:
    """``n`` demo cases still at intake, of categories resolved without an after photo."""
    catalog = svc.cases.catalog
    cases = svc.store.list_complaints(filters={"state": "collected"}, limit=500)
    found = [c for c in cases if not catalog.categories[c.category_code].requires_after_photo][:n]
    assert len(found) == n, "the demo has too few cases at intake"
    return found


def act(svc: Services, case_id: int, action: str, **fields) -> object:
    case = svc.store.complaint(case_id)
    return svc.cases.transition(
        case_id, action, expected_version=case.row_version, actor="user:wang", **fields
    )


def contacts(svc: Services, wecom: FakeWecomRobot | None = None) -> None:
    n = svc.notifications
    n.add_contact(system(), "department", DEPARTMENT, "sms", DEPT_PHONE)
    n.add_contact(system(), "department", DEPARTMENT, "email", DEPT_MAIL)
    if wecom is not None:
        n.add_contact(system(), "department", DEPARTMENT, "wecom", wecom.webhook())
    n.add_contact(system(), "centre", "centre", "sms", CENTRE_PHONE)


def text(kind: str, case, svc: Services) -> str:
    """The Chinese text a message about ``case`` should carry, from the catalogue."""
    case = svc.store.complaint(case.id)
    return translate(f"notify_msg_{kind}", "zh", **svc.cases.notices.params(case))


# --- written with the action ---------------------------------------------------------------


def test_a_dispatch_writes_one_message_per_department_contact_with_the_change(svc, clock, wecom_robot):
    contacts(svc, wecom_robot)
    (case,) = collected(svc, 1)
    act(svc, case.id, "dispatch", department=DEPARTMENT)
    rows = svc.store.outbox_messages(complaint_id=case.id)
    assert sorted((m.kind, m.recipient_kind, m.channel, m.address) for m in rows) == [
        ("dispatch", "department", "email", DEPT_MAIL),
        ("dispatch", "department", "sms", DEPT_PHONE),
        ("dispatch", "department", "wecom", wecom_robot.webhook()),
    ]
    assert {(m.status, m.created_at, m.next_at) for m in rows} == {(PENDING, clock.now, clock.now)}
    stored = svc.store.complaint(case.id)
    assert rows[0].params == {
        "id": case.id,
        "category": svc.cases.catalog.categories[case.category_code].name_zh,
        "department": "城市管理和综合执法（城管）",
        "deadline": stored.deadline.astimezone(CHINA).strftime("%Y-%m-%d %H:%M"),
        "extension": "—",
        "category_code": case.category_code,
        "department_code": DEPARTMENT,
    }
    assert "城管" in svc.notifications.text(rows[0]) and f"#{case.id}" in svc.notifications.text(rows[0])
    # an English page names the category and department in English (issue 9, item 10)
    english = svc.notifications.text(rows[0], "en")
    assert svc.cases.catalog.departments[DEPARTMENT].name_en in english and "城管" not in english
    # a refused step (a stale version) writes no message either
    with pytest.raises(Conflict):
        svc.cases.transition(case.id, "resolve", expected_version=case.row_version, actor="user:wang")
    assert len(svc.store.outbox_messages(complaint_id=case.id)) == 3


def test_the_table_maps_resolution_to_the_centre_and_deliberation_to_the_grid_team(svc, clock):
    contacts(svc)
    first, second = collected(svc, 2)
    act(svc, first.id, "dispatch", department=DEPARTMENT)
    act(svc, first.id, "resolve")
    follow = [m for m in svc.store.outbox_messages(complaint_id=first.id) if m.kind == "follow_up_due"]
    assert [(m.recipient_kind, m.channel, m.address) for m in follow] == [("centre", "sms", CENTRE_PHONE)]
    act(svc, second.id, "deliberate")
    today = clock.now.date()
    team = {
        a.phone
        for a in svc.store.assignments([second.grid_code])
        if a.start <= today and (a.end is None or a.end >= today)
    }
    rows = svc.store.outbox_messages(complaint_id=second.id)
    assert team and {(m.kind, m.recipient_code, m.channel, m.address) for m in rows} == {
        ("deliberation", second.grid_code, "sms", phone) for phone in team
    }
    assert set(ON_ACTION) <= {a.value for a in Action}  # every notice answers a real step


def test_return_and_extensions_tell_the_centre_and_the_department(svc, clock):
    contacts(svc)
    first, second = collected(svc, 2)
    act(svc, first.id, "dispatch", department=DEPARTMENT)
    act(svc, first.id, "return", note="不属本部门职责")
    act(svc, second.id, "dispatch", department=DEPARTMENT)
    asked = svc.store.complaint(second.id).deadline + datetime.timedelta(days=3)
    act(svc, second.id, "request_extension", deadline=asked, note="需采购材料")
    act(svc, second.id, "approve_extension")

    def sent(case) -> list[tuple[str, str, str]]:
        rows = svc.store.outbox_messages(complaint_id=case.id)[::-1]
        return [(m.kind, m.recipient_kind, m.channel) for m in rows if m.kind != "dispatch"]

    assert sent(first) == [("returned", "centre", "sms")]
    assert sent(second) == [
        ("extension_requested", "centre", "sms"),
        ("extension_approved", "department", "email"),
        ("extension_approved", "department", "sms"),
    ]
    returned = next(m for m in svc.store.outbox_messages(complaint_id=first.id) if m.kind == "returned")
    assert svc.notifications.text(returned).endswith("已被城市管理和综合执法（城管）退回，请重新派单。")
    approved = next(
        m for m in svc.store.outbox_messages(complaint_id=second.id) if m.kind == "extension_approved"
    )
    assert asked.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") in svc.notifications.text(approved)


def test_a_recipient_without_contacts_is_listed_undelivered_and_a_retry_finds_the_new_contact(svc):
    (case,) = collected(svc, 1)
    act(svc, case.id, "dispatch", department=DEPARTMENT)  # nobody has contacts yet
    (row,) = svc.store.outbox_messages(complaint_id=case.id)
    assert (row.channel, row.address, row.status) == ("none", None, FAILED)
    assert [v.message.id for v in svc.notifications.undelivered(system())] == [row.id]
    with pytest.raises(Refused):
        svc.notifications.retry(system(), row.id)  # still no contact
    svc.notifications.add_contact(system(), "department", DEPARTMENT, "sms", DEPT_PHONE)
    assert svc.notifications.retry(system(), row.id) == 1
    assert svc.store.outbox_message(row.id).status == REPLACED
    new = [m for m in svc.store.outbox_messages(complaint_id=case.id) if m.id != row.id]
    assert [(m.channel, m.address, m.status, m.kind) for m in new] == [
        ("sms", DEPT_PHONE, PENDING, "dispatch")
    ]
    assert svc.notifications.undelivered(system()) == []


# --- the deadline scan ---------------------------------------------------------------------


def test_the_scan_writes_due_soon_then_overdue_once_per_deadline(svc, clock):
    contacts(svc)
    (case,) = collected(svc, 1)
    act(svc, case.id, "dispatch", department=DEPARTMENT)
    deadline = svc.store.complaint(case.id).deadline

    def scanned() -> list[tuple[str, str, str]]:
        rows = svc.store.outbox_messages(complaint_id=case.id)
        return sorted(
            (m.kind, m.recipient_kind, m.channel) for m in rows if m.kind in ("due_soon", "overdue")
        )

    svc.notifications.scan()
    assert scanned() == []  # just dispatched: on time
    clock.now = deadline - datetime.timedelta(minutes=1)
    assert svc.notifications.scan().added > 0
    assert scanned() == [("due_soon", "department", "email"), ("due_soon", "department", "sms")]
    assert svc.notifications.scan().added == 0  # run again: nothing new, for any case
    clock.now = deadline + datetime.timedelta(minutes=1)
    svc.notifications.scan()
    assert svc.notifications.scan().added == 0
    assert scanned() == [
        ("due_soon", "department", "email"),
        ("due_soon", "department", "sms"),
        ("overdue", "centre", "sms"),
        ("overdue", "department", "email"),
        ("overdue", "department", "sms"),
    ]
    # a new deadline (dispatched again) is a new deadline: its notices come again
    clock.advance(minutes=1)
    act(svc, case.id, "dispatch", department=DEPARTMENT)
    clock.now = svc.store.complaint(case.id).deadline + datetime.timedelta(minutes=1)
    svc.notifications.scan()
    assert [k for k, *_ in scanned()].count("overdue") == 6


# --- delivery: each fake receives exactly the expected messages, once, across crashes ------


def test_each_server_receives_each_message_once_across_a_worker_dying_and_a_restart(
    svc, clock, sms_gateway: FakeSmsGateway, wecom_robot: FakeWecomRobot, smtp_server: FakeSmtp
):
    contacts(svc, wecom_robot)
    first, second = collected(svc, 2)
    act(svc, first.id, "dispatch", department=DEPARTMENT)
    act(svc, first.id, "resolve")  # follow-up due: the centre's SMS
    notifications = svc.notifications
    real = dict(notifications.senders)

    # 1. a worker claims everything and dies after handing the first SMS to the gateway
    notifications.senders["sms"] = DiesAfterSending(real["sms"], "sms", True)
    with pytest.raises(ProcessDied):
        notifications.send_due(worker="w1")
    sent_before_crash = {m.channel for m in svc.store.outbox_messages(statuses=[SENT])}
    assert sent_before_crash == {"email"}  # contacts sort email first: it went before the crash

    # 2. a restarted worker before the lease ends finds nothing; after it, takes up the rest
    notifications.senders = dict(real)
    assert notifications.send_due(worker="w2").claimed == 0
    clock.advance(seconds=LEASE_S + 1)
    report = notifications.send_due(worker="w2")
    assert (report.claimed, report.sent) == (3, 3)

    # 3. a second case; the worker dies after posting to the 企业微信 robot (no idempotency)
    act(svc, second.id, "dispatch", department=DEPARTMENT)
    order = [m.channel for m in svc.store.outbox_messages(complaint_id=second.id)][::-1]
    assert order == ["email", "sms", "wecom"]
    notifications.senders["wecom"] = DiesAfterSending(real["wecom"], "wecom", False)
    with pytest.raises(ProcessDied):
        notifications.send_due(worker="w3")
    notifications.senders = dict(real)
    clock.advance(seconds=LEASE_S + 1)
    assert notifications.send_due(worker="w4").claimed == 0  # maybe sent: not again by itself
    (hook,) = [m for m in svc.store.outbox_messages(complaint_id=second.id) if m.channel == "wecom"]
    assert hook.status == UNKNOWN
    assert [v.message.id for v in notifications.undelivered(system())] == [hook.id]

    dispatch1, dispatch2 = text("dispatch", first, svc), text("dispatch", second, svc)
    follow1 = text("follow_up_due", first, svc)
    assert sorted(sms_gateway.delivered) == sorted(
        [(DEPT_PHONE, dispatch1), (CENTRE_PHONE, follow1), (DEPT_PHONE, dispatch2)]
    )
    # the crash re-send reached the gateway with the same idempotency key, and was dropped there
    keys = [r["headers"]["idempotency-key"] for r in sms_gateway.requests]
    assert len(keys) == 4 and len(set(keys)) == 3
    assert all(r["body"]["id"] == r["headers"]["idempotency-key"] for r in sms_gateway.requests)
    assert sorted(wecom_robot.received) == sorted([("robot-key-1", dispatch1), ("robot-key-1", dispatch2)])
    assert sorted(smtp_server.received) == sorted([(DEPT_MAIL, dispatch1), (DEPT_MAIL, dispatch2)])
    ids = {str(m["Message-ID"]) for m in smtp_server.mails}
    assert len(ids) == 2 and all(i.startswith("<redgrid-outbox-") for i in ids)
    assert {m.status for m in svc.store.outbox_messages()} <= {SENT, UNKNOWN}


def test_a_gateway_answering_500_is_retried_with_backoff_until_it_answers_200(svc, clock, sms_gateway):
    svc.notifications.add_contact(system(), "department", DEPARTMENT, "sms", DEPT_PHONE)
    (case,) = collected(svc, 1)
    act(svc, case.id, "dispatch", department=DEPARTMENT)
    sms_gateway.script[:] = [500, 503]
    start = clock.now
    assert svc.notifications.send_due().retrying == 1
    (row,) = svc.store.outbox_messages(complaint_id=case.id)
    assert (row.status, row.attempts, row.next_at, row.last_error) == (
        PENDING,
        1,
        start + datetime.timedelta(seconds=BACKOFF_S),
        "SMS gateway answered HTTP 500",
    )
    clock.advance(seconds=BACKOFF_S - 1)
    assert svc.notifications.send_due().claimed == 0  # not before its time
    clock.advance(seconds=1)
    assert svc.notifications.send_due().retrying == 1
    assert svc.store.outbox_message(row.id).next_at == clock.now + datetime.timedelta(seconds=2 * BACKOFF_S)
    clock.advance(seconds=2 * BACKOFF_S)
    assert svc.notifications.send_due().sent == 1
    assert [r["status"] for r in sms_gateway.requests] == [500, 503, 200]
    assert sms_gateway.delivered == [(DEPT_PHONE, text("dispatch", case, svc))]
    assert {r["headers"]["idempotency-key"] for r in sms_gateway.requests} == {idempotency_key(row)}


def test_the_last_failed_attempt_is_final_and_a_person_may_retry(svc, clock, sms_gateway):
    svc.notifications.add_contact(system(), "department", DEPARTMENT, "sms", DEPT_PHONE)
    (case,) = collected(svc, 1)
    act(svc, case.id, "dispatch", department=DEPARTMENT)
    sms_gateway.script[:] = [500] * 3
    for wait in (0, BACKOFF_S, 2 * BACKOFF_S):  # max attempts 3
        clock.advance(seconds=wait)
        svc.notifications.send_due()
    (row,) = svc.store.outbox_messages(complaint_id=case.id)
    assert (row.status, row.attempts) == (FAILED, 3)
    clock.advance(days=1)
    assert svc.notifications.send_due().claimed == 0
    assert svc.notifications.retry(system(), row.id) == 1
    assert svc.notifications.send_due().sent == 1
    assert len(sms_gateway.delivered) == 1


def test_a_webhook_errcode_other_than_zero_is_a_failure(svc, clock, wecom_robot):
    svc.notifications.add_contact(system(), "department", DEPARTMENT, "wecom", wecom_robot.webhook())
    (case,) = collected(svc, 1)
    act(svc, case.id, "dispatch", department=DEPARTMENT)
    wecom_robot.script[:] = [93000]
    assert svc.notifications.send_due().retrying == 1
    (row,) = svc.store.outbox_messages(complaint_id=case.id)
    assert row.status == PENDING and "errcode 93000" in row.last_error
    assert wecom_robot.received == []
    clock.advance(seconds=BACKOFF_S)
    assert svc.notifications.send_due().sent == 1
    assert wecom_robot.received == [("robot-key-1", text("dispatch", case, svc))]
    assert wecom_robot.requests[0]["body"] == {
        "msgtype": "text",
        "text": {"content": text("dispatch", case, svc)},
    }


# --- who sees and changes what -------------------------------------------------------------


def test_addresses_are_masked_unless_the_caller_may_see_personal_data(svc, wecom_robot):
    svc.notifications.add_contact(system(), "department", DEPARTMENT, "sms", DEPT_PHONE)
    svc.notifications.add_contact(system(), "department", DEPARTMENT, "wecom", wecom_robot.webhook())
    (case,) = collected(svc, 1)
    act(svc, case.id, "dispatch", department=DEPARTMENT)
    for row in svc.store.claim_messages(
        "w", now=svc.notifications.now(), lease=datetime.timedelta(minutes=1)
    ):
        svc.store.mark_failed(row.id, "w", error="HTTP 500", retry_at=None)  # both undelivered
    masked_key = Caller("hotline", "api_key", frozenset({DISPATCH}))
    shown = {v.message.channel: v.address for v in svc.notifications.undelivered(masked_key)}
    assert shown == {"sms": "138****8000", "wecom": wecom_robot.webhook().split("?")[0] + "?key=***"}
    full = Caller("hotline", "api_key", frozenset({DISPATCH, PERSONAL_DATA}))
    assert {v.address for v in svc.notifications.undelivered(full)} >= {DEPT_PHONE}
    assert svc.store.audit_entries(action="notify.view")[0].who == "api_key:hotline"
    for nobody in (
        Caller("p", "user", role="planner"),
        Caller("d", "user", frozenset({PERSONAL_DATA}), role="department"),
    ):
        with pytest.raises(Forbidden):
            svc.notifications.undelivered(nobody)


def test_contacts_are_checked_and_only_administrators_change_them(svc):
    n = svc.notifications
    with pytest.raises(Invalid, match="unknown department"):
        n.add_contact(system(), "department", "no_such", "sms", DEPT_PHONE)
    with pytest.raises(Invalid, match="not a phone number"):
        n.add_contact(system(), "department", DEPARTMENT, "sms", "12")
    with pytest.raises(Invalid, match="webhook URL"):
        n.add_contact(system(), "whistle_group", "whistle_urban", "wecom", "qyapi.weixin.qq.com")
    with pytest.raises(Forbidden):
        n.add_contact(
            Caller("wang", "user", frozenset({PERSONAL_DATA}), role="dispatcher"),
            "centre",
            "centre",
            "sms",
            DEPT_PHONE,
        )
    assert (
        n.add_contact(system(), "whistle_group", "whistle_urban", "email", "whistle@dali.example.org") is True
    )
    assert (
        n.add_contact(system(), "whistle_group", "whistle_urban", "email", "whistle@dali.example.org")
        is False
    )
    assert [c.address for c in n.contacts(system(), "whistle_group")] == ["whistle@dali.example.org"]
    assert svc.store.audit_entries(action="notify.contact.add")[0].target == "whistle_group:whistle_urban"


def test_every_kind_recipient_and_channel_has_its_words_in_both_catalogues():
    from services.notices import CHANNELS
    from services.notices import KINDS
    from services.notices import NO_CHANNEL
    from services.notices import ON_DEADLINE

    recipients = {r for notices in ON_ACTION.values() for n in notices for r in n.to}
    recipients |= {r for n in ON_DEADLINE.values() for r in n.to}
    keys = [f"notify_msg_{k}" for k in KINDS] + [f"notify_kind_{k}" for k in KINDS]
    keys += [f"notify_to_{r}" for r in recipients] + [f"notify_channel_{c}" for c in (*CHANNELS, NO_CHANNEL)]
    values = {
        "id": 7,
        "category": "噪音",
        "department": "城管",
        "deadline": "2026-11-09 09:00",
        "extension": "—",
    }
    for language in ("zh", "en"):
        missing = [k for k in keys if translate(k, language, **values) == k]
        assert missing == [], language
    assert (
        translate("notify_msg_overdue", "zh", **values)
        == "诉求 #7（噪音）已超过办理时限（2026-11-09 09:00），请尽快办理。"
    )
