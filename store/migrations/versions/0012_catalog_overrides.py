"""Catalogue overrides: administrators' changes to the category catalogue.

The bundled CSV files stay the default; a category's department, time limit in working
days and "after" photo rule changed on the admin pages is kept here, one row per category,
so a change survives an upgrade that ships new CSV files.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from store.schema import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_overrides",
        sa.Column("category_code", sa.String(32), primary_key=True),
        sa.Column("department_code", sa.String(32), nullable=False),
        sa.Column("deadline_days", sa.Integer, nullable=False),
        sa.Column("requires_after_photo", sa.Boolean, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("catalog_overrides")
