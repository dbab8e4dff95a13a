"""The SQL complaint store's own concerns, on SQLite and a real PostGIS: an import written in
executemany batches is still one transaction.

What every backend must do (idempotent adds, optimistic locking under threads, filters,
frames, photos, re-aggregation) is in ``tests/contract/test_complaints.py``.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from store import open_store
from tests.contract.conftest import complaint_row as _row
from tests.contract.conftest import event as _event
from tests.contract.conftest import row_counts

META = {"filename": "x.csv", "sha256": "0" * 64, "imported_by": "t"}


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    yield s
    s.dispose()


def _counts(store) -> tuple[int, ...]:
    return row_counts(store, "complaints", "complaint_events", "complaint_imports")


def test_a_fault_in_a_later_batch_rolls_back_the_earlier_ones(store):
    good = [([_row(f"c{i}")], [[_event()]]) for i in range(3)]
    bad_rows = [_row("c9"), _row("c10", category_code=None)]
    with pytest.raises(sa.exc.IntegrityError):
        store.add_complaint_chunks([*good, (bad_rows, [[_event()], [_event()]])], import_meta=META, batch=1)
    assert _counts(store) == (0, 0, 0)
    result = store.add_complaint_chunks(good, import_meta=META, batch=2)
    assert len(result.added) == 3 and _counts(store) == (3, 3, 1)


def test_batches_keep_ids_in_input_order_with_events_on_the_right_complaint(store):
    rows = [_row(f"b{i}", source="a" if i % 2 else "b") for i in range(7)]
    events = [[_event(note=f"b{i}")] for i in range(7)]
    result = store.add_complaint_chunks([(rows, events)], batch=3)
    assert [store.complaint(cid).external_id for cid in result.added] == [r["external_id"] for r in rows]
    assert [store.complaint_events(cid)[0].note for cid in result.added] == [r["external_id"] for r in rows]
