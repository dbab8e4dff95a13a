"""OutboxStore on every backend: messages kept once per dedupe key, written with the complaint
change or not at all, claimed by one worker at a time under a lease, and a message a worker
may have sent never handed out again on a channel without idempotency."""

from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa

from store.complaints import ConcurrentUpdate
from store.outbox import CLAIMED
from store.outbox import FAILED
from store.outbox import PENDING
from store.outbox import REPLACED
from store.outbox import SENDING
from store.outbox import SENT
from store.outbox import UNKNOWN
from store.outbox import Contact
from tests.contract.conftest import T0
from tests.contract.conftest import complaint_row
from tests.contract.conftest import event
from tests.contract.conftest import row_counts

LEASE = datetime.timedelta(minutes=5)


def message(key: str, *, complaint_id: int | None = None, channel: str = "sms", **values) -> dict:
    return {
        "dedupe_key": key,
        "kind": "dispatch",
        "complaint_id": complaint_id,
        "recipient_kind": "department",
        "recipient_code": "urban_mgmt",
        "channel": channel,
        "address": "13800138000",
        "params": {"case": complaint_id, "category": "噪音"},
        **values,
    }


def _at(minutes: float) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=minutes)


def _complaint(store) -> int:
    return store.add_complaints([complaint_row("c1")], [[event()]]).added[0]


def test_a_message_is_kept_once_per_dedupe_key_and_read_back_whole(store):
    assert store.add_messages([message("a"), message("b", channel="email")], now=T0) == 2
    assert store.add_messages([message("a"), message("c")], now=_at(1)) == 1  # a is stored already
    newest, *_, oldest = store.outbox_messages()
    assert [m.dedupe_key for m in store.outbox_messages()] == ["c", "b", "a"]
    assert (oldest.kind, oldest.channel, oldest.address, oldest.params) == (
        "dispatch",
        "sms",
        "13800138000",
        {"case": None, "category": "噪音"},
    )
    assert (oldest.status, oldest.attempts, oldest.next_at, oldest.sent_at) == (PENDING, 0, T0, None)
    assert oldest.created_at.utcoffset() == datetime.timedelta(0)
    assert newest.created_at == _at(1)
    assert store.outbox_message(oldest.id) == oldest
    assert store.outbox_message(10**6) is None


def test_messages_are_written_with_the_complaint_change_or_not_at_all(store):
    cid = _complaint(store)
    change = event("dispatch", "dispatched", at=_at(1), department_code="urban_mgmt")
    store.update_complaint(
        cid, 1, {"state": "dispatched"}, change, messages=[message("d1", complaint_id=cid)]
    )
    assert [m.complaint_id for m in store.outbox_messages()] == [cid]
    assert store.outbox_messages()[0].created_at == _at(1)  # the action's time
    before = row_counts(store, "complaints", "complaint_events", "outbox")
    with pytest.raises(ConcurrentUpdate):  # a stale version: neither the change nor its message
        store.update_complaint(cid, 1, {"state": "resolved"}, event(at=_at(2)), messages=[message("d2")])
    with pytest.raises(
        sa.exc.IntegrityError
    ):  # a message the store refuses (no channel): the change goes too
        store.update_complaint(
            cid, 2, {"state": "resolved"}, event(at=_at(2)), messages=[message("d3", channel=None)]
        )
    assert row_counts(store, "complaints", "complaint_events", "outbox") == before
    assert store.complaint(cid).state == "dispatched"


def test_a_claim_is_one_workers_until_its_lease_runs_out(store):
    store.add_messages([message("a"), message("b"), message("later")], now=T0)
    later = store.outbox_messages()[0]
    first = store.claim_messages("w1", now=_at(1), lease=LEASE, limit=2)
    assert [m.dedupe_key for m in first] == ["a", "b"]
    assert {(m.status, m.claimed_by, m.attempts, m.lease_until) for m in first} == {
        (CLAIMED, "w1", 1, _at(1) + LEASE)
    }
    second = store.claim_messages("w2", now=_at(2), lease=LEASE)
    assert [m.id for m in second] == [later.id]  # a and b are w1's
    assert store.claim_messages("w3", now=_at(3), lease=LEASE) == []
    # w1 died after claiming (nothing sent): after the lease another worker takes them, a new attempt
    again = store.claim_messages("w3", now=_at(7), lease=LEASE)
    assert [(m.dedupe_key, m.attempts, m.claimed_by) for m in again] == [("a", 2, "w3"), ("b", 2, "w3")]
    assert store.mark_sent(first[0].id, "w1", now=_at(8)) is False  # no longer w1's claim
    assert store.mark_sent(first[0].id, "w3", now=_at(8)) is True
    sent = store.outbox_message(first[0].id)
    assert (sent.status, sent.sent_at, sent.claimed_by, sent.lease_until) == (SENT, _at(8), None, None)
    assert store.mark_sent(first[0].id, "w3", now=_at(9)) is False  # once


