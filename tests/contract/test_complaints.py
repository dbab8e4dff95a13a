"""ComplaintStore on every backend: all-or-nothing adds, idempotence by (source, external id),
optimistic locking, the filters, the frames, photos, re-aggregation and the record stamp."""

from __future__ import annotations

import datetime
import threading

import pandas as pd
import pytest
import sqlalchemy as sa

from complaints.records import Case
from complaints.records import CaseEvent
from complaints.records import Photo
from geo.gridset import community_outlines
from geo.gridset import with_areas
from store.complaints import ConcurrentUpdate
from tests.conftest import TOWN
from tests.conftest import metric_box_grid
from tests.contract.conftest import CHINA
from tests.contract.conftest import T0
from tests.contract.conftest import complaint_row as _row
from tests.contract.conftest import event as _event
from tests.contract.conftest import row_counts

META = {"filename": "x.csv", "sha256": "0" * 64, "imported_by": "t"}


def _counts(store) -> tuple[int, ...]:
    return row_counts(store, "complaints", "complaint_events", "complaint_imports")


def test_add_complaints_stores_rows_with_their_events_and_skips_known_ids(store):
    result = store.add_complaints(
        [_row("a"), _row("b"), _row("a")], [[_event()], [_event()], [_event()]], import_meta=META
    )
    assert len(result.added) == 2 and result.skipped == [("test", "a")] and result.import_id is not None
    again = store.add_complaints([_row("a"), _row("c"), _row("a", source="other")], [[_event()]] * 3)
    assert again.skipped == [("test", "a")] and len(again.added) == 2 and again.import_id is None
    assert _counts(store) == (4, 4, 1)
    a = store.complaint_by_external("test", "a")
    assert isinstance(a, Case)
    assert a.row_version == 1 and a.reported_at == T0 and a.import_id == result.import_id
    assert a.id == result.added[0] and a.state == "collected" and a.text == "噪音"
    assert a.created_at.tzinfo is not None and a.created_at == a.updated_at
    assert store.complaint(a.id) == a
    events = store.complaint_events(a.id)
    assert all(isinstance(e, CaseEvent) for e in events)
    assert [(e.action, e.to_state, e.complaint_id) for e in events] == [("collect", "collected", a.id)]
    assert store.complaint(a.id + 1000) is None and store.complaint_by_external("test", "zz") is None
    assert store.complaint_events(a.id + 1000) == []


def test_stored_values_come_back_as_stored(store):
    geocode = {"provider": "amap", "score": 0.9, "parts": ["佛山", "南海"]}
    [cid] = store.add_complaints(
        [
            _row(
                "v",
                geocode=geocode,
                input_coordsys="gcj02",
                input_lon=113.145,
                input_lat=23.097,
                reporter_name="王",
                satisfied=None,
            )
        ],
        [[_event(note="电话")]],
    ).added
    geocode["score"] = 0  # the store keeps its own copy
    case = store.complaint(cid)
    assert case.geocode == {"provider": "amap", "score": 0.9, "parts": ["佛山", "南海"]}
    assert (case.input_coordsys, case.input_lon, case.input_lat) == ("gcj02", 113.145, 23.097)
    assert (case.lon, case.lat, case.reporter_name) == (113.14, 23.10, "王")
    assert case.reported_at.utcoffset() == datetime.timedelta(0)  # kept in UTC, the same instant
    assert store.complaint_events(cid)[0].note == "电话"


def test_an_import_records_its_rows_and_additions(store):
    first = store.add_complaints([_row("a"), _row("b")], [[_event()], [_event()]], import_meta=META)
    second = store.add_complaints([_row("a"), _row("c")], [[_event()], [_event()]], import_meta=META)
    assert second.import_id != first.import_id
    assert store.complaint_by_external("test", "c").import_id == second.import_id
    assert store.complaint_by_external("test", "a").import_id == first.import_id


