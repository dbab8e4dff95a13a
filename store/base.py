"""The storage interface every caller uses: the union of the per-concern protocols.

A caller that needs one concern only should ask for that protocol (``PlaceStore``,
``ComplaintStore``, ``AccountStore``, ``CalendarStore``, ``CatalogStore``, ``AuditStore``,
``GrantStore``, ``OutboxStore``, ``CaseWorkStore``);
``Store`` is what ``open_store`` returns and what the application is built on.
"""

from __future__ import annotations

from typing import Protocol

from store.accounts import AccountStore
from store.accounts import UserAccount
from store.audit import AuditStore
from store.audit import GrantStore
from store.calendar_days import CalendarStore
from store.casework import CaseWorkStore
from store.catalog_overrides import CatalogStore
from store.complaints import AddResult
from store.complaints import ComplaintStore
from store.complaints import ConcurrentUpdate
from store.outbox import OutboxStore
from store.places import ImportSummary
from store.places import PlaceStore
from store.places import Town
from store.places import VersionInfo


class Store(
    PlaceStore,
    ComplaintStore,
    AccountStore,
    CalendarStore,
    CatalogStore,
    AuditStore,
    GrantStore,
    OutboxStore,
    CaseWorkStore,
    Protocol,
):
    """Persistence for grids and their versions, officials, complaints, users, API keys,
    the calendar, catalogue overrides, the audit log, grants, the notification outbox,
    whistles and deliberations.
    Every write is one transaction: it is stored whole or not at all."""


__all__ = [
    "AccountStore",
    "AddResult",
    "AuditStore",
    "CalendarStore",
    "CaseWorkStore",
    "CatalogStore",
    "ComplaintStore",
    "ConcurrentUpdate",
    "GrantStore",
    "ImportSummary",
    "OutboxStore",
    "PlaceStore",
    "Store",
    "Town",
    "UserAccount",
    "VersionInfo",
]
