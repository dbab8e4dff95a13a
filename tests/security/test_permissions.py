"""2. Who may do what: one table of role → workflow actions, enforced in one place; sources owned.

Failed before, passes now: a department could record the resident's satisfaction on its own
work and close it, reset its own overdue deadline by re-dispatching to itself, and push work to
another department; anyone who could file could file under ``12345热线`` with a guessed ticket
number, and the real hotline row was later skipped as a duplicate.
"""

from __future__ import annotations

import csv
import io

import pytest

from complaints.workflow import Action
from services.callers import ROLES
from services.callers import Caller
from services.callers import user_caller
from services.errors import Forbidden
from services.permissions import ACTIONS
from services.permissions import allowed_actions
from services.permissions import check_action
from tests.security.conftest import World

API = "/api/v1"
HOTLINE = "12345热线"
HEADER = "序号 工单编号 受理时间 来源渠道 诉求类别 诉求内容 事发地址 经度 纬度 坐标系 联系人 联系电话".split()


def _act(world: World, who: str, case, action: str, **fields):
    case = world.refreshed(case)
    response = world.post(
        who,
        f"{API}/complaints/{case.id}/actions",
        json={"action": action, "version": case.row_version, **fields},
    )
    return response, response.get_json()


def _resolved(world: World):
    """The police's case, resolved by the police (its own work, waiting for the call-back)."""
    world.clock.set("2025-09-30T10:00:00+08:00")
    response, body = _act(world, "police-desk", world.police_case, "resolve", note="已处理")
    assert response.status_code == 200 and body["state"] == "resolved", body
    return world.refreshed(world.police_case)


# --- the table ----------------------------------------------------------------------------------


def test_one_table_names_every_role_and_only_the_dispatch_centre_does_the_centres_work():
    assert set(ACTIONS) == set(ROLES)
    centre = {Action.DISPATCH, Action.FOLLOW_UP, Action.START_FOLLOW_UP, Action.REOPEN, Action.REJECT}
    for role, actions in ACTIONS.items():
        assert (centre <= actions) == (role in ("dispatcher", "admin")), role
    # a department resolves, returns (退单) or asks for time; it never dispatches or decides
    assert ACTIONS["department"] == {Action.RESOLVE, Action.RETURN, Action.REQUEST_EXTENSION}
    assert ACTIONS["planner"] == frozenset()
    keys = {
        "write": Caller("k", "api_key", frozenset({"write"})),
        "dispatch": Caller("k", "api_key", frozenset({"write", "dispatch"})),
        "bound": Caller("k", "api_key", frozenset({"write"}), department_code="police"),
    }
    assert allowed_actions(keys["write"]) == frozenset()
    assert allowed_actions(keys["dispatch"]) == ACTIONS["dispatcher"]
    assert allowed_actions(keys["bound"]) == ACTIONS["department"]


def test_the_table_is_checked_in_the_service_for_every_adapter(world):
    """The check sits in ComplaintService.transition: the service refuses, whoever calls it."""
    police = user_caller("police-desk", "department", department_code="police")
    case = world.refreshed(world.police_case)
    with pytest.raises(Forbidden):
        world.svc.act(police, case.id, "dispatch", expected_version=case.row_version, department="police")
    with pytest.raises(Forbidden):
        check_action(police, world.refreshed(world.city_case), "resolve")
    assert world.refreshed(world.police_case) == case


# --- what a department may not do ---------------------------------------------------------------


@pytest.mark.parametrize("satisfied", [True, False])
def test_a_department_cannot_record_the_residents_verdict_on_its_own_work(world, satisfied):
    resolved = _resolved(world)
    for action, fields in (
        ("follow_up", {"satisfied": satisfied, "note": "满意"}),
        ("start_follow_up", {}),
        ("reopen", {"note": "再办"}),
    ):
        response, body = _act(world, "police-desk", resolved, action, **fields)
        assert response.status_code == 403, (action, body)
        assert body["error"]["code"] == "forbidden"
        assert "department" in body["error"]["message"] and action in body["error"]["message"]
    after = world.refreshed(resolved)
    assert (after.state, after.satisfied, after.closed_at, after.row_version) == (
        "resolved",
        None,
        None,
        resolved.row_version,
    )
    # the dispatch centre records it
    response, body = _act(world, "wang", resolved, "follow_up", satisfied=True, note="回访满意")
    assert response.status_code == 200 and body["state"] == "closed"


