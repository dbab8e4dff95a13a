"""The SQL implementation of ``Store``, for SQLite (embedded default) and PostGIS.

One class serves both databases: SQLAlchemy Core hides the dialects, and the
geometry column type is chosen per dialect in ``store.schema``. What differs
(SQLite pragmas, the PostGIS extension) is set up in ``open_store``.
"""

from __future__ import annotations

import datetime
import weakref
from collections.abc import Iterable
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from shapely.geometry.base import BaseGeometry

from geo.officials import Assignment
from geo.officials import Role
from geo.officials import UnitLevel
from geo.timeutil import utcnow
from store.audit_sql import AuditSql
from store.base import Store
from store.casework_sql import CaseWorkSql
from store.complaints_sql import ComplaintSql
from store.outbox_sql import OutboxSql
from store.places import ImportSummary
from store.places import Town
from store.places import VersionInfo
from store.schema import build_tables

MIGRATIONS = Path(__file__).parent / "migrations"
MEMORY_URL = "memory://"
#: how long a SQLite writer waits for another's transaction before giving up
BUSY_TIMEOUT_S = 60.0


def make_engine(url: str) -> sa.Engine:
    """An engine with the per-dialect settings RedGrid relies on."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:  # WAL: readers never wait for the importer
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            # a writer waits its turn rather than failing with "database is locked"; imports are
            # staged (store.complaints_sql), so no write holds the lock for more than seconds
            cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def migrate(url: str | sa.Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (idempotent)."""
    engine = url if isinstance(url, sa.Engine) else make_engine(url)
    if engine.url.get_backend_name() == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def open_store(url: str, *, upgrade: bool = True) -> Store:
    """Open (and by default migrate) the store at a SQLAlchemy URL.

    ``memory://`` gives a new, empty in-memory store (``store.memory.MemoryStore``): each
    call its own, gone with the process; for tests and trials.
    """
    if url.startswith(MEMORY_URL):
        from store.memory import MemoryStore

        return MemoryStore()
    engine = make_engine(url)
    if upgrade:
        migrate(engine)
    return SqlStore(engine)


