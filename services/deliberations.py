"""多元议事 as a record: who met, where and when, on what matter, and what they agreed.

The article's 多元议事 brings residents, party members, deputies and committee members
(两代表一委员: 人大代表、政协委员 and 党代表), department representatives and the grid team
together on a community's matter. A record says when and where, in which community (and
grid), the participants by kind, the matter, the outcome agreed, minutes and photos. It may
be held on a case and settle it: the case then goes ``resolve_on_site`` with the
deliberation named in its history, in the same transaction as the record.

Residents' names are personal data: they are shown only to callers who see contacts
(``personal_data``), and each view that shows them is audited (``deliberation.view``). The
others (party members, deputies, departments, the grid team) take part in an office, and
are shown to all staff. Deliberations are counted by grid and by community.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from complaints import intake
from complaints import workflow
from geo.errors import GeoError
from geo.timeutil import parse_when
from geo.timeutil import to_beijing
from services import audit as audit_log
from services import permissions
from services.audit import AuditService
from services.callers import PERSONAL_DATA
from services.callers import WRITE
from services.callers import Caller
from services.cases import MAX_ID
from services.cases import MAX_NOTE
from services.cases import MAX_PHOTOS
from services.cases import ComplaintService
from services.cases import bounded_id
from services.cases import photo_type
from services.errors import Conflict
from services.errors import Forbidden
from services.errors import Invalid
from services.errors import NotFound
from services.errors import Refused
from services.errors import Unauthenticated
from services.errors import Unavailable
from services.grids import GridService
from store.base import Store
from store.casework import PARTICIPANT_KINDS
from store.casework import Deliberation
from store.casework import Participant
from store.complaints import ConcurrentUpdate

#: participants whose names are personal data (the others attend in an office)
PRIVATE_KINDS = frozenset({"resident"})
MAX_PARTICIPANTS = 100
MAX_NAME = 64
MAX_PLACE = 200
MAX_MINUTES = 20_000
#: a meeting is recorded after it was held: a little clock skew is forgiven, no more
_FUTURE_SLACK = datetime.timedelta(minutes=10)


@dataclass(frozen=True)
class DeliberationView:
    """A deliberation as one caller may see it: residents' names blanked unless ``named``."""

    deliberation: Deliberation
    named: bool  # whether residents' names are shown

    def count(self, kind: str) -> int:
        return sum(p.kind == kind for p in self.deliberation.participants)


def _text(form: Mapping[str, Any], name: str, limit: int, *, required: bool) -> str | None:
    value = form.get(name)
    if value is not None and not isinstance(value, str):
        raise Invalid(f"{name} must be text", field=name)
    cleaned = intake.CONTROL.sub("", value or "").strip()
    if required and not cleaned:
        raise Invalid(f"{name} is empty", field=name)
    if len(cleaned) > limit:
        raise Invalid(f"{name}: {len(cleaned)} characters; at most {limit}", field=name)
    return cleaned or None


def participants_from(rows: Sequence[Mapping[str, Any]]) -> list[Participant]:
    """The participant rows of a form, blank rows skipped; a fault names its row (from 1)."""
    people: list[Participant] = []
    for number, row in enumerate(rows, start=1):
        kind = str(row.get("kind") or "").strip()
        name = intake.CONTROL.sub("", str(row.get("name") or "")).strip()
        affiliation = intake.CONTROL.sub("", str(row.get("affiliation") or "")).strip()
        if not name and not affiliation:
            continue
        field = f"participants[{number}]"
        if kind not in PARTICIPANT_KINDS:
            raise Invalid(f"participant {number}: kind is one of {', '.join(PARTICIPANT_KINDS)}", field=field)
        if not name:
            raise Invalid(f"participant {number}: name is empty", field=field)
        if len(name) > MAX_NAME or len(affiliation) > MAX_PLACE:
            raise Invalid(f"participant {number}: name at most {MAX_NAME} characters", field=field)
        people.append(Participant(kind, name, affiliation or None))
    if not people:
        raise Invalid("name at least one participant", field="participants")
    if len(people) > MAX_PARTICIPANTS:
        raise Invalid(f"at most {MAX_PARTICIPANTS} participants", field="participants")
    return people


