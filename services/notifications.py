"""Notifications: the deadline scan, the delivery worker, contacts, and undelivered messages.

Messages are planned by ``services.notices`` and written to the outbox in the same
transaction as their cause. This service does the rest:

* ``scan`` writes due-soon and overdue notices for every running deadline; run it as often
  as liked (``redgrid notify scan`` from cron): the outbox keeps one per case, deadline,
  kind and address.
* ``send_due`` claims due messages under a lease, sends each once through its channel's
  sender (``services.senders``), marks it sent, or schedules a retry with exponential backoff
  (``backoff_s``·2ⁿ⁻¹, at most ``MAX_BACKOFF``) until ``max_attempts``, then gives up. Why a
  crash never makes a second delivery is in ``store.outbox`` and ``services.senders``.
* Contacts (a department's SMS numbers, 企业微信 robot, email; the dispatch centre's; a
  吹哨群's robot) are set by administrators (``redgrid notify contact add``).
* Dispatchers and administrators see undelivered messages (failed, or maybe sent when a
  worker died) and send them again; phone numbers and mail addresses are masked unless the
  caller may see personal data, and each unmasked view is audited. A webhook's key is a
  secret and is never shown.
"""

from __future__ import annotations

import datetime
import os
import socket
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from complaints.workflow import State
from geo.officials import mask_phone
from geo.officials import normalise_phone
from geo.timeutil import BEIJING
from geo.timeutil import utcnow
from services import permissions
from services.audit import AuditService
from services.callers import ADMIN
from services.callers import PERSONAL_DATA
from services.callers import Caller
from services.cases import ComplaintService
from services.config import Config
from services.errors import Forbidden
from services.errors import Invalid
from services.errors import NotFound
from services.errors import Refused
from services.errors import Unauthenticated
from services.notices import CHANNELS
from services.notices import CONTACT_OWNERS
from services.notices import DEPARTMENT
from services.notices import NO_CHANNEL
from services.notices import WHISTLE_GROUP
from services.notices import NoticePlanner
from services.notices import replacement_rows
from services.senders import Sender
from services.senders import SendError
from services.senders import SmsGateway
from services.senders import SmtpMailer
from services.senders import WecomRobot
from store.base import Store
from store.outbox import UNDELIVERED
from store.outbox import Contact
from store.outbox import OutboxMessage

#: (catalogue key, language, values) → text: ``webmap.i18n.translate``, given by the adapters
Translate = Callable[..., str]
#: roles that see and retry undelivered messages
NOTIFY_ROLES = ("dispatcher", "admin")
MAX_BACKOFF = datetime.timedelta(hours=6)
#: the language messages are sent in (the people who receive them read Chinese)
SEND_LANGUAGE = "zh"
NOTIFY_VIEW = "notify.view"
NOTIFY_RETRY = "notify.retry"
CONTACT_ADD = "notify.contact.add"
CONTACT_REMOVE = "notify.contact.remove"


def _plain_text(key: str, language: str, **values: object) -> str:
    """The fallback renderer when no catalogue is given: the key and the values, readable."""
    return key + " " + " ".join(f"{k}={v}" for k, v in values.items())


@dataclass(frozen=True)
class ScanReport:
    checked: int
    added: int


@dataclass(frozen=True)
class DeliveryReport:
    claimed: int
    sent: int
    retrying: int
    failed: int


@dataclass(frozen=True)
class MessageView:
    """An outbox message as a caller may see it (address masked unless allowed)."""

    message: OutboxMessage
    address: str
    text: str


def senders_from(config: Config) -> dict[str, Sender]:
    """The senders the configuration enables (the SMS gateway and SMTP need their settings)."""
    found: dict[str, Sender] = {}
    timeout = config.notify_timeout_s
    if config.sms_url and config.sms_key:
        found["sms"] = SmsGateway(config.sms_url, config.sms_key, timeout)
    if config.wecom_enabled:
        found["wecom"] = WecomRobot(timeout)
    if config.smtp_host:
        found["email"] = SmtpMailer(
            config.smtp_host,
            config.smtp_port,
            config.smtp_from,
            config.smtp_user,
            config.smtp_password,
            config.smtp_starttls,
            timeout,
        )
    return found