def test_a_department_cannot_reset_its_own_deadline_by_dispatching_to_itself(world):
    case = world.refreshed(world.police_case)
    world.clock.set("2025-10-20T10:00:00+08:00")  # overdue by now
    for who in ("police-desk", "key:police-key"):
        response, body = _act(world, who, case, "dispatch", department="police")
        assert response.status_code == 403, (who, body)
    after = world.refreshed(case)
    assert (after.deadline, after.dispatched_at, after.row_version) == (
        case.deadline,
        case.dispatched_at,
        case.row_version,
    )
    assert world.svc.deadline_status(after).value == "overdue"


def test_a_department_cannot_push_work_to_another_department(world):
    case = world.refreshed(world.police_case)
    response, body = _act(world, "police-desk", case, "dispatch", department="urban_management")
    assert response.status_code == 403, body
    assert world.refreshed(case).department_code == "police"
    # nor act on the other department's case, nor through the page form
    response, body = _act(world, "police-desk", world.city_case, "resolve", note="not ours")
    assert response.status_code == 403
    assert body["error"]["message"] == f"complaint {world.city_case.id} is not with department 'police'"
    assert world.refreshed(world.city_case).state == "dispatched"


def test_a_department_resolves_its_own_cases_and_the_page_offers_it_nothing_else(world):
    page = world.get("police-desk", f"/complaints/{world.police_case.id}").get_data(as_text=True)
    assert 'id="action-form"' in page
    assert 'value="resolve"' in page and 'value="dispatch"' not in page
    other = world.get("police-desk", f"/complaints/{world.city_case.id}").get_data(as_text=True)
    assert 'value="dispatch"' not in other
    client, headers = world.client("police-desk")
    response = client.post(
        f"/complaints/{world.police_case.id}",
        data={
            "csrf_token": headers["X-CSRFToken"],
            "action": "dispatch",
            "department": "urban_management",
            "version": str(world.refreshed(world.police_case).row_version),
        },
    )
    assert response.status_code == 422
    assert world.refreshed(world.police_case).department_code == "police"
    _resolved(world)


def test_keys_act_as_the_dispatch_centre_only_with_the_dispatch_scope(world):
    case = world.refreshed(world.city_case)
    response, _ = _act(world, "key:filer", case, "dispatch", department="police")
    assert response.status_code == 403
    response, _ = _act(world, "key:police-key", case, "resolve")  # bound to the police: not its case
    assert response.status_code == 403
    response, body = _act(world, "key:centre", case, "dispatch", department="police")
    assert response.status_code == 200 and body["department"]["code"] == "police"
    response, body = _act(world, "key:police-key", case, "resolve", note="派出所已处理")
    assert response.status_code == 200 and body["state"] == "resolved"
    response, _ = _act(world, "li", case, "follow_up", satisfied=True)  # a planner never acts
    assert response.status_code == 403


# --- sources are owned --------------------------------------------------------------------------


def _body(world: World, external_id: str, **extra) -> dict:
    lon, lat = inside_point_of(world)
    return {
        "external_id": external_id,
        "reported_at": "2025-09-29T08:30:00+08:00",
        "category": "noise",
        "text": "夜间噪音",
        "lon": lon,
        "lat": lat,
        **extra,
    }


def inside_point_of(world: World) -> tuple[float, float]:
    case = world.police_case
    return case.lon, case.lat


def _hotline_csv(world: World, ticket: str) -> bytes:
    lon, lat = inside_point_of(world)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerow(
        [
            1,
            ticket,
            "2025-09-29 08:00",
            "12345热线",
            "noise",
            "真正的热线工单",
            "",
            lon,
            lat,
            "wgs84",
            "王先生",
            "13900139000",
        ]
    )
    return buffer.getvalue().encode("utf-8")