@pytest.mark.parametrize("where", ["row", "event"])
def test_a_failing_row_or_event_stores_nothing_of_the_call(store, where):
    rows = [_row(f"r{i}") for i in range(5)]
    events = [[_event()] for _ in rows]
    if where == "row":
        rows[4]["text"] = None  # NOT NULL
    else:
        events[4] = [_event(), _event(to_state=None)]
    with pytest.raises(sa.exc.IntegrityError):
        store.add_complaints(rows, events, import_meta=META)
    assert _counts(store) == (0, 0, 0)
    assert len(store.add_complaints(rows[:4], events[:4]).added) == 4  # the store is still usable
    assert _counts(store) == (4, 4, 0)


def test_a_fault_in_a_later_chunk_rolls_back_the_earlier_ones(store):
    good = [([_row(f"c{i}")], [[_event()]]) for i in range(3)]
    bad_rows = [_row("c9"), _row("c10", category_code=None)]
    with pytest.raises(sa.exc.IntegrityError):
        store.add_complaint_chunks([*good, (bad_rows, [[_event()], [_event()]])], import_meta=META)
    assert _counts(store) == (0, 0, 0)

    def chunks_then_a_refusal():
        yield from good
        raise ValueError("row 9: refused by the reader")

    with pytest.raises(ValueError, match="row 9"):
        store.add_complaint_chunks(chunks_then_a_refusal(), import_meta=META)
    assert _counts(store) == (0, 0, 0) and store.count_complaints() == 0
    result = store.add_complaint_chunks(good, import_meta=META)
    assert len(result.added) == 3 and _counts(store) == (3, 3, 1)


def test_the_same_key_twice_across_chunks_is_added_once(store):
    chunks = [([_row("k"), _row("l")], [[_event()], [_event()]]), ([_row("k")], [[_event()]])]
    result = store.add_complaint_chunks(chunks, import_meta=META)
    assert len(result.added) == 2 and result.skipped == [("test", "k")]
    assert _counts(store) == (2, 2, 1)


def test_update_complaint_applies_a_change_with_its_event_only_at_the_expected_version(store):
    [cid] = store.add_complaints([_row("u")], [[_event()]]).added
    before = store.complaint(cid)
    deadline = datetime.datetime(2025, 10, 11, 23, 59, 59, tzinfo=CHINA)
    values = {"state": "dispatched", "department_code": "police", "dispatched_at": T0, "deadline": deadline}
    dispatch = _event("dispatch", "dispatched", department_code="police", deadline=deadline)
    assert store.update_complaint(cid, 1, values, {**dispatch, "from_state": "collected"}) == 2
    with pytest.raises(ConcurrentUpdate) as info:
        store.update_complaint(cid, 1, {"state": "resolved"}, _event("resolve", "resolved"))
    assert str(info.value) == (
        f"complaint {cid} was changed by someone else (you had version 1, "
        "it is now 2); reload it and try again"
    )
    assert (info.value.complaint_id, info.value.expected, info.value.actual) == (cid, 1, 2)
    stored = store.complaint(cid)
    assert (stored.state, stored.row_version, stored.deadline) == ("dispatched", 2, deadline)
    assert stored.updated_at >= before.updated_at and stored.created_at == before.created_at
    events = store.complaint_events(cid)
    assert [e.action for e in events] == ["collect", "dispatch"]
    assert (events[1].from_state, events[1].department_code, events[1].deadline) == (
        "collected",
        "police",
        deadline,
    )
    with pytest.raises(KeyError):
        store.update_complaint(cid + 1000, 1, {"state": "resolved"}, _event("resolve", "resolved"))


def test_a_failing_event_leaves_the_update_undone(store):
    [cid] = store.add_complaints([_row("e")], [[_event()]]).added
    with pytest.raises(sa.exc.IntegrityError):
        store.update_complaint(cid, 1, {"state": "dispatched"}, _event("dispatch", None))
    stored = store.complaint(cid)
    assert (stored.state, stored.row_version) == ("collected", 1)
    assert len(store.complaint_events(cid)) == 1


