"""The audit log and access grants: who saw or changed what, and what a caller was granted.

The audit log is append-only: the protocol has a method to add an entry and methods to
read them, and nothing that changes or removes one. Grants say what a named caller (an
API key or a user, named as in a case's history: ``api_key:NAME``, ``user:NAME``) may do
beyond its role or scopes: file under a source (``kind="source"``), or act for a
department (``kind="department"``, for department-bound API keys).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import fields
from typing import Any
from typing import Protocol

#: the most entries one read returns
MAX_AUDIT_PAGE = 10_000


@dataclass(frozen=True)
class AuditEntry:
    """One thing done or seen: who (as ``kind:name``), when (aware UTC), what, on what, from where."""

    id: int
    at: datetime.datetime
    who: str
    role: str | None
    action: str
    target: str | None
    detail: dict[str, Any] | None
    address: str | None

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> AuditEntry:
        values: dict[str, Any] = {f.name: row.get(f.name) for f in fields(cls)}
        return cls(**values)


class AuditStore(Protocol):
    """The append-only audit log."""

    def add_audit_entry(
        self,
        at: datetime.datetime,
        who: str,
        action: str,
        *,
        role: str | None = None,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
        address: str | None = None,
    ) -> int:
        """Append one entry; returns its id."""
        ...

    def audit_entries(
        self,
        *,
        who: str | None = None,
        action: str | None = None,
        since: datetime.datetime | None = None,
        until: datetime.datetime | None = None,
        target: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEntry]:
        """Entries newest first. ``action`` matches itself and its dotted sub-actions
        (``login`` matches ``login`` and ``login.failed``); ``since`` is inclusive,
        ``until`` exclusive."""
        ...


class GrantStore(Protocol):
    """What a named caller has been granted (sources it may file under, a department)."""

    def add_grant(self, grantee: str, kind: str, value: str) -> bool:
        """Grant once; True when it is new."""
        ...

    def remove_grant(self, grantee: str, kind: str, value: str) -> int: ...
    def grants(self, grantee: str) -> list[tuple[str, str]]:
        """(kind, value) pairs of one grantee, sorted."""
        ...


__all__ = ["MAX_AUDIT_PAGE", "AuditEntry", "AuditStore", "GrantStore"]
