"""Notifications: the outbox of messages to send, and who receives them.

A message is written in the same transaction as the action that causes it (a dispatch, a
return, a resolution that makes a follow-up due) or by the periodic deadline scan; a
delivery worker sends it later. ``dedupe_key`` is unique, so the scan may run any number
of times and a case gets one message per deadline per kind per recipient address.
``notify_contacts`` holds the addresses of departments and the dispatch centre (grid
teams are reached through the officials' roster).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from store.schema import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
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
    op.create_index("ix_outbox_status_next_at", "outbox", ["status", "next_at"])
    op.create_table(
        "notify_contacts",
        sa.Column("owner_kind", sa.String(16), primary_key=True),
        sa.Column("owner_code", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("address", sa.String(500), primary_key=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notify_contacts")
    op.drop_index("ix_outbox_status_next_at", "outbox")
    op.drop_table("outbox")
