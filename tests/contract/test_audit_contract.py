"""AuditStore and GrantStore on every backend: an append-only log read newest first with
filters, and grants that are kept once."""

from __future__ import annotations

import datetime

import pytest

from store.audit import AuditEntry
from store.audit import AuditStore

CHINA = datetime.timezone(datetime.timedelta(hours=8))
T0 = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=CHINA)


def _at(minutes: int) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=minutes)


def test_entries_are_appended_and_read_back_whole_in_utc(store):
    first = store.add_audit_entry(
        _at(0),
        "user:wang",
        "case.view",
        role="dispatcher",
        target="complaint:7",
        detail={"ids": [7], "fields": ["reporter"]},
        address="10.0.0.5",
    )
    second = store.add_audit_entry(_at(1), "api_key:hotline", "key.use")
    assert second > first
    newest, oldest = store.audit_entries()
    assert isinstance(oldest, AuditEntry)
    assert (oldest.id, oldest.who, oldest.role, oldest.action, oldest.target) == (
        first,
        "user:wang",
        "dispatcher",
        "case.view",
        "complaint:7",
    )
    assert oldest.detail == {"ids": [7], "fields": ["reporter"]} and oldest.address == "10.0.0.5"
    assert oldest.at == _at(0) and oldest.at.utcoffset() == datetime.timedelta(0)
    assert (newest.id, newest.role, newest.target, newest.detail, newest.address) == (
        second,
        None,
        None,
        None,
        None,
    )


def test_filters_who_action_with_sub_actions_time_and_target(store):
    store.add_audit_entry(_at(0), "user:wang", "login", address="10.0.0.5")
    store.add_audit_entry(_at(1), "user:wang", "login.failed", address="10.0.0.6")
    store.add_audit_entry(_at(2), "user:li", "logins.other")  # not a sub-action of "login"
    store.add_audit_entry(_at(3), "user:li", "case.list", target="complaints")
    assert [e.action for e in store.audit_entries(action="login")] == ["login.failed", "login"]
    assert [e.action for e in store.audit_entries(who="user:li")] == ["case.list", "logins.other"]
    assert [e.action for e in store.audit_entries(since=_at(1), until=_at(3))] == [
        "logins.other",
        "login.failed",
    ]
    assert [e.action for e in store.audit_entries(target="complaints")] == ["case.list"]
    assert [e.action for e in store.audit_entries(limit=2, offset=1)] == ["logins.other", "login.failed"]
    assert [e.action for e in store.audit_entries(action="case")] == ["case.list"]
    assert store.audit_entries(action="cas") == []  # a prefix of a word is no match


def test_the_log_has_no_way_to_change_or_remove_an_entry(store):
    names = {n for n in dir(AuditStore) if not n.startswith("_")}
    assert names == {"add_audit_entry", "audit_entries"}
    assert not [n for n in dir(type(store)) if "audit" in n and n not in names]


def test_a_naive_time_is_refused(store):
    with pytest.raises(Exception, match="naive"):
        store.add_audit_entry(datetime.datetime(2026, 3, 2, 9, 0), "user:wang", "login")
    assert store.audit_entries() == []


def test_grants_are_kept_once_per_grantee_kind_and_value(store):
    assert store.grants("api_key:hotline") == []
    assert store.add_grant("api_key:hotline", "source", "12345热线") is True
    assert store.add_grant("api_key:hotline", "source", "12345热线") is False
    assert store.add_grant("api_key:hotline", "department", "police") is True
    assert store.add_grant("user:wang", "source", "12345热线") is True
    assert store.grants("api_key:hotline") == [("department", "police"), ("source", "12345热线")]
    assert store.remove_grant("api_key:hotline", "department", "police") == 1
    assert store.remove_grant("api_key:hotline", "department", "police") == 0
    assert store.grants("api_key:hotline") == [("source", "12345热线")]
    assert store.grants("user:wang") == [("source", "12345热线")]
