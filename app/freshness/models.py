"""Tables of the freshness domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

TOPICS = ("partner", "brand", "code", "settings", "channel", "licensing")


class ChangeEvent(Base):
    """Something a public answer depends on changed: ``topic`` names what, ``key`` which one."""

    __tablename__ = "change_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
