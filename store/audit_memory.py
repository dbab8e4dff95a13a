"""The in-memory audit log and grants; mixed into ``store.memory.MemoryStore``."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from store.audit import MAX_AUDIT_PAGE
from store.audit import AuditEntry


class AuditMemory:
    """``AuditStore`` and ``GrantStore`` over the fake's tables (``self.t``), same rules as SQL."""

    t: Any
    _lock: Any
    _now: Callable[[], datetime.datetime]
    _transaction: Callable[[], AbstractContextManager[None]]

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
        with self._transaction():
            (entry_id,) = self.t["audit_log"].insert(
                {
                    "at": at,
                    "who": who,
                    "role": role,
                    "action": action,
                    "target": target,
                    "detail": detail,
                    "address": address,
                },
                strict=True,
            )
        return int(entry_id)

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
        def keep(r: dict[str, Any]) -> bool:
            return (
                (who is None or r["who"] == who)
                and (action is None or r["action"] == action or r["action"].startswith(action + "."))
                and (since is None or r["at"] >= since)
                and (until is None or r["at"] < until)
                and (target is None or r["target"] == target)
            )

        with self._lock:
            rows = [r for r in self.t["audit_log"].all() if keep(r)]
        rows.sort(key=lambda r: (r["at"], r["id"]), reverse=True)
        limit = min(max(int(limit), 0), MAX_AUDIT_PAGE)
        start = max(int(offset), 0)
        return [AuditEntry.from_mapping(r) for r in rows[start : start + limit]]

    def add_grant(self, grantee: str, kind: str, value: str) -> bool:
        grants = self.t["grants"]
        with self._transaction():
            if grants.get(grantee, kind, value) is not None:
                return False
            grants.insert({"grantee": grantee, "kind": kind, "value": value, "granted_at": self._now()})
        return True

    def remove_grant(self, grantee: str, kind: str, value: str) -> int:
        with self._transaction():
            return self.t["grants"].delete(
                lambda r: (r["grantee"], r["kind"], r["value"]) == (grantee, kind, value)
            )

    def grants(self, grantee: str) -> list[tuple[str, str]]:
        with self._lock:
            rows = [r for r in self.t["grants"].all() if r["grantee"] == grantee]
        return sorted((r["kind"], r["value"]) for r in rows)


__all__ = ["AuditMemory"]
