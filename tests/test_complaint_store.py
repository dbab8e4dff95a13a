"""The complaint store on both backends (SQLite and a real PostGIS): all-or-nothing batches,
optimistic concurrency under real threads, the follow-up frame and the filters."""

from __future__ import annotations

import datetime
import threading

import pytest
import sqlalchemy as sa

from store import open_store
from store.complaints_sql import ConcurrentUpdate

CHINA = datetime.timezone(datetime.timedelta(hours=8))
T0 = datetime.datetime(2025, 9, 30, 16, 0, tzinfo=CHINA)


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    yield s
    s.dispose()


def _row(external_id: str, *, source: str = "test", **values) -> dict:
    # every row names the same columns, as the service's rows do (one executemany per batch)
    return {"source": source, "external_id": external_id, "channel": "hotline", "category_code": "noise",
            "text": "噪音", "reported_at": T0, "state": "collected", "grid_code": "440605125001001",
            "community_code": "440605125001", "lon": 113.14, "lat": 23.10, "department_code": None,
            "deadline": None, **values}


def _event(action: str = "collect", to_state: str | None = "collected", at: datetime.datetime = T0,
           **values) -> dict:
    return {"at": at, "actor": "test", "action": action, "from_state": None, "to_state": to_state,
            "note": None, "department_code": None, "deadline": None, "satisfied": None, "duplicate_of": None,
            **values}


def _counts(store) -> tuple[int, int, int]:
    with store.engine.connect() as conn:
        return tuple(conn.execute(sa.select(sa.func.count()).select_from(store.t[name])).scalar_one()
                     for name in ("complaints", "complaint_events", "complaint_imports"))


def test_add_complaints_stores_rows_with_their_events_and_skips_known_ids(store):
    result = store.add_complaints([_row("a"), _row("b"), _row("a")], [[_event()], [_event()], [_event()]],
                                  import_meta={"filename": "x.csv", "sha256": "0" * 64, "imported_by": "t"})
    assert len(result.added) == 2 and result.skipped == [("test", "a")] and result.import_id is not None
    again = store.add_complaints([_row("a"), _row("c"), _row("a", source="other")], [[_event()]] * 3)
    assert again.skipped == [("test", "a")] and len(again.added) == 2
    assert _counts(store) == (4, 4, 1)
    a = store.complaint_by_external("test", "a")
    assert a["row_version"] == 1 and a["reported_at"] == T0 and a["import_id"] == result.import_id
    assert store.complaint(a["id"]) == a
    assert [e["action"] for e in store.complaint_events(a["id"])] == ["collect"]


@pytest.mark.parametrize("where", ["row", "event"])
def test_a_failing_row_or_event_stores_nothing_of_the_call(store, where):
    rows = [_row(f"r{i}") for i in range(5)]
    events = [[_event()] for _ in rows]
    if where == "row":
        rows[4]["text"] = None  # NOT NULL
    else:
        events[4] = [_event(), _event(to_state=None)]
    with pytest.raises(sa.exc.IntegrityError):
        store.add_complaints(rows, events,
                             import_meta={"filename": "x.csv", "sha256": "0" * 64, "imported_by": "t"})
    assert _counts(store) == (0, 0, 0)
    assert len(store.add_complaints(rows[:4], events[:4]).added) == 4  # the store is still usable
    assert _counts(store) == (4, 4, 0)


def test_a_fault_in_a_later_chunk_or_batch_rolls_back_the_earlier_ones(store):
    meta = {"filename": "x.csv", "sha256": "0" * 64, "imported_by": "t"}
    good = [([_row(f"c{i}")], [[_event()]]) for i in range(3)]
    bad_rows = [_row("c9"), _row("c10", category_code=None)]
    with pytest.raises(sa.exc.IntegrityError):
        store.add_complaint_chunks([*good, (bad_rows, [[_event()], [_event()]])], import_meta=meta, batch=1)
    assert _counts(store) == (0, 0, 0)

    def chunks_then_a_refusal():
        yield from good
        raise ValueError("row 9: refused by the reader")

    with pytest.raises(ValueError, match="row 9"):
        store.add_complaint_chunks(chunks_then_a_refusal(), import_meta=meta)
    assert _counts(store) == (0, 0, 0)
    result = store.add_complaint_chunks(good, import_meta=meta, batch=2)
    assert len(result.added) == 3 and _counts(store) == (3, 3, 1)


def test_update_complaint_applies_a_change_with_its_event_only_at_the_expected_version(store):
    [cid] = store.add_complaints([_row("u")], [[_event()]]).added
    deadline = datetime.datetime(2025, 10, 11, 23, 59, 59, tzinfo=CHINA)
    values = {"state": "dispatched", "department_code": "police", "dispatched_at": T0, "deadline": deadline}
    dispatch = _event("dispatch", "dispatched", department_code="police", deadline=deadline)
    assert store.update_complaint(cid, 1, values, {**dispatch, "from_state": "collected"}) == 2
    with pytest.raises(ConcurrentUpdate) as info:
        store.update_complaint(cid, 1, {"state": "resolved"}, _event("resolve", "resolved"))
    assert str(info.value) == (f"complaint {cid} was changed by someone else (you had version 1, "
                               "it is now 2); reload it and try again")
    assert (info.value.expected, info.value.actual) == (1, 2)
    stored = store.complaint(cid)
    assert (stored["state"], stored["row_version"], stored["deadline"]) == ("dispatched", 2, deadline)
    assert [e["action"] for e in store.complaint_events(cid)] == ["collect", "dispatch"]
    with pytest.raises(KeyError):
        store.update_complaint(cid + 1000, 1, {"state": "resolved"}, _event("resolve", "resolved"))


