"""Billing: closed monthly usage reports (versions and rows), partner-submitted usage reports (versions and rows).

Revision ID: 0010_billing
Revises: 0004_partner_fixes
Create Date: 2026-11-30 22:28:22.508550
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0010_billing"
down_revision = "0004_partner_fixes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("closed_by", sa.String(length=100), nullable=False),
        sa.Column("closed_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("csv_sha256", sa.String(length=64), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_usage_reports_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_reports")),
        sa.UniqueConstraint("partner_id", "month", "version", name=op.f("uq_usage_reports_partner_id_month_version")),
    )
    op.create_table(
        "usage_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("submitted_by", sa.String(length=100), nullable=False),
        sa.Column("submitted_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("users", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_usage_submissions_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_submissions")),
        sa.UniqueConstraint(
            "partner_id", "idempotency_key", name=op.f("uq_usage_submissions_partner_id_idempotency_key")
        ),
        sa.UniqueConstraint(
            "partner_id", "month", "version", name=op.f("uq_usage_submissions_partner_id_month_version")
        ),
    )
    op.create_table(
        "usage_report_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("user_key", sa.String(length=256), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("reseller_id", sa.Integer(), nullable=True),
        sa.Column("reseller", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("customer", sa.String(length=200), nullable=False),
        sa.Column("licence_type", sa.String(length=63), nullable=False),
        sa.Column("evidence_from", sa.String(length=20), nullable=False),
        sa.Column("evidence_to", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["usage_reports.id"],
            name=op.f("fk_usage_report_rows_report_id_usage_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_report_rows")),
    )
    with op.batch_alter_table("usage_report_rows", schema=None) as batch_op:
        batch_op.create_index("ix_usage_report_rows_report_id_user_key", ["report_id", "user_key"], unique=False)

    op.create_table(
        "usage_submission_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("user_key", sa.String(length=256), nullable=False),
        sa.Column("licence_type", sa.String(length=63), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["usage_submissions.id"],
            name=op.f("fk_usage_submission_rows_submission_id_usage_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_submission_rows")),
    )
    with op.batch_alter_table("usage_submission_rows", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_submission_rows_submission_id_user_key", ["submission_id", "user_key"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_submission_rows", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_submission_rows_submission_id_user_key")

    op.drop_table("usage_submission_rows")
    with op.batch_alter_table("usage_report_rows", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_report_rows_report_id_user_key")

    op.drop_table("usage_report_rows")
    op.drop_table("usage_submissions")
    op.drop_table("usage_reports")
