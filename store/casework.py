"""吹哨报到 and 多元议事 records: what happens around a case besides its workflow steps.

A whistle is blown on a case and summons departments; each summons records when the
department reported in (报到) and what it answered. Blowing it also records the case's
``whistle`` step, so both are written in one transaction with the case's optimistic lock
(``expected_version``, as ``ComplaintStore.update_complaint``). A deliberation (多元议事) is
a record of its own that may be held on a case; when its outcome settles the case, the
case's step is written in the same transaction.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import fields
from typing import Any
from typing import Protocol

import pandas as pd

#: the kinds of deliberation participant, in the order a record lists them
PARTICIPANT_KINDS = ("resident", "party_member", "deputy", "department", "grid_team")
#: columns of ``whistle_frame``
WHISTLE_FRAME_COLUMNS = (
    "whistle_id",
    "complaint_id",
    "group_code",
    "blown_at",
    "department_code",
    "reported_at",
    "responded_at",
)
MAX_LIST = 1000


def _from(cls: type, row: Any, **extra: Any) -> Any:
    """A record dataclass from a row mapping (SQL or the fake), its other fields given."""
    values = {f.name: row.get(f.name) for f in fields(cls) if f.name not in extra}
    return cls(**values, **extra)


@dataclass(frozen=True)
class Summons:
    """One department called by a whistle, and whether and when it came and answered."""

    id: int
    whistle_id: int
    department_code: str
    reported_at: datetime.datetime | None = None
    reported_by: str | None = None
    responded_at: datetime.datetime | None = None
    responded_by: str | None = None
    response: str | None = None


@dataclass(frozen=True)
class Whistle:
    id: int
    complaint_id: int
    group_code: str
    blown_at: datetime.datetime
    blown_by: str
    note: str | None
    summons: tuple[Summons, ...] = ()


@dataclass(frozen=True)
class Participant:
    kind: str  # one of PARTICIPANT_KINDS
    name: str
    affiliation: str | None = None


@dataclass(frozen=True)
class DeliberationPhoto:
    id: int
    filename: str
    content_type: str
    size: int
    stored_as: str


@dataclass(frozen=True)
class Deliberation:
    id: int
    held_at: datetime.datetime
    place: str
    grid_code: str | None
    community_code: str
    matter: str
    outcome: str
    minutes: str | None
    complaint_id: int | None
    settled: bool
    recorded_by: str
    recorded_at: datetime.datetime
    participants: tuple[Participant, ...] = ()
    photos: tuple[DeliberationPhoto, ...] = ()


@dataclass(frozen=True)
class CaseStep:
    """A case's workflow step written with a whistle or a deliberation (see the module)."""

    complaint_id: int
    expected_version: int
    values: dict
    event: dict
    messages: tuple[dict, ...] = ()  # the outbox rows the step causes (services.notices)
    linked: tuple[tuple[int, dict], ...] = ()  # events for other cases (a duplicate's original closed)


class CaseWorkStore(Protocol):
    """Whistles with their summons, deliberations with their participants and photos."""

    # whistles
    def add_whistle(self, step: CaseStep, whistle: dict, departments: Sequence[str]) -> int:
        """Record a whistle and one summons per department with the case's step; the whistle's id.
        Raises ``ConcurrentUpdate`` (nothing written) if the case moved past ``expected_version``."""
        ...

    def whistles(self, complaint_id: int) -> list[Whistle]:
        """A case's whistles, oldest first, each with its summons in the order they were made."""
        ...

    def summons(self, summons_id: int) -> Summons | None: ...
    def whistle_of(self, whistle_id: int) -> Whistle | None: ...
    def report_in(self, summons_id: int, *, at: datetime.datetime, by: str) -> bool:
        """Mark a summons reported in (报到); False (nothing changed) if it already was."""
        ...

    def respond(self, summons_id: int, *, at: datetime.datetime, by: str, response: str) -> bool:
        """Record a summons' response; reports it in at the same time if it had not.
        False (nothing changed) if it already has a response."""
        ...

    def whistle_frame(
        self, since: datetime.datetime | None = None, until: datetime.datetime | None = None
    ) -> pd.DataFrame:
        """One row per summons of the whistles blown in [since, until): ``WHISTLE_FRAME_COLUMNS``."""
        ...

    # deliberations
    def add_deliberation(
        self, row: dict, participants: Sequence[Participant], settle: CaseStep | None = None
    ) -> int:
        """Record a deliberation (and, when it settles a case, the case's step); its id."""
        ...

    def deliberation(self, deliberation_id: int) -> Deliberation | None: ...
    def deliberations(
        self,
        *,
        grid_code: str | None = None,
        community_code: str | None = None,
        complaint_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Deliberation]:
        """Newest meeting first."""
        ...

    def deliberation_counts(
        self,
        by: str,
        since: datetime.datetime | None = None,
        until: datetime.datetime | None = None,
    ) -> pd.DataFrame:
        """Deliberations held in [since, until) per ``grid_code`` or ``community_code``:
        columns (by, count), most first."""
        ...

    def add_deliberation_photo(
        self,
        deliberation_id: int,
        *,
        filename: str,
        content_type: str,
        size: int,
        sha256: str,
        stored_as: str,
    ) -> int: ...


__all__ = [
    "MAX_LIST",
    "PARTICIPANT_KINDS",
    "WHISTLE_FRAME_COLUMNS",
    "CaseStep",
    "CaseWorkStore",
    "Deliberation",
    "DeliberationPhoto",
    "Participant",
    "Summons",
    "Whistle",
]
