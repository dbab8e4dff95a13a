"""3. The audit log: append-only; views of personal data, logins, exports, key use, key, user and
grant changes, each with who, when (aware UTC), what and from where; read by administrators
from the command line and a page.

Failed before, passes now: nothing recorded who read reporters' names and phones.
"""

from __future__ import annotations

import datetime
import json

import pytest

from services.audit import AuditService
from services.callers import ANONYMOUS
from services.callers import user_caller
from services.errors import Forbidden
from services.errors import Unauthenticated
from store.audit import AuditStore
from tests.security.conftest import PASSWORD
from tests.security.conftest import World

API = "/api/v1"


def test_the_log_offers_no_way_to_change_or_remove_an_entry():
    assert {n for n in dir(AuditStore) if not n.startswith("_")} == {"add_audit_entry", "audit_entries"}
    assert {n for n in vars(AuditService) if not n.startswith("_")} == {"record", "key_used", "list"}


def test_a_workflow_action_answered_with_contacts_is_one_entry(world: World):
    case = world.refreshed(world.police_case)
    world.client("wang")
    response = world.post(
        "wang",
        f"{API}/complaints/{case.id}/actions",
        json={"action": "resolve", "version": case.row_version, "note": "已处理"},
    )
    assert response.status_code == 200
    [entry] = world.audit()
    assert (entry.who, entry.action, entry.target, entry.detail) == (
        "user:wang",
        "case.view",
        f"complaint:{case.id}",
        {"ids": [case.id], "via": "resolve"},
    )


def test_filing_again_shows_the_stored_case_and_is_recorded(world: World):
    body = {
        "external_id": "again-1",
        "reported_at": "2025-09-29T08:30:00+08:00",
        "category": "noise",
        "text": "噪音",
        "lon": world.police_case.lon,
        "lat": world.police_case.lat,
        "reporter_name": "赵女士",
        "reporter_phone": "13500135000",
    }
    first = world.post("key:centre", f"{API}/complaints", json=body)
    assert first.status_code == 201 and world.audit() == []  # the caller's own words
    again = world.post("key:centre", f"{API}/complaints", json=body)
    assert again.status_code == 200
    [entry] = world.audit()
    assert (entry.who, entry.detail["via"]) == ("api_key:centre", "file")


def test_key_use_is_recorded_once_per_key_and_address_within_the_hour(world: World):
    for _ in range(3):
        assert world.get("key:reader", f"{API}/complaints?limit=1").status_code == 200
    world.get("key:reader", f"{API}/complaints?limit=1", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    entries = [e for e in world.audit("key.use") if e.who == "api_key:reader"]
    assert sorted(e.address for e in entries) == ["10.1.2.3", "127.0.0.1"]


def test_logins_good_and_bad_are_recorded_with_where_from(world: World):
    world.client("wang")  # a good sign-in
    client = world.app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/login",
        data={"username": "wang", "password": "wrong-password", "csrf_token": token},
        environ_base={"REMOTE_ADDR": "10.9.8.7"},
    )
    assert response.status_code in (401, 429)
    entries = world.audit("login")
    good = [e for e in entries if e.action == "login"]
    bad = [e for e in entries if e.action == "login.failed"]
    assert [(e.who, e.address) for e in good] == [("user:wang", "127.0.0.1")]
    assert [(e.target, e.address) for e in bad] == [("user:wang", "10.9.8.7")]
    assert all(e.at.utcoffset() == datetime.timedelta(0) for e in entries)


def test_only_administrators_read_the_log(world: World):
    audit = world.app.extensions["redgrid"].audit
    with pytest.raises(Unauthenticated):
        audit.list(ANONYMOUS)
    for role in ("dispatcher", "planner", "department"):
        with pytest.raises(Forbidden):
            audit.list(user_caller("x", role, department_code="police"))
    assert isinstance(audit.list(user_caller("boss", "admin")), list)


def test_the_admin_page_lists_entries_with_filters_for_administrators_only(world: World):
    world.get("wang", f"{API}/complaints/{world.police_case.id}")  # one view of contacts
    page = world.get("boss", "/admin/audit?action=case.view")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # people by name (the world's users are named by their user names), not account ids
    entries = html.split('id="audit-entries"')[1]
    assert "<td>wang <span" in entries and "user:wang" not in entries
    assert f"诉求 {world.police_case.id}" in entries and "127.0.0.1" in entries
    assert "login" not in entries
    assert "<td>boss <span" in world.get("boss", "/admin/audit?who=boss&action=login").get_data(as_text=True)
    assert world.get("boss", "/admin/audit?since=not-a-date").status_code == 422
    assert world.get("wang", "/admin/audit").status_code == 403
    assert world.get("li", "/admin/audit").status_code == 403
    assert world.get("anonymous", "/admin/audit").status_code == 302  # to the login page
    assert world.get("key:personal", "/admin/audit").status_code == 302


def test_the_command_line_lists_entries_by_who_action_and_since(world: World, demo_db):
    world.get("wang", f"{API}/complaints/{world.police_case.id}")
    world.get("key:personal", f"{API}/complaints?source=scope-test")
    result = demo_db.cli("audit", "list", "--action", "case", "--json")
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["who"], r["action"]) for r in rows] == [
        ("api_key:personal", "case.list"),
        ("user:wang", "case.view"),
    ]
    assert all(r["address"] == "127.0.0.1" and r["at"].endswith("+00:00") for r in rows)
    result = demo_db.cli("audit", "list", "--who", "wang", "--action", "case.view", "--since", "2000-01-01")
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 1
    assert "user:wang" in result.stdout and f"complaint:{world.police_case.id}" in result.stdout
    result = demo_db.cli("audit", "list", "--since", "2999-01-01")
    assert result.exit_code == 0 and result.stdout == "" and "no entries" in result.stderr
    result = demo_db.cli("audit", "list", "--since", "yesterday-ish")
    assert result.exit_code == 2 and "since" in result.stderr


def test_user_and_key_changes_from_the_command_line_are_recorded(world: World, demo_db):
    assert (
        demo_db.cli(
            "users", "create", "zhao", "--name", "赵", "--role", "planner", "--password", PASSWORD
        ).exit_code
        == 0
    )
    assert demo_db.cli("apikey", "create", "city-app", "--scope", "write").exit_code == 0
    assert demo_db.cli("apikey", "revoke", "city-app").exit_code == 0
    entries = world.svc.store.audit_entries(who="cli", limit=100)
    got = [(e.action, e.target) for e in reversed(entries)]
    assert got[-3:] == [
        ("user.create", "user:zhao"),
        ("key.create", "api_key:city-app"),
        ("key.revoke", "api_key:city-app"),
    ]