def test_two_threads_updating_the_same_version_one_wins_and_the_other_stores_nothing(store):
    ids = store.add_complaints([_row(f"race{i}") for i in range(5)], [[_event()]] * 5).added
    for cid in ids:
        barrier = threading.Barrier(2)
        outcomes: dict[str, object] = {}

        def update(department: str, cid: int = cid, barrier: threading.Barrier = barrier,
                   outcomes: dict = outcomes) -> None:
            barrier.wait()
            try:
                outcomes[department] = store.update_complaint(
                    cid, 1, {"state": "dispatched", "department_code": department},
                    _event("dispatch", "dispatched", department_code=department, note=department))
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
        assert (stored["row_version"], stored["department_code"]) == (2, won[0])
        assert [e["note"] for e in store.complaint_events(cid)] == [None, won[0]]


def test_follow_up_frame_has_one_row_per_call_with_its_complaint(store):
    rows = [_row("f1", grid_code="G1", department_code="police"),
            _row("f2", grid_code="G2", department_code="urban_management"),
            _row("f3", grid_code="G2", source="elsewhere")]
    later = T0 + datetime.timedelta(days=3)
    events = [[_event(), _event("follow_up", "reopened", satisfied=False, at=later),
               _event("follow_up", "closed", satisfied=True, at=later + datetime.timedelta(days=2))],
              [_event(), _event("start_follow_up", "follow_up", at=later),
               _event("follow_up", "closed", satisfied=True, at=later + datetime.timedelta(hours=1))],
              [_event(), _event("follow_up", "reopened", satisfied=False, at=later)]]
    ids = store.add_complaints(rows, events).added
    frame = store.follow_up_frame({"source": "test"}).sort_values(["complaint_id", "at"])
    assert list(frame.columns) == ["complaint_id", "at", "satisfied", "grid_code", "community_code",
                                   "category_code", "department_code"]
    assert [(int(c), bool(s), g, d) for c, s, g, d in
            frame[["complaint_id", "satisfied", "grid_code", "department_code"]].itertuples(index=False)] == [
        (ids[0], False, "G1", "police"), (ids[0], True, "G1", "police"),
        (ids[1], True, "G2", "urban_management")]
    assert len(store.follow_up_frame()) == 4
    assert store.follow_up_frame({"source": "nobody"}).empty


def test_filters_on_both_backends(store):
    deadline = datetime.datetime(2025, 10, 11, 23, 59, 59, tzinfo=CHINA)
    rows = [_row("x1", state="dispatched", deadline=deadline, department_code="police"),
            _row("x2", state="reopened", deadline=deadline, category_code="rubbish"),
            _row("x3", state="resolved", deadline=deadline),
            _row("x4", reported_at=T0 + datetime.timedelta(days=40))]
    ids = store.add_complaints(rows, [[_event()]] * 4).added
    just_after = deadline + datetime.timedelta(seconds=1)
    assert sorted(r["id"] for r in store.list_complaints(filters={"overdue_at": just_after})) == ids[:2]
    assert store.list_complaints(filters={"overdue_at": deadline}) == []
    assert store.count_complaints({"category_code": ["rubbish", "street_light"]}) == 1
    assert store.count_complaints({"state": ["dispatched", "resolved"], "department_code": "police"}) == 1
    since = T0 + datetime.timedelta(days=1)
    assert [r["id"] for r in store.list_complaints(filters={"since": since})] == [ids[3]]
    assert store.count_complaints({"until": since}) == 3
    newest = store.list_complaints(limit=2)
    assert [r["id"] for r in newest] == [ids[3], ids[2]]  # newest report first, then by id
    frame = store.complaints_frame(["id", "deadline"], {"state": ["dispatched"]})
    assert frame["id"].tolist() == [ids[0]] and frame["deadline"].iloc[0] == deadline


def test_a_schedule_stored_again_for_its_year_replaces_the_days_it_dropped(store):
    day = datetime.date
    first = [{"day": day(2027, 3, 2), "kind": "holiday", "name": "测试"},
             {"day": day(2027, 3, 3), "kind": "holiday", "name": "测试"},
             {"day": day(2026, 12, 26), "kind": "workday", "name": "测试补班"}]
    assert store.put_calendar_days(first, "2027.csv", year=2027) == 3
    other_year = [{"day": day(2028, 1, 3), "kind": "holiday", "name": "测试"}]
    store.put_calendar_days(other_year, "2028.csv", year=2028)
    corrected = [{"day": day(2027, 3, 2), "kind": "holiday", "name": "测试（更正）"}]
    store.put_calendar_days(corrected, "2027-erratum.csv", year=2027)
    assert [(d["day"], d["name"], d["source"]) for d in store.calendar_days()] == [
        (day(2026, 12, 26), "测试补班", "2027.csv"),
        (day(2027, 3, 2), "测试（更正）", "2027-erratum.csv"),
        (day(2028, 1, 3), "测试", "2028.csv")]
