"""The complaint catalogue the services route by: the bundled files with administrators'
changes laid over them, kept current without a restart.

The CSV files stay the default (``complaints.catalog.Catalog.load``); the changes are kept
in the store (``store.catalog_overrides``). A change made in this process is used at once
(``refresh``); one made by another process (a second web worker) within ``check_s``
seconds, as the working-day calendar is (``ComplaintService.calendar``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from complaints.catalog import Catalog
from store.catalog_overrides import CatalogStore


def _stamp(rows: Sequence[dict[str, Any]]) -> tuple:
    return tuple(
        (r["category_code"], r["department_code"], r["deadline_days"], r["requires_after_photo"])
        for r in rows
    )


class CatalogueKeeper:
    #: seconds between looks at the stored changes: one small query, never one per request
    check_s: float = 10.0

    def __init__(self, store: CatalogStore, files: Catalog) -> None:
        self.store = store
        self.files = files
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._checked = 0.0
        self._current = files
        self.refresh()

    def current(self) -> Catalog:
        """The catalogue in force: the files' with the stored changes."""
        if time.monotonic() - self._checked >= self.check_s:
            self.refresh()
        return self._current

    def refresh(self) -> None:
        """Read the stored changes again (after a change, or when ``check_s`` has passed)."""
        rows = self.store.catalog_overrides()
        stamp = _stamp(rows)
        with self._lock:
            self._checked = time.monotonic()
            if stamp != self._stamp:
                self._stamp = stamp
                self._current = self.files.with_overrides(rows)

    def replace_files(self, files: Catalog) -> None:
        """Route by other files (a test's or a reloaded catalogue), with the same changes over them."""
        with self._lock:
            self.files = files
            self._stamp = None
        self.refresh()


__all__ = ["CatalogueKeeper"]
