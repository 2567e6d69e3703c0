"""Licensing: resellers, end customers, licensed users, allocation history, per-partner settings, usage facts.

Revision ID: 0003_licensing
Revises: 0009_licensing_verify
Create Date: 2026-11-30 21:56:21.554354
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0003_licensing"
down_revision = "0009_licensing_verify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "allocation_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("licensed_user_id", sa.Integer(), nullable=False),
        sa.Column("user_key", sa.String(length=256), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("reseller_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("licence_type", sa.String(length=63), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_allocation_events_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_events")),
    )
    with op.batch_alter_table("allocation_events", schema=None) as batch_op:
        batch_op.create_index("ix_allocation_events_partner_id_at", ["partner_id", "at"], unique=False)

    op.create_table(
        "resellers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("seat_cap", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_resellers_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resellers")),
    )
    with op.batch_alter_table("resellers", schema=None) as batch_op:
        batch_op.create_index("ix_resellers_partner_id_id", ["partner_id", "id"], unique=False)

    op.create_table(
        "usage_facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("user_key", sa.String(length=256), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("licence_type", sa.String(length=63), nullable=True),
        sa.Column("first_check_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_check_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("check_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_usage_facts_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_facts")),
        sa.UniqueConstraint("partner_id", "month", "user_key", name=op.f("uq_usage_facts_partner_id_month_user_key")),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("reseller_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("seat_cap", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_customers_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reseller_id"], ["resellers.id"], name=op.f("fk_customers_reseller_id_resellers"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index("ix_customers_partner_id_id", ["partner_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_reseller_id"), ["reseller_id"], unique=False)

    op.create_table(
        "licensed_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("reseller_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.String(length=256), nullable=False),
        sa.Column("user_key", sa.String(length=256), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("licence_type", sa.String(length=63), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_licensed_users_customer_id_customers"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_licensed_users_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reseller_id"], ["resellers.id"], name=op.f("fk_licensed_users_reseller_id_resellers"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licensed_users")),
        sa.UniqueConstraint("partner_id", "user_key", name=op.f("uq_licensed_users_partner_id_user_key")),
    )
    with op.batch_alter_table("licensed_users", schema=None) as batch_op:
        batch_op.create_index("ix_licensed_users_customer_id_status_id", ["customer_id", "status", "id"], unique=False)
        batch_op.create_index("ix_licensed_users_partner_id_id", ["partner_id", "id"], unique=False)
        batch_op.create_index("ix_licensed_users_reseller_id_status_id", ["reseller_id", "status", "id"], unique=False)

    op.create_table(
        "licensing_settings",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("licence_types", sa.JSON(), nullable=False),
        sa.Column("lease_days", sa.Integer(), nullable=False),
        sa.Column("grace_lease_hours", sa.Integer(), nullable=False),
        sa.Column("grace_max_hours", sa.Integer(), nullable=False),
        sa.Column("positive_cache_seconds", sa.Integer(), nullable=False),
        sa.Column("negative_cache_seconds", sa.Integer(), nullable=False),
        sa.Column("web_service_url_template", sa.String(length=2000), nullable=False),
        sa.Column("web_service_secrets", sa.JSON(), nullable=False),
        sa.Column("proprietary_adapter", sa.String(length=63), nullable=False),
        sa.Column("proprietary_settings", sa.JSON(), nullable=False),
        sa.Column("method_settings", sa.JSON(), nullable=False),
        sa.Column("scim_customer_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_licensing_settings_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["scim_customer_id"],
            ["customers.id"],
            name=op.f("fk_licensing_settings_scim_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_licensing_settings")),
    )


def downgrade() -> None:
    # dropping a table drops its indexes
    for table in ("licensing_settings", "licensed_users", "customers", "usage_facts", "resellers", "allocation_events"):
        op.drop_table(table)
