"""The audit log: who saw or changed what, when (aware UTC) and from where.

Entries are appended, never changed or removed (the store offers no way to). What is
recorded, with its ``action``:

* ``case.view`` / ``case.list``: one complaint or a list shown with reporter contacts or
  unmasked phone numbers in its text (one entry per view, naming the cases);
* ``team.view``: officials' full phone numbers shown;
* ``export``: a download (statistics CSV, planner exports), with what it held;
* ``login`` / ``login.failed``: sign-ins, good and bad (``webmap.users`` records them);
* ``key.use``: an API key presented (once per key and address per hour and process, so a
  polling client does not flood the log; its views and changes are recorded in full);
* ``deliberation.view``: a 多元议事 record shown with the residents who took part named;
  ``deliberation.record``: one recorded;
* ``key.create``, ``key.revoke``, ``user.create``, ``user.change``, ``grant.add``,
  ``grant.remove``: account, key, role and grant changes;
* ``catalog.change``, ``roster.import``, ``grids.import``, ``grids.activate``: the admin
  pages' changes to the category catalogue (old and new values), rosters and grid versions.

The adapters say where a request came from (``Caller.address`` or ``address=``); the
services decide what is recorded, so pages, the API, Open311 and the command line agree.
Only administrators read the log (``redgrid audit list``, ``/admin/audit``).
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from typing import Any

from geo.timeutil import parse_since
from geo.timeutil import parse_when
from geo.timeutil import utcnow
from services.callers import ADMIN
from services.callers import Caller
from services.errors import Forbidden
from services.errors import Invalid
from services.errors import Unauthenticated
from store.audit import AuditEntry
from store.audit import AuditStore

CASE_VIEW = "case.view"
CASE_LIST = "case.list"
DELIBERATION_VIEW = "deliberation.view"
DELIBERATION_RECORD = "deliberation.record"
#: a list searched by the reporter's phone (the phone recorded masked, with how many were found)
CASE_PHONE_SEARCH = "case.phone_search"
TEAM_VIEW = "team.view"
EXPORT = "export"
LOGIN = "login"
LOGIN_FAILED = "login.failed"
LOGOUT = "logout"
KEY_USE = "key.use"
KEY_CREATE = "key.create"
KEY_REVOKE = "key.revoke"
USER_CREATE = "user.create"
USER_CHANGE = "user.change"
GRANT_ADD = "grant.add"
GRANT_REMOVE = "grant.remove"
#: how long one ``key.use`` entry stands for the same key from the same address
KEY_USE_WINDOW = datetime.timedelta(hours=1)
MAX_TARGET = 2000


class AuditService:
    def __init__(self, store: AuditStore, *, clock: Callable[[], datetime.datetime] = utcnow) -> None:
        self.store = store
        self.now = clock
        self._key_seen: dict[tuple[str, str | None], datetime.datetime] = {}
        self._lock = threading.Lock()

    def record(
        self,
        caller: Caller,
        action: str,
        target: str | None = None,
        detail: dict | None = None,
        address: str | None = None,
    ) -> None:
        """Append one entry: ``caller`` did or saw ``action`` on ``target``, from ``address``
        (default: the caller's own). Raises if it cannot be stored, so nothing is shown
        unrecorded."""
        when = self.now()
        if when.tzinfo is None:
            raise ValueError("the audit clock must give aware times")
        self.store.add_audit_entry(
            when.astimezone(datetime.UTC),
            caller.actor,
            action,
            role=caller.role if caller.kind == "user" else caller.kind,
            target=None if target is None else str(target)[:MAX_TARGET],
            detail=_plain(detail) if detail else None,
            address=(address or caller.address or None),
        )

    def key_used(self, caller: Caller, address: str | None = None) -> None:
        """Record that an API key was presented (at most once an hour per key and address)."""
        if caller.kind != "api_key":
            return
        where = address or caller.address
        now = self.now()
        with self._lock:
            last = self._key_seen.get((caller.name, where))
            if last is not None and now - last < KEY_USE_WINDOW:
                return
            self._key_seen[(caller.name, where)] = now
        self.record(caller, KEY_USE, target=f"api_key:{caller.name}", address=where)

    def list(
        self,
        caller: Caller,
        *,
        who: str | None = None,
        action: str | None = None,
        since: datetime.datetime | str | None = None,
        until: datetime.datetime | str | None = None,
        target: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEntry]:
        """Entries newest first, for administrators. ``who`` is ``kind:name`` (``user:wang``,
        ``api_key:hotline``) or a bare name (a user's); ``action`` also finds its dotted
        sub-actions; ``since``/``until`` are dates or ISO times."""
        if not caller.authenticated:
            raise Unauthenticated("sign in as an administrator to read the audit log")
        if not caller.can(ADMIN):
            raise Forbidden("only administrators read the audit log")
        if who and ":" not in who and who != "cli":
            who = f"user:{who}"
        start = parse_since(since, name="since") if isinstance(since, str) and since else since or None
        end = parse_when(until, name="until") if isinstance(until, str) and until else until or None
        if limit < 0 or offset < 0:
            raise Invalid("limit and offset are not negative", field="limit")
        return self.store.audit_entries(
            who=who or None,
            action=action or None,
            since=start,
            until=end,
            target=target or None,
            limit=limit,
            offset=offset,
        )


def _plain(value: Any) -> Any:
    """A detail as plain JSON values (times as ISO text, sets as sorted lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


__all__ = [
    "CASE_LIST",
    "CASE_PHONE_SEARCH",
    "CASE_VIEW",
    "DELIBERATION_RECORD",
    "DELIBERATION_VIEW",
    "EXPORT",
    "GRANT_ADD",
    "GRANT_REMOVE",
    "KEY_CREATE",
    "KEY_REVOKE",
    "KEY_USE",
    "LOGIN",
    "LOGIN_FAILED",
    "LOGOUT",
    "TEAM_VIEW",
    "USER_CHANGE",
    "USER_CREATE",
    "AuditService",
]
