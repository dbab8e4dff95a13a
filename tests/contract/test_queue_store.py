"""What the work queues and the searchable list ask of every store (issue 9, items 4 and 5):
the new filters, sorting with cases without a deadline last, roster ids, and a user's roster link."""

from __future__ import annotations

import datetime

import pytest

from geo.officials import Assignment
from geo.officials import Role
from geo.officials import UnitLevel
from tests.contract.conftest import CHINA
from tests.contract.conftest import T0
from tests.contract.conftest import complaint_row as _row
from tests.contract.conftest import event as _event

D1 = datetime.datetime(2025, 10, 9, 18, 0, tzinfo=CHINA)
D2 = datetime.datetime(2025, 10, 11, 23, 59, 59, tzinfo=CHINA)


def _cases(store) -> list[int]:
    # every row names the same columns (one executemany per batch)
    same = {"deadline": None, "extension_deadline": None, "assignee": None, "reporter_phone": None}
    rows = [
        _row(
            "t-1",
            **same
            | {
                "state": "dispatched",
                "deadline": D2,
                "text": "井盖松动 100%_危险",
                "reporter_phone": "13912345678",
            },
        ),
        _row(
            "t-2", **same | {"state": "dispatched", "deadline": D1, "extension_deadline": D2, "assignee": "7"}
        ),
        _row("t-3", **same | {"reported_at": T0 + datetime.timedelta(hours=1), "text": "路灯不亮"}),
        _row(
            "t-4",
            **same | {"state": "returned", "reported_at": T0 + datetime.timedelta(hours=2), "assignee": "7"},
        ),
    ]
    return store.add_complaints(rows, [[_event()]] * len(rows)).added


def ids(cases) -> list[int]:
    return [c.id for c in cases]


def test_queue_filters(store):
    a, b, _c, d = _cases(store)
    assert ids(store.list_complaints(filters={"extension_pending": True})) == [b]
    assert store.count_complaints({"extension_pending": False}) == 3
    assert sorted(ids(store.list_complaints(filters={"deadline_before": D2}))) == [b]
    assert sorted(ids(store.list_complaints(filters={"deadline_after": D1}))) == [a, b]  # inclusive
    assert store.count_complaints({"deadline_after": D2 + datetime.timedelta(seconds=1)}) == 0
    assert sorted(ids(store.list_complaints(filters={"assignee": "7"}))) == [b, d]
    assert store.count_complaints({"reporter_phone": ["13912345678", "139-1234-5678"]}) == 1


def test_words_in_the_text_and_tickets(store):
    a, _b, c, d = _cases(store)
    assert ids(store.list_complaints(filters={"text_contains": "井盖"})) == [a]
    assert ids(store.list_complaints(filters={"text_contains": "100%_"})) == [a]  # no wildcards
    assert store.count_complaints({"text_contains": "%"}) == 1
    assert store.count_complaints({"text_contains": "_"}) == 1
    assert store.count_complaints({"text_contains": "水管"}) == 0
    assert ids(store.list_complaints(filters={"ticket": "t-3"})) == [c]
    assert ids(store.list_complaints(filters={"ticket": str(d)})) == [d]
    assert store.count_complaints({"ticket": "nothing"}) == 0


def test_sorting_keeps_cases_without_a_deadline_last_either_way(store):
    a, b, c, d = _cases(store)
    assert ids(store.list_complaints(order="deadline")) == [b, a, d, c]
    assert ids(store.list_complaints(order="-deadline")) == [a, b, d, c]
    assert ids(store.list_complaints(order="reported_at")) == [b, a, c, d]
    assert ids(store.list_complaints(order="-reported_at")) == ids(store.list_complaints())
    assert ids(store.list_complaints(order="state")) == [c, b, a, d]
    assert ids(store.list_complaints(order="deadline", limit=1, offset=1)) == [a]
    with pytest.raises(KeyError):
        store.list_complaints(order="text")


def test_roster_rows_carry_their_id_and_a_user_names_one(store):
    day = datetime.date(2024, 1, 1)
    store.import_assignments(
        [
            Assignment("张三", "13800130001", Role.GRID_WORKER, "440605125001001", UnitLevel.GRID, day, None),
            Assignment("李四", "13800130002", Role.LEADER, "440605125", UnitLevel.TOWN, day, None),
        ],
        filename="r.csv",
        sha256="1",
    )
    people = store.assignments()
    assert all(isinstance(p.id, int) for p in people) and len({p.id for p in people}) == 2
    again = store.assignments(["440605125001001"])
    assert [p.id for p in again] == [p.id for p in people if p.unit_code == "440605125001001"]
    worker = again[0]
    user_id = store.add_user("zs", "张三", "hash", "grid", official_id=worker.id)
    assert store.user(user_id=user_id).official_id == worker.id
    assert store.user(username="zs").official_id == worker.id
    other = store.add_user("wang", "王芳", "hash", "dispatcher")
    assert store.user(user_id=other).official_id is None
    store.update_user("zs", official_id=people[-1].id)
    assert store.user(username="zs").official_id == people[-1].id
