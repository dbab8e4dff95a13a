"""The working-day calendar: official holidays and make-up workdays, as published."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class CalendarStore(Protocol):
    """Calendar days: dicts of day (a date), kind ("holiday" or "workday"), name and source."""

    def put_calendar_days(self, rows: Sequence[dict], source: str, *, year: int | None = None) -> int:
        """Store a schedule, replacing days of the same dates; with ``year``, every stored
        day of that year is replaced (a corrected notice drops the days it no longer lists)."""
        ...

    def calendar_days(self) -> list[dict]:
        """Every stored day, by date."""
        ...


__all__ = ["CalendarStore"]
