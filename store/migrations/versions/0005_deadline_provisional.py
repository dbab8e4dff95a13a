"""Complaints: whether the deadline was counted on a provisional calendar year.

A dispatch whose deadline runs into a year without its official holiday schedule is counted on
the statutory holidays alone (no make-up working days) and marked here; loading that year's
schedule recomputes such deadlines. Null for cases dispatched before this column existed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("deadline_provisional", sa.Boolean))


def downgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("deadline_provisional")
