"""SQL storage of the outbox and the notification contacts; mixed into ``store.sql.SqlStore``.

A claim is a conditional update per row (still claimable? then mine), so two workers on
SQLite or PostgreSQL never hold the same message: the loser's update matches no row.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from store.outbox import CLAIMED
from store.outbox import MESSAGE_COLUMNS
from store.outbox import PENDING
from store.outbox import REPLACED
from store.outbox import SENDING
from store.outbox import UNDELIVERED
from store.outbox import UNKNOWN
from store.outbox import Contact
from store.outbox import OutboxMarks
from store.outbox import OutboxMessage

#: what a message left ``sending`` by a dead worker on a channel without idempotency says
MAYBE_SENT = "the sender stopped while sending: it may have been delivered; retry only if it was not"


def message_row(message: dict, now: datetime.datetime) -> dict[str, Any]:
    """A new message as stored: its own columns, pending and due ``now`` unless it says otherwise."""
    row = {name: message.get(name) for name in MESSAGE_COLUMNS}
    row.update(
        status=message.get("status", PENDING),
        last_error=message.get("last_error"),
        attempts=0,
        created_at=now,
        next_at=now,
    )
    return row


def insert_messages(
    conn: sa.Connection, table: sa.Table, messages: Sequence[dict], now: datetime.datetime
) -> int:
    """Insert messages on ``conn`` (the caller's transaction), skipping stored dedupe keys."""
    rows = list({m["dedupe_key"]: message_row(m, now) for m in messages}.values())
    stored: set[str] = set()
    for start in range(0, len(rows), 500):  # which keys are stored already, in bounded IN lists
        keys = [r["dedupe_key"] for r in rows[start : start + 500]]
        stored.update(
            conn.execute(sa.select(table.c.dedupe_key).where(table.c.dedupe_key.in_(keys))).scalars()
        )
    new = [r for r in rows if r["dedupe_key"] not in stored]
    if new:
        # one statement for all; a key stored meanwhile by a concurrent scan is skipped, not an error
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"]), new)
    return len(new)


def _claimable(outbox: sa.Table, now: datetime.datetime, resend: Collection[str]) -> sa.ColumnElement[bool]:
    expired = sa.and_(outbox.c.lease_until.is_not(None), outbox.c.lease_until < now)
    return sa.or_(
        sa.and_(outbox.c.status == PENDING, outbox.c.next_at <= now),
        sa.and_(outbox.c.status == CLAIMED, expired),
        sa.and_(outbox.c.status == SENDING, expired, outbox.c.channel.in_(list(resend))),
    )


class OutboxSql(OutboxMarks):
    """``store.outbox.OutboxStore``; expects ``self.engine`` and ``self.t``."""

    engine: sa.Engine
    t: dict[str, sa.Table]

    def add_messages(self, messages: Sequence[dict], *, now: datetime.datetime) -> int:
        with self.engine.begin() as conn:
            return insert_messages(conn, self.t["outbox"], messages, now)

    def claim_messages(
        self,
        worker: str,
        *,
        now: datetime.datetime,
        lease: datetime.timedelta,
        limit: int = 50,
        resend_channels: Collection[str] = (),
    ) -> list[OutboxMessage]:
        outbox = self.t["outbox"]
        claimed: list[int] = []
        with self.engine.begin() as conn:
            conn.execute(
                outbox.update()
                .where(
                    outbox.c.status == SENDING,
                    outbox.c.lease_until < now,
                    outbox.c.channel.not_in(list(resend_channels)),
                )
                .values(status=UNKNOWN, last_error=MAYBE_SENT, claimed_by=None, lease_until=None)
            )
            candidates = conn.execute(
                sa.select(outbox.c.id)
                .where(_claimable(outbox, now, resend_channels))
                .order_by(outbox.c.next_at, outbox.c.id)
                .limit(max(int(limit), 0))
            ).scalars()
            for message_id in list(candidates):
                done = conn.execute(
                    outbox.update()
                    .where(outbox.c.id == message_id, _claimable(outbox, now, resend_channels))
                    .values(
                        status=CLAIMED,
                        claimed_by=worker,
                        lease_until=now + lease,
                        attempts=outbox.c.attempts + 1,
                    )
                )
                if done.rowcount == 1:
                    claimed.append(message_id)
            rows = conn.execute(sa.select(outbox).where(outbox.c.id.in_(claimed))).mappings().all()
        found = {r["id"]: OutboxMessage.from_mapping(dict(r)) for r in rows}
        return [found[i] for i in claimed]

    def _mark(self, message_id: int, worker: str, states: tuple[str, ...], **values: Any) -> bool:
        outbox = self.t["outbox"]
        with self.engine.begin() as conn:
            done = conn.execute(
                outbox.update()
                .where(outbox.c.id == message_id, outbox.c.claimed_by == worker, outbox.c.status.in_(states))
                .values(**values)
            )
        return done.rowcount == 1

    def retry_message(
        self, message_id: int, *, now: datetime.datetime, replace_with: Sequence[dict] = ()
    ) -> bool:
        outbox = self.t["outbox"]
        again = {"status": REPLACED} if replace_with else {"status": PENDING, "next_at": now, "attempts": 0}
        with self.engine.begin() as conn:
            done = conn.execute(
                outbox.update()
                .where(outbox.c.id == message_id, outbox.c.status.in_(UNDELIVERED))
                .values(**again, claimed_by=None, lease_until=None)
            )
            if done.rowcount == 1 and replace_with:
                insert_messages(conn, outbox, replace_with, now)
        return done.rowcount == 1

    def outbox_message(self, message_id: int) -> OutboxMessage | None:
        outbox = self.t["outbox"]
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(outbox).where(outbox.c.id == message_id)).mappings().first()
        return OutboxMessage.from_mapping(dict(row)) if row else None

    def outbox_messages(
        self,
        *,
        statuses: Collection[str] | None = None,
        complaint_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[OutboxMessage]:
        outbox = self.t["outbox"]
        query = sa.select(outbox)
        if statuses is not None:
            query = query.where(outbox.c.status.in_(list(statuses)))
        if complaint_id is not None:
            query = query.where(outbox.c.complaint_id == complaint_id)
        query = query.order_by(outbox.c.created_at.desc(), outbox.c.id.desc())
        query = query.limit(max(int(limit), 0)).offset(max(int(offset), 0))
        with self.engine.connect() as conn:
            return [OutboxMessage.from_mapping(dict(r)) for r in conn.execute(query).mappings().all()]

    # --- contacts ---------------------------------------------------------------------------

    def put_contact(self, owner_kind: str, owner_code: str, channel: str, address: str) -> bool:
        table = self.t["notify_contacts"]
        key = {"owner_kind": owner_kind, "owner_code": owner_code, "channel": channel, "address": address}
        with self.engine.begin() as conn:
            found = conn.execute(
                sa.select(table.c.owner_kind).where(*(table.c[k] == v for k, v in key.items()))
            ).first()
            if found is not None:
                return False
            conn.execute(table.insert().values(**key, updated_at=datetime.datetime.now(datetime.UTC)))
        return True

    def remove_contact(self, owner_kind: str, owner_code: str, channel: str, address: str) -> int:
        table = self.t["notify_contacts"]
        key = {"owner_kind": owner_kind, "owner_code": owner_code, "channel": channel, "address": address}
        with self.engine.begin() as conn:
            return conn.execute(table.delete().where(*(table.c[k] == v for k, v in key.items()))).rowcount

    def contacts(self, owner_kind: str | None = None, owner_code: str | None = None) -> list[Contact]:
        table = self.t["notify_contacts"]
        query = sa.select(table.c.owner_kind, table.c.owner_code, table.c.channel, table.c.address)
        if owner_kind is not None:
            query = query.where(table.c.owner_kind == owner_kind)
        if owner_code is not None:
            query = query.where(table.c.owner_code == owner_code)
        order = (table.c.owner_kind, table.c.owner_code, table.c.channel, table.c.address)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(*order)).all()
        return [Contact(*r) for r in rows]


__all__ = ["MAYBE_SENT", "OutboxSql", "insert_messages", "message_row"]
