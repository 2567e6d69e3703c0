"""Upgrade safety: install reports and their per-minute counts, the halt guard's settings on
channels, outbound webhooks (endpoints, deliveries), rollout plans and their timeline, two-person
approvals and the partner's upgrade policy.

Existing channels get the default guard (on; 5 % with at least 50 reports in 60 minutes).

Revision ID: 0013_upgrade_safety
Revises: 0012_portal
Create Date: 2026-12-01 00:51:16.394465
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0013_upgrade_safety"
down_revision = "0012_portal"  # was 0011_viewer_onboarding; re-chained onto main's head
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "install_report_minutes",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=63), nullable=False),
        sa.Column("minute", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("to_version", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_install_report_minutes_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "partner_id", "channel", "minute", "to_version", "outcome", name=op.f("pk_install_report_minutes")
        ),
    )
    op.create_table(
        "install_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=63), nullable=False),
        sa.Column("install_id", sa.String(length=128), nullable=False),
        sa.Column("from_version", sa.String(length=64), nullable=False),
        sa.Column("to_version", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("serial", sa.Integer(), nullable=False),
        sa.Column("received_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_install_reports_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_install_reports")),
        sa.UniqueConstraint(
            "partner_id",
            "install_id",
            "to_version",
            "outcome",
            name=op.f("uq_install_reports_partner_id_install_id_to_version_outcome"),
        ),
    )
    with op.batch_alter_table("install_reports", schema=None) as batch_op:
        batch_op.create_index("ix_install_reports_partner_id_id", ["partner_id", "id"], unique=False)
        batch_op.create_index("ix_install_reports_received", ["partner_id", "channel", "received_at"], unique=False)

    op.create_table(
        "upgrade_policies",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("two_person", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_upgrade_policies_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_upgrade_policies")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("delivered_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_webhook_deliveries_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("message_id", name=op.f("uq_webhook_deliveries_message_id")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_deliveries_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_webhook_deliveries_partner_id_id", ["partner_id", "id"], unique=False)

    op.create_table(
        "webhook_endpoints",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("secrets", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_webhook_endpoints_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("requested_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=100), nullable=False),
        sa.Column("approved_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_approvals_channel_id_channels"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_approvals_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
    )
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approvals_channel_id"), ["channel_id"], unique=False)

    op.create_table(
        "rollout_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("release_version", sa.String(length=64), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("current_step", sa.Integer(), nullable=False),
        sa.Column("step_started_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pause_reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_rollout_plans_channel_id_channels"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_rollout_plans_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollout_plans")),
    )
    with op.batch_alter_table("rollout_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rollout_plans_channel_id"), ["channel_id"], unique=False)

    op.create_table(
        "rollout_plan_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("percent", sa.String(length=8), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["rollout_plans.id"],
            name=op.f("fk_rollout_plan_events_plan_id_rollout_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollout_plan_events")),
    )
    with op.batch_alter_table("rollout_plan_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rollout_plan_events_plan_id"), ["plan_id"], unique=False)

    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("guard_enabled", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("guard_failure_bp", sa.Integer(), nullable=False, server_default="500"))
        batch_op.add_column(sa.Column("guard_min_reports", sa.Integer(), nullable=False, server_default="50"))
        batch_op.add_column(sa.Column("guard_window_minutes", sa.Integer(), nullable=False, server_default="60"))
        batch_op.add_column(sa.Column("guard_since", app.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_column("guard_since")
        batch_op.drop_column("guard_window_minutes")
        batch_op.drop_column("guard_min_reports")
        batch_op.drop_column("guard_failure_bp")
        batch_op.drop_column("guard_enabled")

    with op.batch_alter_table("rollout_plan_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rollout_plan_events_plan_id"))

    op.drop_table("rollout_plan_events")
    with op.batch_alter_table("rollout_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rollout_plans_channel_id"))

    op.drop_table("rollout_plans")
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approvals_channel_id"))

    op.drop_table("approvals")
    op.drop_table("webhook_endpoints")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_partner_id_id")
        batch_op.drop_index("ix_webhook_deliveries_due")

    op.drop_table("webhook_deliveries")
    op.drop_table("upgrade_policies")
    with op.batch_alter_table("install_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_install_reports_received")
        batch_op.drop_index("ix_install_reports_partner_id_id")

    op.drop_table("install_reports")
    op.drop_table("install_report_minutes")