class SqlStore(AuditSql, CaseWorkSql, ComplaintSql, OutboxSql):
    """``store.base.Store`` over SQLAlchemy Core."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.metadata, self.t = build_tables(self.dialect)
        # pooled connections are closed when the store goes away, not left to the GC
        weakref.finalize(self, engine.dispose)

    def dispose(self) -> None:
        self.engine.dispose()

    # --- places ---------------------------------------------------------------------------

    def put_town(
        self, code: str, name: str, outline: BaseGeometry | None, outline_source: str | None
    ) -> None:
        towns = self.t["towns"]
        values = {"name": name, "outline": outline, "outline_source": outline_source, "updated_at": utcnow()}
        with self.engine.begin() as conn:
            done = conn.execute(towns.update().where(towns.c.code == code).values(**values))
            if done.rowcount == 0:
                conn.execute(towns.insert().values(code=code, **values))

    def town(self, code: str) -> Town | None:
        towns = self.t["towns"]
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(towns).where(towns.c.code == code)).first()
        return Town(row.code, row.name, row.outline, row.outline_source) if row else None

    def towns(self) -> list[Town]:
        towns = self.t["towns"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(towns).order_by(towns.c.code)).all()
        return [Town(r.code, r.name, r.outline, r.outline_source) for r in rows]

    def put_communities(self, communities: pd.DataFrame) -> int:
        """Insert or update communities (columns code, name, short_name, kind, town_code)."""
        table = self.t["communities"]
        rows = communities[["code", "name", "short_name", "kind", "town_code"]].to_dict("records")
        with self.engine.begin() as conn:
            existing = set(conn.execute(sa.select(table.c.code)).scalars())
            for row in rows:
                if row["code"] in existing:
                    conn.execute(table.update().where(table.c.code == row["code"]).values(**row))
                else:
                    conn.execute(table.insert().values(**row))
        return len(rows)

    def communities(self) -> pd.DataFrame:
        table = self.t["communities"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.code)).mappings().all()
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
        versions, grid_t, shapes = self.t["grid_versions"], self.t["grids"], self.t["community_shapes"]
        with self.engine.begin() as conn:
            version_id = conn.execute(
                versions.insert()
                .values(
                    label=label,
                    town_code=town_code,
                    created_at=utcnow(),
                    created_by=created_by,
                    source=source,
                    source_crs=source_crs,
                    sha256=sha256,
                    n_grids=len(grids),
                    report=report,
                    repairs=list(repairs or []),
                    note=note,
                )
                .returning(versions.c.id)
            ).scalar_one()
            conn.execute(
                grid_t.insert(),
                [
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
                    for r in grids.itertuples(index=False)
                ],
            )
            conn.execute(
                shapes.insert(),
                [
                    {
                        "version_id": version_id,
                        "code": r.code,
                        "area_m2": float(r.area_m2),
                        "geometry": r.geometry,
                    }
                    for r in communities.itertuples(index=False)
                ],
            )
            if activate:
                self._activate(conn, version_id, created_by)
        return int(version_id)

    def versions(self) -> list[VersionInfo]:
        return self._versions()

    def version(self, version_id: int) -> VersionInfo | None:
        found = self._versions(self.t["grid_versions"].c.id == version_id)
        return found[0] if found else None

    def version_by_sha256(self, sha256: str) -> VersionInfo | None:
        found = self._versions(self.t["grid_versions"].c.sha256 == sha256)
        return found[-1] if found else None

    def _versions(self, where: sa.ColumnElement[bool] | None = None) -> list[VersionInfo]:
        versions, acts = self.t["grid_versions"], self.t["activations"]
        query = sa.select(versions).order_by(versions.c.id)
        if where is not None:
            query = query.where(where)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            last = dict(
                conn.execute(
                    sa.select(acts.c.version_id, sa.func.max(acts.c.activated_at)).group_by(acts.c.version_id)
                ).all()
            )
            active = self._active(conn)
        out = []
        for r in rows:
            when = last.get(r.id)
            if when is not None and when.tzinfo is None:  # aggregate results skip the type
                when = _as_utc(when)
            out.append(
                VersionInfo(
                    r.id,
                    r.label,
                    r.town_code,
                    r.created_at,
                    r.created_by,
                    r.source,
                    r.source_crs,
                    r.sha256,
                    r.n_grids,
                    r.report,
                    r.repairs,
                    r.note,
                    r.id == active,
                    when,
                )
            )
        return out

    def activate(self, version_id: int, by: str | None = None) -> None:
        with self.engine.begin() as conn:
            self._activate(conn, version_id, by)

    def _activate(self, conn: sa.Connection, version_id: int, by: str | None) -> None:
        versions = self.t["grid_versions"]
        if conn.execute(sa.select(versions.c.id).where(versions.c.id == version_id)).first() is None:
            raise KeyError(f"grid version {version_id} does not exist")
        acts = self.t["activations"]
        conn.execute(acts.insert().values(version_id=version_id, activated_at=utcnow(), activated_by=by))

    def active_version_id(self) -> int | None:
        with self.engine.connect() as conn:
            return self._active(conn)

    def _active(self, conn: sa.Connection) -> int | None:
        return conn.execute(self._active_select()).scalar()

    def _active_select(self) -> sa.Select:
        acts = self.t["activations"]
        return sa.select(acts.c.version_id).order_by(acts.c.id.desc()).limit(1)

    def place_stamps(self) -> tuple[int | None, int | None]:
        imports = self.t["roster_imports"]
        roster = sa.select(sa.func.max(imports.c.id)).scalar_subquery()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(self._active_select().scalar_subquery(), roster)).one()
        return row[0], row[1]

    def activations(self) -> list[tuple[datetime.datetime, int]]:
        """The activation log, oldest first: (when, version)."""
        acts = self.t["activations"]
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(acts.c.activated_at, acts.c.version_id).order_by(acts.c.activated_at, acts.c.id)
            ).all()
        return [(r.activated_at, r.version_id) for r in rows]

    def version_at(self, when: datetime.datetime) -> int | None:
        acts = self.t["activations"]
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(acts.c.version_id)
                .where(acts.c.activated_at <= when)
                .order_by(acts.c.activated_at.desc(), acts.c.id.desc())
                .limit(1)
            ).scalar()

    def grids(self, version_id: int) -> gpd.GeoDataFrame:
        grid_t = self.t["grids"]
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(grid_t).where(grid_t.c.version_id == version_id).order_by(grid_t.c.code)
            ).all()
        columns = ["code", "name", "community_code", "area_m2", "population", "households"]
        frame = pd.DataFrame([tuple(getattr(r, c) for c in columns) for r in rows], columns=columns)
        for column in ("population", "households"):
            frame[column] = frame[column].astype("Int64")
        geoms = np.asarray([r.geometry for r in rows], dtype=object)
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)

    def community_shapes(self, version_id: int) -> gpd.GeoDataFrame:
        shapes = self.t["community_shapes"]
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(shapes).where(shapes.c.version_id == version_id).order_by(shapes.c.code)
            ).all()
        frame = pd.DataFrame([(r.code, r.area_m2) for r in rows], columns=["code", "area_m2"])
        geoms = np.asarray([r.geometry for r in rows], dtype=object)
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)

    # --- officials ------------------------------------------------------------------------

    def import_assignments(
        self, assignments: Sequence[Assignment], *, filename: str, sha256: str, by: str | None = None
    ) -> ImportSummary:
        """Upsert by (phone, role, unit, start): re-importing the same file changes nothing."""
        officials, imports = self.t["officials"], self.t["roster_imports"]
        with self.engine.begin() as conn:
            existing = {
                (r.phone, r.role, r.unit_code, r.start_date): r
                for r in conn.execute(sa.select(officials)).all()
            }
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
                elif (old.name, old.end_date, old.note or None) != (a.name, a.end, a.note or None):
                    changed.append((old.id, values))
            import_id = None
            if new or changed:
                import_id = conn.execute(
                    imports.insert()
                    .values(
                        filename=filename,
                        sha256=sha256,
                        imported_at=utcnow(),
                        imported_by=by,
                        rows=len(assignments),
                        added=len(new),
                        updated=len(changed),
                    )
                    .returning(imports.c.id)
                ).scalar_one()
                if new:
                    conn.execute(officials.insert(), [{**v, "import_id": import_id} for v in new])
                for official_id, values in changed:
                    conn.execute(
                        officials.update()
                        .where(officials.c.id == official_id)
                        .values(**values, import_id=import_id)
                    )
        unchanged = len(assignments) - len(new) - len(changed)
        return ImportSummary(import_id, len(assignments), len(new), len(changed), unchanged)

    def assignments(self, unit_codes: Iterable[str] | None = None) -> list[Assignment]:
        officials = self.t["officials"]
        query = sa.select(officials).order_by(officials.c.id)
        if unit_codes is not None:
            query = query.where(officials.c.unit_code.in_(list(unit_codes)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            Assignment(
                r.name,
                r.phone,
                Role(r.role),
                r.unit_code,
                UnitLevel(r.unit_level),
                r.start_date,
                r.end_date,
                r.note or "",
                id=r.id,
            )
            for r in rows
        ]

    # --- API keys -------------------------------------------------------------------------

    def add_api_key(self, name: str, token_sha256: str, scopes: Sequence[str]) -> int:
        keys = self.t["api_keys"]
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    keys.insert()
                    .values(
                        name=name,
                        token_sha256=token_sha256,
                        scopes=" ".join(sorted(scopes)),
                        created_at=utcnow(),
                    )
                    .returning(keys.c.id)
                ).scalar_one()
            )

    def api_key_scopes(self, token_sha256: str) -> tuple[str, list[str]] | None:
        keys = self.t["api_keys"]
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(keys.c.name, keys.c.scopes).where(
                    keys.c.token_sha256 == token_sha256, keys.c.revoked_at.is_(None)
                )
            ).first()
        return (row.name, row.scopes.split()) if row else None

    def revoke_api_key(self, name: str) -> int:
        keys = self.t["api_keys"]
        with self.engine.begin() as conn:
            return conn.execute(
                keys.update()
                .where(keys.c.name == name, keys.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            ).rowcount

    def replace_api_key(self, name: str, token_sha256: str) -> list[str] | None:
        keys = self.t["api_keys"]
        with self.engine.begin() as conn:
            live = conn.execute(
                sa.select(keys.c.scopes).where(keys.c.name == name, keys.c.revoked_at.is_(None))
            ).all()
            if not live:
                return None
            scopes = sorted({s for (text,) in live for s in text.split()})
            now = utcnow()
            conn.execute(
                keys.update().where(keys.c.name == name, keys.c.revoked_at.is_(None)).values(revoked_at=now)
            )
            conn.execute(
                keys.insert().values(
                    name=name, token_sha256=token_sha256, scopes=" ".join(scopes), created_at=now
                )
            )
        return scopes

    def api_keys(self) -> list[dict[str, Any]]:
        keys = self.t["api_keys"]
        query = sa.select(keys.c.id, keys.c.name, keys.c.scopes, keys.c.created_at, keys.c.revoked_at)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query.order_by(keys.c.id)).mappings().all()]


def _as_utc(value: datetime.datetime | str) -> datetime.datetime:
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    return value.replace(tzinfo=datetime.UTC) if value.tzinfo is None else value


def _text(value: Any) -> str | None:
    return (
        None
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))
        else str(value)
    )


def _int(value: Any) -> int | None:
    return (
        None
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))
        else int(value)
    )


__all__ = ["MEMORY_URL", "SqlStore", "make_engine", "migrate", "open_store"]
