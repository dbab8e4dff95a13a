"""Work queues (我的待办) and the searchable case list: what waits for whom, and what each role
may look for.

A queue is a store filter decided here from the caller, so the header badge, the queue page
and the list agree by construction: the badge is the sum of the counted queues, each count
one ``count_complaints`` query on indexed columns (measured on 50,000 cases: see the report of
issue 9 and ``bench``), and the queue page lists exactly the cases its filter matches.

The queues, by who is asking:

- **the dispatch centre** (dispatchers, administrators): new (collected), returned (退单,
  back from a department), extension requests (``extension_deadline`` set), waiting for
  follow-up (resolved or resolved on site: 回访) and overdue;
- **a department**: its cases due soon (80 % of the working time used, as
  ``complaints.workflow.deadline_status``), overdue, and reopened: a case of ours reopened
  after our answer (the resident not satisfied) is what comes back to a department; a case
  it returned (退单) is the dispatch centre's until it is dispatched again, so it is not
  the department's. Plus all its open cases, listed but not counted;
- **a grid team** (the ``grid`` role): the open cases assigned to me (counted), and all
  open cases in our grids (listed, not counted: the team's shared view).

Due soon needs the working-day calendar, so its count is one query of the department's
running cases (three columns) with the share counted here.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Hashable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from cachetools import TTLCache

from complaints.workflow import TRANSITIONS
from complaints.workflow import Action
from complaints.workflow import DeadlineStatus
from complaints.workflow import State
from geo.officials import mask_phone
from geo.officials import normalise_phone
from geo.timeutil import parse_since
from geo.timeutil import parse_when
from services import audit as audit_log
from services.caching import Memo
from services.callers import PERSONAL_DATA
from services.callers import Caller
from services.cases import DEADLINE_FILTERS
from services.cases import MAX_PAGE
from services.cases import CasePage
from services.cases import CaseView
from services.cases import ComplaintService
from services.cases import bounded_time
from services.errors import Forbidden
from services.errors import Invalid
from services.errors import NotFound
from services.grids import GridSet
from services.permissions import Visibility
from services.permissions import acting_role
from services.permissions import allowed_actions
from services.permissions import in_own_grids
from services.teams import Member
from services.teams import beijing_day
from store.complaints import ORDERS

#: the states a case is still being worked in
OPEN_STATES = (
    State.COLLECTED.value,
    State.DELIBERATION.value,
    State.DISPATCHED.value,
    State.REOPENED.value,
    State.RETURNED.value,
)
#: where a deadline runs
RUNNING = (State.DISPATCHED.value, State.REOPENED.value)
#: the list's sort keys (``sort=``): a column of ``store.complaints.ORDERS``, ``-`` for descending
SORTS = tuple(f"{sign}{column}" for column in ORDERS for sign in ("", "-"))
#: the longest words searched in the text
MAX_WORDS = 64


@dataclass(frozen=True)
class Queue:
    """One queue: its name (``queue_<name>`` in the catalogues), whether the header badge counts
    it, and the order its cases are listed in (soonest deadline first)."""

    name: str
    counted: bool = True
    order: str = "deadline"


DISPATCH_QUEUES = (
    Queue("new", order="reported_at"),
    Queue("returned"),
    Queue("extensions"),
    Queue("follow_up"),
    Queue("overdue"),
)
DEPARTMENT_QUEUES = (
    Queue("due_soon"),
    Queue("overdue"),
    Queue("reopened"),
    Queue("open", counted=False),
)
GRID_QUEUES = (Queue("mine"), Queue("grids", counted=False))


@dataclass(frozen=True)
class QueueCount:
    queue: Queue
    count: int


@dataclass(frozen=True)
class Counts:
    """A caller's queues with their counts; ``total`` is the header badge."""

    desk: str | None  # "dispatch", "department", "grid" or None (no queues)
    queues: tuple[QueueCount, ...] = ()

    @property
    def total(self) -> int:
        return sum(q.count for q in self.queues if q.queue.counted)


@dataclass(frozen=True)
class Labels:
    """What people read instead of codes: the grid's and community's names, and the assignee's
    name and post (staff names: only to callers who see a case's details)."""

    grid: str | None = None
    community: str | None = None
    assignee: Member | None = None


