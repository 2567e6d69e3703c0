"""The stored results of go-live verifications of partners' web services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.resources import NOTHING_PUBLIC, audited_resource
from app.db import Base, UTCDateTime, utcnow


class LicensingVerification(Base):
    """One run of the contract suite against a partner's configured web service, and its report."""

    __tablename__ = "licensing_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    passed: Mapped[bool]
    # the checks, their details and latencies; never a user id (the known user is named as such)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(100))

    __table_args__ = (Index("ix_licensing_verifications_partner_id_id", "partner_id", "id"),)


# the checks' names and results only; a brand's method change, not this, changes public answers
audited_resource(
    LicensingVerification,
    "licensing_verification",
    snapshot=lambda row: {"passed": row.passed, "checks": {c["name"]: c["passed"] for c in row.report["checks"]}},
    announces=NOTHING_PUBLIC,
)


class LicensingLastGood(Base):
    """A user's last licensed answer from the partner's web service, shared by all workers.

    Read only when the partner's service fails (grace). The user is kept as a digest, and a row
    lives at most the partner's grace period: it is pseudonymous personal data with bounded
    retention. No foreign key: rows are written on their own short transactions, beside the
    request's, and expire by age (a deleted partner's rows go with the next prune).
    """

    __tablename__ = "licensing_last_good"

    partner_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    user_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    licence_type: Mapped[str] = mapped_column(String(63))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_licensing_last_good_answered_at", "answered_at"),)
