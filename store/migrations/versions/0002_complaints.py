"""Complaints: records, their events and photos, bulk imports, re-aggregation; users; calendar days.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from store.schema import UtcDateTime
from store.schema import geometry_type

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("department_code", sa.String(32)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "complaints",
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
        sa.Column("resolved_at", UtcDateTime),
        sa.Column("closed_at", UtcDateTime),
        sa.Column("satisfied", sa.Boolean),
        sa.Column("duplicate_of", sa.Text),
        sa.Column("row_version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("import_id", sa.Integer),
        sa.Column("point", geometry_type(dialect)),
        sa.UniqueConstraint("source", "external_id", name="uq_complaints_source_external_id"),
    )
    for column in ("grid_code", "state", "reported_at", "category_code", "department_code", "deadline"):
        op.create_index(f"ix_complaints_{column}", "complaints", [column])
    op.create_table(
        "complaint_events",
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
    )
    op.create_index("ix_complaint_events_complaint_id", "complaint_events", ["complaint_id"])
    op.create_table(
        "complaint_photos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("complaint_id", sa.Integer, sa.ForeignKey("complaints.id"), nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("stored_as", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "complaint_imports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("imported_at", UtcDateTime, nullable=False),
        sa.Column("imported_by", sa.Text),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("added", sa.Integer, nullable=False),
    )
    op.create_table(
        "complaint_regrid",
        sa.Column("version_id", sa.Integer, sa.ForeignKey("grid_versions.id"), primary_key=True),
        sa.Column("complaint_id", sa.Integer, sa.ForeignKey("complaints.id"), primary_key=True),
        sa.Column("grid_code", sa.String(15)),
    )
    op.create_table(
        "calendar_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("source", sa.Text),
    )
    if dialect == "postgresql":
        op.execute("CREATE INDEX ix_complaints_point ON complaints USING gist (point)")


def downgrade() -> None:
    for table in (
        "calendar_days",
        "complaint_regrid",
        "complaint_imports",
        "complaint_photos",
        "complaint_events",
        "complaints",
        "users",
    ):
        op.drop_table(table)
