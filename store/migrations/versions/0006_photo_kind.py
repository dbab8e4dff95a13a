"""Complaint photos: their kind, 'before' (taken at intake) or 'after' (the work done).

A category may require an after photo before its cases are resolved
(``requires_after_photo`` in ``data/catalog/categories.csv``). Null for photos kept before
this column existed; they count as before photos.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaint_photos") as batch:
        batch.add_column(sa.Column("kind", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("complaint_photos") as batch:
        batch.drop_column("kind")