@dataclass(frozen=True)
class CaseList:
    """A page of cases with the names to show for them (by case id)."""

    page: CasePage
    labels: Mapping[int, Labels] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldHome:
    """The grid team's phone page: my grids (code, name) and my tasks."""

    grids: tuple[tuple[str, str], ...]
    tasks: CaseList | None


def desk(caller: Caller) -> str | None:
    """Which desk's queues a caller works: a person, or the command line (as the centre)."""
    if caller.kind == "user" and caller.role == "grid":
        return "grid" if caller.official_id is not None else None
    if caller.kind == "user" and caller.role == "department":
        return "department" if caller.department_code else None
    if caller.kind in ("user", "system") and acting_role(caller) in ("dispatcher", "admin"):
        return "dispatch"
    return None


class QueueService:
    def __init__(self, cases: ComplaintService, *, ttl_s: float = 0.0) -> None:
        self.cases = cases
        self.store = cases.store
        #: counts are kept this long per desk (the header asks on every page view); 0: never kept
        self.ttl_s = ttl_s
        self._counts: TTLCache[Hashable, Counts] | None = (
            TTLCache(maxsize=1024, ttl=ttl_s) if ttl_s > 0 else None
        )
        self._lock = threading.Lock()
        #: grid code → name, per grid version (a version never changes once imported)
        self._names: Memo[dict[str, str]] = Memo(16)

    def _grid_names(self, grid_set: GridSet) -> dict[str, str]:
        frame = grid_set.grids
        return self._names.get(
            grid_set.version.id,
            lambda: dict(zip(frame["code"].astype(str), frame["name"].fillna("").astype(str), strict=True)),
        )

    # --- queues -----------------------------------------------------------------------------

    def queues(self, caller: Caller) -> tuple[Queue, ...]:
        return {"dispatch": DISPATCH_QUEUES, "department": DEPARTMENT_QUEUES, "grid": GRID_QUEUES}.get(
            desk(caller) or "", ()
        )

    def _filters(self, caller: Caller, queue: Queue, now: datetime.datetime) -> dict[str, Any]:
        """The store filter of one of the caller's queues."""
        name = queue.name
        if desk(caller) == "dispatch":
            centre: dict[str, dict[str, Any]] = {
                "new": {"state": State.COLLECTED.value},
                "returned": {"state": State.RETURNED.value},
                "extensions": {"extension_pending": True},
                "follow_up": {"state": [State.RESOLVED.value, State.RESOLVED_ON_SITE.value]},
                "overdue": {"overdue_at": now},
            }
            return centre[name]
        if desk(caller) == "department":
            ours: dict[str, dict[str, Any]] = {
                "due_soon": {"state": list(RUNNING), "deadline_after": now},
                "overdue": {"overdue_at": now},
                "reopened": {"state": State.REOPENED.value},
                "open": {"state": list(RUNNING)},
            }
            return {"department_code": caller.department_code, **ours[name]}
        if name == "mine":
            return {"assignee": str(caller.official_id), "state": list(OPEN_STATES)}
        return {"grid_code": sorted(caller.grid_codes), "state": list(OPEN_STATES)}

    def _queue(self, caller: Caller, name: str) -> Queue:
        found = next((q for q in self.queues(caller) if q.name == name), None)
        if found is None:
            raise NotFound(f"no queue {name[:32]!r} for this caller")
        return found

    def _due_soon_ids(self, filters: Mapping[str, Any], now: datetime.datetime) -> list[int]:
        """The running cases of ``filters`` due soon, soonest deadline first (one query)."""
        frame = self.store.complaints_frame(["id", "state", "dispatched_at", "deadline"], dict(filters))
        due: list[tuple[datetime.datetime, int]] = []
        for row in frame.itertuples(index=False):
            dispatched = (
                None
                if row.dispatched_at is None or row.dispatched_at != row.dispatched_at
                else row.dispatched_at
            )
            deadline = row.deadline.to_pydatetime()
            status = self.cases.deadline_status_of(
                row.state, dispatched.to_pydatetime() if dispatched is not None else None, deadline, now
            )
            if status is DeadlineStatus.DUE_SOON:
                due.append((deadline, int(row.id)))
        return [i for _, i in sorted(due, key=lambda p: (p[0], -p[1]))]

    def counts(self, caller: Caller) -> Counts:
        """The caller's queues and how many cases wait in each: one query per queue, kept
        ``ttl_s`` seconds for everyone at the same desk (the same department, the same person)."""
        key = (desk(caller), caller.department_code, caller.official_id, caller.grid_codes)
        if self._counts is not None:
            with self._lock:
                kept = self._counts.get(key)
            if kept is not None:
                return kept
        made = self._count(caller)
        if self._counts is not None:
            with self._lock:
                self._counts[key] = made
        return made

    def _count(self, caller: Caller) -> Counts:
        now = self.cases.now()
        out = []
        for queue in self.queues(caller):
            filters = self._filters(caller, queue, now)
            if queue.name == "due_soon":
                count = len(self._due_soon_ids(filters, now))
            elif queue.name == "grids" and not caller.grid_codes:
                count = 0
            else:
                count = self.store.count_complaints(filters)
            out.append(QueueCount(queue, count))
        return Counts(desk(caller), tuple(out))

    def queue(self, caller: Caller, name: str, *, limit: int = 50, offset: int = 0) -> CaseList:
        """One queue's cases, soonest deadline first (new cases: oldest first)."""
        queue = self._queue(caller, name)
        now = self.cases.now()
        filters = self._filters(caller, queue, now)
        limit = min(max(limit, 0), MAX_PAGE)
        if queue.name == "due_soon":
            ids = self._due_soon_ids(filters, now)
            page = ids[offset : offset + limit]
            views = self.cases.get_many(caller, page) if page else []
            found = CasePage(len(ids), limit, offset, views)
        elif queue.name == "grids" and not caller.grid_codes:
            found = CasePage(0, limit, offset, [])
        else:
            found = self.cases.list_cases(caller, filters, limit=limit, offset=offset, order=queue.order)
        return CaseList(found, self.labels(found.items))

    def field_home(self, caller: Caller, *, limit: int = 20) -> FieldHome:
        """What the patrol page opens with: the caller's grids by name and the cases assigned to
        them (a grid-team member; others have no grids of their own and see none)."""
        if desk(caller) != "grid":
            return FieldHome((), None)
        version = self.cases.grids.active_or_none()
        names = self._grid_names(self.cases.grids.grid_set(version)) if version is not None else {}
        grids = tuple((code, names.get(code) or code) for code in sorted(caller.grid_codes))
        return FieldHome(grids, self.queue(caller, "mine", limit=limit))

    # --- the list ---------------------------------------------------------------------------

    def search(
        self, caller: Caller, args: Mapping[str, str], *, limit: int = 50, offset: int = 0
    ) -> CaseList:
        """The case list with the filters a caller may use (query names as on the page):
        department, community, grid, category, state, deadline (on_time, due_soon, overdue),
        since/until (dates), ticket (case or channel number), phone (the reporter's; staff with
        personal data, on the cases whose contacts they see; recorded in the audit log) and q
        (words in the text); sort (``SORTS``). A grid user lists only their grids' cases."""
        filters: dict[str, Any] = {}
        for name, column in (
            ("department", "department_code"),
            ("community", "community_code"),
            ("grid", "grid_code"),
            ("category", "category_code"),
        ):
            value = (args.get(name) or "").strip()
            if value:
                filters[column] = value.split(",") if "," in value else value
        if args.get("state"):
            filters["state"] = [s for s in args["state"].split(",") if s]
        for name, parse in (("since", parse_since), ("until", parse_when)):
            if args.get(name):
                try:
                    when = parse(args[name]) if name == "since" else parse(args[name], name=name)
                except ValueError as exc:
                    raise Invalid(f"{name}: {exc}", field=name) from exc
                filters[name] = bounded_time(when, name)
        deadline = args.get("deadline") or None
        if deadline is not None and deadline not in DEADLINE_FILTERS:
            raise Invalid(f"deadline is one of {', '.join(DEADLINE_FILTERS)}", field="deadline")
        sort = args.get("sort") or "-reported_at"
        if sort not in SORTS:
            raise Invalid(f"sort is one of {', '.join(SORTS)}", field="sort")
        ticket = (args.get("ticket") or "").strip()
        words = (args.get("q") or "").strip()
        phone = (args.get("phone") or "").strip()
        if (ticket or words) and not caller.authenticated:
            raise Forbidden("searching by ticket number or words needs a signed-in user", code="sign_in")
        if ticket:
            filters["ticket"] = ticket[:64]
        if words:
            if len(words) > MAX_WORDS:
                raise Invalid(f"q: at most {MAX_WORDS} characters", field="q")
            if not caller.can(PERSONAL_DATA) and sum(ch.isdigit() for ch in words) >= 7:
                # numbers in the text are masked for such callers: searching them would unmask them
                raise Forbidden("searching numbers in the text needs personal data", code="personal_data")
            filters["text_contains"] = words
        if caller.kind == "user" and caller.role == "grid":
            self._only_own_grids(caller, filters)
        if phone:
            self._phone_filter(caller, phone, filters)
        found = self.cases.list_cases(
            caller, filters, limit=limit, offset=offset, deadline=deadline, order=sort
        )
        if phone:
            self.cases.audit.record(
                caller,
                audit_log.CASE_PHONE_SEARCH,
                "complaints",
                {"phone": mask_phone(phone), "found": found.total},
            )
        return CaseList(found, self.labels(found.items))

    @staticmethod
    def _only_own_grids(caller: Caller, filters: dict[str, Any]) -> None:
        asked = filters.get("grid_code")
        mine = sorted(caller.grid_codes)
        if asked is None:
            filters["grid_code"] = mine
        else:
            wanted = [asked] if isinstance(asked, str) else list(asked)
            filters["grid_code"] = [g for g in wanted if g in caller.grid_codes]

    def _phone_filter(self, caller: Caller, phone: str, filters: dict[str, Any]) -> None:
        """The reporter's phone as stored, typed any usual way; only those who see contacts
        search by it, and only among the cases whose contacts they see."""
        if not caller.can(PERSONAL_DATA):
            raise Forbidden("searching by the caller's phone needs personal data", code="personal_data")
        try:
            number = normalise_phone(phone)
        except ValueError as exc:
            raise Invalid(f"phone: {exc}", field="phone") from exc
        filters["reporter_phone"] = sorted({number, phone, number.replace("-", "")})
        if acting_role(caller) == "department":  # a department's staff or a key bound to it
            filters["department_code"] = caller.department_code

    # --- names ------------------------------------------------------------------------------

    def labels(self, views: Sequence[CaseView]) -> dict[int, Labels]:
        """Grid and community names (of the grid version each case was filed under) and the
        assignee's name and post, for the callers who see staff names."""
        members = self.cases.teams.members(
            v.case.assignee for v in views if v.visibility >= Visibility.DETAILS
        )
        out: dict[int, Labels] = {}
        sets: dict[int, GridSet | None] = {}
        for v in views:
            c = v.case
            grid_name = community_name = None
            if c.grid_version_id is not None:
                if c.grid_version_id not in sets:
                    try:
                        sets[c.grid_version_id] = self.cases.grids.grid_set(c.grid_version_id)
                    except (LookupError, NotFound):  # a version gone from the store: codes only
                        sets[c.grid_version_id] = None
                grid_set = sets[c.grid_version_id]
                if grid_set is not None:
                    grid_name = self._grid_names(grid_set).get(c.grid_code or "")
                    community = grid_set.communities.get(c.community_code or "")
                    community_name = community.get("name") if community else None
            assignee = members.get(c.assignee or "") if v.visibility >= Visibility.DETAILS else None
            out[c.id] = Labels(grid_name, community_name, assignee)
        return out

    def options(self) -> dict[str, list[tuple[str, str]]]:
        """The communities and grids of the active version, (code, name) by name, for the filters."""
        version = self.cases.grids.active_or_none()
        if version is None:
            return {"communities": [], "grids": []}
        grid_set = self.cases.grids.grid_set(version)
        communities = sorted(
            ((code, str(info.get("name") or code)) for code, info in grid_set.communities.items()),
            key=lambda p: p[0],
        )
        grids = sorted(self._grid_names(grid_set).items())
        return {"communities": communities, "grids": grids}

    def team(self, caller: Caller, complaint_id: int) -> list[Member]:
        """Who the case may be assigned to today (its grid's team), for a caller who may assign it."""
        case = self.store.complaint(complaint_id) if 0 < complaint_id else None
        if case is None or not case.grid_code or Action.ASSIGN not in allowed_actions(caller):
            return []
        if Action.ASSIGN not in TRANSITIONS[State(case.state)]:  # a finished case stays with whoever had it
            return []
        if caller.kind == "user" and caller.role == "grid" and not in_own_grids(caller, case):
            return []
        return self.cases.teams.team(case.grid_code, beijing_day(self.cases.now()))


__all__ = ["SORTS", "CaseList", "Counts", "Labels", "Queue", "QueueService", "desk"]
