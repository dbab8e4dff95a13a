"""An in-memory ``Store``, for service tests: the SQL store's behaviour without a database.

It keeps rows as dicts in tables built from ``store.schema``, and takes from that schema
what the databases enforce: NOT NULL, primary keys and unique constraints, foreign keys,
aware times kept in UTC, JSON values copied in and out. A violation raises SQLAlchemy's
``IntegrityError`` (as both SQL backends do), so code under test meets the same errors.

Every write is one transaction behind one lock: on any exception, including one raised by
the chunk iterator of ``add_complaint_chunks``, every table it touched is put back.
Reads take the same lock, so a reader never sees half a write.

``open_store("memory://")`` returns a new, empty one. The clock is a parameter, so a
test can fix the times it stores (``created_at``, ``activated_at``, ``updated_at``).
"""

from __future__ import annotations

import copy
import datetime
import threading
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry

from complaints.records import Case
from complaints.records import CaseEvent
from complaints.records import Photo
from geo.officials import Assignment
from geo.officials import Role
from geo.officials import UnitLevel
from geo.timeutil import utcnow
from store.accounts import UserAccount
from store.audit_memory import AuditMemory
from store.casework_memory import CaseWorkMemory
from store.complaints import AddResult
from store.complaints import Chunk
from store.complaints import ConcurrentUpdate
from store.complaints import parse_order
from store.outbox_memory import OutboxMemory
from store.places import ImportSummary
from store.places import Town
from store.places import VersionInfo
from store.schema import UtcDateTime
from store.schema import build_tables
from store.sql import _int
from store.sql import _text

Key = tuple[Any, ...]
OPEN_STATES = ("dispatched", "reopened")  # what "overdue" means, as in ComplaintSql._filtered


def _integrity(message: str, params: Any = None) -> sa.exc.IntegrityError:
    return sa.exc.IntegrityError(message, params, Exception(message))


