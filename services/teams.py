"""Grid teams as people who hold cases: who a roster id is, which grids a person serves, who
may be assigned a case (指派) and who gets a new case by default.

The roster (``officials``) is the one list of people: a grid user's account names its roster
entry (``users.official_id``, migration 0011) and a case's ``assignee`` is a roster id, so the
name and post shown with a case are always the roster's. A person is their phone, as the
roster itself keys people (``geo.officials.Assignment.key``): the grids a grid user serves are
the units of every post held under that phone on the day, a community or town post covering
all of its grids. Everything is read from ``GridService.roster`` (cached briefly), so a check
or a name costs no query of its own.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from geo.officials import Assignment
from geo.officials import Role
from geo.officials import UnitLevel
from geo.timeutil import BEIJING
from services.errors import Invalid
from services.grids import GridService


@dataclass(frozen=True)
class Member:
    """A grid-team member as people read them: name and post (never the phone)."""

    id: int
    name: str
    role: Role

    @property
    def post_zh(self) -> str:
        return self.role.label_zh

    @property
    def post_en(self) -> str:
        return self.role.label_en


def beijing_day(when: datetime.datetime) -> datetime.date:
    return when.astimezone(BEIJING).date()


class TeamService:
    def __init__(self, grids: GridService) -> None:
        self.grids = grids

    def _by_id(self) -> dict[int, Assignment]:
        return {a.id: a for unit in self.grids.roster().values() for a in unit if a.id is not None}

    def person(self, official_id: int | str | None) -> Assignment | None:
        """The roster entry of an id (a number, or its text as a case's assignee holds it)."""
        if official_id is None or not str(official_id).isdigit():
            return None
        return self._by_id().get(int(official_id))

    def members(self, ids: Iterable[str | int | None]) -> dict[str, Member]:
        """Roster id (as text) → member, for the ids that name someone."""
        by_id = self._by_id()
        found: dict[str, Member] = {}
        for value in ids:
            if value is not None and str(value).isdigit() and int(value) in by_id:
                a = by_id[int(value)]
                found[str(value)] = Member(int(value), a.name, a.role)
        return found

    def grids_of(self, official_id: int | None, day: datetime.date) -> frozenset[str]:
        """The grid codes a person serves on ``day``: every active post held under the phone
        of their roster entry, a community or town post covering all its grids."""
        me = self.person(official_id)
        if me is None:
            return frozenset()
        posts = [
            a
            for unit in self.grids.roster().values()
            for a in unit
            if a.phone == me.phone and a.active_on(day)
        ]
        version = self.grids.active_or_none()
        if version is None:
            return frozenset(a.unit_code for a in posts if a.unit_level is UnitLevel.GRID)
        codes = self.grids.grid_set(version).grids["code"].astype(str).tolist()
        out: set[str] = set()
        for a in posts:
            out.update(code for code in codes if code.startswith(a.unit_code))
        return frozenset(out)

    def team(self, grid_code: str, day: datetime.date) -> list[Member]:
        """Who a case in ``grid_code`` may be assigned to on ``day``, top of the team first."""
        return [Member(a.id, a.name, a.role) for a in self.grids.team(grid_code, day) if a.id is not None]

    def check_assignee(self, grid_code: str | None, assignee: object, day: datetime.date) -> str:
        """The assignee as stored, or Invalid when they are not on the grid's team that day."""
        text = str(assignee).strip() if isinstance(assignee, str | int) else ""
        if not text:
            raise Invalid("assign needs the grid-team member (assignee)", field="assignee")
        team = self.team(grid_code, day) if grid_code else []
        if not any(str(m.id) == text for m in team):
            names = "、".join(f"{m.name}({m.id})" for m in team[:12]) or "nobody"
            raise Invalid(
                f"assignee {text[:32]!r} is not on the team of grid {grid_code} on {day.isoformat()}; "
                f"the team: {names}",
                code="not_in_team",
                field="assignee",
            )
        return text

    def default_assignees(self, day: datetime.date) -> dict[str, str]:
        """Grid code → the roster id of its grid worker (网格员) on ``day``, for the grids whose
        roster names one at the grid itself: who a new case there goes to."""
        found: dict[str, Assignment] = {}
        for unit, people in self.grids.roster().items():
            for a in people:
                if (
                    a.unit_level is UnitLevel.GRID
                    and a.role is Role.GRID_WORKER
                    and a.active_on(day)
                    and a.id is not None
                ):
                    best = found.get(unit)
                    if best is None or (a.name, a.phone) < (best.name, best.phone):
                        found[unit] = a
        return {unit: str(a.id) for unit, a in found.items()}


__all__ = ["Member", "TeamService", "beijing_day"]
