"""User preferences: a person's settings kept between sessions and browsers.

The first is the dispatcher's datum for pasted coordinates (GCJ-02 by default, since
Amap, Tencent and WeChat location shares give GCJ-02): a dispatcher who works from GPS
devices chooses WGS84 once and finds it chosen on every computer.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from store.schema import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_preferences",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("user_preferences")
