"""多元议事 records through the service: recording, settling a case, who sees residents' names,
and the counts by grid and community."""

from __future__ import annotations

import pytest

from services.audit import AuditService
from services.callers import ANONYMOUS
from services.callers import user_caller
from services.deliberations import DeliberationService
from services.errors import Forbidden
from services.errors import Invalid
from services.errors import Refused
from services.errors import Unauthenticated
from services.errors import UnsupportedType
from tests.test_complaints_api import _png
from tests.test_complaints_service import Clock
from tests.test_complaints_service import file_at
from tests.test_complaints_service import grid_of_kind
from tests.test_complaints_service import install
from tests.test_complaints_service import t

CENTRE = user_caller("wang", "dispatcher")
PLANNER = user_caller("zhou", "planner")
CLERK = user_caller("cg", "department", department_code="urban_management")

PEOPLE = [
    {"kind": "resident", "name": "陈大妈", "affiliation": "3栋"},
    {"kind": "party_member", "name": "李党员", "affiliation": ""},
    {"kind": "deputy", "name": "黄代表", "affiliation": "镇人大代表"},
    {"kind": "department", "name": "刘科长", "affiliation": "城管"},
    {"kind": "grid_team", "name": "周网格员", "affiliation": ""},
    {"kind": "resident", "name": "", "affiliation": ""},  # a blank row is skipped
]


@pytest.fixture
def world(fresh_app, demo_grids):
    clock = Clock("2026-06-15T09:00:00+08:00")
    svc = install(fresh_app, clock)
    audit = AuditService(svc.store, clock=clock)
    return svc, clock, DeliberationService(svc.store, svc, svc.grids, audit), demo_grids


def form(**values):
    return {
        "held_at": "2026-06-15T08:00",
        "place": "嘉怡社区百脑汇议事厅",
        "matter": "夜间大排档噪音",
        "outcome": "商户晚上十点后收摊，网格员每晚巡查",
        "minutes": "居民代表发言……",
        **values,
    }


def test_a_deliberation_is_recorded_with_its_participants_and_counted(world):
    _, _, deliberations, grids = world
    grid = grid_of_kind(grids, "urban")
    made = deliberations.record(CENTRE, form(grid_code=grid), PEOPLE)
    assert [p.kind for p in made.participants] == [
        "resident",
        "party_member",
        "deputy",
        "department",
        "grid_team",
    ]
    assert made.community_code == grid[:12] and made.grid_code == grid and not made.settled
    assert made.held_at == t("2026-06-15T08:00:00+08:00")
    other = grid_of_kind(grids, "rural")
    deliberations.record(CENTRE, form(community_code=other[:12]), PEOPLE[:1])
    deliberations.record(CENTRE, form(grid_code=grid, held_at="2026-06-14T19:00"), PEOPLE[1:2])
    by_community = deliberations.counts("community_code").to_dict("records")
    assert by_community == [
        {"community_code": grid[:12], "count": 2},
        {"community_code": other[:12], "count": 1},
    ]
    assert deliberations.counts("grid_code").to_dict("records") == [{"grid_code": grid, "count": 2}]
    listed = deliberations.listing(PLANNER, community_code=grid[:12])
    assert [v.deliberation.held_at.day for v in listed] == [15, 14]


def test_only_the_dispatch_centre_records_and_faults_name_the_field(world):
    _, _, deliberations, grids = world
    grid = grid_of_kind(grids, "urban")
    for who in (PLANNER, CLERK):
        with pytest.raises(Forbidden):
            deliberations.record(who, form(grid_code=grid), PEOPLE)
    cases = [
        (form(grid_code=grid, outcome=" "), PEOPLE, "outcome"),
        (form(grid_code=grid, held_at="2026-06-16T08:00"), PEOPLE, "held_at"),  # not yet held
        (form(grid_code=grid, held_at="昨天"), PEOPLE, "held_at"),
        (form(grid_code="440605999999999"), PEOPLE, "grid_code"),
        (form(), PEOPLE, "community_code"),
        (form(grid_code=grid), [{"kind": "mayor", "name": "某"}], "participants[1]"),
        (form(grid_code=grid), [{"kind": "resident", "name": "", "affiliation": "3栋"}], "participants[1]"),
        (form(grid_code=grid), [{"kind": "resident", "name": ""}], "participants"),
    ]
    for values, people, field in cases:
        with pytest.raises(Invalid) as refused:
            deliberations.record(CENTRE, values, people)
        assert refused.value.field == field, values
    assert deliberations.counts("grid_code").empty


