"""SQL storage of complaints, their events and photos, users and calendar days.

Part of ``SqlStore`` (mixed in), kept apart so each module stays small. Writes are
single transactions; a complaint update names the ``row_version`` it was based on
and fails with ``ConcurrentUpdate`` if someone else changed the complaint first,
so two dispatchers can never silently overwrite each other.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import cast

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from complaints.records import Case
from complaints.records import CaseEvent
from complaints.records import Photo
from geo.timeutil import utcnow
from store.accounts import UserAccount
from store.complaints import AddResult
from store.complaints import ConcurrentUpdate
from store.complaints import parse_order
from store.outbox_sql import insert_messages
from store.schema import UtcDateTime


def _named(row: sa.RowMapping) -> Mapping[str, Any]:
    """A result row as the records read it (keys are column names: we select whole tables)."""
    return cast(Mapping[str, Any], row)


def _plain_type(kind: sa.types.TypeEngine) -> bool:
    """Whether a column's values can be staged and copied as they are (geometries cannot)."""
    return not isinstance(kind, sa.types.UserDefinedType | sa.LargeBinary) and not isinstance(
        getattr(kind, "impl", None), sa.LargeBinary
    )


def _like_escape(text: str) -> str:
    """Words for LIKE, its wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _iso(value: datetime.datetime | str | None) -> str | None:
    """An aggregate's time as ISO text in UTC (SQLite may hand back the raw stored text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    value = value.replace(tzinfo=datetime.UTC) if value.tzinfo is None else value.astimezone(datetime.UTC)
    return value.isoformat()


