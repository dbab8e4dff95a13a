"""Tables, defined once for both databases; only the geometry column type differs.

SQLite keeps geometry as WKB in a BLOB (the in-memory index does the spatial work,
so SpatiaLite is not needed); PostGIS keeps a real ``geometry(…, 4326)`` column with
a GiST index, so SQL clients and joins can use it.
"""

from __future__ import annotations

import datetime
from typing import Any

import shapely
import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlalchemy.types import UserDefinedType


class PostgisGeometry(UserDefinedType):
    """A PostGIS geometry column moved as WKB, so no GeoAlchemy objects leak to callers."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "geometry(Geometry, 4326)"

    def bind_expression(self, bindvalue):
        return sa.func.ST_GeomFromWKB(bindvalue, 4326, type_=self)

    def column_expression(self, col):
        return sa.func.ST_AsBinary(col, type_=self)

    def bind_processor(self, dialect):
        return lambda value: None if value is None else shapely.to_wkb(value)

    def result_processor(self, dialect, coltype):
        return lambda value: None if value is None else shapely.from_wkb(bytes(value))


class WkbGeometry(TypeDecorator):
    """Shapely geometry in a BLOB as WKB (SQLite)."""

    impl = sa.LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else shapely.to_wkb(value)

    def process_result_value(self, value, dialect):
        return None if value is None else shapely.from_wkb(value)


class UtcDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, whatever the database keeps."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; RedGrid stores aware times only")
        return value.astimezone(datetime.UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=datetime.UTC)


def geometry_type(dialect_name: str) -> sa.types.TypeEngine:
    return PostgisGeometry() if dialect_name == "postgresql" else WkbGeometry()


def build_tables(dialect_name: str) -> tuple[sa.MetaData, dict[str, sa.Table]]:
    """The schema for one dialect: what the migrations create, index for index (a test holds it)."""
    md = sa.MetaData()
    geom = geometry_type(dialect_name)
    t = {}
    t["towns"] = sa.Table(
        "towns",
        md,
        sa.Column("code", sa.String(9), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("outline", geom),
        sa.Column("outline_source", sa.Text),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    t["communities"] = sa.Table(
        "communities",
        md,
        sa.Column("code", sa.String(12), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("short_name", sa.Text),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("town_code", sa.String(9), nullable=False),
    )
    t["grid_versions"] = sa.Table(
        "grid_versions",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("town_code", sa.String(9), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("created_by", sa.Text),
        sa.Column("source", sa.Text),
        sa.Column("source_crs", sa.Text),
        sa.Column("sha256", sa.String(64)),
        sa.Column("n_grids", sa.Integer, nullable=False),
        sa.Column("report", sa.JSON),
        sa.Column("repairs", sa.JSON),
        sa.Column("note", sa.Text),
    )
    t["activations"] = sa.Table(
        "activations",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("grid_versions.id"), nullable=False),
        sa.Column("activated_at", UtcDateTime, nullable=False),
        sa.Column("activated_by", sa.Text),
    )
    t["grids"] = sa.Table(
        "grids",
        md,
        sa.Column("version_id", sa.Integer, sa.ForeignKey("grid_versions.id"), primary_key=True),
        sa.Column("code", sa.String(15), primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("community_code", sa.String(12), nullable=False),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("population", sa.Integer),
        sa.Column("households", sa.Integer),
        sa.Column("geometry", geom, nullable=False),
    )
    t["community_shapes"] = sa.Table(
        "community_shapes",
        md,
        sa.Column("version_id", sa.Integer, sa.ForeignKey("grid_versions.id"), primary_key=True),
        sa.Column("code", sa.String(12), primary_key=True),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("geometry", geom, nullable=False),
    )
    t["roster_imports"] = sa.Table(
        "roster_imports",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("imported_at", UtcDateTime, nullable=False),
        sa.Column("imported_by", sa.Text),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("added", sa.Integer, nullable=False),
        sa.Column("updated", sa.Integer, nullable=False),
    )
    t["officials"] = sa.Table(
        "officials",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("unit_code", sa.String(15), nullable=False, index=True),
        sa.Column("unit_level", sa.String(16), nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date),
        sa.Column("note", sa.Text),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("roster_imports.id")),
        sa.UniqueConstraint("phone", "role", "unit_code", "start_date", name="uq_officials_key"),
    )
    t["api_keys"] = sa.Table(
        "api_keys",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("revoked_at", UtcDateTime),
    )
    _complaint_tables(md, t, geom)
    _audit_tables(md, t)
    _outbox_tables(md, t)
    _casework_tables(md, t)
    _indexes(dialect_name, t)
    return md, t


def _audit_tables(md: sa.MetaData, t: dict[str, sa.Table]) -> None:
    """The append-only audit log and the grants of sources and departments (migration 0003)."""
    t["audit_log"] = sa.Table(
        "audit_log",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UtcDateTime, nullable=False, index=True),
        sa.Column("who", sa.Text, nullable=False, index=True),
        sa.Column("role", sa.String(16)),
        sa.Column("action", sa.String(64), nullable=False, index=True),
        sa.Column("target", sa.Text),
        sa.Column("detail", sa.JSON),
        sa.Column("address", sa.String(64)),
    )
    t["grants"] = sa.Table(
        "grants",
        md,
        sa.Column("grantee", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("value", sa.String(200), primary_key=True),
        sa.Column("granted_at", UtcDateTime, nullable=False),
    )


def _outbox_tables(md: sa.MetaData, t: dict[str, sa.Table]) -> None:
    """Notifications waiting to be sent, and the contacts they go to (migration 0010)."""
    t["outbox"] = sa.Table(
        "outbox",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        # one message per case, deadline, kind and address: the scan may run any number of times
        sa.Column("dedupe_key", sa.String(255), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("complaint_id", sa.Integer, sa.ForeignKey("complaints.id")),
        sa.Column("recipient_kind", sa.String(16), nullable=False),
        sa.Column("recipient_code", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.Text),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("next_at", UtcDateTime, nullable=False),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("lease_until", UtcDateTime),
        sa.Column("sent_at", UtcDateTime),
        sa.Column("last_error", sa.Text),
    )
    sa.Index("ix_outbox_status_next_at", t["outbox"].c.status, t["outbox"].c.next_at)
    t["notify_contacts"] = sa.Table(
        "notify_contacts",
        md,
        sa.Column("owner_kind", sa.String(16), primary_key=True),
        sa.Column("owner_code", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("address", sa.String(500), primary_key=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )


def _casework_tables(md: sa.MetaData, t: dict[str, sa.Table]) -> None:
    """吹哨报到 (whistles and the departments they summon) and 多元议事 records (migration 0010)."""
    t["whistles"] = sa.Table(
        "whistles",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("complaint_id", sa.Integer, sa.ForeignKey("complaints.id"), nullable=False, index=True),
        sa.Column("group_code", sa.String(32), nullable=False),
        sa.Column("blown_at", UtcDateTime, nullable=False, index=True),
        sa.Column("blown_by", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
    )
    t["whistle_summons"] = sa.Table(
        "whistle_summons",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("whistle_id", sa.Integer, sa.ForeignKey("whistles.id"), nullable=False, index=True),
        sa.Column("department_code", sa.String(32), nullable=False),
        sa.Column("reported_at", UtcDateTime),
        sa.Column("reported_by", sa.Text),
        sa.Column("responded_at", UtcDateTime),
        sa.Column("responded_by", sa.Text),
        sa.Column("response", sa.Text),
        sa.UniqueConstraint("whistle_id", "department_code", name="uq_whistle_summons_department"),
    )
    t["deliberations"] = sa.Table(
        "deliberations",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("held_at", UtcDateTime, nullable=False),
        sa.Column("place", sa.Text, nullable=False),
        sa.Column("grid_code", sa.String(15), index=True),
        sa.Column("community_code", sa.String(12), nullable=False, index=True),
        sa.Column("matter", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("minutes", sa.Text),
        # the case it was held on, and whether its outcome settled that case (就地调处)
        sa.Column("complaint_id", sa.Integer, sa.ForeignKey("complaints.id"), index=True),
        sa.Column("settled", sa.Boolean, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
    )
    t["deliberation_participants"] = sa.Table(
        "deliberation_participants",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "deliberation_id", sa.Integer, sa.ForeignKey("deliberations.id"), nullable=False, index=True
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("affiliation", sa.Text),
    )
    t["deliberation_photos"] = sa.Table(
        "deliberation_photos",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "deliberation_id", sa.Integer, sa.ForeignKey("deliberations.id"), nullable=False, index=True
        ),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("stored_as", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )


def _indexes(dialect_name: str, t: dict[str, sa.Table]) -> None:
    """The indexes the migrations create beyond the column flags: the complaint filters, the
    event lookup and, on PostGIS, a GiST index on every geometry that is searched."""
    complaints = t["complaints"]
    for column in (
        "grid_code",
        "state",
        "reported_at",
        "category_code",
        "department_code",
        "deadline",
        "assignee",
    ):
        sa.Index(f"ix_complaints_{column}", complaints.c[column])
    # the work queues' counts (migration 0011): overdue and running cases by state and deadline,
    # a department's by department first, pending extension requests
    sa.Index("ix_complaints_state_deadline", complaints.c.state, complaints.c.deadline)
    sa.Index(
        "ix_complaints_department_state_deadline",
        complaints.c.department_code,
        complaints.c.state,
        complaints.c.deadline,
    )
    sa.Index("ix_complaints_extension_deadline", complaints.c.extension_deadline)
    sa.Index("ix_complaints_community_code", complaints.c.community_code)  # the list's community filter
    sa.Index("ix_complaint_events_complaint_id", t["complaint_events"].c.complaint_id)
    if dialect_name == "postgresql":
        sa.Index("ix_grids_geometry", t["grids"].c.geometry, postgresql_using="gist")
        sa.Index("ix_community_shapes_geometry", t["community_shapes"].c.geometry, postgresql_using="gist")
        sa.Index("ix_complaints_point", complaints.c.point, postgresql_using="gist")


def _complaint_tables(md: sa.MetaData, t: dict[str, sa.Table], geom: sa.types.TypeEngine) -> None:
    t["users"] = sa.Table(
        "users",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("department_code", sa.String(32)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        # raised by logout, a password change or disabling: every older session ends (migration 0004)
        sa.Column("session_generation", sa.Integer, nullable=False, server_default="0"),
        # a grid-team member's roster entry (officials.id): whose queue and grids (migration 0011)
        sa.Column("official_id", sa.Integer),
    )
    # a person's settings kept between sessions, one row per name (migration 0008)
    t["user_preferences"] = sa.Table(
        "user_preferences",
        md,
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    t["complaints"] = sa.Table(
        "complaints",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("category_code", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("address", sa.Text),
        sa.Column("lon", sa.Float),
        sa.Column("lat", sa.Float),
        sa.Column("input_coordsys", sa.String(16)),
        sa.Column("input_lon", sa.Float),
        sa.Column("input_lat", sa.Float),
        sa.Column("geocode", sa.JSON),
        sa.Column("reporter_name", sa.Text),
        sa.Column("reporter_phone", sa.String(32)),
        sa.Column("reported_at", UtcDateTime, nullable=False),
        sa.Column("grid_version_id", sa.Integer, sa.ForeignKey("grid_versions.id")),
        sa.Column("grid_code", sa.String(15)),
        sa.Column("community_code", sa.String(12)),
        sa.Column("whistle_group", sa.String(32)),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("department_code", sa.String(32)),
        sa.Column("dispatched_at", UtcDateTime),
        sa.Column("deadline", UtcDateTime),
        # true when the deadline was counted on a year without its official holiday schedule
        # (complaints.workdays.provisional_schedule): recomputed when the schedule is loaded
        sa.Column("deadline_provisional", sa.Boolean),
        sa.Column("resolved_at", UtcDateTime),
        sa.Column("closed_at", UtcDateTime),
        sa.Column("satisfied", sa.Boolean),
        sa.Column("duplicate_of", sa.Text),
        # the grid-team member (officials.id) the case is assigned to, and a deadline a
        # department asked for that the dispatch centre has not yet decided (migration 0007)
        sa.Column("assignee", sa.String(64)),
        sa.Column("extension_deadline", UtcDateTime),
        sa.Column("row_version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("import_id", sa.Integer),
        sa.Column("point", geom),
        sa.UniqueConstraint("source", "external_id", name="uq_complaints_source_external_id"),
    )
    t["complaint_events"] = sa.Table(
        "complaint_events",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("complaint_id", sa.Integer, sa.ForeignKey("complaints.id"), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(24)),
        sa.Column("to_state", sa.String(24), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("department_code", sa.String(32)),
        sa.Column("deadline", UtcDateTime),
        sa.Column("satisfied", sa.Boolean),
        sa.Column("duplicate_of", sa.Text),
        sa.Column("assignee", sa.String(64)),
    )
    t["complaint_photos"] = sa.Table(
        "complaint_photos",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("complaint_id", sa.Integer, sa.ForeignKey("complaints.id"), nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("stored_as", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        # 'before' (taken at intake) or 'after' (the work done); null for photos kept before 0006
        sa.Column("kind", sa.String(16)),
    )
    t["complaint_imports"] = sa.Table(
        "complaint_imports",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("imported_at", UtcDateTime, nullable=False),
        sa.Column("imported_by", sa.Text),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("added", sa.Integer, nullable=False),
    )
    t["complaint_regrid"] = sa.Table(
        "complaint_regrid",
        md,
        sa.Column("version_id", sa.Integer, sa.ForeignKey("grid_versions.id"), primary_key=True),
        sa.Column("complaint_id", sa.Integer, sa.ForeignKey("complaints.id"), primary_key=True),
        sa.Column("grid_code", sa.String(15)),
    )
    # administrators' changes to the bundled category catalogue, one row per category (migration 0012)
    t["catalog_overrides"] = sa.Table(
        "catalog_overrides",
        md,
        sa.Column("category_code", sa.String(32), primary_key=True),
        sa.Column("department_code", sa.String(32), nullable=False),
        sa.Column("deadline_days", sa.Integer, nullable=False),
        sa.Column("requires_after_photo", sa.Boolean, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
    )
    t["calendar_days"] = sa.Table(
        "calendar_days",
        md,
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("source", sa.Text),
    )
