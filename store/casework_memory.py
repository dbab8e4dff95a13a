"""In-memory whistles and deliberations; mixed into ``store.memory.MemoryStore``."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import pandas as pd

from store.casework import MAX_LIST
from store.casework import CaseStep
from store.casework import Deliberation
from store.casework import DeliberationPhoto
from store.casework import Participant
from store.casework import Summons
from store.casework import Whistle
from store.casework import _from
from store.casework_sql import _counts
from store.casework_sql import _whistle_frame


class CaseWorkMemory:
    """``CaseWorkStore`` over the fake's tables (``self.t``), the same rules as SQL."""

    t: Any
    _lock: Any
    _now: Callable[[], datetime.datetime]
    _transaction: Callable[[], AbstractContextManager[None]]
    update_complaint: Callable[..., int]  # store.memory.MemoryStore

    def _step(self, step: CaseStep) -> None:
        self.update_complaint(
            step.complaint_id,
            step.expected_version,
            step.values,
            step.event,
            step.messages,
            linked=step.linked,
        )

    # --- whistles -------------------------------------------------------------------------

    def add_whistle(self, step: CaseStep, whistle: dict, departments: Sequence[str]) -> int:
        with self._transaction():
            self._step(step)
            (whistle_id,) = self.t["whistles"].insert(
                {**whistle, "complaint_id": step.complaint_id}, strict=True
            )
            for department in departments:
                self.t["whistle_summons"].insert({"whistle_id": whistle_id, "department_code": department})
        return int(whistle_id)

    def _with_summons(self, row: dict[str, Any]) -> Whistle:
        summons = [_from(Summons, s) for s in self.t["whistle_summons"].all() if s["whistle_id"] == row["id"]]
        return _from(Whistle, row, summons=tuple(summons))

    def whistles(self, complaint_id: int) -> list[Whistle]:
        with self._lock:
            rows = [r for r in self.t["whistles"].all() if r["complaint_id"] == complaint_id]
            return [self._with_summons(r) for r in rows]

    def whistle_of(self, whistle_id: int) -> Whistle | None:
        with self._lock:
            row = self.t["whistles"].get(whistle_id)
            return self._with_summons(row) if row is not None else None

    def summons(self, summons_id: int) -> Summons | None:
        with self._lock:
            row = self.t["whistle_summons"].get(summons_id)
        return _from(Summons, row) if row is not None else None

    def report_in(self, summons_id: int, *, at: datetime.datetime, by: str) -> bool:
        table = self.t["whistle_summons"]
        with self._transaction():
            row = table.get(summons_id)
            if row is None or row["reported_at"] is not None:
                return False
            table.update((summons_id,), {"reported_at": at, "reported_by": by})
        return True

    def respond(self, summons_id: int, *, at: datetime.datetime, by: str, response: str) -> bool:
        table = self.t["whistle_summons"]
        with self._transaction():
            row = table.get(summons_id)
            if row is None or row["responded_at"] is not None:
                return False
            values = {"responded_at": at, "responded_by": by, "response": response}
            if row["reported_at"] is None:
                values.update(reported_at=at, reported_by=by)
            table.update((summons_id,), values)
        return True

    def whistle_frame(
        self, since: datetime.datetime | None = None, until: datetime.datetime | None = None
    ) -> pd.DataFrame:
        with self._lock:
            whistles = {
                r["id"]: r
                for r in self.t["whistles"].all()
                if (since is None or r["blown_at"] >= since) and (until is None or r["blown_at"] < until)
            }
            summons = [s for s in self.t["whistle_summons"].all() if s["whistle_id"] in whistles]
        rows = [
            {
                "whistle_id": s["whistle_id"],
                "complaint_id": whistles[s["whistle_id"]]["complaint_id"],
                "group_code": whistles[s["whistle_id"]]["group_code"],
                "blown_at": whistles[s["whistle_id"]]["blown_at"],
                "department_code": s["department_code"],
                "reported_at": s["reported_at"],
                "responded_at": s["responded_at"],
            }
            for s in sorted(summons, key=lambda s: (s["whistle_id"], s["id"]))
        ]
        return _whistle_frame(rows)

    # --- deliberations --------------------------------------------------------------------

    def add_deliberation(
        self, row: dict, participants: Sequence[Participant], settle: CaseStep | None = None
    ) -> int:
        with self._transaction():
            if settle is not None:
                self._step(settle)
            (deliberation_id,) = self.t["deliberations"].insert(row, strict=True)
            for i, p in enumerate(participants):
                self.t["deliberation_participants"].insert(
                    {
                        "deliberation_id": deliberation_id,
                        "position": i,
                        "kind": p.kind,
                        "name": p.name,
                        "affiliation": p.affiliation,
                    }
                )
        return int(deliberation_id)

    def _deliberation(self, row: dict[str, Any]) -> Deliberation:
        people = sorted(
            (p for p in self.t["deliberation_participants"].all() if p["deliberation_id"] == row["id"]),
            key=lambda p: p["position"],
        )
        photos = [p for p in self.t["deliberation_photos"].all() if p["deliberation_id"] == row["id"]]
        return _from(
            Deliberation,
            row,
            participants=tuple(_from(Participant, p) for p in people),
            photos=tuple(_from(DeliberationPhoto, p) for p in photos),
        )

    def deliberation(self, deliberation_id: int) -> Deliberation | None:
        with self._lock:
            row = self.t["deliberations"].get(deliberation_id)
            return self._deliberation(row) if row is not None else None

    def deliberations(
        self,
        *,
        grid_code: str | None = None,
        community_code: str | None = None,
        complaint_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Deliberation]:
        wanted = {"grid_code": grid_code, "community_code": community_code, "complaint_id": complaint_id}
        with self._lock:
            rows = [
                r
                for r in self.t["deliberations"].all()
                if all(v is None or r[k] == v for k, v in wanted.items())
            ]
            rows.sort(key=lambda r: (r["held_at"], r["id"]), reverse=True)
            start = max(int(offset), 0)
            limit = min(max(int(limit), 0), MAX_LIST)
            return [self._deliberation(r) for r in rows[start : start + limit]]

    def deliberation_counts(
        self,
        by: str,
        since: datetime.datetime | None = None,
        until: datetime.datetime | None = None,
    ) -> pd.DataFrame:
        if by not in ("grid_code", "community_code"):
            raise KeyError(by)
        counts: dict[str, int] = {}
        with self._lock:
            for r in self.t["deliberations"].all():
                if r[by] is None or (since is not None and r["held_at"] < since):
                    continue
                if until is not None and r["held_at"] >= until:
                    continue
                counts[r[by]] = counts.get(r[by], 0) + 1
        return _counts(list(counts.items()), by)

    def add_deliberation_photo(
        self,
        deliberation_id: int,
        *,
        filename: str,
        content_type: str,
        size: int,
        sha256: str,
        stored_as: str,
    ) -> int:
        with self._transaction():
            (photo_id,) = self.t["deliberation_photos"].insert(
                {
                    "deliberation_id": deliberation_id,
                    "filename": filename,
                    "content_type": content_type,
                    "size": size,
                    "sha256": sha256,
                    "stored_as": stored_as,
                    "created_at": self._now(),
                },
                strict=True,
            )
        return int(photo_id)


__all__ = ["CaseWorkMemory"]
