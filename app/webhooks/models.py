"""Tables of outbound webhooks: each partner's endpoint and every delivery of an event to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.resources import NOTHING_PUBLIC, audited_resource
from app.db import Base, UTCDateTime, utcnow

DELIVERY_STATES = ("pending", "delivered", "failed")


class WebhookEndpoint(Base):
    """Where a partner receives Livery's events, and the secrets they are signed with (newest first)."""

    __tablename__ = "webhook_endpoints"

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    enabled: Mapped[bool] = mapped_column(default=True)
    secrets: Mapped[list] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}


class WebhookDelivery(Base):
    """One event for one partner: queued with the change that caused it, sent until delivered or expired."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(64), unique=True)  # webhook-id: the receiver's dedupe key
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str] = mapped_column(String(500), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_partner_id_id", "partner_id", "id"),
    )


def _endpoint_snapshot(row: WebhookEndpoint) -> dict[str, Any]:
    # never a secret in the audit log: only how many there are
    return {"url": row.url, "enabled": row.enabled, "secrets": len(row.secrets or [])}


audited_resource(
    WebhookEndpoint,
    "webhook_endpoint",
    snapshot=_endpoint_snapshot,
    announces=NOTHING_PUBLIC,
    ident=lambda row: row.partner_id,
)
