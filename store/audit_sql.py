"""SQL storage of the audit log (append only) and of grants; mixed into ``store.sql.SqlStore``."""

from __future__ import annotations

import datetime
from typing import Any

import sqlalchemy as sa

from geo.timeutil import utcnow
from store.audit import MAX_AUDIT_PAGE
from store.audit import AuditEntry


class AuditSql:
    """``store.audit.AuditStore`` and ``GrantStore``; expects ``self.engine`` and ``self.t``."""

    engine: sa.Engine
    t: dict[str, sa.Table]

    # --- the audit log (no update, no delete) ----------------------------------------------

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
        log = self.t["audit_log"]
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    log.insert()
                    .values(
                        at=at,
                        who=who,
                        role=role,
                        action=action,
                        target=target,
                        detail=detail,
                        address=address,
                    )
                    .returning(log.c.id)
                ).scalar_one()
            )

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
        log = self.t["audit_log"]
        query = sa.select(log)
        if who is not None:
            query = query.where(log.c.who == who)
        if action is not None:
            # dotted sub-actions: "login" finds "login.failed"; a prefix compare, so no LIKE escapes
            query = query.where(
                sa.or_(
                    log.c.action == action, sa.func.substr(log.c.action, 1, len(action) + 1) == action + "."
                )
            )
        if since is not None:
            query = query.where(log.c.at >= since)
        if until is not None:
            query = query.where(log.c.at < until)
        if target is not None:
            query = query.where(log.c.target == target)
        limit = min(max(int(limit), 0), MAX_AUDIT_PAGE)
        query = query.order_by(log.c.at.desc(), log.c.id.desc()).limit(limit).offset(max(int(offset), 0))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [AuditEntry.from_mapping(dict(r)) for r in rows]

    # --- grants ---------------------------------------------------------------------------

    def add_grant(self, grantee: str, kind: str, value: str) -> bool:
        grants = self.t["grants"]
        with self.engine.begin() as conn:
            found = conn.execute(
                sa.select(grants.c.grantee).where(
                    grants.c.grantee == grantee, grants.c.kind == kind, grants.c.value == value
                )
            ).first()
            if found is not None:
                return False
            conn.execute(grants.insert().values(grantee=grantee, kind=kind, value=value, granted_at=utcnow()))
        return True

    def remove_grant(self, grantee: str, kind: str, value: str) -> int:
        grants = self.t["grants"]
        with self.engine.begin() as conn:
            return conn.execute(
                grants.delete().where(
                    grants.c.grantee == grantee, grants.c.kind == kind, grants.c.value == value
                )
            ).rowcount

    def grants(self, grantee: str) -> list[tuple[str, str]]:
        grants = self.t["grants"]
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(grants.c.kind, grants.c.value)
                .where(grants.c.grantee == grantee)
                .order_by(grants.c.kind, grants.c.value)
            ).all()
        return [(r.kind, r.value) for r in rows]


__all__ = ["AuditSql"]
