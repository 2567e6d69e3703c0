"""Licensing: go-live verification runs of partners' web services; last good answers for grace.

Revision ID: 0009_licensing_verify
Revises: 0002_upgrades
Create Date: 2026-11-30 21:58:26.985754
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0009_licensing_verify"
down_revision = "0002_upgrades"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "licensing_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("ran_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_licensing_verifications_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licensing_verifications")),
    )
    op.create_index(
        "ix_licensing_verifications_partner_id_id", "licensing_verifications", ["partner_id", "id"], unique=False
    )
    op.create_table(
        "licensing_last_good",
        sa.Column("partner_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("user_digest", sa.String(length=64), nullable=False),
        sa.Column("licence_type", sa.String(length=63), nullable=False),
        sa.Column("answered_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("partner_id", "user_digest", name=op.f("pk_licensing_last_good")),
    )
    op.create_index("ix_licensing_last_good_answered_at", "licensing_last_good", ["answered_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_licensing_last_good_answered_at", table_name="licensing_last_good")
    op.drop_table("licensing_last_good")
    op.drop_index("ix_licensing_verifications_partner_id_id", table_name="licensing_verifications")
    op.drop_table("licensing_verifications")
