"""Per-grid complaint counts for publishing as features (OGC API): numbers only, no personal data.

Counts are by the grid code each complaint was placed in (codes are stable across
versions, GB/T 30428.1), over a report-time window; they are cached by the complaint
table's stamp (size, last id, last change), so paging through a layer counts once.
"""

from __future__ import annotations

import datetime
import threading

from cachetools import LRUCache

from services.cases import ComplaintService


class ComplaintCounts:
    def __init__(self, cases: ComplaintService, *, cached: int = 32) -> None:
        self.cases = cases
        self._cache: LRUCache = LRUCache(cached)
        self._lock = threading.Lock()

    def report_period(self) -> tuple[datetime.datetime | None, datetime.datetime | None]:
        """The first and last report time of all complaints (None, None when there are none)."""
        _, _, _, first, last = self.cases.store.complaints_stamp()
        return _time(first), _time(last)

    def by_grid(
        self, since: datetime.datetime | None = None, until: datetime.datetime | None = None
    ) -> dict[str, int]:
        """Complaints per grid code reported in [since, until) (either end open when None)."""
        key = (self.cases.store.complaints_stamp(), since, until)
        with self._lock:
            found = self._cache.get(key)
        if found is not None:
            return found
        filters = {"since": since, "until": until}
        frame = self.cases.store.complaints_frame(["grid_code"], filters)
        counts = {str(k): int(v) for k, v in frame["grid_code"].dropna().value_counts().items()}
        with self._lock:
            self._cache[key] = counts
        return counts


def _time(value: object) -> datetime.datetime | None:
    if value is None:
        return None
    when = value if isinstance(value, datetime.datetime) else datetime.datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=datetime.UTC)
