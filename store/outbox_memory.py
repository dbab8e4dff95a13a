"""The in-memory outbox and contacts; mixed into ``store.memory.MemoryStore``, same rules as SQL."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from store.outbox import CLAIMED
from store.outbox import PENDING
from store.outbox import REPLACED
from store.outbox import SENDING
from store.outbox import UNDELIVERED
from store.outbox import UNKNOWN
from store.outbox import Contact
from store.outbox import OutboxMarks
from store.outbox import OutboxMessage
from store.outbox_sql import MAYBE_SENT
from store.outbox_sql import message_row


def _expired(row: dict[str, Any], now: datetime.datetime) -> bool:
    return row["lease_until"] is not None and row["lease_until"] < now


class OutboxMemory(OutboxMarks):
    """``OutboxStore`` over the fake's tables (``self.t``)."""

    t: Any
    _lock: Any
    _now: Callable[[], datetime.datetime]
    _transaction: Callable[[], AbstractContextManager[None]]

    def _insert_messages(self, messages: Sequence[dict], now: datetime.datetime) -> int:
        """Insert inside the caller's transaction, skipping stored dedupe keys."""
        outbox = self.t["outbox"]
        added = 0
        for message in messages:
            if outbox.by(("dedupe_key",), message.get("dedupe_key")) is None:
                outbox.insert(message_row(message, now), strict=True)
                added += 1
        return added

    def add_messages(self, messages: Sequence[dict], *, now: datetime.datetime) -> int:
        with self._transaction():
            return self._insert_messages(messages, now)

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

        def claimable(r: dict[str, Any]) -> bool:
            return (
                (r["status"] == PENDING and r["next_at"] <= now)
                or (r["status"] == CLAIMED and _expired(r, now))
                or (r["status"] == SENDING and _expired(r, now) and r["channel"] in resend_channels)
            )

        with self._transaction():
            for r in outbox.all():
                if r["status"] == SENDING and _expired(r, now) and r["channel"] not in resend_channels:
                    outbox.update(
                        (r["id"],),
                        {
                            "status": UNKNOWN,
                            "last_error": MAYBE_SENT,
                            "claimed_by": None,
                            "lease_until": None,
                        },
                    )
            due = sorted((r for r in outbox.all() if claimable(r)), key=lambda r: (r["next_at"], r["id"]))
            for r in due[: max(int(limit), 0)]:
                outbox.update(
                    (r["id"],),
                    {
                        "status": CLAIMED,
                        "claimed_by": worker,
                        "lease_until": now + lease,
                        "attempts": r["attempts"] + 1,
                    },
                )
            return [OutboxMessage.from_mapping(outbox.get(r["id"])) for r in due[: max(int(limit), 0)]]

    def _mark(self, message_id: int, worker: str, states: tuple[str, ...], **values: Any) -> bool:
        outbox = self.t["outbox"]
        with self._transaction():
            row = outbox.get(message_id)
            if row is None or row["claimed_by"] != worker or row["status"] not in states:
                return False
            outbox.update((message_id,), values)
        return True

    def retry_message(
        self, message_id: int, *, now: datetime.datetime, replace_with: Sequence[dict] = ()
    ) -> bool:
        outbox = self.t["outbox"]
        again = {"status": REPLACED} if replace_with else {"status": PENDING, "next_at": now, "attempts": 0}
        with self._transaction():
            row = outbox.get(message_id)
            if row is None or row["status"] not in UNDELIVERED:
                return False
            outbox.update((message_id,), {**again, "claimed_by": None, "lease_until": None})
            self._insert_messages(replace_with, now)
        return True

    def outbox_message(self, message_id: int) -> OutboxMessage | None:
        with self._lock:
            row = self.t["outbox"].get(message_id)
        return OutboxMessage.from_mapping(row) if row else None

    def outbox_messages(
        self,
        *,
        statuses: Collection[str] | None = None,
        complaint_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[OutboxMessage]:
        with self._lock:
            rows = [
                r
                for r in self.t["outbox"].all()
                if (statuses is None or r["status"] in statuses)
                and (complaint_id is None or r["complaint_id"] == complaint_id)
            ]
        rows.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
        start = max(int(offset), 0)
        return [OutboxMessage.from_mapping(r) for r in rows[start : start + max(int(limit), 0)]]

    # --- contacts ---------------------------------------------------------------------------

    def put_contact(self, owner_kind: str, owner_code: str, channel: str, address: str) -> bool:
        table = self.t["notify_contacts"]
        with self._transaction():
            if table.get(owner_kind, owner_code, channel, address) is not None:
                return False
            table.insert(
                {
                    "owner_kind": owner_kind,
                    "owner_code": owner_code,
                    "channel": channel,
                    "address": address,
                    "updated_at": self._now(),
                },
                strict=True,
            )
        return True

    def remove_contact(self, owner_kind: str, owner_code: str, channel: str, address: str) -> int:
        key = (owner_kind, owner_code, channel, address)
        with self._transaction():
            return self.t["notify_contacts"].delete(
                lambda r: (r["owner_kind"], r["owner_code"], r["channel"], r["address"]) == key
            )

    def contacts(self, owner_kind: str | None = None, owner_code: str | None = None) -> list[Contact]:
        with self._lock:
            rows = self.t["notify_contacts"].all()
        return [
            Contact(r["owner_kind"], r["owner_code"], r["channel"], r["address"])
            for r in rows
            if (owner_kind is None or r["owner_kind"] == owner_kind)
            and (owner_code is None or r["owner_code"] == owner_code)
        ]


__all__ = ["OutboxMemory"]