def test_a_worker_that_died_while_sending_is_resent_only_on_an_idempotent_channel(store):
    store.add_messages([message("sms"), message("hook", channel="wecom")], now=T0)
    claimed = store.claim_messages("w1", now=_at(1), lease=LEASE)
    assert all(store.mark_sending(m.id, "w1") for m in claimed)
    assert {m.status for m in store.outbox_messages()} == {SENDING}
    assert store.claim_messages("w2", now=_at(2), lease=LEASE, resend_channels={"sms"}) == []
    # w1 is gone; the gateway drops a repeated idempotency key, the webhook would post it twice
    again = store.claim_messages("w2", now=_at(7), lease=LEASE, resend_channels={"sms"})
    assert [m.dedupe_key for m in again] == ["sms"]
    hook = next(m for m in store.outbox_messages() if m.channel == "wecom")
    assert (hook.status, hook.claimed_by) == (UNKNOWN, None) and "may have been delivered" in hook.last_error
    assert (
        store.claim_messages("w3", now=_at(20), lease=LEASE, resend_channels={"sms"}) != []
    )  # sms: w2's lease ran out
    assert store.outbox_message(hook.id).status == UNKNOWN  # never handed out again on its own
    assert store.retry_message(hook.id, now=_at(30)) is True  # a person decided: send it
    retried = store.outbox_message(hook.id)
    assert (retried.status, retried.attempts, retried.next_at) == (PENDING, 0, _at(30))


def test_failures_wait_for_their_retry_time_and_the_last_one_is_final(store):
    store.add_messages([message("a")], now=T0)
    (m,) = store.claim_messages("w", now=_at(1), lease=LEASE)
    assert store.mark_failed(m.id, "w", error="HTTP 500", retry_at=_at(3)) is True
    failed = store.outbox_message(m.id)
    assert (failed.status, failed.next_at, failed.last_error, failed.attempts) == (
        PENDING,
        _at(3),
        "HTTP 500",
        1,
    )
    assert store.claim_messages("w", now=_at(2), lease=LEASE) == []  # not yet
    (m,) = store.claim_messages("w", now=_at(3), lease=LEASE)
    assert m.attempts == 2
    assert store.mark_failed(m.id, "w", error="HTTP 500", retry_at=None) is True
    assert store.outbox_message(m.id).status == FAILED
    assert store.claim_messages("w", now=_at(100), lease=LEASE) == []
    assert [x.id for x in store.outbox_messages(statuses=[FAILED])] == [m.id]
    assert store.retry_message(m.id, now=_at(101)) is True
    assert store.retry_message(m.id, now=_at(101)) is False  # pending now: nothing to retry


def test_a_message_no_one_could_receive_is_replaced_whole_by_new_deliveries(store):
    store.add_messages(
        [message("n", channel="none", address=None, status=FAILED, last_error="no contact")], now=T0
    )
    (lost,) = store.outbox_messages(statuses=[FAILED])
    assert store.claim_messages("w", now=_at(1), lease=LEASE) == []  # failed: never claimed
    new = [message("n>sms"), message("n>email", channel="email")]
    assert store.retry_message(lost.id, now=_at(2), replace_with=new) is True
    assert store.outbox_message(lost.id).status == REPLACED
    assert sorted(
        (m.dedupe_key, m.status, m.created_at) for m in store.outbox_messages(statuses=[PENDING])
    ) == [
        ("n>email", PENDING, _at(2)),
        ("n>sms", PENDING, _at(2)),
    ]
    assert store.retry_message(lost.id, now=_at(3), replace_with=new) is False  # replaced already
    assert len(store.outbox_messages()) == 3


def test_messages_filter_by_status_and_case_and_page(store):
    cid = _complaint(store)
    store.add_messages([message("a", complaint_id=cid), message("b"), message("c")], now=T0)
    assert [m.dedupe_key for m in store.outbox_messages(complaint_id=cid)] == ["a"]
    assert [m.dedupe_key for m in store.outbox_messages(limit=1, offset=1)] == ["b"]
    assert store.outbox_messages(statuses=[SENT]) == []


def test_contacts_are_kept_once_listed_in_order_and_removed(store):
    assert store.put_contact("department", "urban_mgmt", "sms", "13800138000") is True
    assert store.put_contact("department", "urban_mgmt", "sms", "13800138000") is False
    store.put_contact("department", "urban_mgmt", "email", "cg@example.org")
    store.put_contact("centre", "centre", "wecom", "http://127.0.0.1:1/send?key=k")
    assert store.contacts(owner_kind="department") == [
        Contact("department", "urban_mgmt", "email", "cg@example.org"),
        Contact("department", "urban_mgmt", "sms", "13800138000"),
    ]
    assert [c.owner_kind for c in store.contacts()] == ["centre", "department", "department"]
    assert store.contacts("department", "police") == []
    assert store.remove_contact("department", "urban_mgmt", "sms", "13800138000") == 1
    assert store.remove_contact("department", "urban_mgmt", "sms", "13800138000") == 0
    assert len(store.contacts()) == 2
