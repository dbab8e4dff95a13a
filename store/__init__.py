"""Where RedGrid keeps its data: one small interface, an SQLite and a PostGIS implementation.

Callers use ``open_store(url)`` and the ``Store`` protocol; only this package knows
SQL. The schema is managed by Alembic migrations (``store/migrations``), run by
``migrate(url)`` at start-up or by ``redgrid db upgrade``.
"""

from store.base import ImportSummary
from store.base import Store
from store.base import VersionInfo
from store.sql import migrate
from store.sql import open_store

__all__ = ["ImportSummary", "Store", "VersionInfo", "migrate", "open_store"]