class DeliberationService:
    def __init__(
        self,
        store: Store,
        cases: ComplaintService,
        grids: GridService,
        audit: AuditService,
        photo_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.cases = cases
        self.grids = grids
        self.audit = audit
        self.photo_dir = photo_dir

    # --- who ------------------------------------------------------------------------------

    @staticmethod
    def may_record(caller: Caller) -> bool:
        """The dispatch centre records deliberations (it may take the ``deliberate`` step)."""
        return caller.can(WRITE) and workflow.Action.DELIBERATE in permissions.allowed_actions(caller)

    def _require_record(self, caller: Caller) -> None:
        self.cases.require(caller, WRITE)
        if not self.may_record(caller):
            raise Forbidden("only the dispatch centre records a deliberation (多元议事)")

    @staticmethod
    def _require_read(caller: Caller) -> None:
        if not caller.authenticated:
            raise Unauthenticated("deliberation records are for staff: sign in")

    # --- recording ------------------------------------------------------------------------

    def record(
        self,
        caller: Caller,
        form: Mapping[str, Any],
        participant_rows: Sequence[Mapping[str, Any]],
        *,
        settle: bool = False,
        expected_version: object = None,
    ) -> Deliberation:
        """Record a deliberation; with ``settle``, its outcome settles its case (resolve_on_site)."""
        self._require_record(caller)
        place = _text(form, "place", MAX_PLACE, required=True)
        matter = _text(form, "matter", MAX_NOTE, required=True)
        outcome = _text(form, "outcome", MAX_NOTE, required=True)
        minutes = _text(form, "minutes", MAX_MINUTES, required=False)
        held_text = _text(form, "held_at", 40, required=True)
        try:
            held_at = parse_when(held_text or "", name="held_at")
        except GeoError as exc:
            raise Invalid(str(exc), field="held_at") from exc
        now = self.cases.now()
        if held_at > now + _FUTURE_SLACK:
            raise Invalid("held_at is in the future: record a meeting once it was held", field="held_at")
        people = participants_from(participant_rows)
        complaint_id = self._complaint_id(form.get("complaint_id"))
        case = self.store.complaint(complaint_id) if complaint_id else None
        if complaint_id and case is None:
            raise NotFound(f"complaint {complaint_id} does not exist", field="complaint_id")
        grid_code = _text(form, "grid_code", 15, required=False) or (case.grid_code if case else None)
        community_code = _text(form, "community_code", 12, required=False) or (
            case.community_code if case else None
        )
        community_code = self._check_place(grid_code, community_code)
        row = {
            "held_at": held_at,
            "place": place,
            "grid_code": grid_code,
            "community_code": community_code,
            "matter": matter,
            "outcome": outcome,
            "minutes": minutes,
            "complaint_id": complaint_id,
            "settled": bool(settle),
            "recorded_by": caller.actor,
            "recorded_at": now,
        }
        step = None
        if settle:
            if case is None:
                raise Invalid("a deliberation settles a case only when held on one", field="complaint_id")
            if not str(expected_version or "").isdigit():
                raise Invalid("say which version of the complaint you saw", field="version")
            note = f"多元议事（{to_beijing(held_at):%Y-%m-%d}，{place}）议定：{outcome}"
            try:
                step = self.cases.plan(
                    case.id,
                    workflow.Action.RESOLVE_ON_SITE,
                    expected_version=bounded_id(expected_version, "version"),
                    actor=caller.actor,
                    note=note[:MAX_NOTE],
                    caller=caller,
                )
            except workflow.WorkflowError as exc:
                raise Refused(str(exc), code=exc.code, field="settle") from exc
        try:
            deliberation_id = self.store.add_deliberation(row, people, step)
        except ConcurrentUpdate as exc:
            raise Conflict(str(exc)) from exc
        self.audit.record(
            caller,
            audit_log.DELIBERATION_RECORD,
            f"deliberation:{deliberation_id}",
            {"complaint": complaint_id, "settled": bool(settle)},
        )
        found = self.store.deliberation(deliberation_id)
        assert found is not None
        return found

    @staticmethod
    def _complaint_id(value: object) -> int | None:
        if value in (None, ""):
            return None
        return bounded_id(value, "complaint_id")

    def _check_place(self, grid_code: str | None, community_code: str | None) -> str:
        communities = set(self.store.communities()["code"])
        if grid_code:
            version = self.grids.active_or_none()
            grids = self.grids.grid_set(version).grids if version is not None else None
            match = grids[grids["code"] == grid_code] if grids is not None else None
            if match is None or match.empty:
                raise Invalid(f"no grid {grid_code!r} in the active grid version", field="grid_code")
            owner = str(match["community_code"].iloc[0])
            if community_code and community_code != owner:
                raise Invalid(
                    f"grid {grid_code} is in community {owner}, not {community_code}", field="grid_code"
                )
            community_code = owner
        if not community_code:
            raise Invalid("say in which community (or grid) it was held", field="community_code")
        if community_code not in communities:
            raise Invalid(f"no community {community_code!r}", field="community_code")
        return community_code

    def add_photo(self, caller: Caller, deliberation_id: int, filename: str, data: bytes) -> int:
        """A photo of the meeting (JPEG, PNG or WebP), kept like a case's photos."""
        self._require_record(caller)
        found = self.store.deliberation(deliberation_id) if 0 < deliberation_id <= MAX_ID else None
        if found is None:
            raise NotFound(f"deliberation {deliberation_id} does not exist")
        if self.photo_dir is None:
            raise Unavailable("photo storage is not configured", code="no_photo_storage")
        kind = photo_type(filename, data)
        if len(found.photos) >= MAX_PHOTOS:
            raise Invalid(f"a deliberation holds at most {MAX_PHOTOS} photos", field="photo")
        digest = hashlib.sha256(data).hexdigest()
        name = f"{digest}{kind[1]}"
        self.photo_dir.mkdir(parents=True, exist_ok=True)
        (self.photo_dir / name).write_bytes(data)
        return self.store.add_deliberation_photo(
            deliberation_id,
            filename=Path(filename).name[:200],
            content_type=kind[0],
            size=len(data),
            sha256=digest,
            stored_as=name,
        )

    def photo_file(self, caller: Caller, deliberation_id: int, photo_id: int) -> tuple[Path, str]:
        """A photo of a meeting shows residents: for callers who see contacts (audited)."""
        self._require_read(caller)
        if not caller.can(PERSONAL_DATA) or self.photo_dir is None:
            raise Forbidden("photos of a deliberation are shown to staff who see contacts")
        found = self.store.deliberation(deliberation_id) if 0 < deliberation_id <= MAX_ID else None
        photo = next((p for p in found.photos if p.id == photo_id), None) if found else None
        if photo is None:
            raise NotFound("no such photo")
        self.audit.record(
            caller, audit_log.DELIBERATION_VIEW, f"deliberation:{deliberation_id}", {"photo": photo_id}
        )
        return self.photo_dir / photo.stored_as, photo.content_type

    # --- reading --------------------------------------------------------------------------

    def _view(self, caller: Caller, found: Deliberation, *, names: bool) -> DeliberationView:
        named = names and caller.can(PERSONAL_DATA)
        if named:
            return DeliberationView(found, True)
        hidden = tuple(replace(p, name="") if p.kind in PRIVATE_KINDS else p for p in found.participants)
        return DeliberationView(replace(found, participants=hidden, photos=()), False)

    def get(self, caller: Caller, deliberation_id: int) -> DeliberationView:
        self._require_read(caller)
        found = self.store.deliberation(deliberation_id) if 0 < deliberation_id <= MAX_ID else None
        if found is None:
            raise NotFound(f"deliberation {deliberation_id} does not exist")
        view = self._view(caller, found, names=True)
        if view.named and any(p.kind in PRIVATE_KINDS for p in found.participants):
            self.audit.record(caller, audit_log.DELIBERATION_VIEW, f"deliberation:{deliberation_id}")
        return view

    def listing(
        self,
        caller: Caller,
        *,
        grid_code: str | None = None,
        community_code: str | None = None,
        complaint_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[DeliberationView]:
        """Newest first; lists name no resident (the record itself does, to those who may see it)."""
        self._require_read(caller)
        found = self.store.deliberations(
            grid_code=grid_code or None,
            community_code=community_code or None,
            complaint_id=complaint_id,
            limit=limit,
            offset=offset,
        )
        return [self._view(caller, d, names=False) for d in found]

    def counts(
        self, by: str, since: datetime.datetime | None = None, until: datetime.datetime | None = None
    ) -> pd.DataFrame:
        """Deliberations held in [since, until) per grid or community: (by, count), most first."""
        if by not in ("grid_code", "community_code"):
            raise Invalid("count deliberations by grid_code or community_code", field="by")
        return self.store.deliberation_counts(by, since, until)


__all__ = [
    "PARTICIPANT_KINDS",
    "PRIVATE_KINDS",
    "DeliberationService",
    "DeliberationView",
    "participants_from",
]
