"""The append-only audit log, and grants (sources a caller may file under, a key's department).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from store.schema import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("who", sa.Text, nullable=False),
        sa.Column("role", sa.String(16)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.Text),
        sa.Column("detail", sa.JSON),
        sa.Column("address", sa.String(64)),
    )
    for column in ("at", "who", "action"):
        op.create_index(f"ix_audit_log_{column}", "audit_log", [column])
    op.create_table(
        "grants",
        sa.Column("grantee", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("value", sa.String(200), primary_key=True),
        sa.Column("granted_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("grants")
    for column in ("at", "who", "action"):
        op.drop_index(f"ix_audit_log_{column}", "audit_log")
    op.drop_table("audit_log")
