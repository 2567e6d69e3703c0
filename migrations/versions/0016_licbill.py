"""Allocation intervals: ``allocation_events.allocated_until`` (where the allocation an event starts
ended), so a month's count reads only the events whose interval overlaps the month, with its
indexes; existing events are filled in from their successors.

Revision ID: 0016_licbill
Revises: 0011_viewer_onboarding
Create Date: 2026-12-01 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0016_licbill"
down_revision = "0011_viewer_onboarding"
branch_labels = None
depends_on = None

# the next event of the same licensed user, in (at, id) order, ends an event's interval; an event
# whose state is not allocated ends its allocation at once (it starts none)
BACKFILL = """
UPDATE allocation_events SET allocated_until = CASE
    WHEN action = 'removed' OR status <> 'active' THEN at
    ELSE (
        SELECT MIN(later.at) FROM allocation_events later
        WHERE later.licensed_user_id = allocation_events.licensed_user_id
          AND later.partner_id = allocation_events.partner_id
          AND (later.at > allocation_events.at OR (later.at = allocation_events.at AND later.id > allocation_events.id))
    )
END
"""


def upgrade() -> None:
    with op.batch_alter_table("allocation_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("allocated_until", app.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_allocation_events_licensed_user_id_allocated_until",
            ["licensed_user_id", "allocated_until"],
            unique=False,
        )
        batch_op.create_index(
            "ix_allocation_events_partner_id_allocated_until", ["partner_id", "allocated_until"], unique=False
        )
    op.execute(BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("allocation_events", schema=None) as batch_op:
        batch_op.drop_index("ix_allocation_events_partner_id_allocated_until")
        batch_op.drop_index("ix_allocation_events_licensed_user_id_allocated_until")
        batch_op.drop_column("allocated_until")
