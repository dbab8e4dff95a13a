"""Leaders' views on a constructed set of complaints whose answers are worked out by hand.

Eight complaints are filed and moved through the workflow with a fixed clock (in the demo
database, under their own ``source`` so the demo's complaints stay out of the numbers).
"Now" is Monday 20 October 2025, 12:00 China time. Deadlines follow the 2025 calendar:
1-8 October is the National Day holiday, Saturday 11 October a make-up working day.

====  ====  ============  =========================================================  ==========
name  grid  category      history (China time)                                        state now
====  ====  ============  =========================================================  ==========
A     G1    noise         09-10 dispatched (due 09-15), resolved 09-12, satisfied      closed
B     G1    noise         09-22 dispatched (due 09-25), resolved 09-26 (late),         closed
                          unsatisfied, re-dispatched 09-29 (due 10-10), resolved
                          10-09, satisfied
H     G2    noise         10-09 dispatched (due 10-13), resolved 10-14 (late),         dispatched
                          unsatisfied, re-dispatched 10-17 (due 10-22)
C     G2    rubbish       10-13 dispatched (due 10-15), nothing since                  dispatched
D     G2    street_light  10-17 dispatched (due 10-22)                                 dispatched
E     G2    rubbish       10-14 dispatched (due 10-16), resolved 10-16, unsatisfied    reopened
F     G1    rubbish       10-15 resolved on site, satisfied                            closed
G     G1    noise         reported 2025-09-30 20:00 UTC = 10-01 04:00 China time       collected
====  ====  ============  =========================================================  ==========

noise goes to police (3 working days), rubbish and street_light to urban_management (2 and 3).
"""

from __future__ import annotations

import csv
import io

import pytest

from tests.test_complaints_service import Clock
from tests.test_complaints_service import file_at
from tests.test_complaints_service import install
from tests.test_complaints_service import step
from tests.test_complaints_service import t

API = "/api/v1"
SOURCE = "stats-test"
NOW = "2025-10-20T12:00:00+08:00"


def _g(day_time: str) -> str:
    return f"2025-{day_time}:00+08:00"


SCRIPT: dict[str, tuple[str, str, str, list[tuple]]] = {
    # name: (grid, category, reported_at, [(when, action, fields)])
    "A": (
        "G1",
        "noise",
        "2025-09-10 10:00",
        [
            ("09-10T11:00", "dispatch", {}),
            ("09-12T10:00", "resolve", {}),
            ("09-16T10:00", "follow_up", {"satisfied": True}),
        ],
    ),
    "B": (
        "G1",
        "noise",
        "2025-09-20 10:00",
        [
            ("09-22T09:00", "dispatch", {}),
            ("09-26T10:00", "resolve", {}),
            ("09-26T15:00", "follow_up", {"satisfied": False}),
            ("09-29T09:00", "dispatch", {}),
            ("10-09T10:00", "resolve", {}),
            ("10-10T10:00", "follow_up", {"satisfied": True}),
        ],
    ),
    "H": (
        "G2",
        "noise",
        "2025-10-09 09:00",
        [
            ("10-09T10:00", "dispatch", {}),
            ("10-14T09:00", "resolve", {}),
            ("10-15T10:00", "follow_up", {"satisfied": False}),
            ("10-17T10:00", "dispatch", {}),
        ],
    ),
    "C": ("G2", "rubbish", "2025-10-13 09:00", [("10-13T10:00", "dispatch", {})]),
    "D": ("G2", "street_light", "2025-10-17 09:00", [("10-17T10:00", "dispatch", {})]),
    "E": (
        "G2",
        "rubbish",
        "2025-10-14 09:00",
        [
            ("10-14T10:00", "dispatch", {}),
            ("10-16T10:00", "resolve", {}),
            ("10-17T10:00", "follow_up", {"satisfied": False}),
        ],
    ),
    "F": (
        "G1",
        "rubbish",
        "2025-10-15 09:00",
        [("10-15T11:00", "resolve_on_site", {}), ("10-16T10:00", "follow_up", {"satisfied": True})],
    ),
    "G": ("G1", "noise", "2025-09-30T20:00:00+00:00", []),
}
DEADLINES = {"A": "09-15", "B": "10-10", "H": "10-22", "C": "10-15", "D": "10-22", "E": "10-16"}


