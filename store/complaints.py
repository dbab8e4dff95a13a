"""Complaints: the records with their events, photos, bulk imports and re-aggregation.

Updates name the ``row_version`` they were based on and fail with ``ConcurrentUpdate``
if someone else changed the complaint first. Inputs are plain dicts of column values;
what comes back are the typed records of ``complaints.records``.

Filters (``list_complaints``, ``count_complaints``, ``complaints_frame``,
``follow_up_frame``) are a dict of column → value: a list, tuple or set means "one of",
``None`` is ignored, and these keys are special: ``since`` (reported at or after),
``until`` (reported before), ``overdue_at`` (deadline before it, still dispatched
or reopened), ``deadline_before`` and ``deadline_after`` (a deadline before / at or after
it), ``extension_pending`` (True: an extension request waits, ``extension_deadline`` set),
``text_contains`` (the words occur in the text, letter case ignored) and ``ticket`` (the
case number or the channel's ticket number, ``external_id``).

``list_complaints`` sorts by ``order``: one of ``ORDERS``, ``-`` in front for descending;
cases without a deadline come last either way, ties newest id first.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from complaints.records import Case
from complaints.records import CaseEvent
from complaints.records import Photo


class ConcurrentUpdate(Exception):
    """The complaint changed since the caller read it."""

    def __init__(self, complaint_id: int, expected: int, actual: int) -> None:
        super().__init__(
            f"complaint {complaint_id} was changed by someone else (you had version "
            f"{expected}, it is now {actual}); reload it and try again"
        )
        self.complaint_id, self.expected, self.actual = complaint_id, expected, actual


@dataclass(frozen=True)
class AddResult:
    added: list[int]  # ids of new complaints, in input order of the rows added
    skipped: list[tuple[str, str]]  # (source, external_id) already present
    import_id: int | None


Chunk = tuple[Sequence[dict], Sequence[Sequence[dict]]]
#: the columns a list may be sorted by
ORDERS = ("reported_at", "deadline", "state", "updated_at", "id")
#: filters that are not a column
SPECIAL_FILTERS = (
    "since",
    "until",
    "overdue_at",
    "deadline_before",
    "deadline_after",
    "extension_pending",
    "text_contains",
    "ticket",
)


def parse_order(order: str | None, newest_first: bool = True) -> tuple[str, bool]:
    """(column, descending) of an ``order`` like ``-deadline``; KeyError for another column."""
    if not order:
        return "reported_at", newest_first
    column = order.removeprefix("-")
    if column not in ORDERS:
        raise KeyError(order)
    return column, order.startswith("-")


class ComplaintStore(Protocol):
    """Complaints with their events and photos; imports; the re-aggregation onto a grid version.

    Every write is one transaction: it is stored whole or not at all.
    """

    # adding: new (source, external_id) pairs only, each row with its events
    def add_complaints(
        self, rows: Sequence[dict], events: Sequence[Sequence[dict]], *, import_meta: dict | None = None
    ) -> AddResult: ...
    def add_complaint_chunks(
        self, chunks: Iterable[Chunk], *, import_meta: dict | None = None
    ) -> AddResult: ...

    # reading one
    def complaint(self, complaint_id: int) -> Case | None: ...
    def complaint_by_external(self, source: str, external_id: str) -> Case | None: ...
    def complaint_events(self, complaint_id: int) -> list[CaseEvent]: ...

    # changing one (optimistic locking: raises ConcurrentUpdate, or KeyError if it does not exist);
    # ``messages`` are outbox rows (``store.outbox``) the change causes, stored with it or not at all;
    # ``linked`` events (complaint id, event) are recorded on other complaints in the same
    # transaction, each raising that complaint's row_version (a closed original tells its duplicates)
    def update_complaint(
        self,
        complaint_id: int,
        expected_version: int,
        values: dict,
        event: dict,
        messages: Sequence[dict] = (),
        *,
        linked: Sequence[tuple[int, dict]] = (),
    ) -> int: ...

    # reading many
    def list_complaints(
        self,
        *,
        filters: dict | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = True,
        order: str | None = None,
    ) -> list[Case]: ...
    def count_complaints(self, filters: dict | None = None) -> int: ...
    def complaints_frame(self, columns: Iterable[str], filters: dict | None = None) -> pd.DataFrame: ...
    def follow_up_frame(self, filters: dict | None = None) -> pd.DataFrame: ...
    def complaints_stamp(self) -> tuple:
        """(count, last id, last change, first report, last report), times as ISO strings in UTC.

        Complaints are never deleted, so any new or changed complaint changes the stamp:
        a cache keyed on it is out of date at once.
        """
        ...

    # photos
    def add_photo(
        self,
        complaint_id: int,
        *,
        filename: str,
        content_type: str,
        size: int,
        sha256: str,
        stored_as: str,
        kind: str | None = None,
    ) -> int: ...
    def photos(self, complaint_id: int) -> list[Photo]: ...

    # re-aggregation onto another grid version
    def put_regrid(self, version_id: int, pairs: Sequence[tuple[int, str | None]]) -> int: ...
    def regrid_frame(self, version_id: int) -> pd.DataFrame: ...


__all__ = [
    "ORDERS",
    "SPECIAL_FILTERS",
    "AddResult",
    "Chunk",
    "ComplaintStore",
    "ConcurrentUpdate",
    "parse_order",
]