def test_linked_events_go_to_other_complaints_in_the_same_transaction(store):
    """Closing an original tells its duplicates: their events are stored with the original's step,
    each raising that duplicate's version; a fault in one stores none of it."""
    [original] = store.add_complaints([_row("o", duplicate_of=None)], [[_event()]]).added
    dup_a, dup_b = store.add_complaints(
        [_row(f"d{i}", state="duplicate", duplicate_of=of) for i, of in enumerate((str(original), "x"))],
        [[_event()], [_event()]],
    ).added
    # a store query by duplicate_of finds an original's duplicates
    assert [c.id for c in store.list_complaints(filters={"duplicate_of": str(original)})] == [dup_a]
    told = _event("original_closed", "duplicate", from_state="duplicate", duplicate_of=str(original))
    before = store.complaint(dup_b)
    with pytest.raises(KeyError):
        store.update_complaint(
            original,
            1,
            {"state": "rejected"},
            _event("reject", "rejected"),
            linked=[(dup_b, told), (999_999, told)],
        )
    assert store.complaint(original).state == "collected" and store.complaint(dup_b) == before
    assert _counts(store)[1] == 3
    version = store.update_complaint(
        original,
        1,
        {"state": "rejected"},
        _event("reject", "rejected"),
        linked=[(dup_a, told), (dup_b, told)],
    )
    assert version == 2 and store.complaint(original).state == "rejected"
    for dup in (dup_a, dup_b):
        stored = store.complaint(dup)
        assert (stored.state, stored.row_version) == ("duplicate", 2)
        assert stored.updated_at >= before.updated_at
        last = store.complaint_events(dup)[-1]
        assert (last.action, last.to_state, last.duplicate_of) == (
            "original_closed",
            "duplicate",
            str(original),
        )


