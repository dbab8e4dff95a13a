"""Grid core: towns, communities, grid versions and their activations, grids, officials, API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from store.schema import UtcDateTime
from store.schema import geometry_type

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    geom = geometry_type(dialect)
    op.create_table(
        "towns",
        sa.Column("code", sa.String(9), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("outline", geom),
        sa.Column("outline_source", sa.Text),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "communities",
        sa.Column("code", sa.String(12), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("short_name", sa.Text),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("town_code", sa.String(9), nullable=False),
    )
    op.create_table(
        "grid_versions",
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
    op.create_table(
        "activations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("grid_versions.id"), nullable=False),
        sa.Column("activated_at", UtcDateTime, nullable=False),
        sa.Column("activated_by", sa.Text),
    )
    op.create_table(
        "grids",
        sa.Column("version_id", sa.Integer, sa.ForeignKey("grid_versions.id"), primary_key=True),
        sa.Column("code", sa.String(15), primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("community_code", sa.String(12), nullable=False),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("population", sa.Integer),
        sa.Column("households", sa.Integer),
        sa.Column("geometry", geom, nullable=False),
    )
    op.create_table(
        "community_shapes",
        sa.Column("version_id", sa.Integer, sa.ForeignKey("grid_versions.id"), primary_key=True),
        sa.Column("code", sa.String(12), primary_key=True),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("geometry", geom, nullable=False),
    )
    op.create_table(
        "roster_imports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("imported_at", UtcDateTime, nullable=False),
        sa.Column("imported_by", sa.Text),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("added", sa.Integer, nullable=False),
        sa.Column("updated", sa.Integer, nullable=False),
    )
    op.create_table(
        "officials",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("unit_code", sa.String(15), nullable=False),
        sa.Column("unit_level", sa.String(16), nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date),
        sa.Column("note", sa.Text),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("roster_imports.id")),
        sa.UniqueConstraint("phone", "role", "unit_code", "start_date", name="uq_officials_key"),
    )
    op.create_index("ix_officials_unit_code", "officials", ["unit_code"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("revoked_at", UtcDateTime),
    )
    if dialect == "postgresql":
        op.execute("CREATE INDEX ix_grids_geometry ON grids USING gist (geometry)")
        op.execute("CREATE INDEX ix_community_shapes_geometry ON community_shapes USING gist (geometry)")


def downgrade() -> None:
    for table in (
        "api_keys",
        "officials",
        "roster_imports",
        "community_shapes",
        "grids",
        "activations",
        "grid_versions",
        "communities",
        "towns",
    ):
        op.drop_table(table)
