"""CRM viewer and onboarding: the integrations catalogue, brand URL slugs, the onboarding
checklist, test launches seen by discovery and a partner's scheduled go-live.

Existing brands get the slug ``brand-{id}`` (operators may create new brands with their own).

Revision ID: 0011_viewer_onboarding
Revises: 0010_billing
Create Date: 2026-11-30 22:28:09.886433
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0011_viewer_onboarding"
down_revision = "0010_billing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("logo_sha256", sa.String(length=64), nullable=True),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("deployment", sa.String(length=32), nullable=False),
        sa.Column("platforms", sa.JSON(), nullable=False),
        sa.Column("min_client_version", sa.String(length=32), nullable=False),
        sa.Column("setup_markdown", sa.String(length=20000), nullable=False),
        sa.Column("docs_url", sa.String(length=2000), nullable=True),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrations")),
        sa.UniqueConstraint("slug", name=op.f("uq_integrations_slug")),
    )
    op.create_table(
        "onboarding_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=16), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_onboarding_steps_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onboarding_steps")),
        sa.UniqueConstraint("partner_id", "key", name=op.f("uq_onboarding_steps_partner_id_key")),
    )
    op.create_table(
        "test_launches",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_test_launches_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_test_launches")),
    )
    with op.batch_alter_table("test_launches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_test_launches_partner_id"), ["partner_id"], unique=False)

    with op.batch_alter_table("brands", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slug", sa.String(length=63), nullable=True))
    op.execute("UPDATE brands SET slug = 'brand-' || CAST(id AS VARCHAR(20))")
    with op.batch_alter_table("brands", schema=None) as batch_op:
        batch_op.alter_column("slug", existing_type=sa.String(length=63), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_brands_slug"), ["slug"])

    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("go_live_at", app.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("go_live_at")

    with op.batch_alter_table("brands", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_brands_slug"), type_="unique")
        batch_op.drop_column("slug")

    with op.batch_alter_table("test_launches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_test_launches_partner_id"))

    op.drop_table("test_launches")
    op.drop_table("onboarding_steps")
    op.drop_table("integrations")