class NotificationService:
    def __init__(
        self,
        store: Store,
        cases: ComplaintService,
        planner: NoticePlanner,
        *,
        senders: Mapping[str, Sender] | None = None,
        translate: Translate | None = None,
        audit: AuditService | None = None,
        clock: Callable[[], datetime.datetime] = utcnow,
        max_attempts: int = 6,
        backoff_s: float = 60.0,
        lease_s: float = 300.0,
    ) -> None:
        self.store = store
        self.cases = cases
        self.planner = planner
        self.senders: dict[str, Sender] = dict(senders or {})
        self.translate: Translate = translate or _plain_text
        self.audit = audit if audit is not None else AuditService(store, clock=clock)
        self.now = clock
        self.max_attempts = max_attempts
        self.backoff = datetime.timedelta(seconds=backoff_s)
        self.lease = datetime.timedelta(seconds=lease_s)

    # --- the deadline scan ----------------------------------------------------------------------

    def scan(self) -> ScanReport:
        """Write due-soon and overdue notices for running deadlines (idempotent)."""
        now = self.now()
        running = self.store.list_complaints(
            filters={"state": [State.DISPATCHED.value, State.REOPENED.value]}, limit=10**9
        )
        rows: list[dict] = []
        known: dict = {}  # each department's addresses, read once per scan
        for case in running:
            status = self.cases.deadline_status(case, now).value
            rows += self.planner.for_deadline(case, status, now, known)
        return ScanReport(len(running), self.store.add_messages(rows, now=now) if rows else 0)

    # --- delivery -------------------------------------------------------------------------------

    def retry_at(self, attempts: int) -> datetime.datetime | None:
        """When to try again after ``attempts`` tries, or None when they are used up."""
        if attempts >= self.max_attempts:
            return None
        return self.now() + min(self.backoff * 2 ** max(attempts - 1, 0), MAX_BACKOFF)

    def text(self, message: OutboxMessage, language: str = SEND_LANGUAGE) -> str:
        """The message in ``language``; its category and department named in that language too
        (messages keep the Chinese names they were sent with, and their codes)."""
        values = dict(message.params)
        if language != SEND_LANGUAGE:
            catalog = self.cases.catalog
            category = catalog.categories.get(str(values.get("category_code") or ""))
            department = catalog.departments.get(str(values.get("department_code") or ""))
            if category is not None:
                values["category"] = category.name_en
            if department is not None:
                values["department"] = department.name_en
        return self.translate(f"notify_msg_{message.kind}", language, **values)

    def send_due(self, *, worker: str | None = None, limit: int = 50) -> DeliveryReport:
        """Claim due messages, send each, record the outcome."""
        worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        resend = {name for name, sender in self.senders.items() if sender.idempotent}
        claimed = self.store.claim_messages(
            worker, now=self.now(), lease=self.lease, limit=limit, resend_channels=resend
        )
        sent = retrying = failed = 0
        for message in claimed:
            outcome = self._deliver(message, worker)
            sent += outcome == "sent"
            retrying += outcome == "retrying"
            failed += outcome == "failed"
        return DeliveryReport(len(claimed), sent, retrying, failed)

    def _deliver(self, message: OutboxMessage, worker: str) -> str:
        sender = self.senders.get(message.channel)
        if sender is None:
            error = SendError(f"no sender is configured for channel {message.channel!r}")
        elif not self.store.mark_sending(message.id, worker):
            return "lost"  # the lease ran out and another worker has it
        else:
            subject = self.translate("notify_subject", SEND_LANGUAGE, **message.params)
            try:
                sender.send(message, self.text(message), subject)
            except SendError as exc:
                error = exc
            else:
                self.store.mark_sent(message.id, worker, now=self.now())
                return "sent"
        retry_at = self.retry_at(message.attempts) if error.retry else None
        self.store.mark_failed(message.id, worker, error=str(error), retry_at=retry_at)
        return "retrying" if retry_at is not None else "failed"

    # --- contacts -------------------------------------------------------------------------------

    def _require_admin(self, caller: Caller) -> None:
        if caller.kind != "system" and not caller.can(ADMIN):
            raise Forbidden("only administrators change notification contacts")

    def check_contact(self, owner_kind: str, owner_code: str, channel: str, address: str) -> tuple[str, str]:
        """The contact as stored (a phone normalised), or Invalid naming what is wrong."""
        if owner_kind not in CONTACT_OWNERS:
            raise Invalid(f"owner is one of {', '.join(CONTACT_OWNERS)}, not {owner_kind!r}", field="owner")
        catalog = self.cases.catalog
        known = {
            DEPARTMENT: set(catalog.departments),
            WHISTLE_GROUP: {g.code for g in catalog.whistle_groups.values()},
        }.get(owner_kind)
        if known is not None and owner_code not in known:
            raise Invalid(
                f"unknown {owner_kind} {owner_code!r}; known: {', '.join(sorted(known))}", field="code"
            )
        if channel not in CHANNELS:
            raise Invalid(f"channel is one of {', '.join(CHANNELS)}, not {channel!r}", field="channel")
        address = address.strip()
        if channel == "sms":
            try:
                address = normalise_phone(address)
            except ValueError as exc:
                raise Invalid(f"{address!r} is not a phone number", field="address") from exc
        elif channel == "wecom":
            parts = urlsplit(address)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise Invalid(
                    "a 企业微信 robot is its webhook URL (https://qyapi.weixin.qq.com/…)", field="address"
                )
        elif "@" not in address or " " in address or len(address) > 254:
            raise Invalid(f"{address!r} is not an email address", field="address")
        return owner_code, address

    def add_contact(
        self, caller: Caller, owner_kind: str, owner_code: str, channel: str, address: str
    ) -> bool:
        self._require_admin(caller)
        code, address = self.check_contact(owner_kind, owner_code, channel, address)
        new = self.store.put_contact(owner_kind, code, channel, address)
        if new:
            self.audit.record(caller, CONTACT_ADD, f"{owner_kind}:{code}", {"channel": channel})
        return new

    def remove_contact(
        self, caller: Caller, owner_kind: str, owner_code: str, channel: str, address: str
    ) -> int:
        self._require_admin(caller)
        if channel == "sms":
            try:
                address = normalise_phone(address)
            except ValueError:
                pass
        count = self.store.remove_contact(owner_kind, owner_code, channel, address.strip())
        if count:
            self.audit.record(caller, CONTACT_REMOVE, f"{owner_kind}:{owner_code}", {"channel": channel})
        return count

    def contacts(self, caller: Caller, owner_kind: str | None = None) -> list[Contact]:
        self._require_admin(caller)
        return self.store.contacts(owner_kind)

    # --- undelivered messages -------------------------------------------------------------------

    def _require_staff(self, caller: Caller) -> None:
        if not caller.authenticated:
            raise Unauthenticated("sign in as a dispatcher or administrator")
        if permissions.acting_role(caller) not in NOTIFY_ROLES:
            raise Forbidden(
                "only the dispatch centre (dispatchers, administrators) sees undelivered messages"
            )

    def undelivered(
        self, caller: Caller, *, language: str = SEND_LANGUAGE, limit: int = 100, offset: int = 0
    ) -> list[MessageView]:
        """Failed and maybe-sent messages, newest first, as ``caller`` may see them."""
        self._require_staff(caller)
        found = self.store.outbox_messages(
            statuses=UNDELIVERED, limit=min(max(limit, 0), 1000), offset=offset
        )
        personal = caller.can(PERSONAL_DATA)
        views = [MessageView(m, shown_address(m, personal=personal), self.text(m, language)) for m in found]
        shown = [v.message.id for v in views if personal and v.message.channel in ("sms", "email")]
        if shown:
            self.audit.record(caller, NOTIFY_VIEW, "outbox", {"ids": shown})
        return views

    def retry(self, caller: Caller, message_id: int) -> int:
        """Send a failed or maybe-sent message again (a person decided). A message that had no
        recipient is replaced by deliveries to the contacts known now. Returns how many
        messages will be sent."""
        self._require_staff(caller)
        message = self.store.outbox_message(message_id) if 0 < message_id < 2**31 else None
        if message is None:
            raise NotFound(f"message {message_id} does not exist")
        if message.status not in UNDELIVERED:
            raise Refused(
                f"message {message_id} is {message.status}, not undelivered", code="not_undelivered"
            )
        replace: list[dict] = []
        if message.channel == NO_CHANNEL:
            found = self.planner.addresses(
                message.recipient_kind, message.recipient_code, self.now().astimezone(BEIJING).date()
            )
            if not found:
                raise Refused(
                    f"{message.recipient_kind} {message.recipient_code} still has no contact",
                    code="no_contact",
                )
            base: dict[str, Any] = {
                "kind": message.kind,
                "complaint_id": message.complaint_id,
                "recipient_kind": message.recipient_kind,
                "recipient_code": message.recipient_code,
                "params": message.params,
            }
            replace = replacement_rows(message.dedupe_key, base, found)
        if not self.store.retry_message(message_id, now=self.now(), replace_with=replace):
            raise Refused(f"message {message_id} changed meanwhile; reload", code="not_undelivered")
        self.audit.record(caller, NOTIFY_RETRY, f"outbox:{message_id}", {"replaced_by": len(replace)})
        return len(replace) or 1


def shown_address(message: OutboxMessage, *, personal: bool) -> str:
    """A message's address for a page: phones and mail masked unless ``personal``; a webhook's
    key never shown."""
    address = message.address or ""
    if message.channel == "wecom":
        parts = urlsplit(address)
        return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?key=***" if parts.query else "")
    if personal or not address:
        return address
    if message.channel == "sms":
        return mask_phone(address)
    name, _, domain = address.partition("@")
    return f"{name[:1]}***@{domain}"


__all__ = [
    "NOTIFY_ROLES",
    "DeliveryReport",
    "MessageView",
    "NotificationService",
    "ScanReport",
    "senders_from",
    "shown_address",
]