class ComplaintSql:
    """Mixed into ``store.sql.SqlStore``; expects ``self.engine`` and ``self.t``."""

    engine: sa.Engine
    dialect: str
    t: dict[str, sa.Table]

    # --- complaints ---------------------------------------------------------------------

    def add_complaints(
        self, rows: Sequence[dict], events: Sequence[Sequence[dict]], *, import_meta: dict | None = None
    ) -> AddResult:
        """Insert complaints not yet stored (by source + external id), each with its events.

        All or nothing: one transaction for the whole call.
        """
        return self._add_direct([(rows, events)], import_meta=import_meta)

    def add_complaint_chunks(
        self,
        chunks: Iterable[tuple[Sequence[dict], Sequence[Sequence[dict]]]],
        *,
        import_meta: dict | None = None,
        batch: int = 5000,
    ) -> AddResult:
        """Like ``add_complaints`` for an import too big to hold at once: all of it, or nothing.

        An import (``import_meta`` given) is *staged*: the rows are written, chunk by chunk while
        the iterator checks and places them, to temporary tables of one connection, which take
        no lock on the complaint tables, so filing and workflow actions carry on during a long
        import. They are then switched in with one short transaction (two INSERT … SELECT). If
        the iterator raises (a later chunk found faulty rows) or the process dies, the temporary
        tables go with the connection and nothing is stored.
        """
        if import_meta is None:
            return self._add_direct(chunks, import_meta=None, batch=batch)
        return self._add_staged(chunks, import_meta=import_meta, batch=batch)

    def _stage_tables(self) -> tuple[sa.Table, sa.Table, list[str], list[str]]:
        """Temporary tables shaped like complaints and their events (keyed by source + external id)."""
        complaints, events_t = self.t["complaints"], self.t["complaint_events"]
        tag = uuid.uuid4().hex[:12]
        md = sa.MetaData()
        skip = {"id", "row_version", "created_at", "updated_at", "import_id"}
        # geometry columns are never set at intake (and their SQL types do not copy plainly)
        row_cols = [c.name for c in complaints.columns if c.name not in skip and _plain_type(c.type)]
        event_cols = [c.name for c in events_t.columns if c.name not in ("id", "complaint_id")]
        stage = sa.Table(
            f"stage_complaints_{tag}",
            md,
            sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
            *(sa.Column(n, complaints.c[n].type) for n in row_cols),
            prefixes=["TEMPORARY"],
        )
        stage_events = sa.Table(
            f"stage_events_{tag}",
            md,
            sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("source", sa.String(64), nullable=False),
            sa.Column("external_id", sa.String(128), nullable=False),
            *(sa.Column(n, events_t.c[n].type) for n in event_cols),
            prefixes=["TEMPORARY"],
        )
        return stage, stage_events, row_cols, event_cols

    def _add_staged(
        self,
        chunks: Iterable[tuple[Sequence[dict], Sequence[Sequence[dict]]]],
        *,
        import_meta: dict,
        batch: int,
    ) -> AddResult:
        complaints, events_t = self.t["complaints"], self.t["complaint_events"]
        imports = self.t["complaint_imports"]
        stage, stage_events, row_cols, event_cols = self._stage_tables()
        skipped: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        rows_seen = staged = n_events = 0
        with self.engine.connect() as conn:
            stage.create(conn)
            stage_events.create(conn)
            conn.commit()
            try:
                # 1. stage: only the temporary tables are written (each chunk its own commit)
                for rows, events in chunks:
                    rows_seen += len(rows)
                    part: list[dict] = []
                    part_events: list[dict] = []
                    for row, history in zip(rows, events, strict=True):
                        key = (row["source"], row["external_id"])
                        if key in seen:
                            skipped.append(key)
                            continue
                        if any(
                            row.get(n) is not None for n in row if n not in row_cols and n in complaints.c
                        ):
                            raise ValueError(f"column(s) of {key} cannot be staged")
                        seen.add(key)
                        staged += 1
                        part.append({"seq": staged, **{n: row.get(n) for n in row_cols}})
                        for event in history:
                            n_events += 1
                            part_events.append(
                                {
                                    "seq": n_events,
                                    "source": key[0],
                                    "external_id": key[1],
                                    **{n: event.get(n) for n in event_cols},
                                }
                            )
                    for start in range(0, len(part), batch):
                        conn.execute(stage.insert(), part[start : start + batch])
                    for start in range(0, len(part_events), batch):
                        conn.execute(stage_events.insert(), part_events[start : start + batch])
                    conn.commit()
                # 2. switch in: one short transaction on the complaint tables
                now = utcnow()
                import_id = conn.execute(
                    imports.insert()
                    .values(**import_meta, imported_at=now, rows=rows_seen, added=0)
                    .returning(imports.c.id)
                ).scalar_one()
                marks = {
                    "row_version": sa.literal(1),
                    "created_at": sa.literal(now, UtcDateTime),
                    "updated_at": sa.literal(now, UtcDateTime),
                    "import_id": sa.literal(import_id, sa.Integer),
                }
                select = (
                    sa.select(*(stage.c[n] for n in row_cols), *marks.values())
                    .where(sa.true())  # SQLite: a WHERE before ON CONFLICT, or it reads as a join's ON
                    .order_by(stage.c.seq)
                )
                insert = self._insert_ignoring_duplicates(complaints).from_select([*row_cols, *marks], select)
                conn.execute(insert)
                c = complaints.c
                owned = sa.and_(
                    c.source == stage_events.c.source,
                    c.external_id == stage_events.c.external_id,
                    c.import_id == import_id,
                )
                conn.execute(
                    events_t.insert().from_select(
                        [*event_cols, "complaint_id"],
                        sa.select(*(stage_events.c[n] for n in event_cols), c.id)
                        .select_from(stage_events.join(complaints, owned))
                        .order_by(stage_events.c.seq),
                    )
                )
                ids = [
                    int(i)
                    for i in conn.execute(
                        sa.select(c.id).where(c.import_id == import_id).order_by(c.id)
                    ).scalars()
                ]
                conn.execute(imports.update().where(imports.c.id == import_id).values(added=len(ids)))
                conn.commit()
                if len(ids) < staged:  # present before the switch: the import skipped them
                    mine = sa.and_(
                        c.source == stage.c.source,
                        c.external_id == stage.c.external_id,
                        c.import_id == import_id,
                    )
                    skipped += [
                        (r.source, r.external_id)
                        for r in conn.execute(
                            sa.select(stage.c.source, stage.c.external_id)
                            .select_from(stage.outerjoin(complaints, mine))
                            .where(c.id.is_(None))
                            .order_by(stage.c.seq)
                        )
                    ]
                    conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                try:
                    stage_events.drop(conn)
                    stage.drop(conn)
                    conn.commit()
                except sa.exc.DBAPIError:  # the connection broke: its temporary tables went with it
                    conn.invalidate()
        return AddResult(ids, skipped, import_id)

    def _insert_ignoring_duplicates(self, table: sa.Table) -> Any:
        """INSERT … ON CONFLICT (source, external_id) DO NOTHING, in the store's dialect."""
        if self.dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=["source", "external_id"])
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=["source", "external_id"])

    def _add_direct(
        self,
        chunks: Iterable[tuple[Sequence[dict], Sequence[Sequence[dict]]]],
        *,
        import_meta: dict | None = None,
        batch: int = 5000,
    ) -> AddResult:
        """Everything in one transaction (small additions: a filing, a batch of generated cases)."""
        complaints, events_t = self.t["complaints"], self.t["complaint_events"]
        now = utcnow()
        ids: list[int] = []
        skipped: list[tuple[str, str]] = []
        rows_seen = 0
        seen: set[tuple[str, str]] = set()
        with self.engine.begin() as conn:
            import_id = None
            if import_meta is not None:
                import_id = conn.execute(
                    self.t["complaint_imports"]
                    .insert()
                    .values(
                        **import_meta,
                        imported_at=now,
                        rows=0,
                        added=0,
                    )
                    .returning(self.t["complaint_imports"].c.id)
                ).scalar_one()
            for rows, events in chunks:
                rows_seen += len(rows)
                present = self._present_keys(conn, [(r["source"], r["external_id"]) for r in rows])
                fresh, fresh_events = [], []
                for row, history in zip(rows, events, strict=True):
                    key = (row["source"], row["external_id"])
                    if key in present or key in seen:
                        skipped.append(key)
                        continue
                    seen.add(key)
                    fresh.append(
                        {
                            **row,
                            "row_version": 1,
                            "created_at": now,
                            "updated_at": now,
                            "import_id": import_id,
                        }
                    )
                    fresh_events.append(history)
                for start in range(0, len(fresh), batch):
                    part = fresh[start : start + batch]
                    # executemany without RETURNING is one statement per batch; RETURNING makes
                    # SQLite's driver go row by row, ten times slower
                    conn.execute(complaints.insert(), part)
                    new_ids = self._ids_of(conn, part)
                    ids.extend(new_ids)
                    histories = fresh_events[start : start + batch]
                    ev_rows = [
                        {**e, "complaint_id": cid}
                        for cid, history in zip(new_ids, histories, strict=True)
                        for e in history
                    ]
                    if ev_rows:
                        conn.execute(events_t.insert(), ev_rows)
            if import_id is not None:
                imports = self.t["complaint_imports"]
                conn.execute(
                    imports.update().where(imports.c.id == import_id).values(rows=rows_seen, added=len(ids))
                )
        return AddResult(ids, skipped, import_id)

    def _ids_of(self, conn: sa.Connection, rows: Sequence[dict]) -> list[int]:
        """Ids of just-inserted complaints, in the order of ``rows``."""
        complaints = self.t["complaints"]
        found: dict[tuple[str, str], int] = {}
        by_source: dict[str, list[str]] = {}
        for r in rows:
            by_source.setdefault(r["source"], []).append(r["external_id"])
        for source, external_ids in by_source.items():
            for start in range(0, len(external_ids), 900):
                for cid, ext in conn.execute(
                    sa.select(complaints.c.id, complaints.c.external_id).where(
                        complaints.c.source == source,
                        complaints.c.external_id.in_(external_ids[start : start + 900]),
                    )
                ):
                    found[(source, ext)] = cid
        return [found[(r["source"], r["external_id"])] for r in rows]

    def _present_keys(self, conn: sa.Connection, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        complaints = self.t["complaints"]
        present: set[tuple[str, str]] = set()
        by_source: dict[str, list[str]] = {}
        for source, external_id in keys:
            by_source.setdefault(source, []).append(external_id)
        for source, ids in by_source.items():
            for start in range(0, len(ids), 900):
                found = conn.execute(
                    sa.select(complaints.c.external_id).where(
                        complaints.c.source == source, complaints.c.external_id.in_(ids[start : start + 900])
                    )
                ).scalars()
                present.update((source, x) for x in found)
        return present

    def complaint(self, complaint_id: int) -> Case | None:
        complaints = self.t["complaints"]
        with self.engine.connect() as conn:
            query = sa.select(complaints).where(complaints.c.id == complaint_id)
            row = conn.execute(query).mappings().first()
        return Case.from_mapping(_named(row)) if row else None

    def complaint_by_external(self, source: str, external_id: str) -> Case | None:
        complaints = self.t["complaints"]
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(complaints).where(
                        complaints.c.source == source, complaints.c.external_id == external_id
                    )
                )
                .mappings()
                .first()
            )
        return Case.from_mapping(_named(row)) if row else None

    def complaint_events(self, complaint_id: int) -> list[CaseEvent]:
        events = self.t["complaint_events"]
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    sa.select(events).where(events.c.complaint_id == complaint_id).order_by(events.c.id)
                )
                .mappings()
                .all()
            )
        return [CaseEvent.from_mapping(_named(r)) for r in rows]

    def update_complaint(
        self,
        complaint_id: int,
        expected_version: int,
        values: dict,
        event: dict,
        messages: Sequence[dict] = (),
        *,
        linked: Sequence[tuple[int, dict]] = (),
    ) -> int:
        """Apply a change and record its event (and the outbox ``messages`` it causes, in the
        same transaction), if the complaint is still at ``expected_version``; ``linked`` events
        go to other complaints in the same transaction."""
        with self.engine.begin() as conn:
            return self._update_complaint_in(
                conn, complaint_id, expected_version, values, event, messages, linked
            )

    def _update_complaint_in(
        self,
        conn: sa.Connection,
        complaint_id: int,
        expected_version: int,
        values: dict,
        event: dict,
        messages: Sequence[dict] = (),
        linked: Sequence[tuple[int, dict]] = (),
    ) -> int:
        """``update_complaint`` inside a transaction the caller holds (with other writes)."""
        complaints = self.t["complaints"]
        done = conn.execute(
            complaints.update()
            .where(complaints.c.id == complaint_id, complaints.c.row_version == expected_version)
            .values(**values, row_version=expected_version + 1, updated_at=utcnow())
        )
        if done.rowcount != 1:
            actual = conn.execute(
                sa.select(complaints.c.row_version).where(complaints.c.id == complaint_id)
            ).scalar()
            if actual is None:
                raise KeyError(f"complaint {complaint_id} does not exist")
            raise ConcurrentUpdate(complaint_id, expected_version, actual)
        conn.execute(self.t["complaint_events"].insert().values(**event, complaint_id=complaint_id))
        if messages:
            insert_messages(conn, self.t["outbox"], messages, event["at"])
        for other_id, other_event in linked:
            touched = conn.execute(
                complaints.update()
                .where(complaints.c.id == other_id)
                .values(row_version=complaints.c.row_version + 1, updated_at=utcnow())
            )
            if touched.rowcount != 1:
                raise KeyError(f"complaint {other_id} does not exist")
            conn.execute(self.t["complaint_events"].insert().values(**other_event, complaint_id=other_id))
        return expected_version + 1

    def list_complaints(
        self,
        *,
        filters: dict | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = True,
        order: str | None = None,
    ) -> list[Case]:
        complaints = self.t["complaints"]
        query = self._filtered(sa.select(complaints), filters or {})
        column, descending = parse_order(order, newest_first)
        key = complaints.c[column].desc() if descending else complaints.c[column].asc()
        query = query.order_by(key.nulls_last(), complaints.c.id.desc()).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [Case.from_mapping(_named(r)) for r in conn.execute(query).mappings().all()]

    def count_complaints(self, filters: dict | None = None) -> int:
        complaints = self.t["complaints"]
        query = self._filtered(sa.select(sa.func.count()).select_from(complaints), filters or {})
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def complaints_frame(self, columns: Iterable[str], filters: dict | None = None) -> pd.DataFrame:
        """Selected columns of the matching complaints, for aggregation in pandas."""
        complaints = self.t["complaints"]
        names = list(columns)
        # times are read raw and converted by pandas in one vectorised pass: the per-value
        # type conversion would cost more than the query for a few hundred thousand rows
        times = [n for n in names if isinstance(complaints.c[n].type, UtcDateTime)]
        cols = [
            sa.type_coerce(complaints.c[n], sa.String() if self.dialect == "sqlite" else sa.DateTime()).label(
                n
            )
            if n in times
            else complaints.c[n]
            for n in names
        ]
        query = self._filtered(sa.select(*cols), filters or {})
        with self.engine.connect() as conn:
            result = conn.execute(query)
            rows = result.fetchall()
        # column by column: handing pandas the Row objects makes it probe each for attributes
        data = list(zip(*rows, strict=True)) if rows else [()] * len(names)
        frame = pd.DataFrame(
            {name: list(values) for name, values in zip(names, data, strict=True)}, columns=names
        )
        for name in times:
            frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601")
        return frame

    def complaints_stamp(self) -> tuple:
        """(count, last id, last change, first report, last report), times as ISO strings in UTC."""
        c = self.t["complaints"].c
        query = sa.select(
            sa.func.count(),
            sa.func.max(c.id),
            sa.func.max(c.updated_at),
            sa.func.min(c.reported_at),
            sa.func.max(c.reported_at),
        )
        with self.engine.connect() as conn:
            count, last_id, changed, first, last = conn.execute(query).one()
        return (int(count), None if last_id is None else int(last_id), _iso(changed), _iso(first), _iso(last))

    def _filtered(self, query: sa.Select, filters: dict) -> sa.Select:
        c = self.t["complaints"].c
        for key, value in filters.items():
            if value is None:
                continue
            if key == "since":
                query = query.where(c.reported_at >= value)
            elif key == "until":
                query = query.where(c.reported_at < value)
            elif key == "overdue_at":
                query = query.where(c.deadline < value, c.state.in_(("dispatched", "reopened")))
            elif key == "deadline_before":
                query = query.where(c.deadline < value)
            elif key == "deadline_after":
                query = query.where(c.deadline >= value)
            elif key == "extension_pending":
                query = query.where(
                    c.extension_deadline.isnot(None) if value else c.extension_deadline.is_(None)
                )
            elif key == "text_contains":
                query = query.where(c.text.ilike(f"%{_like_escape(str(value))}%", escape="\\"))
            elif key == "ticket":
                ticket = str(value)
                number = int(ticket) if ticket.isascii() and ticket.isdigit() and len(ticket) <= 9 else None
                query = query.where(
                    sa.or_(c.external_id == ticket, c.id == number) if number else c.external_id == ticket
                )
            elif isinstance(value, list | tuple | set | frozenset):
                query = query.where(c[key].in_(list(value)))
            else:
                query = query.where(c[key] == value)
        return query

    def follow_up_frame(self, filters: dict | None = None) -> pd.DataFrame:
        """Every follow-up verdict (回访) with its complaint's grid, category and department."""
        events, complaints = self.t["complaint_events"], self.t["complaints"]
        query = (
            sa.select(
                events.c.complaint_id,
                events.c.at,
                events.c.satisfied,
                complaints.c.grid_code,
                complaints.c.community_code,
                complaints.c.category_code,
                complaints.c.department_code,
            )
            .join(complaints, complaints.c.id == events.c.complaint_id)
            .where(events.c.action == "follow_up")
        )
        query = self._filtered(query, filters or {})
        with self.engine.connect() as conn:
            result = conn.execute(query)
            return pd.DataFrame(result.all(), columns=list(result.keys()))

    # --- photos -------------------------------------------------------------------------

    def add_photo(
        self,
        complaint_id: int,
        *,
        filename: str,
        content_type: str,
        size: int,
        sha256: str,
        stored_as: str,
        kind: str | None = None,
    ) -> int:
        photos = self.t["complaint_photos"]
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    photos.insert()
                    .values(
                        complaint_id=complaint_id,
                        filename=filename,
                        content_type=content_type,
                        size=size,
                        sha256=sha256,
                        stored_as=stored_as,
                        created_at=utcnow(),
                        kind=kind,
                    )
                    .returning(photos.c.id)
                ).scalar_one()
            )

    def photos(self, complaint_id: int) -> list[Photo]:
        photos = self.t["complaint_photos"]
        with self.engine.connect() as conn:
            return [
                Photo.from_mapping(_named(r))
                for r in conn.execute(
                    sa.select(photos).where(photos.c.complaint_id == complaint_id).order_by(photos.c.id)
                )
                .mappings()
                .all()
            ]

    # --- re-aggregation onto another grid version -----------------------------------------

    def put_regrid(self, version_id: int, pairs: Sequence[tuple[int, str | None]]) -> int:
        """Replace the complaint → grid mapping kept for one version (records stay untouched)."""
        regrid = self.t["complaint_regrid"]
        with self.engine.begin() as conn:
            conn.execute(regrid.delete().where(regrid.c.version_id == version_id))
            rows = [{"version_id": version_id, "complaint_id": cid, "grid_code": code} for cid, code in pairs]
            for start in range(0, len(rows), 10_000):
                conn.execute(regrid.insert(), rows[start : start + 10_000])
        return len(pairs)

    def regrid_frame(self, version_id: int) -> pd.DataFrame:
        regrid = self.t["complaint_regrid"]
        with self.engine.connect() as conn:
            result = conn.execute(
                sa.select(regrid.c.complaint_id, regrid.c.grid_code).where(regrid.c.version_id == version_id)
            )
            return pd.DataFrame(result.all(), columns=["complaint_id", "grid_code"])

    # --- users ----------------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        display_name: str,
        password_hash: str,
        role: str,
        department_code: str | None = None,
        official_id: int | None = None,
    ) -> int:
        users = self.t["users"]
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    users.insert()
                    .values(
                        username=username,
                        display_name=display_name,
                        password_hash=password_hash,
                        role=role,
                        department_code=department_code,
                        official_id=official_id,
                        active=True,
                        created_at=utcnow(),
                    )
                    .returning(users.c.id)
                ).scalar_one()
            )

    def user(self, *, user_id: int | None = None, username: str | None = None) -> UserAccount | None:
        users = self.t["users"]
        where = users.c.id == user_id if user_id is not None else users.c.username == username
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(where)).mappings().first()
        return UserAccount.from_mapping(_named(row)) if row else None

    def update_user(self, username: str, **values: Any) -> int:
        users = self.t["users"]
        with self.engine.begin() as conn:
            return conn.execute(users.update().where(users.c.username == username).values(**values)).rowcount

    def users(self) -> list[UserAccount]:
        users = self.t["users"]
        with self.engine.connect() as conn:
            return [
                UserAccount.from_mapping(_named(r))
                for r in conn.execute(sa.select(users).order_by(users.c.id)).mappings().all()
            ]

    def preferences(self, user_id: int) -> dict[str, str]:
        prefs = self.t["user_preferences"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(prefs.c.name, prefs.c.value).where(prefs.c.user_id == user_id))
            return {str(r.name): str(r.value) for r in rows}

    def set_preference(self, user_id: int, name: str, value: str) -> None:
        prefs = self.t["user_preferences"]
        with self.engine.begin() as conn:
            conn.execute(prefs.delete().where(prefs.c.user_id == user_id, prefs.c.name == name))
            conn.execute(prefs.insert().values(user_id=user_id, name=name, value=value, updated_at=utcnow()))

    # --- working-day calendar ---------------------------------------------------------------

    def put_calendar_days(self, rows: Sequence[dict], source: str, *, year: int | None = None) -> int:
        """Store an official holiday schedule, replacing days of the same dates.

        With ``year``, every stored day of that year is replaced, so a corrected notice
        supersedes the first one, days it no longer lists included.
        """
        days = self.t["calendar_days"]
        with self.engine.begin() as conn:
            if year is not None:
                conn.execute(
                    days.delete().where(
                        days.c.day.between(datetime.date(year, 1, 1), datetime.date(year, 12, 31))
                    )
                )
            conn.execute(days.delete().where(days.c.day.in_([r["day"] for r in rows])))
            conn.execute(days.insert(), [{**r, "source": source} for r in rows])
        return len(rows)

    def calendar_days(self) -> list[dict]:
        days = self.t["calendar_days"]
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(days).order_by(days.c.day)).mappings().all()]

    # --- catalogue overrides --------------------------------------------------------------

    def catalog_overrides(self) -> list[dict]:
        rows = self.t["catalog_overrides"]
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(rows).order_by(rows.c.category_code)).mappings().all()
            return [dict(r) for r in found]

    def put_catalog_override(
        self,
        category_code: str,
        *,
        department_code: str,
        deadline_days: int,
        requires_after_photo: bool,
        by: str,
    ) -> None:
        rows = self.t["catalog_overrides"]
        with self.engine.begin() as conn:
            conn.execute(rows.delete().where(rows.c.category_code == category_code))
            conn.execute(
                rows.insert().values(
                    category_code=category_code,
                    department_code=department_code,
                    deadline_days=deadline_days,
                    requires_after_photo=requires_after_photo,
                    updated_at=utcnow(),
                    updated_by=by,
                )
            )

    def remove_catalog_override(self, category_code: str) -> int:
        rows = self.t["catalog_overrides"]
        with self.engine.begin() as conn:
            return conn.execute(rows.delete().where(rows.c.category_code == category_code)).rowcount


# AddResult and ConcurrentUpdate live in store.complaints; importing them from here still works
__all__ = ["AddResult", "ComplaintSql", "ConcurrentUpdate"]
