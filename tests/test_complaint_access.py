"""Who may act on a complaint, and finding complaints by where they stand against their deadline."""

from __future__ import annotations

import re

from tests.apps import create_user
from tests.apps import error_of
from tests.test_complaints_service import Clock
from tests.test_complaints_service import file_at
from tests.test_complaints_service import grid_of_kind
from tests.test_complaints_service import install
from tests.test_complaints_service import step

API = "/api/v1"


def _login(client, username: str, password: str) -> str:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert (
        client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token}
        ).status_code
        == 302
    )
    # signing in starts a new session (webmap.users): the form token comes from a page after it
    page = client.get("/complaints").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_a_department_acts_only_on_complaints_dispatched_to_it(fresh_app, demo_grids):
    clock = Clock("2025-09-30T15:00:00+08:00")
    svc = install(fresh_app, clock)
    code = grid_of_kind(demo_grids, "urban")
    noise = file_at(svc, demo_grids, code, "dept-noise", "2025-09-30 14:00", category="noise")
    noise = step(svc, clock, noise, "2025-09-30T16:00:00+08:00", "dispatch")  # police, by the catalog
    litter = file_at(svc, demo_grids, code, "dept-rubbish", "2025-09-30 14:10", category="rubbish")
    litter = step(svc, clock, litter, "2025-09-30T16:05:00+08:00", "dispatch")  # urban management
    assert (noise.department_code, litter.department_code) == ("police", "urban_management")
    create_user(svc.store, "police-desk", "派出所值班", "police-pass-123", "department", "police")

    client = fresh_app.test_client()
    token = _login(client, "police-desk", "police-pass-123")
    headers = {"X-CSRFToken": token}
    other = client.post(
        f"{API}/complaints/{litter.id}/actions",
        headers=headers,
        json={"action": "resolve", "version": litter.row_version, "note": "not ours"},
    )
    assert other.status_code == 403
    assert error_of(other.get_json()) == {
        "error": {"code": "forbidden", "message": f"complaint {litter.id} is not with department 'police'"}
    }
    assert svc.store.complaint(litter.id).state == "dispatched"
    own = client.post(
        f"{API}/complaints/{noise.id}/actions",
        headers=headers,
        json={"action": "resolve", "version": noise.row_version, "note": "已处理"},
    )
    assert own.status_code == 200 and own.get_json()["state"] == "resolved"


def test_complaints_can_be_listed_by_deadline_status(fresh_app, demo_grids):
    clock = Clock("2025-09-30T15:00:00+08:00")
    svc = install(fresh_app, clock)
    code = grid_of_kind(demo_grids, "urban")
    ids = {}
    # 3 working days from 30 Sep 16:00 → due 11 Oct 23:59:59 (the make-up Saturday)
    for name in ("late", "soon", "fresh"):
        row = file_at(
            svc,
            demo_grids,
            code,
            f"deadline-{name}",
            "2025-09-30 14:00",
            category="noise",
            source="deadline-test",
        )
        when = {
            "late": "2025-09-30T16:00:00+08:00",
            "soon": "2025-10-09T09:00:00+08:00",
            "fresh": "2025-10-13T09:00:00+08:00",
        }[name]
        ids[name] = step(svc, clock, row, when, "dispatch").id
    clock.set("2025-10-13T10:00:00+08:00")
    client = fresh_app.test_client()

    def listed(status: str) -> set[int]:
        body = client.get(f"{API}/complaints?source=deadline-test&deadline={status}").get_json()
        assert body["total"] == len(body["complaints"])
        return {c["id"] for c in body["complaints"]}

    assert listed("overdue") == {ids["late"]}  # due 11 Oct, now 13 Oct
    assert listed("due_soon") == {ids["soon"]}  # dispatched 9 Oct 09:00, due 13 Oct: 73 of 87 h used
    assert listed("on_time") == {ids["fresh"]}
    bad = client.get(f"{API}/complaints?deadline=later")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "bad_parameter"
