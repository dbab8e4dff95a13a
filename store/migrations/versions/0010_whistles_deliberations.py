"""吹哨报到 and 多元议事 as records.

A whistle (``whistles``) is blown on a case and summons each department of the whistle
group of the case's community kind (``whistle_summons``: one row per department, with the
time it reported in, 报到, and its response). A deliberation (``deliberations``) records a
多元议事 meeting: when, where, in which community (and grid), the matter and the outcome
agreed, its participants by kind (``deliberation_participants``) and photos
(``deliberation_photos``); it may be held on a case and settle it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from store.schema import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "whistles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("complaint_id", sa.Integer, sa.ForeignKey("complaints.id"), nullable=False, index=True),
        sa.Column("group_code", sa.String(32), nullable=False),
        sa.Column("blown_at", UtcDateTime, nullable=False, index=True),
        sa.Column("blown_by", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
    )
    op.create_table(
        "whistle_summons",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("whistle_id", sa.Integer, sa.ForeignKey("whistles.id"), nullable=False, index=True),
        sa.Column("department_code", sa.String(32), nullable=False),
        sa.Column("reported_at", UtcDateTime),
        sa.Column("reported_by", sa.Text),
        sa.Column("responded_at", UtcDateTime),
        sa.Column("responded_by", sa.Text),
        sa.Column("response", sa.Text),
        sa.UniqueConstraint("whistle_id", "department_code", name="uq_whistle_summons_department"),
    )
    op.create_table(
        "deliberations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("held_at", UtcDateTime, nullable=False),
        sa.Column("place", sa.Text, nullable=False),
        sa.Column("grid_code", sa.String(15), index=True),
        sa.Column("community_code", sa.String(12), nullable=False, index=True),
        sa.Column("matter", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("minutes", sa.Text),
        sa.Column("complaint_id", sa.Integer, sa.ForeignKey("complaints.id"), index=True),
        sa.Column("settled", sa.Boolean, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "deliberation_participants",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "deliberation_id", sa.Integer, sa.ForeignKey("deliberations.id"), nullable=False, index=True
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("affiliation", sa.Text),
    )
    op.create_table(
        "deliberation_photos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "deliberation_id", sa.Integer, sa.ForeignKey("deliberations.id"), nullable=False, index=True
        ),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("stored_as", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "deliberation_photos",
        "deliberation_participants",
        "deliberations",
        "whistle_summons",
        "whistles",
    ):
        op.drop_table(table)
