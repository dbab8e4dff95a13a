"""A grid-team member signs in as themself: ``users.official_id`` links an account to its roster entry.

A user of the ``grid`` role is a person on the roster (``officials``). The link is the roster
id rather than a phone: an account has no phone of its own, a phone is typed several ways and
changes hands, and one roster id names one post at one unit for one term. The person's other
posts (the same phone, as ``geo.officials.Assignment.key`` treats a person) are found from it,
so the account sees every grid the person serves. No foreign key: a roster row is never
deleted (re-imports update it in place), and a link to a finished term simply finds no
active post.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("official_id", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("official_id")
