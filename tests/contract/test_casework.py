"""Whistles and deliberations on every backend: written with the case's step or not at all."""

from __future__ import annotations

import datetime

import pytest

from store.casework import CaseStep
from store.casework import Participant
from store.complaints import ConcurrentUpdate
from tests.contract.conftest import T0
from tests.contract.conftest import complaint_row
from tests.contract.conftest import event
from tests.contract.conftest import row_counts

HOUR = datetime.timedelta(hours=1)


def _case(store, external_id: str = "c1") -> int:
    (cid,) = store.add_complaints([complaint_row(external_id)], [[event()]]).added
    return cid


def _whistle_step(cid: int, version: int, at: datetime.datetime = T0 + HOUR) -> CaseStep:
    return CaseStep(
        cid,
        version,
        {"state": "collected"},
        event("whistle", "collected", at=at, from_state="collected", note="吹哨"),
    )


def _blow(store, cid: int, departments=("police", "water_affairs"), at=T0 + HOUR) -> int:
    version = store.complaint(cid).row_version
    return store.add_whistle(
        _whistle_step(cid, version, at),
        {"group_code": "whistle_urban", "blown_at": at, "blown_by": "user:wang", "note": "吹哨"},
        list(departments),
    )


def test_a_whistle_is_stored_with_its_summons_and_the_case_step(store):
    cid = _case(store)
    whistle_id = _blow(store, cid)
    (whistle,) = store.whistles(cid)
    assert whistle.id == whistle_id and whistle.group_code == "whistle_urban"
    assert whistle.blown_at == T0 + HOUR and whistle.blown_by == "user:wang"
    assert [s.department_code for s in whistle.summons] == ["police", "water_affairs"]
    assert all(s.reported_at is None and s.response is None for s in whistle.summons)
    assert [e.action for e in store.complaint_events(cid)] == ["collect", "whistle"]
    assert store.complaint(cid).row_version == 2
    assert store.whistle_of(whistle_id) == whistle
    assert store.whistle_of(whistle_id + 100) is None


def test_a_stale_version_writes_nothing(store):
    cid = _case(store)
    before = row_counts(store, "whistles", "whistle_summons", "complaint_events")
    with pytest.raises(ConcurrentUpdate):
        store.add_whistle(
            _whistle_step(cid, 7),
            {"group_code": "whistle_urban", "blown_at": T0 + HOUR, "blown_by": "x", "note": None},
            ["police"],
        )
    assert row_counts(store, "whistles", "whistle_summons", "complaint_events") == before


def test_report_in_and_respond_once_each(store):
    cid = _case(store)
    whistle_id = _blow(store, cid)
    police, water = store.whistle_of(whistle_id).summons
    assert store.report_in(police.id, at=T0 + 2 * HOUR, by="user:li")
    assert not store.report_in(police.id, at=T0 + 3 * HOUR, by="user:li")  # the first time counts
    assert store.respond(water.id, at=T0 + 4 * HOUR, by="user:zhao", response="已派人清淤")
    assert not store.respond(water.id, at=T0 + 5 * HOUR, by="user:zhao", response="again")
    police, water = store.whistle_of(whistle_id).summons
    assert police.reported_at == T0 + 2 * HOUR and police.reported_by == "user:li"
    assert police.responded_at is None
    # responding without reporting in first reports in at the same time
    assert water.reported_at == water.responded_at == T0 + 4 * HOUR
    assert water.response == "已派人清淤" and store.summons(water.id) == water
    assert store.summons(water.id + 100) is None


def test_the_whistle_frame_is_one_row_per_summons_in_the_period(store):
    cid = _case(store)
    first = _blow(store, cid, at=T0 + HOUR)
    _blow(store, cid, departments=("police",), at=T0 + 30 * HOUR)
    police = store.whistle_of(first).summons[0]
    store.report_in(police.id, at=T0 + 2 * HOUR, by="u")
    frame = store.whistle_frame(T0, T0 + 24 * HOUR)
    assert list(frame["department_code"]) == ["police", "water_affairs"]
    assert (frame["reported_at"].iloc[0] - frame["blown_at"].iloc[0]) == HOUR
    assert frame["reported_at"].isna().tolist() == [False, True]
    assert len(store.whistle_frame()) == 3


def _deliberation(cid: int | None, *, grid="440605125001001", community="440605125001", at=T0) -> dict:
    return {
        "held_at": at,
        "place": "社区党群服务中心",
        "grid_code": grid,
        "community_code": community,
        "matter": "小区噪音",
        "outcome": "商户晚十点后停业",
        "minutes": "记录",
        "complaint_id": cid,
        "settled": cid is not None,
        "recorded_by": "user:wang",
        "recorded_at": at + HOUR,
    }


PEOPLE = [
    Participant("resident", "张三"),
    Participant("deputy", "李四", "镇人大代表"),
    Participant("department", "王五", "城管"),
]


def test_a_deliberation_settles_its_case_in_one_write(store):
    cid = _case(store)
    settle = CaseStep(
        cid,
        1,
        {"state": "resolved_on_site"},
        event("resolve_on_site", "resolved_on_site", at=T0 + HOUR, from_state="collected"),
    )
    did = store.add_deliberation(_deliberation(cid), PEOPLE, settle)
    found = store.deliberation(did)
    assert found.participants == tuple(PEOPLE)
    assert found.complaint_id == cid and found.settled and found.held_at == T0
    assert store.complaint(cid).state == "resolved_on_site"
    assert store.deliberations(complaint_id=cid) == [found]
    assert store.deliberation(did + 100) is None


def test_a_refused_settlement_stores_no_deliberation(store):
    cid = _case(store)
    stale = CaseStep(cid, 9, {"state": "resolved_on_site"}, event("resolve_on_site", "resolved_on_site"))
    with pytest.raises(ConcurrentUpdate):
        store.add_deliberation(_deliberation(cid), PEOPLE, stale)
    assert row_counts(store, "deliberations", "deliberation_participants") == (0, 0)
    assert store.complaint(cid).state == "collected"


def test_deliberations_are_listed_and_counted_by_grid_and_community(store):
    store.add_deliberation(_deliberation(None, at=T0), PEOPLE)
    store.add_deliberation(_deliberation(None, at=T0 + HOUR), [])
    store.add_deliberation(_deliberation(None, grid="440605125002001", community="440605125002", at=T0), [])
    listed = store.deliberations(community_code="440605125001")
    assert [d.held_at for d in listed] == [T0 + HOUR, T0]
    assert len(store.deliberations(grid_code="440605125002001")) == 1
    by_grid = store.deliberation_counts("grid_code")
    assert by_grid.to_dict("records") == [
        {"grid_code": "440605125001001", "count": 2},
        {"grid_code": "440605125002001", "count": 1},
    ]
    by_community = store.deliberation_counts("community_code", since=T0 + HOUR)
    assert by_community.to_dict("records") == [{"community_code": "440605125001", "count": 1}]
    assert store.deliberation_counts("grid_code", until=T0).empty


def test_deliberation_photos(store):
    did = store.add_deliberation(_deliberation(None), [])
    pid = store.add_deliberation_photo(
        did, filename="会场.jpg", content_type="image/jpeg", size=10, sha256="0" * 64, stored_as="x.jpg"
    )
    (photo,) = store.deliberation(did).photos
    assert photo.id == pid and photo.filename == "会场.jpg" and photo.stored_as == "x.jpg"
