"""Typed records of complaints as they are stored: the case, its events and its photos.

The store hands these back and the services and views read them, so a misspelt field
is an AttributeError where it is written, not a ``None`` three layers away. They are
frozen: a change to a case is a workflow step through the store, never an assignment.

``from_mapping`` ignores columns it does not know, so a reader built for this version
still reads a row written by a later one (a new column does not break old code).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from typing import Self


class _Record:
    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> Self:
        names = cls._names()
        return cls(**{k: row[k] for k in names if k in row})

    @classmethod
    def _names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def get(self, name: str, default: Any = None) -> Any:
        """Attribute by name, for code that picks fields from a list of names (exports)."""
        return getattr(self, name, default)


@dataclass(frozen=True)
class Case(_Record):
    """One complaint (群众诉求) with where it was placed and how far it has come."""

    id: int
    source: str
    external_id: str
    channel: str
    category_code: str
    text: str
    reported_at: datetime.datetime
    state: str
    row_version: int = 1
    address: str | None = None
    lon: float | None = None
    lat: float | None = None
    input_coordsys: str | None = None
    input_lon: float | None = None
    input_lat: float | None = None
    geocode: dict[str, Any] | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    grid_version_id: int | None = None
    grid_code: str | None = None
    community_code: str | None = None
    whistle_group: str | None = None
    department_code: str | None = None
    dispatched_at: datetime.datetime | None = None
    deadline: datetime.datetime | None = None
    #: the deadline was counted on a year without its official schedule (provisional holidays)
    deadline_provisional: bool | None = None
    resolved_at: datetime.datetime | None = None
    closed_at: datetime.datetime | None = None
    satisfied: bool | None = None
    duplicate_of: str | None = None
    #: the grid-team member (roster id, ``officials.id``) the case is assigned to (指派)
    assignee: str | None = None
    #: the deadline a department asked for (延期申请), until the dispatch centre decides
    extension_deadline: datetime.datetime | None = None
    created_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None
    import_id: int | None = None


@dataclass(frozen=True)
class CaseEvent(_Record):
    """One step of a case's history: who did what, when, from which state to which."""

    at: datetime.datetime
    actor: str
    action: str
    to_state: str
    from_state: str | None = None
    note: str | None = None
    department_code: str | None = None
    deadline: datetime.datetime | None = None
    satisfied: bool | None = None
    duplicate_of: str | None = None
    assignee: str | None = None
    id: int | None = None
    complaint_id: int | None = None


@dataclass(frozen=True)
class Photo(_Record):
    """A photo kept with a case; ``stored_as`` is its content-addressed file name, ``kind``
    says whether it shows the problem (``before``) or the work done (``after``)."""

    id: int
    complaint_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    stored_as: str
    created_at: datetime.datetime | None = None
    #: 'before' (taken at intake) or 'after' (the work done); None for photos kept before it was
    kind: str | None = None
