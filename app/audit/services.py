"""Recording audit events; called by every service that writes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.audit.models import AuditEvent


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    resource_type: str,
    resource_id: object,
    partner_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the current unit of work."""
    event = AuditEvent(
        actor=actor,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id),
        partner_id=partner_id,
        before=before,
        after=after,
    )
    session.add(event)
    return event
