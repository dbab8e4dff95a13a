"""Cases: intake, placement in a grid, the workflow, photos, lists and leaders' views.

It joins the pure cores (``complaints.*`` for rules, ``geo.*`` for places) with the
store. Placement is decided once, when a complaint is filed: the grid and the grid
version in force at the time it was reported are stored with it and never rewritten;
re-aggregation onto newer grids is kept beside the records, not in them.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime
import hashlib
import hmac
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import overload

import numpy as np
import pandas as pd

from complaints import intake
from complaints import stats
from complaints import workflow
from complaints.catalog import Catalog
from complaints.catalog import CommunityKind
from complaints.intake import ComplaintInput
from complaints.records import Case
from complaints.records import CaseEvent
from complaints.records import Photo
from complaints.suggest import Suggestion
from complaints.suggest import suggest_categories
from complaints.workdays import UnknownCalendarYear
from complaints.workdays import WorkCalendar
from complaints.workflow import DeadlineStatus
from complaints.workflow import State
from geo import crs as crs_mod
from geo.errors import GeoError
from geo.errors import RowError
from geo.errors import RowErrors
from geo.geocoders.base import Geocoder
from geo.lookup import Status
from geo.officials import mask_phone
from geo.tabular import file_sha256
from geo.timeutil import BEIJING
from geo.timeutil import parse_since
from geo.timeutil import parse_when
from geo.timeutil import utcnow
from services import audit as audit_log
from services import duplicates as dups
from services import permissions
from services.audit import AuditService
from services.callers import PERSONAL_DATA
from services.callers import WRITE
from services.callers import Caller
from services.case_actions import MIN_DEADLINE_LEAD
from services.case_actions import NextSteps
from services.case_actions import next_steps
from services.catalogue import CatalogueKeeper
from services.errors import Conflict
from services.errors import Forbidden
from services.errors import Invalid
from services.errors import NotFound
from services.errors import PreconditionRequired
from services.errors import Refused
from services.errors import TooLarge
from services.errors import Unauthenticated
from services.errors import Unavailable
from services.errors import UnsupportedType
from services.grids import GridService
from services.grids import Progress
from services.notices import NoticePlanner
from services.permissions import Visibility
from services.teams import TeamService
from services.teams import beijing_day
from store.base import Store
from store.casework import CaseStep
from store.complaints_sql import ConcurrentUpdate

Clock = Callable[[], datetime.datetime]
#: when each grid version was activated, and which: (times, version ids), in time order
_ActivationLog = tuple[list[datetime.datetime], list[int]]
PHOTO_TYPES = {
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
    b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
    b"RIFF": ("image/webp", ".webp"),
}
MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PHOTOS = 6
#: a photo shows the problem as reported ('before', intake) or the work done ('after', resolution)
PHOTO_KINDS = ("before", "after")
#: the actions that resolve a case: a category may require an after photo before them
_RESOLVING = (workflow.Action.RESOLVE, workflow.Action.RESOLVE_ON_SITE)
MAX_PAGE = 1000
MAX_NOTE = 2000  # a workflow note: a paragraph, not a document
MAX_ID = 2**31 - 1  # ids and versions above this are none that exist (and overflow SQLite's binding)
#: how far ahead a dispatch deadline may be set: a limit is days or weeks, never years
MAX_DEADLINE_DAYS = 366
#: a deadline running longer than this (stored by older versions) is not counted day by day
_LONGEST_COUNTED = datetime.timedelta(days=MAX_DEADLINE_DAYS)
#: the years a query's dates may name: outside them a time has no UTC value to compare with
QUERY_YEARS = (1900, 2999)
#: list filters by query name: the store column each one filters
FILTER_COLUMNS = (
    ("grid", "grid_code"),
    ("community", "community_code"),
    ("category", "category_code"),
    ("department", "department_code"),
    ("source", "source"),
    ("channel", "channel"),
)
DEADLINE_FILTERS = ("on_time", "due_soon", "overdue")
STAT_COLUMNS = [
    "id",
    "grid_code",
    "community_code",
    "category_code",
    "state",
    "reported_at",
    "department_code",
    "deadline",
    "dispatched_at",
    "resolved_at",
    "satisfied",
    "channel",
]
COUNT_BY = frozenset(
    {"grid_code", "community_code", "category_code", "state", "month", "department_code", "channel"}
)
SATISFACTION_BY = (None, "grid_code", "department_code", "category_code", "community_code")


@dataclass(frozen=True)
class CaseView:
    """A case as one caller may see it: ``case`` and ``events`` are already redacted to
    ``visibility`` (``services.permissions``), and renderers show only what it allows."""

    case: Case
    visibility: Visibility
    deadline_status: DeadlineStatus
    events: list[CaseEvent] | None = None
    photos: list[Photo] | None = None
    #: the cases marked as duplicates of this one (with the history; None when not looked up or
    #: not shown at the caller's level)
    duplicates: list[Case] | None = None

    @property
    def personal(self) -> bool:
        """Whether reporter contacts (and unmasked numbers in the text) are shown."""
        return self.visibility >= Visibility.CONTACTS


@dataclass(frozen=True)
class CasePage:
    total: int
    limit: int
    offset: int
    items: list[CaseView]


#: what a resident reads for each workflow state (``webmap.i18n``: ``progress_stage_<stage>``):
#: received 已受理, in_progress 办理中, answered 已答复（待回访）, closed 已办结,
#: rejected 不予受理, merged 已合并办理
PUBLIC_STAGES: Mapping[str, str] = {
    State.COLLECTED.value: "received",
    State.DELIBERATION.value: "in_progress",
    State.DISPATCHED.value: "in_progress",
    State.REOPENED.value: "in_progress",
    State.RESOLVED_ON_SITE.value: "answered",
    State.RESOLVED.value: "answered",
    State.FOLLOW_UP.value: "answered",
    State.CLOSED.value: "closed",
    State.REJECTED.value: "rejected",
    State.DUPLICATE.value: "merged",
}
#: the Chinese words of each stage, for adapters without the page catalogue (the command line)
PUBLIC_STAGE_ZH: Mapping[str, str] = {
    "received": "已受理",
    "in_progress": "办理中",
    "answered": "已答复",
    "closed": "已办结",
    "rejected": "不予受理",
    "merged": "已合并办理",
}
#: the audit action of a resident's progress look-up (the phone digits are never recorded)
PROGRESS_LOOKUP = "case.progress"
#: the longest ticket number looked up (case numbers and channel ticket numbers are short)
MAX_TICKET = 64


@dataclass(frozen=True)
class PublicStep:
    """One step a resident sees: when the case reached a stage. Nothing else of the event
    (no actor, no note: workflow notes are staff notes, and none is marked public)."""

    at: datetime.datetime
    stage: str


@dataclass(frozen=True)
class PublicProgress:
    """What a resident may see of a case (``ComplaintService.progress``): its stage, its dates,
    the department's name once dispatched, and the stage changes. Never its text, address,
    place, reporter, staff or notes."""

    case_id: int
    stage: str
    reported_at: datetime.datetime
    updated_at: datetime.datetime
    department_zh: str | None
    department_en: str | None
    steps: tuple[PublicStep, ...]
    #: for a duplicate (已合并办理): the stage its original has reached, the resident's outcome
    original_stage: str | None = None

    @property
    def stage_zh(self) -> str:
        return PUBLIC_STAGE_ZH[self.stage]


def case_filters(args: Mapping[str, str], *, now: datetime.datetime | None = None) -> dict[str, Any]:
    """Store filters from query values (grid, community, category, department, source, channel:
    one or comma-separated; state; since, until; overdue=1)."""
    filters: dict[str, Any] = {}
    for name, column in FILTER_COLUMNS:
        value = args.get(name)
        if value:
            filters[column] = value.split(",") if "," in value else value
    if args.get("state"):
        filters["state"] = args["state"].split(",")
    if args.get("since"):
        filters["since"] = bounded_time(parse_since(args["since"]), "since")
    if args.get("until"):
        filters["until"] = bounded_time(parse_when(args["until"], name="until"), "until")
    if args.get("overdue") in ("1", "true"):
        filters["overdue_at"] = now or utcnow()
    return filters


def bounded_time(when: datetime.datetime, name: str) -> datetime.datetime:
    """A time a caller gave, refused (naming ``name``) outside the years a query may name."""
    low, high = QUERY_YEARS
    if not low <= when.year <= high:
        raise Invalid(f"{name}={when.date().isoformat()} is outside {low}–{high}", field=name)
    return when


def bounded_id(value: object, name: str) -> int:
    """A whole number a caller gave (ASCII digits only: ``²`` is a digit to Python, not to us)."""
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) > MAX_ID:
        raise Invalid(f"{name}={str(value)[:40]!r} must be a whole number up to {MAX_ID}", field=name)
    return int(text)


class _Provisional(WorkCalendar):
    """A calendar for showing a deadline's status: a year without a schedule counts Monday–Friday.

    Only for reading: a deadline is never *set* on a guessed year (``transition`` refuses), but a
    case stored with one (by an older version, or before its year's notice was withdrawn) must
    still show in lists and pages.
    """

    def __init__(self, calendar: WorkCalendar) -> None:
        super().__init__(builtin=False)
        self._calendar = calendar

    def is_workday(self, day: datetime.date) -> bool:
        try:
            return self._calendar.is_workday(day)
        except UnknownCalendarYear:
            return day.weekday() < 5


@dataclass(frozen=True)
class Placement:
    version_id: int
    grid_code: str
    community_code: str
    whistle_group: str
    lon: float
    lat: float
    geocode: dict | None


@dataclass(frozen=True)
class ImportReport:
    rows: int
    added: int
    skipped: int
    import_id: int | None


class ComplaintService:
    def __init__(
        self,
        store: Store,
        grids: GridService,
        catalog: Catalog,
        calendar: WorkCalendar,
        *,
        geocoder: Geocoder | None = None,
        photo_dir: Path | None = None,
        clock: Clock = utcnow,
        audit: AuditService | None = None,
        notices: NoticePlanner | None = None,
    ) -> None:
        self.store = store
        #: plans the outbox messages a workflow step causes (``services.notices``), stored with it
        self.notices = notices
        self.grids = grids
        #: the roster as grid teams: who a case may be assigned to, and to whom by default
        self.teams = TeamService(grids)
        #: the bundled catalogue with administrators' changes over it (``services.catalogue``)
        self.catalogue = CatalogueKeeper(store, catalog)
        # the stored schedules this calendar was built on, checked again every CALENDAR_CHECK_S
        self._calendar_stamp = _calendar_stamp(store.calendar_days())
        self._calendar_checked = time.monotonic()
        self.calendar = calendar
        self.geocoder = geocoder
        self.photo_dir = photo_dir
        self.now = clock
        #: every view of personal data is recorded here (one entry per view)
        self.audit = audit if audit is not None else AuditService(store, clock=clock)

    # --- placement --------------------------------------------------------------------------

    def _version_for(self, when: datetime.datetime) -> int:
        """The grid version in force when the complaint was reported (else the active one)."""
        return self._version_at(when, self._activation_log())

    @overload
    def place(self, item: ComplaintInput, row: int = 1, errors: None = None) -> Placement: ...

    @overload
    def place(self, item: ComplaintInput, row: int, errors: list[RowError]) -> Placement | None: ...

    @overload
    def place(self, item: ComplaintInput, *, errors: list[RowError]) -> Placement | None: ...

    def place(
        self, item: ComplaintInput, row: int = 1, errors: list[RowError] | None = None
    ) -> Placement | None:
        """Where a complaint belongs; without ``errors`` a fault is raised (so a placement is
        always returned), with them it is appended there and None returned."""
        own = errors is None
        if errors is None:
            errors = []
        version = self._version_for(item.reported_at)
        grid_set = self.grids.grid_set(version)
        geocode: dict[str, Any] | None = None
        if item.lon is not None:
            lon, lat = (float(v) for v in crs_mod.to_wgs84(item.lon, _or_nan(item.lat), item.coordsys))
        else:
            found = self._geocode(item.address or "", row, errors)
            if found is None:
                return self._fail(own, errors)
            lon, lat, geocode = found
        match = grid_set.index.locate(lon, lat)
        if match.status != Status.OK:
            where = "lon" if item.lon is not None else "address"
            detail = (
                f"; the nearest grid is {grid_set.index.codes[match.nearest]} {match.nearest_m:.0f} m away"
                if match.nearest >= 0
                else ""
            )
            errors.append(
                RowError(
                    row,
                    where,
                    f"the point ({lon:.6f}, {lat:.6f}) is in no grid ({match.status.label}){detail}",
                )
            )
            return self._fail(own, errors)
        code = str(grid_set.index.codes[match.grid])
        community = grid_set.grid_row(match.grid)["community_code"]
        kind = _community_kind(grid_set.communities.get(community, {}).get("kind"))
        group = self.catalog.whistle_groups[kind].code
        return Placement(version, code, community, group, lon, lat, geocode)

    def _geocode(
        self, address: str, row: int, errors: list[RowError]
    ) -> tuple[float, float, dict[str, Any]] | None:
        if self.geocoder is None:
            errors.append(RowError(row, "address", "no geocoder is configured; give lon/lat"))
            return None
        result = self.geocoder.geocode(address)
        if result.status == "matched" and result.best is not None and result.best.kind == "community":
            # a community spans several grids: its representative point would pick one of them
            errors.append(RowError(row, "address", f"{address!r} names a whole community, not an address"))
            return None
        best = result.best
        if result.status == "matched" and best is not None:  # a match always names its best
            return (
                best.lon,
                best.lat,
                {
                    "status": "matched",
                    "confidence": round(best.score, 3),
                    "address_id": best.id,
                    "matched": best.text,
                },
            )
        if result.status == "ambiguous":
            shown = "; ".join(f"{c.text} ({c.score:.2f})" for c in result.candidates[:5])
            errors.append(RowError(row, "address", f"{address!r} is ambiguous; candidates: {shown}"))
        else:
            errors.append(RowError(row, "address", f"{address!r} was not found in the gazetteer"))
        return None

    @staticmethod
    def _fail(own: bool, errors: list[RowError]) -> None:
        if own:
            raise RowErrors("complaint", errors)
        return None

    # --- intake -----------------------------------------------------------------------------

    def _record(
        self,
        item: ComplaintInput,
        where: Placement,
        now: datetime.datetime | None = None,
        assignees: Mapping[str, str] | None = None,
    ) -> tuple[dict, dict]:
        """The row and intake event of a new case. ``assignees`` (``TeamService.default_assignees``)
        gives it to its grid's grid worker: set on the case and named on the intake event, so the
        history says who had it from the start (no separate assign event by the system)."""
        now = now or self.now()
        assignee = (assignees or {}).get(where.grid_code)
        row = {
            "source": item.source,
            "external_id": item.external_id,
            "channel": item.channel,
            "category_code": item.category_code,
            "text": item.text,
            "address": item.address,
            "lon": where.lon,
            "lat": where.lat,
            "input_coordsys": item.coordsys if item.lon is not None else None,
            "input_lon": item.lon,
            "input_lat": item.lat,
            "geocode": where.geocode,
            "reporter_name": item.reporter_name,
            "reporter_phone": item.reporter_phone,
            "reported_at": item.reported_at,
            "grid_version_id": where.version_id,
            "grid_code": where.grid_code,
            "community_code": where.community_code,
            "whistle_group": where.whistle_group,
            "state": State.COLLECTED.value,
            "point": None,
            "assignee": assignee,
        }
        event = {
            "at": now,
            "actor": "intake",
            "action": "collect",
            "from_state": None,
            "to_state": State.COLLECTED.value,
            "note": f"{item.channel}: {item.source}",
            "department_code": None,
            "deadline": None,
            "satisfied": None,
            "duplicate_of": None,
            "assignee": assignee,
        }
        return row, event

    def file(self, item: ComplaintInput, *, actor: str, duplicate_of: Case | None = None) -> Case:
        """File one complaint (form or API); filing the same source id again returns the first.

        With ``duplicate_of`` (an open original, ``original``) it is filed and marked a duplicate
        of that case in one write: its history says both.
        """
        existing = self.store.complaint_by_external(item.source, item.external_id)
        if existing is not None:
            return existing
        where = self.place(item)
        row, event = self._record(item, where, assignees=self.default_assignees())
        event["actor"] = actor
        events = [event]
        if duplicate_of is not None:
            step = workflow.mark_duplicate(State.COLLECTED, str(duplicate_of.id), who=actor, when=event["at"])
            row.update(state=step.state.value, duplicate_of=str(duplicate_of.id))
            events.append(event_row(step.event))
        result = self.store.add_complaints([row], [events])
        found = (
            self.store.complaint(result.added[0])
            if result.added
            else self.store.complaint_by_external(item.source, item.external_id)
        )
        assert found is not None  # just stored, or stored by a concurrent request with the same id
        return found

    def default_assignees(self) -> dict[str, str]:
        """Grid code → who a case filed there today goes to (its grid worker, if named)."""
        return self.teams.default_assignees(beijing_day(self.now()))

    def file_as(
        self, caller: Caller, values: Mapping[str, Any], *, source: str | None = None
    ) -> tuple[CaseView, bool]:
        """File a complaint for a caller from submitted values; True when it is new.

        Without ``external_id`` the submission's own content names it, so a client that sends
        the same complaint twice (a retry) files it once.
        """
        self.require(caller, WRITE)
        data = dict(values)
        source = str(data.pop("source", None) or source or f"api:{caller.name}")
        self.check_source(caller, source)
        original = None
        wanted = data.pop("duplicate_of", None)
        if wanted not in (None, ""):
            if workflow.Action.MARK_DUPLICATE not in permissions.allowed_actions(caller):
                raise Forbidden("only the dispatch centre files a complaint as a duplicate")
            original = self.original(bounded_id(wanted, "duplicate_of"))
        if not data.get("external_id"):
            data["external_id"] = hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()[:24]
        if not data.get("reported_at"):
            data["reported_at"] = self.now().isoformat()
        item = intake.check(data, catalog=self.catalog, source=source)
        if item is None:  # without an errors list, check raises its faults rather than return None
            raise RuntimeError("intake.check returned no complaint and raised no fault")
        existed = self.store.complaint_by_external(item.source, item.external_id) is not None
        case = self.file(item, actor=caller.actor, duplicate_of=original)
        view = self.view(caller, case)
        if existed:  # the answer is the case stored before, not what the caller just sent
            self._audit_views(caller, [view], audit_log.CASE_VIEW, f"complaint:{case.id}", {"via": "file"})
        return view, not existed

    def suggest_categories(self, text: str, limit: int = 3) -> list[Suggestion]:
        """Categories the caller's words point to, best first (none when no word is known)."""
        return suggest_categories(text, self.catalog.categories.values(), limit=limit)

    def check_source(self, caller: Caller, source: str) -> None:
        """Refuse filing under a source the caller is not granted (``services.permissions``)."""
        granted = [v for kind, v in self.store.grants(caller.actor) if kind == permissions.GRANT_SOURCE]
        permissions.check_source(caller, source, granted)

    def import_as(
        self, caller: Caller, path: str | Path, *, source: str, encoding: str | None = None
    ) -> ImportReport:
        """``import_file`` for a caller, who must be granted the source it imports under."""
        self.require(caller, WRITE)
        self.check_source(caller, source)
        return self.import_file(path, source=source, actor=caller.actor, encoding=encoding)

    # --- reading ----------------------------------------------------------------------------

    @staticmethod
    def require(caller: Caller, scope: str) -> None:
        if not caller.authenticated:
            raise Unauthenticated("authentication required (Authorization: Bearer <API key>)")
        if not caller.can(scope):
            raise Forbidden(f"this API key lacks the {scope!r} scope")

    def view(self, caller: Caller, case: Case, *, history: bool = False, photos: bool = False) -> CaseView:
        """The case as ``caller`` may see it (redacted here, so no renderer can show more).

        Not recorded in the audit log: the public methods that return views (``get``,
        ``list_cases``, ``get_many``, ``act``, ``file_as``) record one entry per call.
        """
        level = permissions.visibility(caller, case)
        events = self.store.complaint_events(case.id) if history else None
        if events is not None:
            events = [permissions.redact_event(e, level) for e in events]
        pictures = self.store.photos(case.id) if photos and level >= Visibility.CONTACTS else None
        status = self.deadline_status(case)
        linked = None
        if history and level >= Visibility.DETAILS:  # who duplicates whom is not public
            found = self.store.list_complaints(
                filters={"duplicate_of": str(case.id)}, limit=MAX_PAGE, newest_first=False
            )
            linked = [permissions.redact_case(d, permissions.visibility(caller, d)) for d in found]
        return CaseView(permissions.redact_case(case, level), level, status, events, pictures, linked)

    def _audit_views(
        self, caller: Caller, views: Sequence[CaseView], action: str, target: str, detail: dict | None = None
    ) -> None:
        """One audit entry for one answer that shows contacts (none when it shows none)."""
        shown = [v.case.id for v in views if v.visibility >= Visibility.CONTACTS]
        if shown:
            self.audit.record(caller, action, target, {"ids": shown, **(detail or {})})

    def get(self, caller: Caller, complaint_id: int, *, history: bool = True) -> CaseView:
        case = self.store.complaint(complaint_id) if 0 < complaint_id <= MAX_ID else None
        if case is None:
            raise NotFound(f"complaint {complaint_id} does not exist")
        view = self.view(caller, case, history=history, photos=history)
        self._audit_views(caller, [view], audit_log.CASE_VIEW, f"complaint:{complaint_id}")
        return view

    def get_many(self, caller: Caller, ids: Sequence[int], *, history: bool = False) -> list[CaseView]:
        """The cases of ``ids`` that exist, in the order asked, as one view (one audit entry)."""
        cases = [self.store.complaint(i) for i in dict.fromkeys(ids) if 0 < i <= MAX_ID]
        views = [self.view(caller, c, history=history) for c in cases if c is not None][:MAX_PAGE]
        self._audit_views(caller, views, audit_log.CASE_LIST, "complaints", {"asked": list(ids)[:MAX_PAGE]})
        return views

    def list_cases(
        self,
        caller: Caller,
        filters: Mapping[str, Any],
        *,
        limit: int = 100,
        offset: int = 0,
        deadline: str | None = None,
        history: bool = False,
        order: str | None = None,
    ) -> CasePage:
        """Cases newest first (or by ``order``: ``store.complaints.ORDERS``, ``-`` for descending);
        ``deadline`` keeps those on time, due soon or overdue.

        A page showing any reporter contacts writes one audit entry naming those cases.
        """
        limit = min(max(limit, 0), MAX_PAGE)
        filters = dict(filters)
        if deadline:
            # deadline status needs the working-day calendar, so it is computed here, over the
            # cases a deadline can run for (with a department, or reopened)
            if deadline not in DEADLINE_FILTERS:
                raise Invalid("deadline= is on_time, due_soon or overdue", field="deadline")
            filters["state"] = [
                s for s in filters.get("state", ["dispatched", "reopened"]) if s in ("dispatched", "reopened")
            ]
            running = self.store.list_complaints(filters=filters, limit=10**9, offset=0, order=order)
            matching = [c for c in running if self.deadline_status(c).value == deadline]
            total, cases = len(matching), matching[offset : offset + limit]
        else:
            cases = self.store.list_complaints(filters=filters, limit=limit, offset=offset, order=order)
            total = self.store.count_complaints(filters)
        views = [self.view(caller, c, history=history) for c in cases]
        self._audit_views(
            caller,
            views,
            audit_log.CASE_LIST,
            "complaints",
            {"filters": _audited_filters(filters), "offset": offset},
        )
        return CasePage(total, limit, offset, views)

    def photo_file(self, caller: Caller, complaint_id: int, photo_id: int) -> tuple[Path, str]:
        """Where a photo is kept and its type; photos show people, number plates, homes, so
        only callers who see the case's contacts get them (and each is recorded)."""
        self.require(caller, PERSONAL_DATA)
        case = self.store.complaint(complaint_id) if 0 < complaint_id <= MAX_ID else None
        if case is None or permissions.visibility(caller, case) < Visibility.CONTACTS:
            raise NotFound("no such photo")
        in_range = 0 < complaint_id <= MAX_ID
        found = (
            next((p for p in self.store.photos(complaint_id) if p.id == photo_id), None) if in_range else None
        )
        if found is None or self.photo_dir is None:
            raise NotFound("no such photo")
        self.audit.record(caller, "photo.view", f"complaint:{complaint_id}", {"photo": photo_id})
        return self.photo_dir / found.stored_as, found.content_type

    def act(
        self,
        caller: Caller,
        complaint_id: int,
        action: str,
        *,
        expected_version: object,
        note: str | None = None,
        department: str | None = None,
        deadline: str | None = None,
        satisfied: bool | None = None,
        duplicate_of: str | None = None,
        assignee: str | None = None,
    ) -> CaseView:
        """A workflow step by a caller, who names the version of the case it saw."""
        self.require(caller, WRITE)
        if not str(expected_version or "").isdigit():
            raise PreconditionRequired(
                "say which version of the complaint you saw: JSON 'version' or If-Match"
            )
        version = bounded_id(expected_version, "version")
        # the values come from a JSON body: each must be of its type, or a 400 names it
        texts = (
            ("note", note),
            ("department", department),
            ("duplicate_of", duplicate_of),
            ("assignee", assignee),
        )
        for name, value in texts:
            if value is not None and not isinstance(value, str):
                raise Invalid(f"{name} must be text", field=name)
        if note is not None and len(note) > MAX_NOTE:
            raise Invalid(f"note: {len(note)} characters; at most {MAX_NOTE}", field="note")
        if note is not None:
            note = intake.CONTROL.sub("", note)
        for name, value in (
            ("department", department),
            ("duplicate_of", duplicate_of),
            ("assignee", assignee),
        ):
            if value is not None and len(value) > 128:
                raise Invalid(f"{name}: {len(value)} characters; at most 128", field=name)
        if deadline is not None and not isinstance(deadline, str):
            raise Invalid("deadline must be a date-time text like 2025-10-14T18:00+08:00", field="deadline")
        when = bounded_time(parse_when(deadline, name="deadline"), "deadline") if deadline else None
        case = self.transition(
            complaint_id,
            action,
            expected_version=version,
            actor=caller.actor,
            note=note,
            department=department,
            deadline=when,
            satisfied=satisfied,
            duplicate_of=duplicate_of,
            assignee=assignee,
            caller=caller,
        )
        view = self.view(caller, case, history=True)
        self._audit_views(caller, [view], audit_log.CASE_VIEW, f"complaint:{complaint_id}", {"via": action})
        return view

    def next_steps(self, caller: Caller, view: CaseView) -> NextSteps:
        """The actions ``caller`` may take on the case of ``view`` now, with what their forms
        start from (``services.case_actions``): what the case page offers."""
        return next_steps(self, caller, view.case, view.events)

    def progress(self, caller: Caller, ticket: str, phone_last4: str) -> PublicProgress:
        """A resident's view of their case (进度查询), for anyone who knows the pair.

        ``ticket`` is the number the resident was given: the case number (``Case.id``, shown to
        staff as 诉求 #N) or the channel's ticket number (``Case.external_id``, e.g. the 12345
        hotline's 工单编号); ``phone_last4`` the last four digits of the reporter's phone. A
        wrong pair, an unknown ticket and a case without a phone all raise the same NotFound,
        so the answer tells nothing about which tickets exist. Every look-up is recorded in the
        audit log (the ticket and whether it was found; never the digits).
        """
        ticket = (ticket if isinstance(ticket, str) else "").strip()[:MAX_TICKET]
        digits = phone_last4 if isinstance(phone_last4, str) else ""
        candidates: list[Case] = []
        if ticket:
            if ticket.isascii() and ticket.isdigit() and len(ticket) <= 10 and 0 < int(ticket) <= MAX_ID:
                by_id = self.store.complaint(int(ticket))
                if by_id is not None:
                    candidates.append(by_id)
            candidates += self.store.list_complaints(filters={"external_id": ticket}, limit=5)
        well_formed = len(digits) == 4 and digits.isascii() and digits.isdigit()
        matching = {
            c.id: c
            for c in candidates
            if well_formed and hmac.compare_digest(_phone_tail(c.reporter_phone), digits)
        }
        found = next(iter(matching.values())) if len(matching) == 1 else None
        self.audit.record(
            caller,
            PROGRESS_LOOKUP,
            f"complaint:{found.id}" if found else None,
            {"ticket": ticket, "found": found is not None},
        )
        if found is None:
            raise NotFound("no case with this ticket number and phone")
        steps: list[PublicStep] = []
        for event in self.store.complaint_events(found.id):
            stage = PUBLIC_STAGES.get(event.to_state)
            if stage is None or (steps and steps[-1].stage == stage):
                continue
            steps.append(PublicStep(event.at, stage))
        department = self.catalog.departments.get(found.department_code or "")
        stage = PUBLIC_STAGES.get(found.state, "in_progress")
        of = found.duplicate_of or ""
        linked = (
            found.state == State.DUPLICATE
            and of.isascii()
            and of.isdigit()
            and len(of) <= 10
            and int(of) <= MAX_ID
        )
        original = self.store.complaint(int(of)) if linked else None
        return PublicProgress(
            case_id=found.id,
            stage=stage,
            reported_at=found.reported_at,
            updated_at=steps[-1].at if steps else found.reported_at,
            department_zh=department.name_zh if department else None,
            department_en=department.name_en if department else None,
            steps=tuple(steps),
            original_stage=PUBLIC_STAGES.get(original.state, "in_progress") if original else None,
        )

    # --- duplicates (services.duplicates) -----------------------------------------------------

    def original(self, original_id: int, *, of: int | None = None) -> Case:
        """The case a complaint is marked a duplicate of: one that exists, is not ``of`` itself
        and is not a duplicate (the original of a duplicate is named instead)."""
        found = self.store.complaint(original_id) if 0 < original_id <= MAX_ID else None
        if found is None:
            raise Invalid(
                f"duplicate_of: complaint {original_id} does not exist",
                code="unknown_original",
                field="duplicate_of",
            )
        if found.id == of:
            raise Invalid(
                "duplicate_of: a complaint cannot duplicate itself",
                code="unknown_original",
                field="duplicate_of",
            )
        if found.state == State.DUPLICATE:
            raise Invalid(
                f"duplicate_of: complaint {found.id} is itself a duplicate of {found.duplicate_of}; "
                "name that original",
                code="unknown_original",
                field="duplicate_of",
            )
        return found

    def duplicate_candidates(
        self,
        caller: Caller,
        *,
        category: str,
        lon: object = None,
        lat: object = None,
        coordsys: str | None = None,
        address: str | None = None,
    ) -> list[dups.DuplicateCandidate]:
        """The open cases a complaint being filed may duplicate (``services.duplicates``): same
        category, last 30 days, within 50 m of its point or at its standard address."""
        if not caller.authenticated:
            raise Unauthenticated("log in or send an API key to look for duplicates")
        if not isinstance(category, str) or category not in self.catalog.categories:
            raise Invalid(
                f"category={str(category)[:40]!r} is not a category code of the catalogue", field="category"
            )
        address = address.strip()[: intake.MAX_LENGTH["address"]] if isinstance(address, str) else ""
        point = None
        if lon not in (None, "") or lat not in (None, ""):
            point = self._wgs84_point(lon, lat, coordsys or "wgs84")
        if point is None and not address:
            raise Invalid("give lon and lat, or an address", field="lon")
        keys = dups.address_keys(address)
        if point is None and self.geocoder is not None:
            try:
                result = self.geocoder.geocode(address)
            except GeoError:  # an online provider down: the address text still matches
                result = None
            if result is not None and result.status == "matched" and result.best is not None:
                point = (result.best.lon, result.best.lat)
                keys |= dups.address_keys(result.best.text)
        return self._candidates(caller, category, point, keys, exclude=None)

    def original_candidates(self, caller: Caller, complaint_id: int) -> list[dups.DuplicateCandidate]:
        """The candidate originals of a case already filed (the picker of 标记重复)."""
        case = self.store.complaint(complaint_id) if 0 < complaint_id <= MAX_ID else None
        if case is None:
            raise NotFound(f"complaint {complaint_id} does not exist")
        point = (case.lon, case.lat) if case.lon is not None and case.lat is not None else None
        keys = dups.address_keys(case.address, case.geocode)
        return self._candidates(caller, case.category_code, point, keys, exclude=case.id)

    def _wgs84_point(self, lon: object, lat: object, coordsys: str) -> tuple[float, float]:
        values = []
        for name, value in (("lon", lon), ("lat", lat)):
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise Invalid(f"{name}={str(value)[:40]!r} is not a number", field=name) from None
            if not np.isfinite(number):
                raise Invalid(f"{name}={value!r} is not a number", field=name)
            values.append(number)
        x, y = (float(v) for v in crs_mod.to_wgs84(values[0], values[1], coordsys))
        if not (-180 <= x <= 180 and -90 <= y <= 90):
            raise Invalid(f"({values[0]}, {values[1]}) is not a point on Earth", field="lon")
        return x, y

    def _candidates(
        self,
        caller: Caller,
        category: str,
        point: tuple[float, float] | None,
        keys: frozenset[str],
        *,
        exclude: int | None,
    ) -> list[dups.DuplicateCandidate]:
        filters = {
            "category_code": category,
            "state": list(dups.OPEN_STATES),
            "since": self.now() - dups.WINDOW,
        }
        found = dups.match(self.store.complaints_frame(dups.COLUMNS, filters), point, keys, exclude=exclude)
        out = []
        for cid, distance, same in found.itertuples(index=False):
            case = self.store.complaint(int(cid))
            if case is None:
                continue
            view = self.view(caller, case)
            shown = None if np.isnan(distance) or view.visibility < Visibility.DETAILS else float(distance)
            out.append(dups.DuplicateCandidate(view, shown, bool(same)))
        self._audit_views(
            caller, [c.view for c in out], audit_log.CASE_LIST, "complaints", {"via": "duplicates"}
        )
        return out

    def _inform_duplicates(
        self, original: Case, state: State, now: datetime.datetime
    ) -> list[tuple[int, dict]]:
        """The events that tell an original's duplicates it was closed or rejected (stored with it)."""
        if state not in workflow.INFORMS_DUPLICATES:
            return []
        found = self.store.list_complaints(
            filters={"duplicate_of": str(original.id), "state": State.DUPLICATE.value},
            limit=MAX_ID,
            newest_first=False,
        )
        note = dups.OUTCOME_NOTE[state].format(id=original.id)
        told = []
        for duplicate in found:
            step = workflow.apply(
                duplicate.state,
                workflow.Action.ORIGINAL_CLOSED,
                who=dups.SYSTEM_ACTOR,
                when=now,
                duplicate_of=str(original.id),
                note=note,
            )
            told.append((duplicate.id, event_row(step.event)))
        return told

    # --- leaders' views ---------------------------------------------------------------------

    def _stat_frame(self, filters: Mapping[str, Any]) -> pd.DataFrame:
        return self.store.complaints_frame(STAT_COLUMNS, dict(filters))

    def stat_counts(self, filters: Mapping[str, Any], by: Sequence[str]) -> pd.DataFrame:
        """Counts by grid × category × state × month (``by`` picks the columns)."""
        if not set(by) <= COUNT_BY:
            raise Invalid(f"by= may combine {', '.join(sorted(COUNT_BY))}", field="by")
        return stats.counts(self._stat_frame(filters), tuple(by))

    def stat_departments(self, filters: Mapping[str, Any]) -> pd.DataFrame:
        return stats.department_performance(self._stat_frame(filters), self.now())

    def stat_satisfaction(self, filters: Mapping[str, Any], by: str | None) -> pd.DataFrame:
        if by not in SATISFACTION_BY:
            raise Invalid("by= is grid_code, community_code, department_code or category_code", field="by")
        return stats.satisfaction(self.store.follow_up_frame(dict(filters)), by)

    def stat_overdue(self, filters: Mapping[str, Any]) -> pd.DataFrame:
        frame = stats.overdue(self._stat_frame(filters), self.now())
        return frame[
            [
                "id",
                "grid_code",
                "category_code",
                "department_code",
                "dispatched_at",
                "deadline",
                "overdue_days",
                "state",
            ]
        ]

    def import_file(
        self,
        path: str | Path,
        *,
        source: str,
        actor: str,
        encoding: str | None = None,
        sheet: str | int | None = None,
        progress: Progress | None = None,
    ) -> ImportReport:
        """Import a hotline export: every row checked, placed and stored, or none (RowErrors).

        The file is read, checked and stored chunk by chunk inside one transaction, so a
        million-row export needs no million-row list in memory and a fault in its last
        row still leaves nothing stored.
        """
        path = Path(path)
        errors: list[RowError] = []
        log = self._activation_log()
        counted = {"rows": 0}

        def chunks():
            for batch in intake.iter_file(
                path, catalog=self.catalog, source=source, errors=errors, encoding=encoding, sheet=sheet
            ):
                counted["rows"] += len(batch)
                items = [item for _, item in batch]
                placements = self.place_many(items, rows=[row for row, _ in batch], errors=errors, log=log)
                if progress:
                    progress("rows checked", counted["rows"], counted["rows"])
                if errors:
                    continue  # keep checking the rest so the report lists every fault
                rows, events = [], []
                now = self.now()
                assignees = self.default_assignees()
                for item, where in zip(items, placements, strict=True):
                    if where is None:  # a complaint left unplaced has put its fault in errors
                        raise RuntimeError("a complaint was left unplaced without a fault")
                    row, event = self._record(item, where, now, assignees)
                    event["actor"] = actor
                    rows.append(row)
                    events.append([event])
                yield rows, events
            if errors:
                raise RowErrors(f"complaints {path.name}", sorted(errors, key=lambda e: e.row))

        result = self.store.add_complaint_chunks(
            chunks(), import_meta={"filename": path.name, "sha256": file_sha256(path), "imported_by": actor}
        )
        if progress:
            progress("stored", len(result.added), len(result.added))
        return ImportReport(counted["rows"], len(result.added), len(result.skipped), result.import_id)

    def _activation_log(self) -> _ActivationLog:
        pairs = self.store.activations()
        return [when for when, _ in pairs], [version for _, version in pairs]

    def _version_at(self, when: datetime.datetime, log: _ActivationLog) -> int:
        times, versions = log
        k = bisect.bisect_right(times, when)
        return versions[k - 1] if k else self.grids.active_version_id()

    @overload
    def place_many(
        self,
        items: Sequence[ComplaintInput],
        *,
        rows: Sequence[int] | None = None,
        errors: None = None,
        log: _ActivationLog | None = None,
    ) -> list[Placement]: ...

    @overload
    def place_many(
        self,
        items: Sequence[ComplaintInput],
        *,
        rows: Sequence[int] | None = None,
        errors: list[RowError],
        log: _ActivationLog | None = None,
    ) -> list[Placement | None]: ...

    def place_many(
        self,
        items: Sequence[ComplaintInput],
        *,
        rows: Sequence[int] | None = None,
        errors: list[RowError] | None = None,
        log: _ActivationLog | None = None,
    ) -> Sequence[Placement | None]:
        """Placement for many complaints: vectorised for points, one by one for addresses.

        Faults go to ``errors`` when given (else they are raised); ``rows`` are the file's row
        numbers for the messages.
        """
        own = errors is None
        if errors is None:
            errors = []
        rows = list(rows) if rows is not None else list(range(1, len(items) + 1))
        log = log or self._activation_log()
        out: list[Placement | None] = [None] * len(items)
        frame = pd.DataFrame(
            {
                "i": np.arange(len(items)),
                "version": [self._version_at(it.reported_at, log) for it in items],
                "coordsys": [it.coordsys for it in items],
                "has_point": [it.lon is not None for it in items],
            }
        )
        for (version, coordsys), group in frame[frame["has_point"]].groupby(["version", "coordsys"]):
            idx = group["i"].to_numpy()
            lon = np.array([items[i].lon for i in idx], dtype=float)
            lat = np.array([items[i].lat for i in idx], dtype=float)
            grid_set, match, wlon, wlat = self.grids.locate_many(
                lon, lat, coordsys=coordsys, version=int(version), annotate=False
            )
            communities = grid_set.grids["community_code"].to_numpy(dtype=object)
            groups = {
                code: self.catalog.whistle_groups[info.get("kind") or "urban"].code
                for code, info in grid_set.communities.items()
            }
            for k, i in enumerate(idx):
                g = int(match.grid[k])
                if match.status[k] != Status.OK or g < 0:
                    errors.append(
                        RowError(
                            rows[i],
                            "lon",
                            f"the point ({lon[k]}, {lat[k]}) is in no "
                            f"grid ({Status(int(match.status[k])).label})",
                        )
                    )
                    continue
                community = communities[g]
                group = groups.get(community, self.catalog.whistle_groups["urban"].code)
                out[i] = Placement(
                    int(version),
                    str(grid_set.index.codes[g]),
                    community,
                    group,
                    float(wlon[k]),
                    float(wlat[k]),
                    None,
                )
        for i in frame.loc[~frame["has_point"], "i"]:
            out[i] = self.place(items[i], row=rows[i], errors=errors)
        if own and errors:
            raise RowErrors("complaints", sorted(errors, key=lambda e: e.row))
        return out

    # --- workflow ---------------------------------------------------------------------------

    def transition(
        self, complaint_id: int, action: str, *, expected_version: int, actor: str, **fields: Any
    ) -> Case:
        """Apply a workflow action; the caller names the version it saw (optimistic locking).

        ``caller`` (given by ``act``) is checked against ``services.permissions.ACTIONS``, the one
        table of who may do what; ``department_scope`` limits an actor to complaints dispatched
        to that department (for callers of this method without a ``Caller``).
        Everything is checked before anything is written: a refused action changes nothing.
        """
        if action == workflow.Action.WHISTLE:
            # a whistle is stored with the departments it summons (services.whistles)
            raise Refused(
                "blow the whistle through the whistle form (POST /complaints/ID/whistle): "
                "it summons the whistle group's departments",
                code="whistle_elsewhere",
                field="action",
            )
        # the fields are plan's: note, department, deadline, satisfied, duplicate_of, assignee,
        # department_scope and caller
        step = self.plan(complaint_id, action, expected_version=expected_version, actor=actor, **fields)
        try:
            self.store.update_complaint(
                complaint_id, expected_version, step.values, step.event, step.messages, linked=step.linked
            )
        except ConcurrentUpdate as exc:
            raise Conflict(str(exc)) from exc
        updated = self.store.complaint(complaint_id)
        assert updated is not None  # complaints are never deleted
        return updated

    def plan(
        self,
        complaint_id: int,
        action: str,
        *,
        expected_version: int,
        actor: str,
        note: str | None = None,
        department: str | None = None,
        deadline: datetime.datetime | None = None,
        satisfied: bool | None = None,
        duplicate_of: str | None = None,
        assignee: str | None = None,
        department_scope: str | None = None,
        caller: Caller | None = None,
    ) -> CaseStep:
        """The checked step ``transition`` writes, for services that write it with records of
        their own in one transaction (``services.whistles``, ``services.deliberations``)."""
        current = self.store.complaint(complaint_id) if 0 < complaint_id <= MAX_ID else None
        if current is None:
            raise NotFound(f"complaint {complaint_id} does not exist")
        if department_scope is not None and current.department_code != department_scope:
            raise Forbidden(f"complaint {complaint_id} is not with department {department_scope!r}")
        if caller is not None:
            permissions.check_action(caller, current, action)
        now = self.now()
        try:
            workflow.check_extension(action, pending=current.extension_deadline is not None)
        except workflow.ExtensionError as exc:
            raise Refused(str(exc), code=exc.code, field="action") from exc
        fields: dict = {"note": note}
        if action == workflow.Action.DISPATCH:
            routing = self.catalog.route(current.category_code, self.community_kind(current))
            department = department or routing.department.code
            if department not in self.catalog.departments:
                raise Invalid(
                    f"unknown department {department!r}", code="unknown_department", field="department"
                )
            fields.update(
                department=department,
                deadline=deadline or self.calendar.add_workdays(now, routing.deadline_days),
            )
        elif action == workflow.Action.FOLLOW_UP:
            fields["satisfied"] = satisfied
        elif action == workflow.Action.MARK_DUPLICATE:
            if duplicate_of is not None and str(duplicate_of).strip():
                duplicate_of = str(
                    self.original(
                        bounded_id(str(duplicate_of).strip().lstrip("#"), "duplicate_of"), of=complaint_id
                    ).id
                )
            fields["duplicate_of"] = duplicate_of
        elif action in workflow.SYSTEM_ONLY:
            raise Refused(
                f"{action} is recorded by the system, never asked for", code="system_action", field="action"
            )
        elif action == workflow.Action.REQUEST_EXTENSION:
            if deadline is not None and current.deadline is not None and deadline <= current.deadline:
                raise Invalid(
                    f"the extension asked for ({deadline.isoformat()}) is not after the current deadline "
                    f"({current.deadline.isoformat()})",
                    code="extension_not_later",
                    field="deadline",
                )
            fields["deadline"] = deadline
        elif action == workflow.Action.APPROVE_EXTENSION:
            fields["deadline"] = deadline or current.extension_deadline
        elif action == workflow.Action.SUPERVISE:
            if self.deadline_status(current, now) is not workflow.DeadlineStatus.OVERDUE:
                raise Refused(
                    f"complaint {complaint_id} is not overdue: chase it (urge) instead of supervising it",
                    code="not_overdue",
                    field="action",
                )
        elif action == workflow.Action.ASSIGN:
            # only a member of the case's grid team on the day (the roster, services.teams)
            fields["assignee"] = self.teams.check_assignee(current.grid_code, assignee, beijing_day(now))
        if note is not None and len(note) > MAX_NOTE:
            raise Invalid(f"note: {len(note)} characters; at most {MAX_NOTE}", field="note")
        step = workflow.apply(current.state, action, who=actor, when=now, **fields)
        event = step.event
        if event.deadline is not None:
            self._check_deadline(now, event.deadline)
        if event.action in _RESOLVING:
            self._check_after_photo(current)
        values: dict = {"state": step.state.value}
        if event.action == workflow.Action.DISPATCH:
            values.update(department_code=event.department, dispatched_at=now)
        if event.action in (workflow.Action.DISPATCH, workflow.Action.APPROVE_EXTENSION):
            values["deadline"] = event.deadline
            if event.deadline is not None:
                values["deadline_provisional"] = self.calendar.provisional_between(now, event.deadline)
        if event.action is workflow.Action.REQUEST_EXTENSION:
            values["extension_deadline"] = event.deadline
        elif current.extension_deadline is not None and event.action in workflow.ENDS_EXTENSION:
            values["extension_deadline"] = None
        if event.action is workflow.Action.ASSIGN:
            values["assignee"] = event.assignee
        if step.state in (State.RESOLVED, State.RESOLVED_ON_SITE):
            values["resolved_at"] = now
        if event.action == workflow.Action.FOLLOW_UP:
            values["satisfied"] = event.satisfied
        if step.state == State.CLOSED:
            values["closed_at"] = now
        if event.duplicate_of:
            values["duplicate_of"] = event.duplicate_of
        messages = self._notices(current, values, expected_version + 1, event.action.value, now)
        linked = self._inform_duplicates(current, step.state, now)
        return CaseStep(
            complaint_id, expected_version, values, event_row(event), tuple(messages), tuple(linked)
        )

    def _notices(
        self, current: Case, values: Mapping[str, Any], version: int, action: str, now: datetime.datetime
    ) -> list[dict]:
        """The outbox rows a step causes (``services.notices.ON_ACTION``), for the case as it
        will be after it; stored in the step's own transaction."""
        if self.notices is None:
            return []
        known = {f.name for f in dataclasses.fields(Case)}
        after = dataclasses.replace(
            current, **{k: v for k, v in values.items() if k in known}, row_version=version
        )
        return self.notices.for_action(after, action, str(version), now)

    def _check_after_photo(self, case: Case) -> None:
        """Refuse to resolve a case whose category requires an after photo until one is kept."""
        category = self.catalog.categories.get(case.category_code)
        if category is None or not category.requires_after_photo:
            return
        if any(p.kind == "after" for p in self.store.photos(case.id)):
            return
        raise Refused(
            f"a {category.code} complaint is resolved only with an after photo of the work done: "
            f"add one first (POST /api/v1/complaints/{case.id}/photos with kind=after)",
            code="after_photo_required",
            field="after_photo",
        )

    def community_kind(self, complaint: Case) -> str:
        """The kind (urban or rural) of the community a case is in: it picks the whistle group."""
        community = self.store.communities()
        kinds = dict(zip(community["code"], community["kind"], strict=True))
        return kinds.get(complaint.community_code, "urban")

    # --- the catalogue and the working-day calendar, kept current ----------------------------

    @property
    def catalog(self) -> Catalog:
        """The category catalogue: the bundled files with administrators' changes, a change
        made by another process used within ``CatalogueKeeper.check_s`` seconds."""
        return self.catalogue.current()

    @catalog.setter
    def catalog(self, catalog: Catalog) -> None:
        self.catalogue.replace_files(catalog)

    #: seconds between looks at the stored schedules: one small query, never one per request
    calendar_check_s: float = 10.0

    @property
    def calendar(self) -> WorkCalendar:
        """The working-day calendar. A schedule loaded into the store by another process
        (``redgrid calendar load`` beside a running server) is used within ``calendar_check_s``
        seconds, without a restart."""
        if time.monotonic() - self._calendar_checked >= self.calendar_check_s:
            self._calendar_checked = time.monotonic()
            rows = self.store.calendar_days()
            stamp = _calendar_stamp(rows)
            if stamp != self._calendar_stamp:
                self._calendar_stamp = stamp
                self.calendar = calendar_from_days(rows)
        return self._calendar

    @calendar.setter
    def calendar(self, calendar: WorkCalendar) -> None:
        self._calendar = calendar
        self._provisional = _Provisional(calendar)

    def _check_deadline(self, now: datetime.datetime, deadline: datetime.datetime) -> None:
        """A deadline that can be stored: at least an hour ahead (``MIN_DEADLINE_LEAD``), within a
        year, in years whose working days are known or (on the service's calendar, see
        ``stored_calendar``) provisionally counted.

        Raised before writing, so a refused dispatch leaves the case as it was (it used to be
        stored and then fail when its status was computed, breaking every list showing it).
        """
        if deadline < now + MIN_DEADLINE_LEAD:
            earliest = now + MIN_DEADLINE_LEAD
            raise Invalid(
                f"deadline {deadline.isoformat()} is less than an hour from now; the earliest is "
                f"{earliest.isoformat(timespec='minutes')}",
                code="deadline_too_soon",
                field="deadline",
                details={"earliest": earliest.isoformat()},
            )
        if deadline - now > datetime.timedelta(days=MAX_DEADLINE_DAYS):
            raise Invalid(
                f"deadline {deadline.isoformat()} is more than {MAX_DEADLINE_DAYS} days ahead",
                code="bad_deadline",
                field="deadline",
            )
        calendar = self.calendar
        for year in range(now.astimezone(BEIJING).year, deadline.astimezone(BEIJING).year + 1):
            if not calendar.knows(year) and not calendar.is_provisional(year):
                exc = UnknownCalendarYear(year)
                exc.field = "deadline"  # type: ignore[attr-defined]
                raise exc

    def deadline_status(self, complaint: Case, now: datetime.datetime | None = None) -> DeadlineStatus:
        """Where a case stands against its deadline; never raises for what is stored.

        A year without a holiday schedule is counted Monday–Friday (provisionally), and a deadline
        stored further than a year from its dispatch is only told overdue or on time.
        """
        return self.deadline_status_of(complaint.state, complaint.dispatched_at, complaint.deadline, now)

    def deadline_status_of(
        self,
        state: str,
        dispatched: datetime.datetime | None,
        deadline: datetime.datetime | None,
        now: datetime.datetime | None = None,
    ) -> DeadlineStatus:
        """``deadline_status`` from the three values it reads (a queue counts from a frame)."""
        now = now or self.now()
        if dispatched is not None and deadline is not None and abs(deadline - dispatched) > _LONGEST_COUNTED:
            dispatched = None  # status without the due-soon share, which would count every day
        try:
            return workflow.deadline_status(state, dispatched, deadline, now, self.calendar)
        except UnknownCalendarYear:
            return workflow.deadline_status(state, dispatched, deadline, now, self._provisional)

    # --- photos -----------------------------------------------------------------------------

    def add_photo(
        self, caller: Caller, complaint_id: int, filename: str, data: bytes, *, kind: str = "before"
    ) -> dict:
        """Keep a photo with a case. An ``after`` photo shows the work done, so only a caller who
        may resolve the case (``services.permissions.ACTIONS``) adds one."""
        self.require(caller, WRITE)
        if kind not in PHOTO_KINDS:
            raise Invalid(f"kind is {' or '.join(PHOTO_KINDS)}, not {str(kind)[:32]!r}", field="kind")
        if kind == "after":
            case = self.store.complaint(complaint_id) if 0 < complaint_id <= MAX_ID else None
            if case is None:
                raise NotFound(f"complaint {complaint_id} does not exist")
            if not any(a in permissions.allowed_actions(caller) for a in _RESOLVING):
                raise Forbidden("only whoever may resolve a complaint adds its after photos")
            permissions.check_action(caller, case, workflow.Action.RESOLVE)
        return self.save_photo(complaint_id, filename, data, kind=kind)

    def save_photo(self, complaint_id: int, filename: str, data: bytes, *, kind: str = "before") -> dict:
        if self.photo_dir is None:
            raise Unavailable("photo storage is not configured", code="no_photo_storage")
        if self.store.complaint(complaint_id) is None:
            raise NotFound(f"complaint {complaint_id} does not exist")
        found = photo_type(filename, data)
        digest = hashlib.sha256(data).hexdigest()
        kept = self.store.photos(complaint_id)
        same = next((p for p in kept if p.sha256 == digest and (p.kind or "before") == kind), None)
        if same is not None:  # sent again (a phone retrying after a lost answer): one copy
            return {"id": same.id, "content_type": same.content_type, "size": same.size, "kind": kind}
        # counted by kind, so photos taken at intake never leave no room for the after photo
        if sum((p.kind or "before") == kind for p in kept) >= MAX_PHOTOS:
            raise Invalid(
                f"a complaint holds at most {MAX_PHOTOS} {'after ' if kind == 'after' else ''}photos",
                code="too_many_photos",
                field="photo",
            )
        name = f"{digest}{found[1]}"  # content-addressed: the user's file name never reaches the disk
        self.photo_dir.mkdir(parents=True, exist_ok=True)
        (self.photo_dir / name).write_bytes(data)
        photo_id = self.store.add_photo(
            complaint_id,
            filename=Path(filename).name[:200],
            content_type=found[0],
            size=len(data),
            sha256=digest,
            stored_as=name,
            kind=kind,
        )
        return {"id": photo_id, "content_type": found[0], "size": len(data), "kind": kind}

    # --- the calendar ------------------------------------------------------------------------

    def load_calendar(self, path: Path, *, actor: str = "calendar") -> CalendarLoad:
        """Load a year's official holiday schedule (CSV: date, kind, name), use it at once, and
        recompute the deadlines of open cases it may move (``recompute_deadlines``)."""
        from complaints.workdays import read_schedule

        schedule = read_schedule(path)
        rows = [{"day": d.date, "kind": d.kind, "name": d.name} for d in schedule.days.values()]
        before = self.calendar
        self.store.put_calendar_days(rows, Path(path).name, year=schedule.year)
        stored = self.store.calendar_days()
        self._calendar_stamp, self._calendar_checked = _calendar_stamp(stored), time.monotonic()
        self.calendar = calendar_from_days(stored)
        changed = self.recompute_deadlines(before, schedule.year, actor=actor)
        return CalendarLoad(schedule.year, len(rows), changed)

    def recompute_deadlines(self, before: WorkCalendar, year: int, *, actor: str) -> list[Recomputed]:
        """Count again, on the current calendar, the deadlines of open dispatched cases that
        were provisional or fall in ``year``: the same number of working days from the same
        dispatch, at the same time of day. Each change is recorded as a ``deadline_recomputed``
        event on its case (note: old → new), so the history says why the deadline moved."""
        frame = self.store.complaints_frame(["id", "state"])
        frame = frame[frame["state"].isin([State.DISPATCHED.value, State.REOPENED.value])]
        changed: list[Recomputed] = []
        for complaint_id in frame["id"].astype(int).tolist():
            for _attempt in range(3):  # a case changed meanwhile is read again
                case = self.store.complaint(complaint_id)
                done = case is not None and self._recompute_one(case, before, year, actor, changed)
                if done is not None:
                    break
        return changed

    def _recompute_one(
        self, case: Case, before: WorkCalendar, year: int, actor: str, changed: list[Recomputed]
    ) -> bool | None:
        """True if the case's deadline was recomputed, False if it stays; None on a concurrent change."""
        dispatched, old = case.dispatched_at, case.deadline
        if case.state not in (State.DISPATCHED, State.REOPENED) or dispatched is None or old is None:
            return False
        first, last = dispatched.astimezone(BEIJING), old.astimezone(BEIJING)
        if not case.deadline_provisional and not first.year <= year <= last.year:
            return False
        if last - first > _LONGEST_COUNTED:
            return False
        calendar = self.calendar
        try:
            days = before.workdays_in(first.date() + datetime.timedelta(days=1), last.date())
            if days < 1:
                return False
            due = calendar.add_workdays(dispatched, days).date()
        except UnknownCalendarYear:
            return False
        new = datetime.datetime.combine(due, last.timetz())
        provisional = calendar.provisional_between(dispatched, new)
        if new == old and bool(case.deadline_provisional) == provisional:
            return False
        note = f"办理时限按 {year} 年节假日安排重新计算：{last:%Y-%m-%d %H:%M} → {new:%Y-%m-%d %H:%M}"
        if provisional:
            note += "（暂定）"
        event = {
            "at": self.now(),
            "actor": actor,
            "action": "deadline_recomputed",
            "from_state": case.state,
            "to_state": case.state,
            "note": note,
            "department_code": case.department_code,
            "deadline": new,
            "satisfied": None,
            "duplicate_of": None,
        }
        try:
            self.store.update_complaint(
                case.id, case.row_version, {"deadline": new, "deadline_provisional": provisional}, event
            )
        except ConcurrentUpdate:
            return None
        changed.append(Recomputed(case.id, old, new, provisional))
        return True

    # --- re-aggregation ---------------------------------------------------------------------

    def reaggregate(self, version_id: int, progress: Progress | None = None) -> int:
        """Map every complaint onto another grid version for analysis; records stay as filed."""
        frame = self.store.complaints_frame(["id", "lon", "lat"])
        frame = frame.dropna(subset=["lon", "lat"])
        grid_set, match, _, _ = self.grids.locate_many(
            frame["lon"].to_numpy(float), frame["lat"].to_numpy(float), version=version_id, annotate=False
        )
        # position -1 (no grid) reads the trailing None; np.append(codes, None) did the same
        codes = np.concatenate([np.ravel(grid_set.index.codes), np.array([None], dtype=object)])[match.grid]
        pairs = list(zip(frame["id"].astype(int).tolist(), codes.tolist(), strict=True))
        count = self.store.put_regrid(version_id, pairs)
        if progress:
            progress("reaggregated", count, count)
        return count


def photo_type(filename: str, data: bytes) -> tuple[str, str]:
    """(content type, file suffix) of an uploaded photo, or the refusal: too large, or not a
    JPEG, PNG or WebP image (told by its first bytes, never by its name)."""
    if len(data) > MAX_PHOTO_BYTES:
        raise TooLarge(
            f"photo {filename!r} is {len(data) / 1e6:.1f} MB; at most {MAX_PHOTO_BYTES // 1024 // 1024} MB",
            code="photo_too_large",
            field="photo",
        )
    found = next((v for magic, v in PHOTO_TYPES.items() if data.startswith(magic)), None)
    if found is None or (found[0] == "image/webp" and data[8:12] != b"WEBP"):
        raise UnsupportedType(
            f"photo {filename!r} is not a JPEG, PNG or WebP image", code="photo_type", field="photo"
        )
    return found


def _audited_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """A list's filters as the audit log keeps them: not the clock, a searched phone masked."""
    out: dict[str, Any] = {}
    for key, value in filters.items():
        if key in ("overdue_at", "deadline_before", "deadline_after"):
            continue
        if key == "reporter_phone":
            value = [mask_phone(v) for v in value] if isinstance(value, list) else mask_phone(str(value))
        out[key] = value
    return out


def _or_nan(value: float | None) -> float:
    """A coordinate, NaN where missing (as ``to_wgs84`` reads None: such a point is in no grid)."""
    return float("nan") if value is None else value


def _community_kind(kind: object) -> CommunityKind:
    """A community's kind as the catalog's whistle groups are keyed (unset: urban)."""
    if not kind or kind == "urban":
        return "urban"
    if kind == "rural":
        return "rural"
    raise KeyError(kind)  # as the whistle-group lookup did for an unknown kind


def _phone_tail(phone: str | None) -> str:
    """The last four digits of a stored phone (``''`` when it has fewer: such a case is never
    found by a progress look-up)."""
    digits = "".join(ch for ch in phone or "" if ch.isascii() and ch.isdigit())
    return digits[-4:] if len(digits) >= 4 else ""


def event_row(event: workflow.Event) -> dict:
    """A workflow event as the store keeps it."""
    return {
        "at": event.when,
        "actor": event.who,
        "action": event.action.value,
        "from_state": event.from_state.value,
        "to_state": event.to_state.value,
        "note": event.note,
        "department_code": event.department,
        "deadline": event.deadline,
        "satisfied": event.satisfied,
        "duplicate_of": event.duplicate_of,
        "assignee": event.assignee,
    }


def store_generated(
    service: ComplaintService,
    generated: Sequence[Any],
    *,
    progress: Progress | None = None,
    batch: int = 10_000,
) -> tuple[int, int]:
    """Store generated complaints (``complaints.demo``) with their histories; safe to re-run."""
    added = skipped = 0
    for start in range(0, len(generated), batch):
        part = generated[start : start + batch]
        items = [
            ComplaintInput(
                **{
                    k: g.row[k]
                    for k in (
                        "source",
                        "external_id",
                        "reported_at",
                        "channel",
                        "category_code",
                        "text",
                        "address",
                        "lon",
                        "lat",
                        "coordsys",
                        "reporter_name",
                        "reporter_phone",
                    )
                }
            )
            for g in part
        ]
        placements = service.place_many(items)
        rows, events = [], []
        assignees = service.default_assignees()
        for item, where, g in zip(items, placements, part, strict=True):
            row, intake_event = service._record(item, where, assignees=assignees)
            row.update(g.final)
            intake_event.update(at=item.reported_at, actor="intake")
            rows.append(row)
            events.append([intake_event, *(event_row(e) for e in g.events)])
        result = service.store.add_complaints(rows, events)
        added += len(result.added)
        skipped += len(result.skipped)
        if progress:
            progress("complaints", start + len(part), len(generated))
    return added, skipped


@dataclass(frozen=True)
class Recomputed:
    """A deadline counted again after a year's schedule was loaded."""

    complaint_id: int
    old: datetime.datetime
    new: datetime.datetime
    provisional: bool


@dataclass(frozen=True)
class CalendarLoad:
    """What loading a schedule did: its year, how many days it lists, the deadlines it moved."""

    year: int
    days: int
    recomputed: list[Recomputed]


def _calendar_stamp(rows: Sequence[Mapping[str, Any]]) -> tuple[tuple[Any, Any, Any], ...]:
    """What identifies the stored schedules: every day with its kind and name."""
    return tuple((row["day"], row["kind"], row["name"]) for row in rows)


def stored_calendar(store: Store) -> WorkCalendar:
    """The working-day calendar: the library's years plus schedules loaded into the store, and
    provisional years (``complaints.workdays.provisional_schedule``) for the others."""
    return calendar_from_days(store.calendar_days())


def calendar_from_days(rows: Sequence[Mapping[str, Any]]) -> WorkCalendar:
    """``stored_calendar`` from calendar days already read from the store."""
    from complaints.workdays import ScheduledDay
    from complaints.workdays import YearSchedule

    by_year: dict[int, dict] = {}
    for row in rows:
        day = row["day"]
        by_year.setdefault(day.year, {})[day] = ScheduledDay(day, row["kind"], row["name"] or "")
    # A notice may move a day at the end of the previous December (see read_schedule): such a
    # day belongs to the next year's schedule. Standing alone it would make a schedule for its
    # own year and hide that year's holidays (the library's National Day, say).
    for year in sorted(by_year):
        if year + 1 in by_year and all(day.month == 12 for day in by_year[year]):
            by_year[year + 1].update(by_year.pop(year))
    schedules = [YearSchedule(year, days, "store") for year, days in sorted(by_year.items())]
    return WorkCalendar(schedules, provisional=True)
