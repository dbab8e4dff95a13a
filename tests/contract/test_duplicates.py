"""Duplicates at intake (issue 9, item 6) on every store: which open cases a complaint being filed
may repeat, and how closing an original tells its duplicates.

The places are laid out with pyproj's geodesic on the WGS84 ellipsoid (not the service's own
haversine), so 49 m and 51 m are measured independently of the code under test.
"""

from __future__ import annotations

import datetime

import pytest
from pyproj import Geod

from complaints.catalog import Catalog
from complaints.workdays import WorkCalendar
from services.callers import ANONYMOUS
from services.callers import system
from services.callers import user_caller
from services.cases import ComplaintService
from services.errors import Invalid
from services.errors import Refused
from services.errors import Unauthenticated
from services.grids import GridService
from tests.contract.conftest import CHINA
from tests.contract.conftest import complaint_row
from tests.contract.conftest import event

NOW = datetime.datetime(2026, 6, 15, 10, 0, tzinfo=CHINA)
HERE = (113.1400, 23.1000)
GEOD = Geod(ellps="WGS84")
CENTRE = user_caller("wang", "dispatcher")


def away(metres: float, azimuth: float = 90.0) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(HERE[0], HERE[1], azimuth, metres)
    return float(lon), float(lat)


def add(store, name: str, *, metres: float = 0.0, azimuth: float = 90.0, days: float = 1.0, **values) -> int:
    lon, lat = away(metres, azimuth)
    row = complaint_row(
        name,
        category_code=values.pop("category_code", "noise"),
        state=values.pop("state", "collected"),
        lon=lon,
        lat=lat,
        address=values.pop("address", None),
        geocode=values.pop("geocode", None),
        duplicate_of=values.pop("duplicate_of", None),
        reported_at=NOW - datetime.timedelta(days=days),
        text=values.pop("text", f"噪音 {name}"),
    )
    [cid] = store.add_complaints([row], [[event(at=row["reported_at"])]]).added
    return cid


@pytest.fixture
def svc(store):
    return ComplaintService(store, GridService(store), Catalog.load(), WorkCalendar(), clock=lambda: NOW)


def found(svc, **query) -> dict[int, tuple[float | None, bool]]:
    query.setdefault("category", "noise")
    return {
        c.view.case.id: (None if c.distance_m is None else round(c.distance_m, 1), c.same_address)
        for c in svc.duplicate_candidates(CENTRE, **query)
    }


def test_within_50_m_of_the_same_category_open_and_in_the_last_30_days(store, svc):
    near = add(store, "near49", metres=49)
    far = add(store, "far51", metres=51, azimuth=0)
    recent = add(store, "recent29", metres=10, days=29)
    old = add(store, "old31", metres=10, days=31)
    other = add(store, "other", metres=5, category_code="road_damage")
    dispatched = add(store, "dispatched", metres=20, azimuth=200, state="dispatched")
    finished = [add(store, s, metres=5, state=s) for s in ("closed", "rejected", "duplicate")]
    got = found(svc, lon=HERE[0], lat=HERE[1])
    assert set(got) == {near, recent, dispatched}
    assert far not in got and old not in got and other not in got and not set(finished) & set(got)
    assert got[near][0] == pytest.approx(49, abs=0.2) and got[near][1] is False
    # nearest first
    assert list(got) == [recent, dispatched, near]
    # the same place asked in GCJ-02 (as Amap gives it) finds the same cases
    from geo.datums import wgs84_to_gcj02

    glon, glat = wgs84_to_gcj02(HERE[0], HERE[1])
    assert set(found(svc, lon=str(glon), lat=str(glat), coordsys="gcj02")) == {near, recent, dispatched}


def test_exactly_30_days_and_exactly_50_m_are_in(store, svc):
    edge_day = add(store, "day30", metres=10, days=30)
    edge_metre = add(store, "m50", metres=49.9)
    assert {edge_day, edge_metre} <= set(found(svc, lon=HERE[0], lat=HERE[1]))


def test_the_same_standard_address_however_far_and_however_written(store, svc):
    typed = add(store, "typed", metres=2000, address="佛山市南海区大沥镇建设路73号附近")
    matched = add(store, "matched", metres=3000, geocode={"status": "matched", "matched": "建设路７３號"})
    elsewhere = add(store, "elsewhere", metres=2500, address="建设路75号")
    closed = add(store, "closed-there", metres=2000, address="建设路73号", state="closed")
    got = found(svc, address="大沥建设路73号")
    assert set(got) == {typed, matched}
    assert got[typed] == (None, True) and elsewhere not in got and closed not in got
    # a point and an address: either rule
    near = add(store, "near", metres=30)
    both = found(svc, lon=HERE[0], lat=HERE[1], address="建设路73号")
    assert set(both) == {typed, matched, near} and both[near][1] is False and both[typed][0] > 1900


