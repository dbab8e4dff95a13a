"""Where RedGrid keeps its data: one small protocol per concern, an SQL implementation
(SQLite or PostGIS) and an in-memory fake.

Callers use ``open_store(url)`` and the protocols: ``PlaceStore`` (towns, communities,
grid versions, officials), ``ComplaintStore`` (complaints, events, photos, imports,
re-aggregation), ``AccountStore`` (users, API keys), ``CalendarStore`` (calendar days),
and ``Store``, their union. Only this package knows SQL. The schema is managed by
Alembic migrations (``store/migrations``), run by ``migrate(url)`` at start-up or by
``redgrid db upgrade``; ``open_store("memory://")`` gives the in-memory fake.
"""

from store.accounts import AccountStore
from store.accounts import UserAccount
from store.base import Store
from store.calendar_days import CalendarStore
from store.complaints import AddResult
from store.complaints import ComplaintStore
from store.complaints import ConcurrentUpdate
from store.places import ImportSummary
from store.places import PlaceStore
from store.places import Town
from store.places import VersionInfo
from store.sql import migrate
from store.sql import open_store

__all__ = [
    "AccountStore",
    "AddResult",
    "CalendarStore",
    "ComplaintStore",
    "ConcurrentUpdate",
    "ImportSummary",
    "PlaceStore",
    "Store",
    "Town",
    "UserAccount",
    "VersionInfo",
    "migrate",
    "open_store",
]