def test_filing_under_the_hotline_with_a_guessed_ticket_is_refused_and_the_real_row_imports(world):
    store = world.svc.store
    before = store.count_complaints()
    for who in ("key:filer", "wang", "key:centre"):
        response = world.post(who, f"{API}/complaints", json=_body(world, "HL-20250929-0001", source=HOTLINE))
        assert response.status_code == 403, who
        assert response.get_json()["error"]["code"] == "source_not_granted"
    assert store.complaint_by_external(HOTLINE, "HL-20250929-0001") is None
    assert store.count_complaints() == before
    # nor through the import endpoint
    response = world.post(
        "key:filer",
        f"{API}/complaints/import",
        data={"file": (io.BytesIO(_hotline_csv(world, "HL-20250929-0001")), "x.csv"), "source": HOTLINE},
    )
    assert response.status_code == 403 and store.count_complaints() == before
    # the hotline's own key imports the real row: added, not skipped as a duplicate
    response = world.post(
        "key:hotline",
        f"{API}/complaints/import",
        data={"file": (io.BytesIO(_hotline_csv(world, "HL-20250929-0001")), "x.csv"), "source": HOTLINE},
    )
    body = response.get_json()
    assert response.status_code == 201 and (body["added"], body["skipped"]) == (1, 0), body
    real = store.complaint_by_external(HOTLINE, "HL-20250929-0001")
    assert real is not None and real.text == "真正的热线工单"


def test_a_granted_key_or_user_files_under_the_source_and_everyone_under_their_own(world, demo_db):
    response = world.post("key:hotline", f"{API}/complaints", json=_body(world, "HL-1", source=HOTLINE))
    assert response.status_code == 201
    response = world.post("key:filer", f"{API}/complaints", json=_body(world, "own-1"))
    assert response.status_code == 201 and response.get_json()["source"] == "api:filer"
    response = world.post("key:filer", f"{API}/complaints", json=_body(world, "own-2", source="api:hotline"))
    assert response.status_code == 403  # another key's namespace is another source
    result = demo_db.cli("users", "grant", "wang", "--source", HOTLINE)
    assert result.exit_code == 0 and f"source {HOTLINE}" in result.stdout
    response = world.post("wang", f"{API}/complaints", json=_body(world, "HL-2", source=HOTLINE))
    assert response.status_code == 201
    grants = world.audit("grant")
    assert [(e.who, e.target, e.detail["value"]) for e in grants][:1] == [("cli", "user:wang", HOTLINE)]


def test_external_ids_are_unique_per_source(world):
    first = world.post("key:hotline", f"{API}/complaints", json=_body(world, "T-1", source=HOTLINE))
    again = world.post("key:hotline", f"{API}/complaints", json=_body(world, "T-1", source=HOTLINE))
    other = world.post("key:filer", f"{API}/complaints", json=_body(world, "T-1"))
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert first.get_json()["id"] == again.get_json()["id"] != other.get_json()["id"]
    assert (other.get_json()["source"], other.get_json()["external_id"]) == ("api:filer", "T-1")


def test_the_command_line_grants_a_key_its_source_and_department(world, demo_db):
    result = demo_db.cli(
        "apikey", "create", "hotline-2", "--scope", "write", "--source", HOTLINE, "--department", "police"
    )
    assert result.exit_code == 0, result.stderr
    token = result.stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    client = world.app.test_client()
    response = client.post(f"{API}/complaints", json=_body(world, "HL-9", source=HOTLINE), headers=headers)
    assert response.status_code == 201
    listed = demo_db.cli("apikey", "grant", "hotline-2")
    assert f"department police, source {HOTLINE}" in listed.stdout
    assert demo_db.cli("apikey", "create", "x", "--department", "nowhere").exit_code != 0
    entries = [e for e in world.svc.store.audit_entries(limit=1000) if e.target == "api_key:hotline-2"]
    assert sorted(e.action for e in entries) == ["grant.add", "grant.add", "key.create", "key.use"]
