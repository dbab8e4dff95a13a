"""What goes on paper: a work order (派单单) for the department a case is dispatched to, and a
case with its whole history (诉求单) for the file.

A printed sheet leaves the system: nobody can take it back or check who reads it later. So
what it holds is decided here, by the same rules as the case page (``services.permissions``
through ``ComplaintService.view``): a planner's print has the reporter's phone masked, the
public prints nothing, photos go only to callers who see the case's contacts. A print that
shows personal data is recorded in the audit log like a view of the case page (``case.view``
with ``via: print``), and officials' full phones on it like any other view of them
(``team.view``). The adapters only lay the sheet out (``webmap.pages.printing``).

The work order's number is the case number and the dispatch's sequence (``1234-2``: the
second dispatch of case 1234, after a re-assignment), printed as text (no QR code): the case
number is what staff and residents quote (``/progress``), the sequence tells two orders of one
case apart.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass
from pathlib import Path

from complaints.records import Case
from complaints.records import CaseEvent
from complaints.records import Photo
from complaints.workflow import Action
from complaints.workflow import DeadlineStatus
from geo.officials import mask_phone
from services import audit as audit_log
from services import permissions
from services.callers import Caller
from services.cases import MAX_ID
from services.cases import CaseView
from services.cases import ComplaintService
from services.errors import DomainError
from services.errors import NotFound
from services.errors import Refused
from services.errors import Unauthenticated
from services.permissions import Visibility

#: the longest side of a photo's thumbnail on paper, in pixels (about 5 cm at 200 dpi)
THUMBNAIL_PX = 400
#: actors that are the system itself (imports, the command line, a calendar reload)
SYSTEM_ACTORS = frozenset({"intake", "cli", "calendar", "system"})
#: the documents, as the audit log names them
WORK_ORDER = "work_order"
CASE_SHEET = "case"


@dataclass(frozen=True)
class Label:
    """A name people read, in both page languages."""

    zh: str
    en: str

    def in_language(self, language: str) -> str:
        return self.en if language == "en" else self.zh


@dataclass(frozen=True)
class Place:
    """Where the case was placed, by name: its grid, community and town in the grid version
    it was filed under (names may be missing when that version is gone)."""

    grid_code: str | None
    grid_name: str | None
    community_code: str | None
    community_name: str | None
    town_name: str | None


@dataclass(frozen=True)
class TeamMember:
    role: str  # ``geo.officials.Role`` value (the pages translate it)
    name: str
    phone: str  # masked unless the caller sees officials' phones
    phone_masked: bool


@dataclass(frozen=True)
class HistoryLine:
    """One step of the history as people read it: ``actor_kind`` is ``person`` (with the
    person's name), ``system`` (the system itself) or ``other_system`` (an API key)."""

    at: datetime.datetime
    actor_kind: str
    actor_name: str | None
    action: str
    from_state: str | None
    to_state: str
    note: str | None
    department: Label | None
    deadline: datetime.datetime | None
    satisfied: bool | None


@dataclass(frozen=True)
class PrintPhoto:
    id: int
    kind: str  # before | after
    filename: str
    #: a small JPEG of the photo, None when the file is missing or unreadable
    thumbnail: bytes | None


@dataclass(frozen=True)
class Sheet:
    """What both documents share: the case as the caller may see it, named, and who printed
    it when."""

    view: CaseView
    place: Place
    category: Label
    department: Label | None
    printed_at: datetime.datetime
    printed_by: str
    deadline_running: bool

    @property
    def case(self) -> Case:
        return self.view.case


@dataclass(frozen=True)
class WorkOrder(Sheet):
    """A work order (派单单): the case's latest dispatch, with the grid team to call."""

    number: str = ""
    dispatched_at: datetime.datetime | None = None
    dispatched_by: HistoryLine | None = None
    instructions: str | None = None
    team: tuple[TeamMember, ...] = ()


@dataclass(frozen=True)
class CaseSheet(Sheet):
    """A case with its whole history and (for callers who see contacts) its photos."""

    whistle_group: Label | None = None
    history: tuple[HistoryLine, ...] = ()
    photos: tuple[PrintPhoto, ...] = ()


class PrintService:
    def __init__(self, cases: ComplaintService) -> None:
        self.cases = cases

    def work_order(self, caller: Caller, complaint_id: int) -> WorkOrder:
        """The work order of a dispatched case; a case not yet dispatched has none (Refused)."""
        view = self._view(caller, complaint_id)
        case = view.case
        dispatches = [e for e in view.events or [] if e.action == Action.DISPATCH.value]
        if not dispatches or not case.department_code:
            raise Refused(
                f"complaint {case.id} has not been dispatched: a work order is printed once it is",
                code="not_dispatched",
            )
        last = dispatches[-1]
        names: dict[str, str | None] = {}  # display names by user name, for this sheet
        shown_phones = permissions.sees_team_phones(caller)
        team = self.cases.grids.team(case.grid_code) if case.grid_code else []
        if shown_phones and team:
            self.cases.audit.record(
                caller, audit_log.TEAM_VIEW, f"grid:{case.grid_code}", {"people": len(team)}
            )
        members = tuple(
            TeamMember(
                a.role.value,
                a.name,
                a.phone if shown_phones else mask_phone(a.phone),
                not shown_phones,
            )
            for a in team
        )
        self._audit(caller, view, WORK_ORDER)
        return WorkOrder(
            **self._sheet(caller, view),
            number=f"{case.id}-{len(dispatches)}",
            dispatched_at=last.at,
            dispatched_by=self._line(last, names),
            instructions=last.note or None,
            team=members,
        )

    def case_sheet(self, caller: Caller, complaint_id: int) -> CaseSheet:
        """The case with every step of its history and, for callers who see its contacts, its
        photos as thumbnails."""
        view = self._view(caller, complaint_id)
        case = view.case
        names: dict[str, str | None] = {}  # display names by user name, for this sheet
        groups = self.cases.catalog.whistle_groups.values()
        group = next((g for g in groups if g.code == case.whistle_group), None)
        photos = tuple(
            PrintPhoto(p.id, p.kind if p.kind == "after" else "before", p.filename, self._thumbnail(p))
            for p in sorted(view.photos or [], key=lambda p: (p.kind == "after", p.id))
        )
        self._audit(caller, view, CASE_SHEET, photos=[p.id for p in photos])
        return CaseSheet(
            **self._sheet(caller, view),
            whistle_group=Label(group.name_zh, group.name_en) if group else None,
            history=tuple(self._line(e, names) for e in view.events or []),
            photos=photos,
        )

    # --- what both share --------------------------------------------------------------------

    def _view(self, caller: Caller, complaint_id: int) -> CaseView:
        if not caller.authenticated:
            raise Unauthenticated("sign in to print a complaint")
        case = self.cases.store.complaint(complaint_id) if 0 < complaint_id <= MAX_ID else None
        if case is None:
            raise NotFound(f"complaint {complaint_id} does not exist")
        return self.cases.view(caller, case, history=True, photos=True)

    def _audit(self, caller: Caller, view: CaseView, document: str, **detail: object) -> None:
        """Recorded like a view of the case page: when the sheet shows personal data."""
        if view.visibility >= Visibility.CONTACTS:
            self.cases.audit.record(
                caller,
                audit_log.CASE_VIEW,
                f"complaint:{view.case.id}",
                {"ids": [view.case.id], "via": "print", "document": document, **detail},
            )

    def _sheet(self, caller: Caller, view: CaseView) -> dict:
        case, catalog = view.case, self.cases.catalog
        category = catalog.categories.get(case.category_code)
        department = catalog.departments.get(case.department_code or "")
        return {
            "view": view,
            "place": self._place(case),
            "category": Label(category.name_zh, category.name_en)
            if category
            else Label(case.category_code, case.category_code),
            "department": Label(department.name_zh, department.name_en) if department else None,
            "printed_at": self.cases.now(),
            "printed_by": caller.display_name or caller.name,
            "deadline_running": view.deadline_status is not DeadlineStatus.NONE,
        }

    def _place(self, case: Case) -> Place:
        grid_name = community_name = town_name = None
        if case.grid_version_id is not None:
            try:
                grid_set = self.cases.grids.grid_set(case.grid_version_id)
            except DomainError:  # the version is gone: the codes still say where
                grid_set = None
            if grid_set is not None:
                i = grid_set.index.position.get(case.grid_code or "")
                grid_name = grid_set.grid_row(i)["name"] if i is not None else None
                community_name = grid_set.communities.get(case.community_code or "", {}).get("name")
                town_name = grid_set.town.get("name")
        return Place(case.grid_code, grid_name, case.community_code, community_name, town_name)

    def _line(self, event: CaseEvent, names: dict[str, str | None]) -> HistoryLine:
        kind, name = self._actor(event.actor, names)
        department = self.cases.catalog.departments.get(event.department_code or "")
        return HistoryLine(
            at=event.at,
            actor_kind=kind,
            actor_name=name,
            action=event.action,
            from_state=event.from_state,
            to_state=event.to_state,
            note=event.note,
            department=Label(department.name_zh, department.name_en) if department else None,
            deadline=event.deadline,
            satisfied=event.satisfied,
        )

    def _actor(self, actor: str, names: dict[str, str | None]) -> tuple[str, str | None]:
        """Who did a step, as people read it: a person's display name, never an account id."""
        kind, _, name = actor.partition(":")
        if not actor:  # redacted (a public view)
            return "system", None
        if kind == "user" and name:
            if name not in names:
                account = self.cases.store.user(username=name)
                names[name] = account.display_name if account is not None else None
            return "person", names[name] or name
        if kind == "api_key":
            return "other_system", None
        if actor in SYSTEM_ACTORS or kind == "system":
            return "system", None
        return "person", actor  # a name written by an import or the demo (网格员, a department)

    def _thumbnail(self, photo: Photo) -> bytes | None:
        directory = self.cases.photo_dir
        return thumbnail(directory / photo.stored_as) if directory is not None else None


def thumbnail(path: Path, size: int = THUMBNAIL_PX) -> bytes | None:
    """A small JPEG of a photo, turned upright by its EXIF orientation; None when the file is
    missing or is not an image Pillow reads (a sheet is printed without it, never refused)."""
    from PIL import Image
    from PIL import ImageOps

    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))  # JPEG: decode at a fraction of the size
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((size, size))
            out = io.BytesIO()
            upright.convert("RGB").save(out, "JPEG", quality=80)
            return out.getvalue()
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


__all__ = [
    "CASE_SHEET",
    "WORK_ORDER",
    "CaseSheet",
    "HistoryLine",
    "Label",
    "Place",
    "PrintPhoto",
    "PrintService",
    "Sheet",
    "TeamMember",
    "WorkOrder",
    "thumbnail",
]
