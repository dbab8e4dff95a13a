"""SQL storage of whistles and deliberations; mixed into ``store.sql.SqlStore``."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from geo.timeutil import utcnow
from store.casework import MAX_LIST
from store.casework import WHISTLE_FRAME_COLUMNS
from store.casework import CaseStep
from store.casework import Deliberation
from store.casework import DeliberationPhoto
from store.casework import Participant
from store.casework import Summons
from store.casework import Whistle
from store.casework import _from


class CaseWorkSql:
    """``store.casework.CaseWorkStore``; expects ``self.engine``, ``self.t`` and the complaint
    update of ``store.complaints_sql.ComplaintSql`` (``_update_complaint_in``)."""

    engine: sa.Engine
    t: dict[str, sa.Table]

    _update_complaint_in: Callable[..., int]  # store.complaints_sql.ComplaintSql

    def _step(self, conn: sa.Connection, step: CaseStep) -> None:
        self._update_complaint_in(
            conn,
            step.complaint_id,
            step.expected_version,
            step.values,
            step.event,
            step.messages,
            step.linked,
        )

    # --- whistles -------------------------------------------------------------------------

    def add_whistle(self, step: CaseStep, whistle: dict, departments: Sequence[str]) -> int:
        table = self.t["whistles"]
        with self.engine.begin() as conn:
            self._step(conn, step)
            whistle_id = int(
                conn.execute(
                    table.insert().values(**whistle, complaint_id=step.complaint_id).returning(table.c.id)
                ).scalar_one()
            )
            if departments:
                conn.execute(
                    self.t["whistle_summons"].insert(),
                    [{"whistle_id": whistle_id, "department_code": d} for d in departments],
                )
        return whistle_id

    def _summons_of(self, conn: sa.Connection, whistle_ids: Sequence[int]) -> dict[int, list[Summons]]:
        table = self.t["whistle_summons"]
        out: dict[int, list[Summons]] = {i: [] for i in whistle_ids}
        if whistle_ids:
            rows = conn.execute(
                sa.select(table).where(table.c.whistle_id.in_(list(whistle_ids))).order_by(table.c.id)
            ).mappings()
            for r in rows:
                out[r["whistle_id"]].append(_from(Summons, r))
        return out

    def whistles(self, complaint_id: int) -> list[Whistle]:
        table = self.t["whistles"]
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    sa.select(table).where(table.c.complaint_id == complaint_id).order_by(table.c.id)
                )
                .mappings()
                .all()
            )
            summons = self._summons_of(conn, [r["id"] for r in rows])
        return [_from(Whistle, r, summons=tuple(summons[r["id"]])) for r in rows]

    def whistle_of(self, whistle_id: int) -> Whistle | None:
        table = self.t["whistles"]
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == whistle_id)).mappings().first()
            if row is None:
                return None
            summons = self._summons_of(conn, [whistle_id])
        return _from(Whistle, row, summons=tuple(summons[whistle_id]))

    def summons(self, summons_id: int) -> Summons | None:
        table = self.t["whistle_summons"]
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == summons_id)).mappings().first()
        return _from(Summons, row) if row is not None else None

    def report_in(self, summons_id: int, *, at: datetime.datetime, by: str) -> bool:
        table = self.t["whistle_summons"]
        with self.engine.begin() as conn:
            done = conn.execute(
                table.update()
                .where(table.c.id == summons_id, table.c.reported_at.is_(None))
                .values(reported_at=at, reported_by=by)
            )
        return done.rowcount == 1

    def respond(self, summons_id: int, *, at: datetime.datetime, by: str, response: str) -> bool:
        table = self.t["whistle_summons"]
        with self.engine.begin() as conn:
            done = conn.execute(
                table.update()
                .where(table.c.id == summons_id, table.c.responded_at.is_(None))
                .values(responded_at=at, responded_by=by, response=response)
            )
            if done.rowcount != 1:
                return False
            conn.execute(
                table.update()
                .where(table.c.id == summons_id, table.c.reported_at.is_(None))
                .values(reported_at=at, reported_by=by)
            )
        return True

    def whistle_frame(
        self, since: datetime.datetime | None = None, until: datetime.datetime | None = None
    ) -> pd.DataFrame:
        w, s = self.t["whistles"], self.t["whistle_summons"]
        query = sa.select(
            w.c.id.label("whistle_id"),
            w.c.complaint_id,
            w.c.group_code,
            w.c.blown_at,
            s.c.department_code,
            s.c.reported_at,
            s.c.responded_at,
        ).select_from(w.join(s, s.c.whistle_id == w.c.id))
        if since is not None:
            query = query.where(w.c.blown_at >= since)
        if until is not None:
            query = query.where(w.c.blown_at < until)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(w.c.id, s.c.id)).mappings().all()
        return _whistle_frame([dict(r) for r in rows])

    # --- deliberations --------------------------------------------------------------------

    def add_deliberation(
        self, row: dict, participants: Sequence[Participant], settle: CaseStep | None = None
    ) -> int:
        table = self.t["deliberations"]
        with self.engine.begin() as conn:
            if settle is not None:
                self._step(conn, settle)
            deliberation_id = int(
                conn.execute(table.insert().values(**row).returning(table.c.id)).scalar_one()
            )
            if participants:
                conn.execute(
                    self.t["deliberation_participants"].insert(),
                    [
                        {
                            "deliberation_id": deliberation_id,
                            "position": i,
                            "kind": p.kind,
                            "name": p.name,
                            "affiliation": p.affiliation,
                        }
                        for i, p in enumerate(participants)
                    ],
                )
        return deliberation_id

    def _deliberations(self, conn: sa.Connection, rows: Sequence[Any]) -> list[Deliberation]:
        ids = [r["id"] for r in rows]
        people: dict[int, list[Participant]] = {i: [] for i in ids}
        photos: dict[int, list[DeliberationPhoto]] = {i: [] for i in ids}
        if ids:
            p, ph = self.t["deliberation_participants"], self.t["deliberation_photos"]
            for r in conn.execute(
                sa.select(p).where(p.c.deliberation_id.in_(ids)).order_by(p.c.position)
            ).mappings():
                people[r["deliberation_id"]].append(_from(Participant, r))
            for r in conn.execute(
                sa.select(ph).where(ph.c.deliberation_id.in_(ids)).order_by(ph.c.id)
            ).mappings():
                photos[r["deliberation_id"]].append(_from(DeliberationPhoto, r))
        return [
            _from(Deliberation, r, participants=tuple(people[r["id"]]), photos=tuple(photos[r["id"]]))
            for r in rows
        ]

    def deliberation(self, deliberation_id: int) -> Deliberation | None:
        table = self.t["deliberations"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(table).where(table.c.id == deliberation_id)).mappings().all()
            found = self._deliberations(conn, rows)
        return found[0] if found else None

    def deliberations(
        self,
        *,
        grid_code: str | None = None,
        community_code: str | None = None,
        complaint_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Deliberation]:
        table = self.t["deliberations"]
        query = sa.select(table)
        for column, value in (
            ("grid_code", grid_code),
            ("community_code", community_code),
            ("complaint_id", complaint_id),
        ):
            if value is not None:
                query = query.where(table.c[column] == value)
        limit = min(max(int(limit), 0), MAX_LIST)
        query = (
            query.order_by(table.c.held_at.desc(), table.c.id.desc()).limit(limit).offset(max(int(offset), 0))
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
            return self._deliberations(conn, rows)

    def deliberation_counts(
        self,
        by: str,
        since: datetime.datetime | None = None,
        until: datetime.datetime | None = None,
    ) -> pd.DataFrame:
        table = self.t["deliberations"]
        if by not in ("grid_code", "community_code"):
            raise KeyError(by)
        column = table.c[by]
        query = sa.select(column, sa.func.count().label("count")).where(column.is_not(None)).group_by(column)
        if since is not None:
            query = query.where(table.c.held_at >= since)
        if until is not None:
            query = query.where(table.c.held_at < until)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return _counts([(r[0], int(r[1])) for r in rows], by)

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
        table = self.t["deliberation_photos"]
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    table.insert()
                    .values(
                        deliberation_id=deliberation_id,
                        filename=filename,
                        content_type=content_type,
                        size=size,
                        sha256=sha256,
                        stored_as=stored_as,
                        created_at=utcnow(),
                    )
                    .returning(table.c.id)
                ).scalar_one()
            )


def _whistle_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(WHISTLE_FRAME_COLUMNS))
    for column in ("blown_at", "reported_at", "responded_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _counts(pairs: list[tuple[str, int]], by: str) -> pd.DataFrame:
    pairs.sort(key=lambda p: (-p[1], p[0]))
    return pd.DataFrame(pairs, columns=[by, "count"]).astype({"count": "int64"})


__all__ = ["CaseWorkSql"]
