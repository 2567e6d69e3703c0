"""Announcing changes and reading them back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.freshness.models import TOPICS, ChangeEvent

PENDING_KEY = "livery.changes"  # session.info: changes to apply in this process once committed


def announce_change(session: Session, topic: str, key: object = "") -> None:
    """Record, in the current unit of work, that public answers about ``topic``/``key`` changed."""
    if topic not in TOPICS:
        raise ValueError(f"unknown change topic {topic!r}")
    session.add(ChangeEvent(topic=topic, key=str(key)))
    session.info.setdefault(PENDING_KEY, []).append((topic, str(key)))


# built once: an unknown access code asks this on the hot path (PublicAnswers._look_again)
_LATEST_ID = select(func.coalesce(func.max(ChangeEvent.id), 0))


def latest_change_id(session: Session) -> int:
    """The id of the newest change event (0 when there is none)."""
    return session.scalar(_LATEST_ID) or 0


def changes_after(session: Session, after_id: int, limit: int = 1000) -> list[tuple[int, str, str]]:
    """Change events newer than ``after_id``, oldest first, as (id, topic, key)."""
    rows = session.execute(
        select(ChangeEvent.id, ChangeEvent.topic, ChangeEvent.key)
        .where(ChangeEvent.id > after_id)
        .order_by(ChangeEvent.id)
        .limit(limit)
    )
    return [tuple(row) for row in rows]


def prune_changes(session: Session, older_than: datetime, *, limit: int | None = None) -> int:
    """Delete change events older than ``older_than`` (never the newest), at most ``limit`` of the
    oldest when given; returns how many."""
    newest = latest_change_id(session)
    doomed = select(ChangeEvent.id).where(ChangeEvent.created_at < older_than, ChangeEvent.id < newest)
    if limit is not None:
        doomed = doomed.order_by(ChangeEvent.id).limit(limit)
    result = session.execute(delete(ChangeEvent).where(ChangeEvent.id.in_(doomed)))
    return result.rowcount or 0
