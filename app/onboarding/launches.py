"""Test launches seen by discovery, recorded in batches off the hot path."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.branding.models import AccessCode
from app.onboarding.models import TestLaunch


def record_test_launches(session: Session, digests: Iterable[str]) -> int:
    """Record the first launch of each test code in ``digests`` not yet recorded; returns how many are new.

    No audit event: this is a fact observed by the service, not a change someone made.
    """
    wanted = set(digests)
    if not wanted:
        return 0
    known = set(session.scalars(select(TestLaunch.digest).where(TestLaunch.digest.in_(wanted))))
    rows = session.execute(
        select(AccessCode.digest, AccessCode.partner_id).where(
            AccessCode.digest.in_(wanted - known), AccessCode.kind == "test"
        )
    ).all()
    for digest, partner_id in rows:
        session.add(TestLaunch(digest=digest, partner_id=partner_id))
    return len(rows)


def has_test_launch(session: Session, partner_id: int) -> bool:
    """Whether any test code of ``partner_id`` has launched."""
    return session.scalar(select(TestLaunch.digest).where(TestLaunch.partner_id == partner_id).limit(1)) is not None
