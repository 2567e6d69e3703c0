"""Recording audit events: every service write goes through ``audited``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.audit.resources import Snapshot, resource_of
from app.freshness.services import announce_change


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


@dataclass
class AuditedChange:
    """The change in progress inside ``audited``: set ``row`` when creating one, add to ``extra``
    what the ``after`` snapshot should also say (e.g. the revision published)."""

    row: Any
    before: Snapshot | None
    extra: dict[str, Any] = field(default_factory=dict)


@contextmanager
def audited(session: Session, actor: str, action: str, row: Any = None) -> Iterator[AuditedChange]:
    """The one audited-change step: snapshot, change (the ``with`` body), flush, audit event, announce.

    ``row`` is the row changed (None when the body creates it: set ``change.row``). Its model's
    registration (app/audit/resources.py) names the event and the public answers to announce, so
    no write can forget the announcement that keeps other workers fresh. Nothing is recorded
    when the body raises.
    """
    change = AuditedChange(row, resource_of(row).snapshot(row) if row is not None else None)
    yield change
    row = change.row
    resource = resource_of(row)
    session.flush()
    record_event(
        session,
        actor=actor,
        action=action,
        resource_type=resource.type,
        resource_id=resource.ident(row),
        partner_id=resource.partner_of(row),
        before=change.before,
        after={**resource.snapshot(row), **change.extra},
    )
    for topic, key in resource.announces(session, row, change.before):
        announce_change(session, topic, key)
