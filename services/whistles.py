"""吹哨报到: the dispatch centre blows the whistle on a case and the departments report in.

The article's scheme is 红格发令、部门执行 with one 吹哨群 for urban and one for rural
communities. In the product the grid's order reaches the departments through the dispatch
centre (调度中心), which acts for the grid team, so whistling is a dispatch-centre action
(``services.permissions.ACTIONS``: the ``whistle`` step). A whistle summons every department
of the whistle group of the case's community kind (``data/catalog/whistle_groups.csv``);
each summoned department reports in (报到) and responds with a note, and only a summoned
department may. The times from the whistle to reporting in and to the response are what
the dashboard counts.

A whistle is written in one transaction with the case's ``whistle`` step (kept state), so the
history and the whistle record never disagree.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pandas as pd

from complaints import intake
from complaints import workflow
from services import permissions
from services.callers import WRITE
from services.callers import Caller
from services.cases import MAX_ID
from services.cases import MAX_NOTE
from services.cases import ComplaintService
from services.cases import bounded_id
from services.errors import Conflict
from services.errors import Forbidden
from services.errors import Invalid
from services.errors import NotFound
from services.errors import PreconditionRequired
from services.errors import Refused
from store.base import Store
from store.casework import Summons
from store.casework import Whistle
from store.complaints import ConcurrentUpdate

#: the roles whose staff report in when their department is summoned
SUMMONED_ROLE = "department"


@dataclass(frozen=True)
class WhistleFigures:
    """Whistles blown in a period and how fast the summoned departments came and answered."""

    whistles: int
    summoned: int  # summons made (one per department per whistle)
    reported: int  # of those, reported in (报到)
    responded: int  # of those, answered
    median_report_minutes: float | None  # whistle → report in, over those reported in
    median_response_minutes: float | None  # whistle → response, over those answered

    @property
    def report_rate(self) -> float | None:
        return round(self.reported / self.summoned, 4) if self.summoned else None


def _clean_note(text: object, name: str, *, required: bool) -> str | None:
    if text is not None and not isinstance(text, str):
        raise Invalid(f"{name} must be text", field=name)
    cleaned = intake.CONTROL.sub("", text or "").strip()
    if len(cleaned) > MAX_NOTE:
        raise Invalid(f"{name}: {len(cleaned)} characters; at most {MAX_NOTE}", field=name)
    if required and not cleaned:
        raise Invalid(f"{name} is empty: say what the department will do", field=name)
    return cleaned or None


class WhistleService:
    def __init__(self, store: Store, cases: ComplaintService) -> None:
        self.store = store
        self.cases = cases

    # --- blowing it -----------------------------------------------------------------------

    def blow(
        self, caller: Caller, complaint_id: int, *, expected_version: object, note: str | None = None
    ) -> Whistle:
        """Summon the case's whistle group; recorded as the case's ``whistle`` step."""
        self.cases.require(caller, WRITE)
        if not str(expected_version or "").isdigit():
            raise PreconditionRequired("say which version of the complaint you saw")
        version = bounded_id(expected_version, "version")
        note = _clean_note(note, "note", required=False)
        case = self.store.complaint(complaint_id) if 0 < complaint_id <= MAX_ID else None
        if case is None:
            raise NotFound(f"complaint {complaint_id} does not exist")
        permissions.check_action(caller, case, workflow.Action.WHISTLE)
        group = self.cases.catalog.whistle_groups[self.cases.community_kind(case)]  # type: ignore[index]
        if not group.departments:
            raise Refused(
                f"whistle group {group.code} lists no departments (whistle_groups.csv, column departments)",
                code="whistle_group_empty",
                field="whistle_group",
            )
        try:
            step = self.cases.plan(
                complaint_id,
                workflow.Action.WHISTLE,
                expected_version=version,
                actor=caller.actor,
                note=note,
                caller=caller,
            )
        except workflow.WorkflowError as exc:
            raise Refused(str(exc), code=exc.code, field="action") from exc
        record = {
            "group_code": group.code,
            "blown_at": step.event["at"],
            "blown_by": caller.actor,
            "note": note,
        }
        try:
            whistle_id = self.store.add_whistle(step, record, group.departments)
        except ConcurrentUpdate as exc:
            raise Conflict(str(exc)) from exc
        found = self.store.whistle_of(whistle_id)
        assert found is not None
        return found

    # --- the departments' answer ----------------------------------------------------------

    def _summoned(self, caller: Caller, summons_id: int) -> Summons:
        self.cases.require(caller, WRITE)
        found = self.store.summons(summons_id) if 0 < summons_id <= MAX_ID else None
        if found is None:
            raise NotFound(f"summons {summons_id} does not exist")
        if (
            permissions.acting_role(caller) != SUMMONED_ROLE
            or caller.department_code != found.department_code
        ):
            raise Forbidden(
                f"only department {found.department_code!r}, summoned by this whistle, reports in or responds"
            )
        return found

    def report_in(self, caller: Caller, summons_id: int) -> Summons:
        """报到: the summoned department says it has come; the first time counts."""
        self._summoned(caller, summons_id)
        if not self.store.report_in(summons_id, at=self.cases.now(), by=caller.actor):
            raise Refused("this department has already reported in", code="already_reported", field="summons")
        return self._get(summons_id)

    def respond(self, caller: Caller, summons_id: int, response: object) -> Summons:
        """The department's answer (what it will do, or did); reports it in if it had not."""
        self._summoned(caller, summons_id)
        text = _clean_note(response, "response", required=True)
        assert text is not None
        if not self.store.respond(summons_id, at=self.cases.now(), by=caller.actor, response=text):
            raise Refused("this department has already responded", code="already_responded", field="summons")
        return self._get(summons_id)

    def _get(self, summons_id: int) -> Summons:
        found = self.store.summons(summons_id)
        assert found is not None
        return found

    # --- reading --------------------------------------------------------------------------

    def of_case(self, caller: Caller, complaint_id: int) -> list[Whistle]:
        """A case's whistles for staff; numbers in the notes and responses masked unless the
        caller sees the case's contacts (as its history is)."""
        if not caller.authenticated:
            return []
        case = self.store.complaint(complaint_id) if 0 < complaint_id <= MAX_ID else None
        if case is None:
            raise NotFound(f"complaint {complaint_id} does not exist")
        found = self.store.whistles(complaint_id)
        if permissions.visibility(caller, case) >= permissions.Visibility.CONTACTS:
            return found
        mask = permissions.mask_numbers
        return [
            Whistle(
                w.id,
                w.complaint_id,
                w.group_code,
                w.blown_at,
                w.blown_by,
                mask(w.note),
                tuple(
                    Summons(
                        s.id,
                        s.whistle_id,
                        s.department_code,
                        s.reported_at,
                        s.reported_by,
                        s.responded_at,
                        s.responded_by,
                        mask(s.response),
                    )
                    for s in w.summons
                ),
            )
            for w in found
        ]

    def figures(
        self, since: datetime.datetime | None = None, until: datetime.datetime | None = None
    ) -> WhistleFigures:
        """Counts and response times of the whistles blown in [since, until)."""
        return whistle_figures(self.store.whistle_frame(since, until))


def _median_minutes(delays: pd.Series) -> float | None:
    delays = delays.dropna()
    if delays.empty:
        return None
    return round(float(delays.dt.total_seconds().median()) / 60, 1)


def whistle_figures(frame: pd.DataFrame) -> WhistleFigures:
    """``WhistleFigures`` from ``store.whistle_frame``'s rows (one per summons)."""
    return WhistleFigures(
        whistles=int(frame["whistle_id"].nunique()),
        summoned=len(frame),
        reported=int(frame["reported_at"].notna().sum()),
        responded=int(frame["responded_at"].notna().sum()),
        median_report_minutes=_median_minutes(frame["reported_at"] - frame["blown_at"]),
        median_response_minutes=_median_minutes(frame["responded_at"] - frame["blown_at"]),
    )


__all__ = ["SUMMONED_ROLE", "WhistleFigures", "WhistleService", "whistle_figures"]