def test_a_deliberation_settles_its_case_in_the_same_write(world):
    svc, _, deliberations, grids = world
    row = file_at(svc, grids, grid_of_kind(grids, "urban"), "d-1", "2026-06-15 07:30")
    with pytest.raises(Invalid):  # settling needs the version of the case that was seen
        deliberations.record(CENTRE, form(complaint_id=str(row.id)), PEOPLE, settle=True)
    made = deliberations.record(
        CENTRE, form(complaint_id=str(row.id)), PEOPLE, settle=True, expected_version=row.row_version
    )
    assert made.complaint_id == row.id and made.settled and made.grid_code == row.grid_code
    case = svc.store.complaint(row.id)
    assert case.state == "resolved_on_site"
    last = svc.store.complaint_events(row.id)[-1]
    assert (
        last.action == "resolve_on_site" and "嘉怡社区百脑汇议事厅" in last.note and made.outcome in last.note
    )
    # a settled case is not settled again, and the refused record is not kept
    with pytest.raises(Refused):
        deliberations.record(
            CENTRE, form(complaint_id=str(row.id)), PEOPLE, settle=True, expected_version=case.row_version
        )
    assert len(deliberations.listing(CENTRE, complaint_id=row.id)) == 1


def test_residents_names_only_for_those_who_see_contacts_and_each_view_audited(world):
    svc, _, deliberations, grids = world
    made = deliberations.record(CENTRE, form(grid_code=grid_of_kind(grids, "urban")), PEOPLE)
    seen = deliberations.get(PLANNER, made.id)
    assert not seen.named
    names = {p.kind: p.name for p in seen.deliberation.participants}
    assert names["resident"] == "" and names["deputy"] == "黄代表"
    assert svc.store.audit_entries(action="deliberation.view") == []
    full = deliberations.get(CENTRE, made.id)
    assert full.named and full.deliberation.participants[0].name == "陈大妈"
    (entry,) = svc.store.audit_entries(action="deliberation.view")
    assert entry.who == "user:wang" and entry.target == f"deliberation:{made.id}"
    # lists name nobody, for anyone
    (listed,) = deliberations.listing(CENTRE)
    assert listed.deliberation.participants[0].name == "" and listed.count("resident") == 1
    with pytest.raises(Unauthenticated):
        deliberations.get(ANONYMOUS, made.id)


def test_meeting_photos_are_kept_and_shown_only_to_those_who_see_contacts(world, tmp_path):
    svc, clock, _, grids = world
    deliberations = DeliberationService(
        svc.store, svc, svc.grids, AuditService(svc.store, clock=clock), photo_dir=tmp_path
    )
    made = deliberations.record(CENTRE, form(grid_code=grid_of_kind(grids, "urban")), PEOPLE)
    with pytest.raises(UnsupportedType):
        deliberations.add_photo(CENTRE, made.id, "纪要.txt", b"not a picture")
    with pytest.raises(Forbidden):
        deliberations.add_photo(PLANNER, made.id, "会场.png", _png())
    photo_id = deliberations.add_photo(CENTRE, made.id, "会场.png", _png())
    assert [p.id for p in deliberations.get(CENTRE, made.id).deliberation.photos] == [photo_id]
    assert deliberations.get(PLANNER, made.id).deliberation.photos == ()
    path, content_type = deliberations.photo_file(CENTRE, made.id, photo_id)
    assert content_type == "image/png" and path.read_bytes() == _png()
    with pytest.raises(Forbidden):
        deliberations.photo_file(PLANNER, made.id, photo_id)