def test_what_is_asked_is_checked(svc):
    with pytest.raises(Invalid) as no_place:
        svc.duplicate_candidates(CENTRE, category="noise")
    assert no_place.value.field == "lon"
    with pytest.raises(Invalid) as bad_category:
        svc.duplicate_candidates(CENTRE, category="moon", lon=HERE[0], lat=HERE[1])
    assert bad_category.value.field == "category"
    with pytest.raises(Invalid) as bad_lon:
        svc.duplicate_candidates(CENTRE, category="noise", lon="east", lat=HERE[1])
    assert bad_lon.value.field == "lon"
    with pytest.raises(Unauthenticated):
        svc.duplicate_candidates(ANONYMOUS, category="noise", lon=HERE[0], lat=HERE[1])


def test_a_planner_sees_the_text_masked_and_no_reporter(store, svc):
    cid = add(store, "phone", metres=10, text="楼上噪音，联系13800138000")
    [candidate] = svc.duplicate_candidates(
        user_caller("li", "planner"), category="noise", lon=HERE[0], lat=HERE[1]
    )
    assert candidate.view.case.id == cid and "13800138000" not in candidate.short_text
    assert candidate.view.case.reporter_name is None and candidate.distance_m is not None


def test_closing_or_rejecting_an_original_tells_its_duplicates_in_the_same_step(store, svc):
    original = add(store, "original", days=2)
    other = add(store, "other-original", days=2, metres=10)
    filed = [svc.store.complaint(add(store, f"dup{i}", metres=10 + i)) for i in range(2)]
    dups = [
        svc.transition(
            c.id,
            "mark_duplicate",
            expected_version=c.row_version,
            actor="user:wang",
            duplicate_of=str(original),
        )
        for c in filed
    ]
    assert [d.duplicate_of for d in dups] == [str(original)] * 2
    # the original lists them (the case view with its history)
    view = svc.get(CENTRE, original)
    assert sorted(d.id for d in view.duplicates) == sorted(d.id for d in dups)
    # a person never records original_closed
    with pytest.raises(Refused):
        svc.transition(dups[0].id, "original_closed", expected_version=dups[0].row_version, actor="user:wang")
    # a duplicate of a duplicate is refused, naming the original
    with pytest.raises(Invalid) as chained:
        svc.transition(
            other, "mark_duplicate", expected_version=1, actor="user:wang", duplicate_of=str(dups[0].id)
        )
    assert str(original) in chained.value.message
    with pytest.raises(Invalid):
        svc.transition(other, "mark_duplicate", expected_version=1, actor="user:wang", duplicate_of="999999")
    rejected = svc.transition(original, "reject", expected_version=1, actor="user:wang", note="非本镇事项")
    assert rejected.state == "rejected"
    for d in dups:
        after = svc.store.complaint(d.id)
        assert (after.state, after.row_version) == ("duplicate", d.row_version + 1)
        last = svc.store.complaint_events(d.id)[-1]
        assert (last.action, last.actor, last.duplicate_of) == ("original_closed", "system", str(original))
        assert last.note == f"原诉求 #{original} 不予受理" and last.at == NOW
    # the other original, never a duplicate's, told nobody
    assert [e.action for e in svc.store.complaint_events(other)] == ["collect"]


def test_a_complaint_is_filed_as_a_duplicate_in_one_write(store, svc, monkeypatch):
    original = add(store, "orig", metres=0)
    values = {
        "category": "noise",
        "text": "又吵了",
        "lon": away(30)[0],
        "lat": away(30)[1],
        "external_id": "x1",
    }
    from services.cases import Placement

    monkeypatch.setattr(
        svc, "place", lambda item: Placement(None, "440605125001001", "440605125001", "g", *away(30), None)
    )
    view, created = svc.file_as(system("test"), {**values, "duplicate_of": str(original)}, source="test")
    assert created and view.case.state == "duplicate" and view.case.duplicate_of == str(original)
    assert [e.action for e in store.complaint_events(view.case.id)] == ["collect", "mark_duplicate"]
    with pytest.raises(Invalid):
        svc.file_as(system("test"), {**values, "external_id": "x2", "duplicate_of": "abc"}, source="test")
