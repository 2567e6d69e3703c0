"""Partner fixes: one revision number (drop brand_revisions.content_revision); releases.file_name.

Revision ID: 0004_partner_fixes
Revises: 0003_licensing
Create Date: 2026-11-30 22:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_partner_fixes"
down_revision = "0003_licensing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("brand_revisions", schema=None) as batch_op:
        batch_op.drop_column("content_revision")
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("file_name", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_column("file_name")
    # the old meaning: the number of the first revision with the same content
    with op.batch_alter_table("brand_revisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_revision", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE brand_revisions SET content_revision = (SELECT MIN(r.number) FROM brand_revisions r"
        " WHERE r.brand_id = brand_revisions.brand_id AND r.content_sha256 = brand_revisions.content_sha256)"
    )
    with op.batch_alter_table("brand_revisions", schema=None) as batch_op:
        batch_op.alter_column("content_revision", existing_type=sa.Integer(), nullable=False)
