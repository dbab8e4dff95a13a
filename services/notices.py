"""Which workflow events and deadlines tell whom what: the one table, and the outbox rows it makes.

A notice is planned here and written by the store in the same transaction as the change
that causes it (``ComplaintService.transition`` passes the rows to ``update_complaint``),
so a dispatch is never stored without its message, nor a message without its dispatch.
Sending is later and elsewhere (``services.notifications``).

Recipients are kinds of contact owner: the case's ``department`` (after the change, so a
dispatch goes to the new one), the dispatch ``centre``, the ``grid`` team (officials of the
case's grid in the roster, by SMS) and the case's ``whistle_group`` (吹哨群, usually a
企业微信 group robot). A recipient with no contact still gets a row, on channel ``none``
and already failed, so the page of undelivered messages shows whom nobody could tell.

The text is not stored: a row keeps its kind and the values of its text (case number,
category and department names, deadline in Beijing time), and the sender renders the
catalogue entry ``notify_msg_<kind>`` when it sends.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass

from complaints.catalog import Catalog
from complaints.records import Case
from geo.timeutil import BEIJING
from store.outbox import FAILED
from store.outbox import Contact
from store.outbox import OutboxStore
from store.places import PlaceStore

DEPARTMENT = "department"
CENTRE = "centre"
GRID = "grid"
WHISTLE_GROUP = "whistle_group"
#: who keeps contacts in the contacts table (grid teams are reached through the roster)
CONTACT_OWNERS = (DEPARTMENT, CENTRE, WHISTLE_GROUP)
#: the dispatch centre is one owner; its code is this
CENTRE_CODE = "centre"
CHANNELS = ("sms", "wecom", "email")
#: the channel of a row for a recipient nobody could reach
NO_CHANNEL = "none"
NO_CONTACT = "no contact: add one with redgrid notify contact add"


@dataclass(frozen=True)
class Notice:
    """One kind of message and the recipients it goes to."""

    kind: str
    to: tuple[str, ...]


#: workflow action (as stored in the case's history) → the notices it causes. A new action
#: is one line here (and its text, ``notify_msg_<kind>``, in the catalogues); ``whistle``
#: fires once the workflow has that action.
ON_ACTION: Mapping[str, tuple[Notice, ...]] = {
    "dispatch": (Notice("dispatch", (DEPARTMENT,)),),
    "deliberate": (Notice("deliberation", (GRID,)),),
    "resolve": (Notice("follow_up_due", (CENTRE,)),),
    "resolve_on_site": (Notice("follow_up_due", (CENTRE,)),),
    "return": (Notice("returned", (CENTRE,)),),
    "request_extension": (Notice("extension_requested", (CENTRE,)),),
    "approve_extension": (Notice("extension_approved", (DEPARTMENT,)),),
    "refuse_extension": (Notice("extension_refused", (DEPARTMENT,)),),
    "urge": (Notice("urged", (DEPARTMENT,)),),
    "supervise": (Notice("supervised", (DEPARTMENT,)),),
    "whistle": (Notice("whistle", (WHISTLE_GROUP,)),),
}
#: deadline status (``complaints.workflow.DeadlineStatus``) → the notice the periodic scan writes
ON_DEADLINE: Mapping[str, Notice] = {
    "due_soon": Notice("due_soon", (DEPARTMENT,)),
    "overdue": Notice("overdue", (DEPARTMENT, CENTRE)),
}
KINDS = tuple(
    dict.fromkeys([n.kind for ns in ON_ACTION.values() for n in ns] + [n.kind for n in ON_DEADLINE.values()])
)


class NoticePlanner:
    """Outbox rows for an event or a deadline, addressed from the contacts and the roster."""

    def __init__(self, store: OutboxStore, places: PlaceStore, catalog: Catalog) -> None:
        self.store = store
        self.places = places
        self.catalog = catalog

    def for_action(self, case: Case, action: str, stamp: str, now: datetime.datetime) -> list[dict]:
        """Rows for ``action`` just taken on ``case`` (as it is after the action); ``stamp``
        tells this event from the case's others (its new row version)."""
        notices = ON_ACTION.get(action, ())
        return [row for notice in notices for row in self._rows(notice, case, f"v{stamp}", now)]

    def for_deadline(
        self, case: Case, status: str, now: datetime.datetime, known: dict | None = None
    ) -> list[dict]:
        """Rows for a case whose deadline is due soon or passed: one per deadline per kind.
        ``known`` keeps the addresses found, for a scan over many cases."""
        notice = ON_DEADLINE.get(status)
        if notice is None or case.deadline is None:
            return []
        return self._rows(notice, case, case.deadline.astimezone(datetime.UTC).isoformat(), now, known)

    def params(self, case: Case) -> dict[str, object]:
        """The values a message's text is filled with: nothing personal."""
        category = self.catalog.categories.get(case.category_code)
        department = self.catalog.departments.get(case.department_code or "")
        return {
            "id": case.id,
            "category": category.name_zh if category else case.category_code,
            "department": department.name_zh if department else "—",
            # the codes too, so a page in English names them in English (services.notifications)
            "category_code": case.category_code,
            "department_code": case.department_code,
            "deadline": _beijing(case.deadline),
            "extension": _beijing(case.extension_deadline),
        }

    def addresses(self, owner_kind: str, owner_code: str, today: datetime.date) -> list[Contact]:
        """Where an owner is reached now: its contacts, or for a grid its serving officials' phones."""
        if owner_kind == GRID:
            phones = dict.fromkeys(
                a.phone
                for a in self.places.assignments([owner_code])
                if a.phone and a.start <= today and (a.end is None or a.end >= today)
            )
            return [Contact(GRID, owner_code, "sms", phone) for phone in phones]
        return self.store.contacts(owner_kind, owner_code)

    def owner_code(self, recipient: str, case: Case) -> str | None:
        return {
            DEPARTMENT: case.department_code,
            CENTRE: CENTRE_CODE,
            GRID: case.grid_code,
            WHISTLE_GROUP: case.whistle_group,
        }[recipient]

    def _rows(
        self, notice: Notice, case: Case, stamp: str, now: datetime.datetime, known: dict | None = None
    ) -> list[dict]:
        params = self.params(case)
        today = now.astimezone(BEIJING).date()
        rows: list[dict] = []
        for recipient in notice.to:
            code = self.owner_code(recipient, case)
            if not code:
                continue
            base = {
                "kind": notice.kind,
                "complaint_id": case.id,
                "recipient_kind": recipient,
                "recipient_code": code,
                "params": params,
            }
            key = f"{notice.kind}:{case.id}:{stamp}:{recipient}:{code}"
            known = {} if known is None else known
            if (recipient, code) not in known:
                known[recipient, code] = self.addresses(recipient, code, today)
            found = known[recipient, code]
            rows += [
                {
                    **base,
                    "dedupe_key": f"{key}:{c.channel}:{_digest(c.address)}",
                    "channel": c.channel,
                    "address": c.address,
                }
                for c in found
            ]
            if not found:
                rows.append(
                    {
                        **base,
                        "dedupe_key": f"{key}:{NO_CHANNEL}",
                        "channel": NO_CHANNEL,
                        "address": None,
                        "status": FAILED,
                        "last_error": NO_CONTACT,
                    }
                )
        return rows


def replacement_rows(message_key: str, base: Mapping[str, object], found: Sequence[Contact]) -> list[dict]:
    """Rows that take the place of a message no one could receive, now that contacts exist:
    keyed as the planner keys them, so a scan that found the same contact adds no second one."""
    prefix = message_key.removesuffix(f":{NO_CHANNEL}")
    return [
        {
            **base,
            "dedupe_key": f"{prefix}:{c.channel}:{_digest(c.address)}",
            "channel": c.channel,
            "address": c.address,
        }
        for c in found
    ]


def _beijing(when: datetime.datetime | None) -> str:
    return when.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if when else "—"


def _digest(address: str) -> str:
    """A short fixed-length stand-in for an address in a key (webhook URLs are long and secret)."""
    return hashlib.sha256(address.encode()).hexdigest()[:16]


__all__ = [
    "CENTRE",
    "CHANNELS",
    "CONTACT_OWNERS",
    "DEPARTMENT",
    "GRID",
    "KINDS",
    "NO_CHANNEL",
    "ON_ACTION",
    "ON_DEADLINE",
    "WHISTLE_GROUP",
    "Notice",
    "NoticePlanner",
]
