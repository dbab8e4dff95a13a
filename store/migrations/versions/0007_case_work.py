"""Case work beyond the happy path: who in the grid team holds a case, and an extension asked for.

``complaints.assignee`` is the roster id (``officials.id``) of the grid-team member a case is
assigned to (指派), so a person's queue is one indexed query. ``extension_deadline`` is the
deadline a department asked for (延期申请) while the dispatch centre has not yet decided:
the dispatch centre's queue of extension requests is the cases where it is set.
``complaint_events.assignee`` records each assignment in the history.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from store.schema import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("assignee", sa.String(64)))
        batch.add_column(sa.Column("extension_deadline", UtcDateTime))
    with op.batch_alter_table("complaint_events") as batch:
        batch.add_column(sa.Column("assignee", sa.String(64)))
    op.create_index("ix_complaints_assignee", "complaints", ["assignee"])


def downgrade() -> None:
    op.drop_index("ix_complaints_assignee", table_name="complaints")
    with op.batch_alter_table("complaint_events") as batch:
        batch.drop_column("assignee")
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("extension_deadline")
        batch.drop_column("assignee")
