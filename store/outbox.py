"""The outbox: notifications written with the action that causes them, sent later by a worker.

A message row is one delivery: one kind of notice about one case, to one address on one
channel. Rows are added in the same transaction as the complaint change
(``ComplaintStore.update_complaint(..., messages=…)``) or by the deadline scan
(``add_messages``); ``dedupe_key`` is unique, and a row whose key is already stored is
skipped, so the scan is idempotent.

Delivery is claim → sending → sent (or back to pending with a later ``next_at``, or failed
after the last attempt). A claim holds a lease: a worker that dies after claiming leaves a
``claimed`` row that the next claim after the lease takes again (nothing was sent). A worker
that dies after ``mark_sending`` may have sent it: such a row is taken again only on a
channel in ``resend_channels`` (the gateway drops a repeated idempotency key), and is
otherwise set ``unknown`` for a person to decide, so nothing is sent twice.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import fields
from typing import Any
from typing import Protocol

PENDING = "pending"
CLAIMED = "claimed"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
#: the worker died while sending on a channel without idempotency: maybe sent, maybe not
UNKNOWN = "unknown"
#: a message no one could receive, replaced by deliveries to the contacts found later
REPLACED = "replaced"
#: waiting for a worker, or in a worker's hands
OPEN = (PENDING, CLAIMED, SENDING)
#: what a person should look at: not delivered and not going to be without them
UNDELIVERED = (FAILED, UNKNOWN)


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    dedupe_key: str
    kind: str
    complaint_id: int | None
    recipient_kind: str
    recipient_code: str
    channel: str
    address: str | None
    params: dict[str, Any]
    status: str
    attempts: int
    created_at: datetime.datetime
    next_at: datetime.datetime
    claimed_by: str | None
    lease_until: datetime.datetime | None
    sent_at: datetime.datetime | None
    last_error: str | None

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> OutboxMessage:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class Contact:
    """Where a department or the dispatch centre is reached: a channel and an address."""

    owner_kind: str
    owner_code: str
    channel: str
    address: str


#: the columns a new message names (the store fills status, attempts, times and lease)
MESSAGE_COLUMNS = (
    "dedupe_key",
    "kind",
    "complaint_id",
    "recipient_kind",
    "recipient_code",
    "channel",
    "address",
    "params",
)


class OutboxStore(Protocol):
    """Messages to send, their delivery state, and the contacts they are addressed to."""

    def add_messages(self, messages: Sequence[dict], *, now: datetime.datetime) -> int:
        """Add messages (``MESSAGE_COLUMNS``, optionally ``status``/``last_error``), due at
        ``now``; those whose ``dedupe_key`` is stored already are skipped. Returns how many
        were added."""
        ...

    def claim_messages(
        self,
        worker: str,
        *,
        now: datetime.datetime,
        lease: datetime.timedelta,
        limit: int = 50,
        resend_channels: Collection[str] = (),
    ) -> list[OutboxMessage]:
        """Claim due messages for ``worker`` until ``now + lease``: pending ones whose
        ``next_at`` has come, and ones whose lease ran out (see the module docstring).
        Each claim counts an attempt."""
        ...

    def mark_sending(self, message_id: int, worker: str) -> bool:
        """Say the worker is about to hand the message over; False if it is no longer its claim."""
        ...

    def mark_sent(self, message_id: int, worker: str, *, now: datetime.datetime) -> bool: ...
    def mark_failed(
        self, message_id: int, worker: str, *, error: str, retry_at: datetime.datetime | None
    ) -> bool:
        """Back to pending until ``retry_at``, or failed for good when it is None."""
        ...

    def retry_message(
        self, message_id: int, *, now: datetime.datetime, replace_with: Sequence[dict] = ()
    ) -> bool:
        """A failed or unknown message back to pending, due now, its attempts counted afresh;
        or, given ``replace_with`` (new messages), closed as replaced by them, in one transaction."""
        ...

    def outbox_message(self, message_id: int) -> OutboxMessage | None: ...
    def outbox_messages(
        self,
        *,
        statuses: Collection[str] | None = None,
        complaint_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[OutboxMessage]:
        """Messages newest first."""
        ...

    def put_contact(self, owner_kind: str, owner_code: str, channel: str, address: str) -> bool:
        """Keep a contact once; True when it is new."""
        ...

    def remove_contact(self, owner_kind: str, owner_code: str, channel: str, address: str) -> int: ...
    def contacts(self, owner_kind: str | None = None, owner_code: str | None = None) -> list[Contact]:
        """Contacts sorted by owner, channel and address."""
        ...


class OutboxMarks:
    """How a claimed message is marked, the same on every backend: each backend gives ``_mark``
    (change the row if it is still ``worker``'s claim in one of ``states``)."""

    def _mark(self, message_id: int, worker: str, states: tuple[str, ...], **values: Any) -> bool:
        raise NotImplementedError

    def mark_sending(self, message_id: int, worker: str) -> bool:
        return self._mark(message_id, worker, (CLAIMED,), status=SENDING)

    def mark_sent(self, message_id: int, worker: str, *, now: datetime.datetime) -> bool:
        done = {"status": SENT, "sent_at": now, "last_error": None}
        return self._mark(message_id, worker, (CLAIMED, SENDING), **done, claimed_by=None, lease_until=None)

    def mark_failed(
        self, message_id: int, worker: str, *, error: str, retry_at: datetime.datetime | None
    ) -> bool:
        later = {"status": PENDING, "next_at": retry_at} if retry_at is not None else {"status": FAILED}
        return self._mark(
            message_id,
            worker,
            (CLAIMED, SENDING),
            **later,
            last_error=error[:2000],
            claimed_by=None,
            lease_until=None,
        )


__all__ = [
    "CLAIMED",
    "FAILED",
    "MESSAGE_COLUMNS",
    "OPEN",
    "PENDING",
    "REPLACED",
    "SENDING",
    "SENT",
    "UNDELIVERED",
    "UNKNOWN",
    "Contact",
    "OutboxMarks",
    "OutboxMessage",
    "OutboxStore",
]