@pytest.fixture
def built(fresh_app, demo_grids):
    """The set above, stored; returns (client, {name: id}, {"G1": code, "G2": code})."""
    g1, g2 = sorted(demo_grids["code"])[10], sorted(demo_grids["code"])[200]
    grids = {"G1": g1, "G2": g2}
    clock = Clock("2025-09-01T00:00:00+08:00")
    svc = install(fresh_app, clock)
    ids = {}
    for name, (grid, category, reported, moves) in SCRIPT.items():
        clock.set(reported.replace(" ", "T"))  # filed when reported
        row = file_at(
            svc, demo_grids, grids[grid], f"stats-{name}", reported, category=category, source=SOURCE
        )
        for when, action, fields in moves:
            row = step(svc, clock, row, _g(when), action, **fields)
        ids[name] = row.id
        if name in DEADLINES:
            assert row.deadline == t(f"2025-{DEADLINES[name]}T23:59:59+08:00"), name
    clock.set(NOW)
    return fresh_app.test_client(), ids, grids, svc


def _rows(client, path: str) -> list[dict]:
    response = client.get(f"{API}{path}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["rows"]


def _csv(client, path: str) -> list[dict]:
    response = client.get(f"{API}{path}&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # so Excel opens the Chinese text as UTF-8
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_states_and_deadline_status_of_the_set(built):
    client, ids, _, svc = built
    states = {name: svc.store.complaint(i).state for name, i in ids.items()}
    assert states == {
        "A": "closed",
        "B": "closed",
        "H": "dispatched",
        "C": "dispatched",
        "D": "dispatched",
        "E": "reopened",
        "F": "closed",
        "G": "collected",
    }
    status = {
        name: client.get(f"{API}/complaints/{i}").get_json()["deadline_status"] for name, i in ids.items()
    }
    assert status == {
        "A": "none",
        "B": "none",
        "H": "on_time",
        "C": "overdue",
        "D": "on_time",
        "E": "overdue",
        "F": "none",
        "G": "none",
    }


def test_counts_by_grid_category_state_and_china_month(built):
    client, _, grids, _ = built
    g1, g2 = grids["G1"], grids["G2"]
    expected = [
        {"grid_code": g1, "category_code": "noise", "state": "closed", "month": "2025-09", "count": 2},
        {"grid_code": g1, "category_code": "noise", "state": "collected", "month": "2025-10", "count": 1},
        {"grid_code": g1, "category_code": "rubbish", "state": "closed", "month": "2025-10", "count": 1},
        {"grid_code": g2, "category_code": "noise", "state": "dispatched", "month": "2025-10", "count": 1},
        {"grid_code": g2, "category_code": "rubbish", "state": "dispatched", "month": "2025-10", "count": 1},
        {"grid_code": g2, "category_code": "rubbish", "state": "reopened", "month": "2025-10", "count": 1},
        {
            "grid_code": g2,
            "category_code": "street_light",
            "state": "dispatched",
            "month": "2025-10",
            "count": 1,
        },
    ]
    assert _rows(client, f"/stats/counts?source={SOURCE}") == expected
    as_text = [{k: str(v) for k, v in r.items()} for r in expected]
    assert _csv(client, f"/stats/counts?source={SOURCE}") == as_text
    assert _rows(client, f"/stats/counts?source={SOURCE}&by=month") == [
        {"month": "2025-09", "count": 2},
        {"month": "2025-10", "count": 6},
    ]
    # G, reported 20:00 UTC on 30 September, is an October complaint in China time
    october = _rows(client, f"/stats/counts?source={SOURCE}&since=2025-10-01&by=state")
    assert sum(r["count"] for r in october) == 6
    assert _rows(client, f"/stats/counts?source={SOURCE}&by=department_code,state") == [
        {"department_code": "police", "state": "closed", "count": 2},
        {"department_code": "police", "state": "dispatched", "count": 1},
        {"department_code": "urban_management", "state": "dispatched", "count": 2},
        {"department_code": "urban_management", "state": "reopened", "count": 1},
        {"department_code": None, "state": "closed", "count": 1},
        {"department_code": None, "state": "collected", "count": 1},
    ]
    response = client.get(f"{API}/stats/counts?by=reporter_phone")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_parameter"


def test_on_time_rate_per_department_over_known_outcomes(built):
    client, _, _, _ = built
    # police: A and B resolved by their (last) deadlines; H is back with the department and
    # not yet due, so its outcome is unknown. urban_management: C unresolved past its deadline,
    # E reopened past its deadline (the resident says it is not solved), D not yet due.
    expected = [
        {
            "department_code": "police",
            "dispatched": 3,
            "resolved": 2,
            "resolved_on_time": 2,
            "overdue_open": 0,
            "on_time_rate": 1.0,
        },
        {
            "department_code": "urban_management",
            "dispatched": 3,
            "resolved": 0,
            "resolved_on_time": 0,
            "overdue_open": 2,
            "on_time_rate": 0.0,
        },
    ]
    assert _rows(client, f"/stats/departments?source={SOURCE}") == expected
    parsed = _csv(client, f"/stats/departments?source={SOURCE}")
    assert [{k: (r[k] if k == "department_code" else float(r[k])) for k in r} for r in parsed] == expected
    # the same complaints the overdue list names
    overdue = _rows(client, f"/stats/overdue?source={SOURCE}")
    assert sum(r["overdue_open"] for r in expected) == len(overdue)


def test_satisfaction_counts_every_follow_up_call(built):
    client, _, grids, _ = built
    # calls: A yes; B no, yes; H no; E no; F yes -> 3 of 6
    assert _rows(client, f"/stats/satisfaction?source={SOURCE}") == [
        {"followed_up": 6, "satisfied": 3, "rate": 0.5}
    ]
    assert _rows(client, f"/stats/satisfaction?source={SOURCE}&by=department_code") == [
        {"department_code": "police", "followed_up": 4, "satisfied": 2, "rate": 0.5},
        {"department_code": "urban_management", "followed_up": 1, "satisfied": 0, "rate": 0.0},
    ]
    by_grid = [
        {"grid_code": grids["G1"], "followed_up": 4, "satisfied": 3, "rate": 0.75},
        {"grid_code": grids["G2"], "followed_up": 2, "satisfied": 0, "rate": 0.0},
    ]
    assert _rows(client, f"/stats/satisfaction?source={SOURCE}&by=grid_code") == by_grid
    assert _csv(client, f"/stats/satisfaction?source={SOURCE}&by=grid_code") == [
        {k: str(v) for k, v in r.items()} for r in by_grid
    ]
    assert client.get(f"{API}/stats/satisfaction?by=reporter_name").status_code == 400


def test_the_overdue_list_most_overdue_first(built):
    client, ids, grids, _ = built
    rows = _rows(client, f"/stats/overdue?source={SOURCE}")
    assert [
        (r["id"], r["grid_code"], r["category_code"], r["department_code"], r["state"], r["overdue_days"])
        for r in rows
    ] == [
        (ids["C"], grids["G2"], "rubbish", "urban_management", "dispatched", 4.5),  # due 10-15 23:59:59
        (ids["E"], grids["G2"], "rubbish", "urban_management", "reopened", 3.5),  # due 10-16 23:59:59
    ]
    assert [t(r["deadline"]) for r in rows] == [
        t("2025-10-15T23:59:59+08:00"),
        t("2025-10-16T23:59:59+08:00"),
    ]
    parsed = _csv(client, f"/stats/overdue?source={SOURCE}")
    assert [(int(r["id"]), float(r["overdue_days"])) for r in parsed] == [(ids["C"], 4.5), (ids["E"], 3.5)]
    listed = client.get(f"{API}/complaints?source={SOURCE}&overdue=1").get_json()
    assert sorted(c["id"] for c in listed["complaints"]) == sorted([ids["C"], ids["E"]])
