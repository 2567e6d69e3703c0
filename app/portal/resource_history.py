"""The history pane of a resource: its audit events, newest first (part B's screens)."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.db import session

HISTORY_ROWS = 20


def audit_history(resource_type: str, resource_id: object, *, limit: int = HISTORY_ROWS) -> list[AuditEvent]:
    """The latest audit events of one resource (``resource_id`` as the audit log names it)."""
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.resource_type == resource_type, AuditEvent.resource_id == str(resource_id))
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    return list(session().scalars(stmt))


def form_id(raw: str) -> int | None:
    """A numeric form or query value as a row id (None when absent, not a number or too long)."""
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 10 else None
