"""Tables of the audit domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int | None]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(63))
    resource_type: Mapped[str] = mapped_column(String(63))
    resource_id: Mapped[str] = mapped_column(String(100))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_audit_events_partner_id_id", "partner_id", "id"),)