def test_two_threads_updating_the_same_version_one_wins_and_the_other_stores_nothing(store):
    ids = store.add_complaints([_row(f"race{i}") for i in range(5)], [[_event()]] * 5).added
    for cid in ids:
        barrier = threading.Barrier(2)
        outcomes: dict[str, object] = {}

        def update(
            department: str, cid: int = cid, barrier: threading.Barrier = barrier, outcomes: dict = outcomes
        ) -> None:
            barrier.wait()
            try:
                outcomes[department] = store.update_complaint(
                    cid,
                    1,
                    {"state": "dispatched", "department_code": department},
                    _event("dispatch", "dispatched", department_code=department, note=department),
                )
            except ConcurrentUpdate as exc:
                outcomes[department] = exc

        threads = [threading.Thread(target=update, args=(d,)) for d in ("police", "urban_management")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        won = [d for d, v in outcomes.items() if v == 2]
        lost = [v for v in outcomes.values() if isinstance(v, ConcurrentUpdate)]
        assert len(won) == 1 and len(lost) == 1, outcomes
        assert (lost[0].expected, lost[0].actual) == (1, 2)
        stored = store.complaint(cid)
        assert (stored.row_version, stored.department_code) == (2, won[0])
        assert [e.note for e in store.complaint_events(cid)] == [None, won[0]]


def test_follow_up_frame_has_one_row_per_call_with_its_complaint(store):
    rows = [
        _row("f1", grid_code="G1", department_code="police"),
        _row("f2", grid_code="G2", department_code="urban_management"),
        _row("f3", grid_code="G2", source="elsewhere"),
    ]
    later = T0 + datetime.timedelta(days=3)
    events = [
        [
            _event(),
            _event("follow_up", "reopened", satisfied=False, at=later),
            _event("follow_up", "closed", satisfied=True, at=later + datetime.timedelta(days=2)),
        ],
        [
            _event(),
            _event("start_follow_up", "follow_up", at=later),
            _event("follow_up", "closed", satisfied=True, at=later + datetime.timedelta(hours=1)),
        ],
        [_event(), _event("follow_up", "reopened", satisfied=False, at=later)],
    ]
    ids = store.add_complaints(rows, events).added
    frame = store.follow_up_frame({"source": "test"}).sort_values(["complaint_id", "at"])
    assert list(frame.columns) == [
        "complaint_id",
        "at",
        "satisfied",
        "grid_code",
        "community_code",
        "category_code",
        "department_code",
    ]
    assert [
        (int(c), bool(s), g, d)
        for c, s, g, d in frame[["complaint_id", "satisfied", "grid_code", "department_code"]].itertuples(
            index=False
        )
    ] == [
        (ids[0], False, "G1", "police"),
        (ids[0], True, "G1", "police"),
        (ids[1], True, "G2", "urban_management"),
    ]
    assert pd.Timestamp(frame["at"].iloc[0]) == pd.Timestamp(later)
    assert len(store.follow_up_frame()) == 4
    assert store.follow_up_frame({"source": "nobody"}).empty
    assert len(store.follow_up_frame({"department_code": "police"})) == 2  # the complaint's department


def _filter_fixture(store):
    deadline = datetime.datetime(2025, 10, 11, 23, 59, 59, tzinfo=CHINA)
    rows = [
        _row("x1", state="dispatched", deadline=deadline, department_code="police"),
        _row("x2", state="reopened", deadline=deadline, category_code="rubbish"),
        _row("x3", state="resolved", deadline=deadline),
        _row("x4", reported_at=T0 + datetime.timedelta(days=40)),
    ]
    return deadline, store.add_complaints(rows, [[_event()]] * 4).added


def test_filters(store):
    deadline, ids = _filter_fixture(store)
    just_after = deadline + datetime.timedelta(seconds=1)
    assert sorted(r.id for r in store.list_complaints(filters={"overdue_at": just_after})) == ids[:2]
    assert store.list_complaints(filters={"overdue_at": deadline}) == []
    assert store.count_complaints({"category_code": ["rubbish", "street_light"]}) == 1
    assert store.count_complaints({"category_code": ("rubbish",)}) == 1
    assert store.count_complaints({"category_code": {"rubbish", "noise"}}) == 4
    assert store.count_complaints({"category_code": []}) == 0
    assert store.count_complaints({"state": ["dispatched", "resolved"], "department_code": "police"}) == 1
    assert store.count_complaints({"department_code": "police"}) == 1  # NULLs never match
    assert store.count_complaints({"department_code": None, "state": None}) == 4  # None: no filter
    since = T0 + datetime.timedelta(days=1)
    assert [r.id for r in store.list_complaints(filters={"since": since})] == [ids[3]]
    assert store.count_complaints({"since": T0 + datetime.timedelta(days=40)}) == 1  # inclusive
    assert store.count_complaints({"until": since}) == 3
    assert store.count_complaints({"until": T0}) == 0  # exclusive
    assert store.count_complaints({"since": T0, "until": since, "state": "resolved"}) == 1
    assert store.count_complaints() == store.count_complaints({}) == 4
    with pytest.raises(KeyError):
        store.count_complaints({"no_such_column": 1})


def test_list_order_and_paging(store):
    _, ids = _filter_fixture(store)
    newest = store.list_complaints(limit=2)
    assert all(isinstance(r, Case) for r in newest)
    assert [r.id for r in newest] == [ids[3], ids[2]]  # newest report first, then the highest id
    assert [r.id for r in store.list_complaints(limit=2, offset=2)] == [ids[1], ids[0]]
    assert [r.id for r in store.list_complaints(newest_first=False)] == [ids[2], ids[1], ids[0], ids[3]]
    assert store.list_complaints(offset=4) == []


def test_complaints_frame(store):
    deadline, ids = _filter_fixture(store)
    frame = store.complaints_frame(["id", "deadline"], {"state": ["dispatched"]})
    assert list(frame.columns) == ["id", "deadline"]
    assert frame["id"].tolist() == [ids[0]] and frame["deadline"].iloc[0] == deadline
    full = store.complaints_frame(["id", "reported_at", "grid_code", "deadline"]).sort_values("id")
    assert full["id"].tolist() == ids
    for column in ("reported_at", "deadline"):
        dtype = full[column].dtype
        assert isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC", dtype
    assert full["reported_at"].iloc[3] == T0 + datetime.timedelta(days=40)
    assert full["deadline"].isna().tolist() == [False, False, False, True]
    empty = store.complaints_frame(["id", "reported_at"], {"source": "nobody"})
    assert empty.empty and list(empty.columns) == ["id", "reported_at"]


def test_complaints_stamp_changes_with_every_new_or_changed_complaint(store):
    assert store.complaints_stamp() == (0, None, None, None, None)
    ids = store.add_complaints(
        [_row("s1"), _row("s2", reported_at=T0 + datetime.timedelta(days=2))], [[_event()]] * 2
    ).added
    stamp = store.complaints_stamp()
    count, last_id, changed, first, last = stamp
    assert (count, last_id) == (2, ids[1])
    assert first == "2025-09-30T08:00:00+00:00" and last == "2025-10-02T08:00:00+00:00"
    assert datetime.datetime.fromisoformat(changed) == store.complaint(ids[1]).updated_at
    store.update_complaint(ids[0], 1, {"state": "dispatched"}, _event("dispatch", "dispatched"))
    after = store.complaints_stamp()
    assert after[:2] == stamp[:2] and after[3:] == stamp[3:]
    assert after[2] >= stamp[2]
    assert after[2] == store.complaint(ids[0]).updated_at.isoformat()


def test_photos_are_kept_with_their_complaint(store):
    [cid, other] = store.add_complaints([_row("p"), _row("q")], [[_event()]] * 2).added
    assert store.photos(cid) == []
    first = store.add_photo(
        cid, filename="a.jpg", content_type="image/jpeg", size=10, sha256="a" * 64, stored_as="aa.jpg"
    )
    second = store.add_photo(
        cid, filename="b.png", content_type="image/png", size=20, sha256="b" * 64, stored_as="bb.png"
    )
    photos = store.photos(cid)
    assert all(isinstance(p, Photo) for p in photos)
    assert [(p.id, p.filename, p.content_type, p.size, p.stored_as) for p in photos] == [
        (first, "a.jpg", "image/jpeg", 10, "aa.jpg"),
        (second, "b.png", "image/png", 20, "bb.png"),
    ]
    assert photos[0].complaint_id == cid and photos[0].sha256 == "a" * 64
    assert photos[0].created_at.tzinfo is not None
    assert store.photos(other) == []
    with pytest.raises(sa.exc.IntegrityError):  # no photo of a complaint that does not exist
        store.add_photo(
            other + 1000,
            filename="c.jpg",
            content_type="image/jpeg",
            size=1,
            sha256="c" * 64,
            stored_as="cc.jpg",
        )


def test_regrid_replaces_the_mapping_of_one_version(store):
    grids = with_areas(metric_box_grid())
    first = store.add_version(
        grids,
        community_outlines(grids),
        label="a",
        town_code=TOWN,
        created_by=None,
        source=None,
        source_crs=None,
        sha256=None,
        report=None,
        repairs=None,
    )
    second = store.add_version(
        grids,
        community_outlines(grids),
        label="b",
        town_code=TOWN,
        created_by=None,
        source=None,
        source_crs=None,
        sha256=None,
        report=None,
        repairs=None,
    )
    ids = store.add_complaints([_row("g1"), _row("g2")], [[_event()]] * 2).added
    assert store.regrid_frame(first).empty
    assert list(store.regrid_frame(first).columns) == ["complaint_id", "grid_code"]
    assert store.put_regrid(first, [(ids[0], "A"), (ids[1], None)]) == 2
    store.put_regrid(second, [(ids[0], "B")])
    assert store.put_regrid(first, [(ids[0], "C"), (ids[1], "D")]) == 2  # replaced, not added
    frame = store.regrid_frame(first).sort_values("complaint_id")
    assert [(int(c), g) for c, g in frame.itertuples(index=False)] == [(ids[0], "C"), (ids[1], "D")]
    assert store.regrid_frame(second)["grid_code"].tolist() == ["B"]
    assert store.complaint(ids[0]).grid_code == "440605125001001"  # records stay untouched
    with pytest.raises(sa.exc.IntegrityError):  # a complaint that does not exist: nothing replaced
        store.put_regrid(first, [(ids[0], "E"), (ids[1] + 1000, "F")])
    assert sorted(store.regrid_frame(first)["grid_code"]) == ["C", "D"]
