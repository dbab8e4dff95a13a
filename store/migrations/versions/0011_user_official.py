"""A grid-team member signs in as themself (``users.official_id``), and the work queues count fast.

``users.official_id`` links an account to its roster entry.

A user of the ``grid`` role is a person on the roster (``officials``). The link is the roster
id rather than a phone: an account has no phone of its own, a phone is typed several ways and
changes hands, and one roster id names one post at one unit for one term. The person's other
posts (the same phone, as ``geo.officials.Assignment.key`` treats a person) are found from it,
so the account sees every grid the person serves. No foreign key: a roster row is never
deleted (re-imports update it in place), and a link to a finished term simply finds no
active post.

The work queues (我的待办) count on every page view: three indexes make each count read only
the rows it counts (measured on the 50,000-case demo, SQLite: the overdue count 45 → 2 ms, the
pending extensions 68 → 1 ms, a department's open cases 60 → 2 ms); the list filters by
community with an index of its own.

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
    op.create_index("ix_complaints_state_deadline", "complaints", ["state", "deadline"])
    op.create_index(
        "ix_complaints_department_state_deadline", "complaints", ["department_code", "state", "deadline"]
    )
    op.create_index("ix_complaints_extension_deadline", "complaints", ["extension_deadline"])
    op.create_index("ix_complaints_community_code", "complaints", ["community_code"])


def downgrade() -> None:
    op.drop_index("ix_complaints_community_code", table_name="complaints")
    op.drop_index("ix_complaints_extension_deadline", table_name="complaints")
    op.drop_index("ix_complaints_department_state_deadline", table_name="complaints")
    op.drop_index("ix_complaints_state_deadline", table_name="complaints")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("official_id")
