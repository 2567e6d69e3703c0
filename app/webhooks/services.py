"""Webhook services: the partner's endpoint (set, rotate its secret, read), queueing events, the log.

Events are queued in the unit of work of the change they describe (an outbox): a halt that rolls
back queues nothing, a committed one always has its delivery row. Nothing here sends anything:
app/webhooks/delivery.py does, off every request thread. No commits: the caller owns the unit of work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import audited
from app.db import utcnow
from app.outbound.signing import new_message_id, new_secret, secret_hint
from app.webhooks.models import WebhookDelivery, WebhookEndpoint

EVENT_TYPES = (
    "channel.halted",
    "channel.resumed",
    "control_file.activated",
    "plan.step_advanced",
    "plan.paused",
    "plan.completed",
)
MAX_SECRETS = 2  # the newest, and during a rotation the previous one


def endpoint_of(session: Session, partner_id: int) -> WebhookEndpoint | None:
    """The partner's webhook endpoint, or None."""
    return session.get(WebhookEndpoint, partner_id)


def set_endpoint(
    session: Session, partner_id: int, *, url: str, enabled: bool, rotate_secret: bool, drop_old: bool, actor: str
) -> tuple[WebhookEndpoint, str | None]:
    """Create or change the partner's endpoint (audited); a new or rotated secret is returned only now."""
    row = endpoint_of(session, partner_id)
    secret = None
    with audited(session, actor, "webhook_endpoint.set", row) as change:
        if row is None:
            change.row = row = WebhookEndpoint(partner_id=partner_id, url=url, enabled=enabled, secrets=[])
            session.add(row)
            rotate_secret = True  # a new endpoint always gets its first secret
        row.url = url
        row.enabled = enabled
        if rotate_secret:
            secret = new_secret()
            row.secrets = [secret, *row.secrets][:MAX_SECRETS]
        if drop_old:
            row.secrets = list(row.secrets[:1])
    return row, secret


def secret_hints(row: WebhookEndpoint) -> list[str]:
    """The first characters of each secret, newest first (what reads show)."""
    return [secret_hint(secret) for secret in row.secrets]


def queue_event(session: Session, partner_id: int, event_type: str, data: dict[str, Any]) -> WebhookDelivery | None:
    """Queue ``event_type`` for the partner's enabled endpoint (None when it has none)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event_type!r}")
    endpoint = endpoint_of(session, partner_id)
    if endpoint is None or not endpoint.enabled:
        return None
    now = utcnow()
    message_id = new_message_id()
    delivery = WebhookDelivery(
        partner_id=partner_id,
        message_id=message_id,
        event_type=event_type,
        # the Standard Webhooks body shape: type, timestamp, data
        payload={"type": event_type, "timestamp": now.isoformat().replace("+00:00", "Z"), "data": data},
        status="pending",
        created_at=now,
        next_attempt_at=now,
    )
    session.add(delivery)
    return delivery


def deliveries_query(partner_id: int, status: str | None = None, since: datetime | None = None):
    """The partner's deliveries, for the admin log (filtered by status and creation time)."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.partner_id == partner_id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    if since is not None:
        stmt = stmt.where(WebhookDelivery.created_at >= since)
    return stmt
