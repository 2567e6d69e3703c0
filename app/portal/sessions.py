"""Server-side portal sessions: a random id in the cookie, its sha256 in a row, timeouts, revocation.

A new id is issued at every sign-in step (fixation-safe); a session ends after ``idle`` without a
request or ``absolute`` after sign-in, whichever comes first, and when revoked (sign out, sign out
everywhere, password change). No Flask here and no commits.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from app.portal.models import PortalSession, PortalUser

TOUCH_EVERY = timedelta(seconds=60)  # last_seen is written at most this often (not on every request)


class Timeouts(NamedTuple):
    idle: timedelta
    absolute: timedelta


def session_digest(session_id: str) -> str:
    """How a session id is stored."""
    return hashlib.sha256(session_id.encode("utf-8", "surrogateescape")).hexdigest()


def start_session(
    session: Session, user: PortalUser, *, stage: str, now: datetime, address_digest: str = "", user_agent: str = ""
) -> tuple[PortalSession, str]:
    """A new session row for ``user`` at ``stage`` (``totp`` or ``full``); returns it and the cookie value."""
    session_id = secrets.token_urlsafe(32)
    row = PortalSession(
        digest=session_digest(session_id),
        user_id=user.id,
        stage=stage,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        address_digest=address_digest,
        user_agent=user_agent[:200],
    )
    session.add(row)
    return row, session_id


def load_session(session: Session, session_id: str, now: datetime, timeouts: Timeouts) -> PortalSession | None:
    """The live session behind a cookie value, touched; None when unknown, revoked or timed out."""
    if not session_id or len(session_id) > 100:
        return None
    row = session.scalar(select(PortalSession).where(PortalSession.digest == session_digest(session_id)))
    if row is None or row.revoked_at is not None:
        return None
    if now - row.last_seen_at >= timeouts.idle or now - row.created_at >= timeouts.absolute:
        row.revoked_at = now
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return row


def revoke(row: PortalSession, now: datetime) -> None:
    """End one session (sign out)."""
    if row.revoked_at is None:
        row.revoked_at = now


def revoke_all(session: Session, user_id: int, now: datetime, *, keep: PortalSession | None = None) -> int:
    """End every session of ``user_id`` (but ``keep``); returns how many were ended."""
    stmt = update(PortalSession).where(PortalSession.user_id == user_id, PortalSession.revoked_at.is_(None))
    if keep is not None:
        stmt = stmt.where(PortalSession.id != keep.id)
    return session.execute(stmt.values(revoked_at=now), execution_options={"synchronize_session": False}).rowcount


def active_sessions(session: Session, user_id: int, now: datetime, timeouts: Timeouts) -> list[PortalSession]:
    """The user's sessions that would still be accepted, newest first."""
    rows = session.scalars(
        select(PortalSession)
        .where(PortalSession.user_id == user_id, PortalSession.revoked_at.is_(None))
        .order_by(PortalSession.id.desc())
    )
    return [r for r in rows if now - r.last_seen_at < timeouts.idle and now - r.created_at < timeouts.absolute]


def prune(session: Session, now: datetime, retention: timedelta, timeouts: Timeouts) -> int:
    """Delete session rows ended (or timed out) more than ``retention`` ago; returns how many."""
    cutoff = now - retention
    stmt = delete(PortalSession).where(
        or_(
            PortalSession.revoked_at < cutoff,
            PortalSession.last_seen_at < cutoff - timeouts.idle,
            PortalSession.created_at < cutoff - timeouts.absolute,
        )
    )
    return session.execute(stmt).rowcount
