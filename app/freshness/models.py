"""Tables of the freshness domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

# licensing: a partner's licensing settings, seat caps or whole user list (key: partner id);
# licensed_user: one licensed user (key: "<partner id>:<row id>:<index key before the change>")
LICENSING_TOPICS = ("licensing", "licensed_user")
TOPICS = ("partner", "brand", "code", "settings", "channel", *LICENSING_TOPICS)


class ChangeEvent(Base):
    """Something a public answer depends on changed: ``topic`` names what, ``key`` which one."""

    __tablename__ = "change_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
