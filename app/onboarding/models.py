"""Tables of the onboarding domain."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.resources import NOTHING_PUBLIC, audited_resource
from app.db import Base, UTCDateTime, utcnow


class OnboardingStep(Base):
    """One step of a partner's onboarding checklist, as the vendor and partner agreed it.

    A step has a row only once an operator edits it; until then it shows its defaults (checklist.py).
    """

    __tablename__ = "onboarding_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="todo")
    owner: Mapped[str] = mapped_column(String(16))
    due_on: Mapped[date | None] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(2000), default="")
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (UniqueConstraint("partner_id", "key"),)


class TestLaunch(Base):
    """The first time discovery saw a test code launch (go-live readiness needs one per partner)."""

    __tablename__ = "test_launches"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def _step_snapshot(step: OnboardingStep) -> dict[str, Any]:
    return {
        "key": step.key,
        "status": step.status,
        "owner": step.owner,
        "due_on": step.due_on.isoformat() if step.due_on else None,
        "done_on": step.done_on.isoformat() if step.done_on else None,
        "note": step.note,
    }


# The checklist is for people: no public answer shows it.
audited_resource(
    OnboardingStep, "onboarding_step", snapshot=_step_snapshot, announces=NOTHING_PUBLIC, ident=lambda s: s.key
)