class _Table:
    """The rows of one table, with the constraints its ``sa.Table`` declares."""

    def __init__(self, db: _Tables, table: sa.Table) -> None:
        self.db, self.name = db, table.name
        self.columns = [c.name for c in table.columns]
        self.pk = tuple(c.name for c in table.primary_key.columns)
        self.auto = self.pk == ("id",) and isinstance(table.c.id.type, sa.Integer)
        self.required = {
            c.name for c in table.columns if not c.nullable and c.name not in (("id",) if self.auto else ())
        }
        self.times = {c.name for c in table.columns if isinstance(c.type, UtcDateTime)}
        self.json = {c.name for c in table.columns if isinstance(c.type, sa.JSON)}
        self.casts: dict[str, Callable[[Any], Any]] = {}
        for c in table.columns:
            if isinstance(c.type, sa.Boolean):
                self.casts[c.name] = bool
            elif isinstance(c.type, sa.Float):
                self.casts[c.name] = float
            elif isinstance(c.type, sa.Integer):
                self.casts[c.name] = int
        uniques = [self.pk]
        uniques += [
            tuple(col.name for col in con.columns)
            for con in table.constraints
            if isinstance(con, sa.UniqueConstraint)
        ]
        uniques += [(c.name,) for c in table.columns if c.unique]
        self.uniques = list(dict.fromkeys(uniques))
        self.fks = [(fk.parent.name, fk.column.table.name) for fk in table.foreign_keys]
        self.rows: dict[Key, dict[str, Any]] = {}
        self.index: dict[tuple[str, ...], dict[Key, Key]] = {u: {} for u in self.uniques}
        self.next_id = 1

    # --- transactions -------------------------------------------------------------------

    def snapshot(self) -> tuple:
        return dict(self.rows), {u: dict(i) for u, i in self.index.items()}, self.next_id

    def restore(self, state: tuple) -> None:
        self.rows, self.index, self.next_id = state

    def _touch(self) -> None:
        journal = self.db.journal
        if journal is None:
            raise RuntimeError("a write outside a transaction")
        if self.name not in journal:
            journal[self.name] = self.snapshot()

    # --- values -------------------------------------------------------------------------

    def _check_names(self, values: Mapping[str, Any]) -> None:
        unknown = [k for k in values if k not in self.columns]
        if unknown:  # what SQLAlchemy says of .values(**unknown)
            raise sa.exc.CompileError(f"Unconsumed column names: {', '.join(unknown)}")

    def _clean(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        if name in self.times:
            if value.tzinfo is None:
                error = ValueError("naive datetime given; RedGrid stores aware times only")
                raise sa.exc.StatementError(str(error), None, {name: value}, error)
            return value.astimezone(datetime.UTC)
        if name in self.json:
            return copy.deepcopy(value)
        cast = self.casts.get(name)
        return cast(value) if cast is not None else value

    def _validate(self, row: dict[str, Any], old_key: Key | None) -> None:
        for name in self.required:
            if row[name] is None:
                raise _integrity(f"NOT NULL constraint failed: {self.name}.{name}", row)
        for unique in self.uniques:
            values = tuple(row[c] for c in unique)
            if any(v is None for v in values):
                continue
            holder = self.index[unique].get(values)
            if holder is not None and holder != old_key:
                raise _integrity(f"UNIQUE constraint failed: {self.name}.{', '.join(unique)}", row)
        for column, target in self.fks:
            if row[column] is not None and (row[column],) not in self.db[target].rows:
                raise _integrity(f"FOREIGN KEY constraint failed: {self.name}.{column} → {target}", row)

    def _key(self, row: Mapping[str, Any]) -> Key:
        return tuple(row[c] for c in self.pk)

    def _put(self, row: dict[str, Any], old_key: Key | None) -> None:
        if old_key is not None:
            self._drop(old_key)
        key = self._key(row)
        self.rows[key] = row
        for unique in self.uniques:
            values = tuple(row[c] for c in unique)
            if not any(v is None for v in values):
                self.index[unique][values] = key

    def _drop(self, key: Key) -> None:
        row = self.rows.pop(key)
        for unique in self.uniques:
            self.index[unique].pop(tuple(row[c] for c in unique), None)

    # --- writes -------------------------------------------------------------------------

    def insert(self, values: Mapping[str, Any], *, strict: bool = False) -> Key:
        """Add a row; ``strict`` refuses unknown names (as ``.values(**kw)`` does), otherwise
        they are ignored (as an executemany's parameters are)."""
        if strict:
            self._check_names(values)
        self._touch()
        row = {c: self._clean(c, values.get(c)) for c in self.columns}
        if self.auto and row["id"] is None:
            row["id"] = self.next_id
        self._validate(row, None)
        self._put(row, None)
        if self.auto:
            self.next_id = max(self.next_id, row["id"] + 1)
        return self._key(row)

    def update(self, key: Key, values: Mapping[str, Any]) -> None:
        self._check_names(values)
        self._touch()
        old = self.rows[key]
        row = {**old, **{c: self._clean(c, v) for c, v in values.items()}}
        self._validate(row, key)
        self._put(row, key)

    def delete(self, where: Callable[[dict[str, Any]], bool]) -> int:
        self._touch()
        doomed = [k for k, row in self.rows.items() if where(row)]
        for key in doomed:
            self._drop(key)
        return len(doomed)

    # --- reads --------------------------------------------------------------------------

    def get(self, *key: Any) -> dict[str, Any] | None:
        row = self.rows.get(tuple(key))
        return self._out(row) if row is not None else None

    def by(self, unique: tuple[str, ...], *values: Any) -> dict[str, Any] | None:
        key = self.index[unique].get(tuple(values))
        return self.get(*key) if key is not None else None

    def all(self) -> list[dict[str, Any]]:
        """Every row, copied, in primary-key order."""
        return [self._out(self.rows[k]) for k in sorted(self.rows)]

    def _out(self, row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        for name in self.json:
            out[name] = copy.deepcopy(out[name])
        return out


class _Tables(dict[str, _Table]):
    """All tables of the schema, and the journal of the transaction under way."""

    def __init__(self) -> None:
        super().__init__()
        self.journal: dict[str, tuple] | None = None
        _, tables = build_tables("sqlite")
        for name, table in tables.items():
            self[name] = _Table(self, table)


def _test(key: str, value: Any, columns: list[str]) -> Callable[[dict[str, Any]], bool]:
    """One filter of ``ComplaintSql._filtered`` as a test of a row (NULL never matches)."""
    if key == "since":
        return lambda r: bool(r["reported_at"] >= value)
    if key == "until":
        return lambda r: bool(r["reported_at"] < value)
    if key == "overdue_at":
        return lambda r: r["deadline"] is not None and r["deadline"] < value and r["state"] in OPEN_STATES
    if key == "deadline_before":
        return lambda r: r["deadline"] is not None and r["deadline"] < value
    if key == "deadline_after":
        return lambda r: r["deadline"] is not None and r["deadline"] >= value
    if key == "extension_pending":
        return lambda r: (r["extension_deadline"] is not None) == bool(value)
    if key == "text_contains":
        words = str(value).casefold()
        return lambda r: words in (r["text"] or "").casefold()
    if key == "ticket":
        ticket = str(value)
        number = int(ticket) if ticket.isascii() and ticket.isdigit() and len(ticket) <= 9 else None
        return lambda r: r["external_id"] == ticket or (number is not None and r["id"] == number)
    if key not in columns:
        raise KeyError(key)
    if isinstance(value, list | tuple | set | frozenset):
        allowed = list(value)
        return lambda r: r[key] is not None and r[key] in allowed
    return lambda r: r[key] is not None and r[key] == value


class MemoryStore(AuditMemory, CaseWorkMemory, OutboxMemory):
    """``store.base.Store`` in memory: every protocol, no database."""

    def __init__(self, now: Callable[[], datetime.datetime] = utcnow) -> None:
        self._now = now
        self.t = _Tables()
        self._lock = threading.RLock()

    def dispose(self) -> None:
        """Nothing to release (the SQL store's counterpart closes its connections)."""

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            if self.t.journal is not None:  # nested: part of the outer transaction
                yield
                return
            self.t.journal = {}
            try:
                yield
            except BaseException:
                for name, state in self.t.journal.items():
                    self.t[name].restore(state)
                raise
            finally:
                self.t.journal = None

    # --- places ---------------------------------------------------------------------------

    def put_town(
        self, code: str, name: str, outline: BaseGeometry | None, outline_source: str | None
    ) -> None:
        towns = self.t["towns"]
        values = {
            "name": name,
            "outline": outline,
            "outline_source": outline_source,
            "updated_at": self._now(),
        }
        with self._transaction():
            if (code,) in towns.rows:
                towns.update((code,), values)
            else:
                towns.insert({"code": code, **values}, strict=True)

    def town(self, code: str) -> Town | None:
        with self._lock:
            row = self.t["towns"].get(code)
        return Town(row["code"], row["name"], row["outline"], row["outline_source"]) if row else None

    def towns(self) -> list[Town]:
        with self._lock:
            rows = self.t["towns"].all()
        return [Town(r["code"], r["name"], r["outline"], r["outline_source"]) for r in rows]

    def put_communities(self, communities: pd.DataFrame) -> int:
        table = self.t["communities"]
        rows = communities[["code", "name", "short_name", "kind", "town_code"]].to_dict("records")
        with self._transaction():
            for row in rows:
                if (row["code"],) in table.rows:
                    table.update((row["code"],), row)
                else:
                    table.insert(row, strict=True)
        return len(rows)

    def communities(self) -> pd.DataFrame:
        with self._lock:
            rows = self.t["communities"].all()
        return pd.DataFrame(rows, columns=["code", "name", "short_name", "kind", "town_code"])

    # --- grid versions --------------------------------------------------------------------

    def add_version(
        self,
        grids: gpd.GeoDataFrame,
        communities: gpd.GeoDataFrame,
        *,
        label: str,
        town_code: str,
        created_by: str | None,
        source: str | None,
        source_crs: str | None,
        sha256: str | None,
        report: dict | None,
        repairs: Sequence[str] | None,
        note: str | None = None,
        activate: bool = False,
    ) -> int:
        with self._transaction():
            (version_id,) = self.t["grid_versions"].insert(
                {
                    "label": label,
                    "town_code": town_code,
                    "created_at": self._now(),
                    "created_by": created_by,
                    "source": source,
                    "source_crs": source_crs,
                    "sha256": sha256,
                    "n_grids": len(grids),
                    "report": report,
                    "repairs": list(repairs or []),
                    "note": note,
                },
                strict=True,
            )
            for r in grids.itertuples(index=False):
                self.t["grids"].insert(
                    {
                        "version_id": version_id,
                        "code": r.code,
                        "name": _text(r.name),
                        "community_code": r.community_code,
                        "area_m2": float(r.area_m2),
                        "population": _int(r.population),
                        "households": _int(r.households),
                        "geometry": r.geometry,
                    }
                )
            for r in communities.itertuples(index=False):
                self.t["community_shapes"].insert(
                    {
                        "version_id": version_id,
                        "code": r.code,
                        "area_m2": float(r.area_m2),
                        "geometry": r.geometry,
                    }
                )
            if activate:
                self._activate(version_id, created_by)
        return int(version_id)

    def versions(self) -> list[VersionInfo]:
        return self._versions(lambda row: True)

    def version(self, version_id: int) -> VersionInfo | None:
        found = self._versions(lambda row: row["id"] == version_id)
        return found[0] if found else None

    def version_by_sha256(self, sha256: str) -> VersionInfo | None:
        found = self._versions(lambda row: row["sha256"] == sha256)
        return found[-1] if found else None

    def _versions(self, where: Callable[[dict], bool]) -> list[VersionInfo]:
        with self._lock:
            rows = [r for r in self.t["grid_versions"].all() if where(r)]
            last: dict[int, datetime.datetime] = {}
            for act in self.t["activations"].all():
                seen = last.get(act["version_id"])
                if seen is None or act["activated_at"] > seen:
                    last[act["version_id"]] = act["activated_at"]
            active = self._active()
        return [
            VersionInfo(
                r["id"],
                r["label"],
                r["town_code"],
                r["created_at"],
                r["created_by"],
                r["source"],
                r["source_crs"],
                r["sha256"],
                r["n_grids"],
                r["report"],
                r["repairs"],
                r["note"],
                r["id"] == active,
                last.get(r["id"]),
            )
            for r in rows
        ]

    def activate(self, version_id: int, by: str | None = None) -> None:
        with self._transaction():
            self._activate(version_id, by)

    def _activate(self, version_id: int, by: str | None) -> None:
        if (version_id,) not in self.t["grid_versions"].rows:
            raise KeyError(f"grid version {version_id} does not exist")
        self.t["activations"].insert(
            {"version_id": version_id, "activated_at": self._now(), "activated_by": by}, strict=True
        )

    def active_version_id(self) -> int | None:
        with self._lock:
            return self._active()

    def _active(self) -> int | None:
        acts = self.t["activations"].rows
        return acts[max(acts)]["version_id"] if acts else None

    def place_stamps(self) -> tuple[int | None, int | None]:
        with self._lock:
            imports = self.t["roster_imports"].rows
            return self._active(), (max(imports)[0] if imports else None)

    def activations(self) -> list[tuple[datetime.datetime, int]]:
        with self._lock:
            rows = self.t["activations"].all()
        rows.sort(key=lambda r: (r["activated_at"], r["id"]))
        return [(r["activated_at"], r["version_id"]) for r in rows]

    def version_at(self, when: datetime.datetime) -> int | None:
        with self._lock:
            rows = [r for r in self.t["activations"].all() if r["activated_at"] <= when]
        if not rows:
            return None
        return max(rows, key=lambda r: (r["activated_at"], r["id"]))["version_id"]

    def grids(self, version_id: int) -> gpd.GeoDataFrame:
        with self._lock:
            rows = [r for r in self.t["grids"].all() if r["version_id"] == version_id]
        columns = ["code", "name", "community_code", "area_m2", "population", "households"]
        frame = pd.DataFrame([tuple(r[c] for c in columns) for r in rows], columns=columns)
        for column in ("population", "households"):
            frame[column] = frame[column].astype("Int64")
        geoms = np.asarray([r["geometry"] for r in rows], dtype=object)
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)

    def community_shapes(self, version_id: int) -> gpd.GeoDataFrame:
        with self._lock:
            rows = [r for r in self.t["community_shapes"].all() if r["version_id"] == version_id]
        frame = pd.DataFrame([(r["code"], r["area_m2"]) for r in rows], columns=["code", "area_m2"])
        geoms = np.asarray([r["geometry"] for r in rows], dtype=object)
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)

    # --- officials ------------------------------------------------------------------------

    def import_assignments(
        self, assignments: Sequence[Assignment], *, filename: str, sha256: str, by: str | None = None
    ) -> ImportSummary:
        officials = self.t["officials"]
        with self._transaction():
            existing = {(r["phone"], r["role"], r["unit_code"], r["start_date"]): r for r in officials.all()}
            new, changed = [], []
            for a in assignments:
                values = {
                    "name": a.name,
                    "phone": a.phone,
                    "role": str(a.role),
                    "unit_code": a.unit_code,
                    "unit_level": str(a.unit_level),
                    "start_date": a.start,
                    "end_date": a.end,
                    "note": a.note or None,
                }
                old = existing.get((a.phone, str(a.role), a.unit_code, a.start))
                if old is None:
                    new.append(values)
                elif (old["name"], old["end_date"], old["note"] or None) != (a.name, a.end, a.note or None):
                    changed.append((old["id"], values))
            import_id = None
            if new or changed:
                (import_id,) = self.t["roster_imports"].insert(
                    {
                        "filename": filename,
                        "sha256": sha256,
                        "imported_at": self._now(),
                        "imported_by": by,
                        "rows": len(assignments),
                        "added": len(new),
                        "updated": len(changed),
                    },
                    strict=True,
                )
                for values in new:
                    officials.insert({**values, "import_id": import_id})
                for official_id, values in changed:
                    officials.update((official_id,), {**values, "import_id": import_id})
        unchanged = len(assignments) - len(new) - len(changed)
        return ImportSummary(import_id, len(assignments), len(new), len(changed), unchanged)

    def assignments(self, unit_codes: Iterable[str] | None = None) -> list[Assignment]:
        wanted = None if unit_codes is None else set(unit_codes)
        with self._lock:
            rows = [r for r in self.t["officials"].all() if wanted is None or r["unit_code"] in wanted]
        return [
            Assignment(
                r["name"],
                r["phone"],
                Role(r["role"]),
                r["unit_code"],
                UnitLevel(r["unit_level"]),
                r["start_date"],
                r["end_date"],
                r["note"] or "",
                id=r["id"],
            )
            for r in rows
        ]

    # --- API keys -------------------------------------------------------------------------

    def add_api_key(self, name: str, token_sha256: str, scopes: Sequence[str]) -> int:
        with self._transaction():
            (key_id,) = self.t["api_keys"].insert(
                {
                    "name": name,
                    "token_sha256": token_sha256,
                    "scopes": " ".join(sorted(scopes)),
                    "created_at": self._now(),
                },
                strict=True,
            )
        return int(key_id)

    def api_key_scopes(self, token_sha256: str) -> tuple[str, list[str]] | None:
        with self._lock:
            row = self.t["api_keys"].by(("token_sha256",), token_sha256)
        if row is None or row["revoked_at"] is not None:
            return None
        return row["name"], row["scopes"].split()

    def revoke_api_key(self, name: str) -> int:
        keys = self.t["api_keys"]
        with self._transaction():
            found = [(r["id"],) for r in keys.all() if r["name"] == name and r["revoked_at"] is None]
            for key in found:
                keys.update(key, {"revoked_at": self._now()})
        return len(found)

    def replace_api_key(self, name: str, token_sha256: str) -> list[str] | None:
        keys = self.t["api_keys"]
        with self._transaction():
            live = [r for r in keys.all() if r["name"] == name and r["revoked_at"] is None]
            if not live:
                return None
            scopes = sorted({s for r in live for s in r["scopes"].split()})
            for row in live:
                keys.update((row["id"],), {"revoked_at": self._now()})
            keys.insert(
                {
                    "name": name,
                    "token_sha256": token_sha256,
                    "scopes": " ".join(scopes),
                    "created_at": self._now(),
                },
                strict=True,
            )
        return scopes

    def api_keys(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self.t["api_keys"].all()
        return [
            {k: r[k] for k in ("id", "name", "scopes", "created_at", "revoked_at")}
            for r in sorted(rows, key=lambda r: r["id"])
        ]

    # --- complaints -----------------------------------------------------------------------

    def add_complaints(
        self, rows: Sequence[dict], events: Sequence[Sequence[dict]], *, import_meta: dict | None = None
    ) -> AddResult:
        return self.add_complaint_chunks([(rows, events)], import_meta=import_meta)

    def add_complaint_chunks(
        self, chunks: Iterable[Chunk], *, import_meta: dict | None = None, batch: int = 5000
    ) -> AddResult:
        """All chunks in one transaction; ``batch`` is accepted for the SQL store's sake."""
        complaints, events_t = self.t["complaints"], self.t["complaint_events"]
        imports = self.t["complaint_imports"]
        ids: list[int] = []
        skipped: list[tuple[str, str]] = []
        rows_seen = 0
        with self._transaction():
            now = self._now()
            import_id = None
            if import_meta is not None:
                (import_id,) = imports.insert(
                    {**import_meta, "imported_at": now, "rows": 0, "added": 0}, strict=True
                )
            key = ("source", "external_id")
            for rows, events in chunks:
                rows_seen += len(rows)
                for row, history in zip(rows, events, strict=True):
                    if complaints.index[key].get((row["source"], row["external_id"])) is not None:
                        skipped.append((row["source"], row["external_id"]))
                        continue
                    (cid,) = complaints.insert(
                        {
                            **row,
                            "row_version": 1,
                            "created_at": now,
                            "updated_at": now,
                            "import_id": import_id,
                        }
                    )
                    ids.append(cid)
                    for event in history:
                        events_t.insert({**event, "complaint_id": cid})
            if import_id is not None:
                imports.update((import_id,), {"rows": rows_seen, "added": len(ids)})
        return AddResult(ids, skipped, import_id)

    def complaint(self, complaint_id: int) -> Case | None:
        with self._lock:
            row = self.t["complaints"].get(complaint_id)
        return Case.from_mapping(row) if row else None

    def complaint_by_external(self, source: str, external_id: str) -> Case | None:
        with self._lock:
            row = self.t["complaints"].by(("source", "external_id"), source, external_id)
        return Case.from_mapping(row) if row else None

    def complaint_events(self, complaint_id: int) -> list[CaseEvent]:
        with self._lock:
            rows = [r for r in self.t["complaint_events"].all() if r["complaint_id"] == complaint_id]
        return [CaseEvent.from_mapping(r) for r in rows]

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
        complaints = self.t["complaints"]
        with self._transaction():
            row = complaints.rows.get((complaint_id,))
            if row is None:
                raise KeyError(f"complaint {complaint_id} does not exist")
            if row["row_version"] != expected_version:
                raise ConcurrentUpdate(complaint_id, expected_version, row["row_version"])
            complaints.update(
                (complaint_id,), {**values, "row_version": expected_version + 1, "updated_at": self._now()}
            )
            self.t["complaint_events"].insert({**event, "complaint_id": complaint_id}, strict=True)
            self._insert_messages(messages, event["at"])
            for other_id, other_event in linked:
                other = complaints.rows.get((other_id,))
                if other is None:
                    raise KeyError(f"complaint {other_id} does not exist")
                complaints.update(
                    (other_id,), {"row_version": other["row_version"] + 1, "updated_at": self._now()}
                )
                self.t["complaint_events"].insert({**other_event, "complaint_id": other_id}, strict=True)
        return expected_version + 1

    def _matching(self, filters: dict | None) -> list[dict[str, Any]]:
        """Complaints passing ``filters``, by id: the rules of ``ComplaintSql._filtered``."""
        columns = self.t["complaints"].columns
        tests = [_test(key, value, columns) for key, value in (filters or {}).items() if value is not None]
        return [r for r in self.t["complaints"].all() if all(test(r) for test in tests)]

    def list_complaints(
        self,
        *,
        filters: dict | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = True,
        order: str | None = None,
    ) -> list[Case]:
        column, descending = parse_order(order, newest_first)
        with self._lock:
            rows = self._matching(filters)
        rows.sort(key=lambda r: r["id"], reverse=True)  # ties: highest id first, either way
        present = [r for r in rows if r[column] is not None]
        present.sort(key=lambda r: r[column], reverse=descending)
        rows = present + [r for r in rows if r[column] is None]  # no value: last, either way
        return [Case.from_mapping(r) for r in rows[offset : offset + limit]]

    def count_complaints(self, filters: dict | None = None) -> int:
        with self._lock:
            return len(self._matching(filters))

    def complaints_frame(self, columns: Iterable[str], filters: dict | None = None) -> pd.DataFrame:
        table = self.t["complaints"]
        names = list(columns)
        for name in names:
            if name not in table.columns:
                raise KeyError(name)
        with self._lock:
            rows = self._matching(filters)
        frame = pd.DataFrame({name: [r[name] for r in rows] for name in names}, columns=names)
        for name in names:
            if name in table.times:
                frame[name] = pd.to_datetime(frame[name], utc=True)
        return frame

    def follow_up_frame(self, filters: dict | None = None) -> pd.DataFrame:
        columns = [
            "complaint_id",
            "at",
            "satisfied",
            "grid_code",
            "community_code",
            "category_code",
            "department_code",
        ]
        with self._lock:
            cases = {r["id"]: r for r in self._matching(filters)}
            events = [
                e
                for e in self.t["complaint_events"].all()
                if e["action"] == "follow_up" and e["complaint_id"] in cases
            ]
        rows = [
            (
                e["complaint_id"],
                e["at"],
                e["satisfied"],
                *(
                    cases[e["complaint_id"]][c]
                    for c in ("grid_code", "community_code", "category_code", "department_code")
                ),
            )
            for e in events
        ]
        return pd.DataFrame(rows, columns=columns)

    def complaints_stamp(self) -> tuple:
        with self._lock:
            rows = list(self.t["complaints"].rows.values())
        if not rows:
            return (0, None, None, None, None)
        reported = [r["reported_at"] for r in rows]
        return (
            len(rows),
            max(r["id"] for r in rows),
            max(r["updated_at"] for r in rows).isoformat(),
            min(reported).isoformat(),
            max(reported).isoformat(),
        )

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
        with self._transaction():
            (photo_id,) = self.t["complaint_photos"].insert(
                {
                    "complaint_id": complaint_id,
                    "filename": filename,
                    "content_type": content_type,
                    "size": size,
                    "sha256": sha256,
                    "stored_as": stored_as,
                    "created_at": self._now(),
                    "kind": kind,
                },
                strict=True,
            )
        return int(photo_id)

    def photos(self, complaint_id: int) -> list[Photo]:
        with self._lock:
            rows = [r for r in self.t["complaint_photos"].all() if r["complaint_id"] == complaint_id]
        return [Photo.from_mapping(r) for r in rows]

    # --- re-aggregation onto another grid version -----------------------------------------

    def put_regrid(self, version_id: int, pairs: Sequence[tuple[int, str | None]]) -> int:
        regrid = self.t["complaint_regrid"]
        with self._transaction():
            regrid.delete(lambda r: r["version_id"] == version_id)
            for cid, code in pairs:
                regrid.insert({"version_id": version_id, "complaint_id": cid, "grid_code": code})
        return len(pairs)

    def regrid_frame(self, version_id: int) -> pd.DataFrame:
        with self._lock:
            rows = [
                (r["complaint_id"], r["grid_code"])
                for r in self.t["complaint_regrid"].all()
                if r["version_id"] == version_id
            ]
        return pd.DataFrame(rows, columns=["complaint_id", "grid_code"])

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
        with self._transaction():
            (user_id,) = self.t["users"].insert(
                {
                    "username": username,
                    "display_name": display_name,
                    "password_hash": password_hash,
                    "role": role,
                    "department_code": department_code,
                    "official_id": official_id,
                    "active": True,
                    "created_at": self._now(),
                    "session_generation": 0,
                },
                strict=True,
            )
        return int(user_id)

    def user(self, *, user_id: int | None = None, username: str | None = None) -> UserAccount | None:
        users = self.t["users"]
        with self._lock:
            row = users.get(user_id) if user_id is not None else users.by(("username",), username)
        return UserAccount.from_mapping(row) if row else None

    def update_user(self, username: str, **values: Any) -> int:
        users = self.t["users"]
        with self._transaction():
            key = users.index[("username",)].get((username,))
            if key is None:
                users._check_names(values)
                return 0
            users.update(key, values)
        return 1

    def users(self) -> list[UserAccount]:
        with self._lock:
            return [UserAccount.from_mapping(r) for r in self.t["users"].all()]

    def preferences(self, user_id: int) -> dict[str, str]:
        with self._lock:
            rows = self.t["user_preferences"].all()
            return {r["name"]: r["value"] for r in rows if r["user_id"] == user_id}

    def set_preference(self, user_id: int, name: str, value: str) -> None:
        prefs = self.t["user_preferences"]
        with self._transaction():
            prefs.delete(lambda r: r["user_id"] == user_id and r["name"] == name)
            prefs.insert({"user_id": user_id, "name": name, "value": value, "updated_at": self._now()})

    # --- working-day calendar ---------------------------------------------------------------

    def put_calendar_days(self, rows: Sequence[dict], source: str, *, year: int | None = None) -> int:
        days = self.t["calendar_days"]
        with self._transaction():
            if year is not None:
                days.delete(lambda r: r["day"].year == year)
            dates = {r["day"] for r in rows}
            days.delete(lambda r: r["day"] in dates)
            for row in rows:
                days.insert({**row, "source": source})
        return len(rows)

    def calendar_days(self) -> list[dict]:
        with self._lock:
            return self.t["calendar_days"].all()

    # --- catalogue overrides --------------------------------------------------------------

    def catalog_overrides(self) -> list[dict]:
        with self._lock:
            return self.t["catalog_overrides"].all()

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
        with self._transaction():
            rows.delete(lambda r: r["category_code"] == category_code)
            rows.insert(
                {
                    "category_code": category_code,
                    "department_code": department_code,
                    "deadline_days": deadline_days,
                    "requires_after_photo": requires_after_photo,
                    "updated_at": self._now(),
                    "updated_by": by,
                }
            )

    def remove_catalog_override(self, category_code: str) -> int:
        with self._transaction():
            return self.t["catalog_overrides"].delete(lambda r: r["category_code"] == category_code)


__all__ = ["MemoryStore"]
