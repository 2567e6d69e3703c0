"""Tables of billing: closed monthly reports (versions and their rows) and partner-submitted usage
reports (versions and their rows). Versions are never edited; a correction is a new version."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.audit.resources import NOTHING_PUBLIC, audited_resource, fields_snapshot
from app.db import Base, UTCDateTime, utcnow


class UsageReport(Base):
    """One version of a partner's closed month: who closed it, when, why, and the CSV's sha256."""

    __tablename__ = "usage_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(String(7))
    version: Mapped[int]
    reason: Mapped[str] = mapped_column(String(500), default="")
    closed_by: Mapped[str] = mapped_column(String(100))
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    csv_sha256: Mapped[str] = mapped_column(String(64))
    totals: Mapped[dict] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("partner_id", "month", "version"),)


class UsageReportRow(Base):
    """One counted user of a closed report version, with the names it was invoiced under."""

    __tablename__ = "usage_report_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("usage_reports.id", ondelete="CASCADE"))
    user_key: Mapped[str] = mapped_column(String(256))
    basis: Mapped[str] = mapped_column(String(16))
    reseller_id: Mapped[int | None]
    reseller: Mapped[str] = mapped_column(String(200), default="")
    customer_id: Mapped[int | None]
    customer: Mapped[str] = mapped_column(String(200), default="")
    licence_type: Mapped[str] = mapped_column(String(63))
    evidence_from: Mapped[str] = mapped_column(String(20))
    evidence_to: Mapped[str] = mapped_column(String(20))

    __table_args__ = (Index("ix_usage_report_rows_report_id_user_key", "report_id", "user_key"),)


class UsageSubmission(Base):
    """One version of a partner's own usage report for a month (web-service method)."""

    __tablename__ = "usage_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(String(7))
    version: Mapped[int]
    idempotency_key: Mapped[str] = mapped_column(String(200))
    body_sha256: Mapped[str] = mapped_column(String(64))
    submitted_by: Mapped[str] = mapped_column(String(100))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    users: Mapped[int]

    __table_args__ = (
        UniqueConstraint("partner_id", "month", "version"),
        UniqueConstraint("partner_id", "idempotency_key"),
    )


class UsageSubmissionRow(Base):
    """One user id of a submitted usage report."""

    __tablename__ = "usage_submission_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("usage_submissions.id", ondelete="CASCADE"))
    user_key: Mapped[str] = mapped_column(String(256))
    licence_type: Mapped[str] = mapped_column(String(63), default="")

    __table_args__ = (Index("ix_usage_submission_rows_submission_id_user_key", "submission_id", "user_key"),)


def latest_version(session: Session, model: type, partner_id: int, month: str):
    """The newest version of a partner's month in ``model`` (reports or submissions), or None."""
    return session.scalar(
        select(model)
        .where(model.partner_id == partner_id, model.month == month)
        .order_by(model.version.desc())
        .limit(1)
    )


# closed reports and submitted reports are shown by no public answer
audited_resource(
    UsageReport,
    "usage_report",
    snapshot=fields_snapshot("month", "version", "reason", "csv_sha256", "totals"),
    announces=NOTHING_PUBLIC,
)
audited_resource(
    UsageSubmission,
    "usage_submission",
    snapshot=fields_snapshot("month", "version", "users", "body_sha256"),
    announces=NOTHING_PUBLIC,
)
