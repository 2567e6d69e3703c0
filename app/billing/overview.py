"""The operator's table of all partners for a month: the basis of the vendor's invoices."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.counting import Totals
from app.billing.reports import counted_users, latest_report
from app.billing.submissions import latest_submission, reconcile
from app.partners.models import Partner

COLUMNS = (
    "partner_id",
    "slug",
    "method",
    "users",
    "closed",
    "version",
    "csv_sha256",
    "submitted_version",
    "reconciliation_flagged",
)


def partner_rows(session: Session, month: str, *, percent: float, min_users: int) -> Iterator[dict]:
    """One row per partner: how it is counted, how many users, closed or not, reconciliation flag."""
    for partner in session.scalars(select(Partner).order_by(Partner.id)):
        report = latest_report(session, partner.id, month)
        if report is not None:
            totals = report.totals
        else:
            running = Totals()
            for row in counted_users(session, partner.id, month):
                running.add(row)
            totals = running.as_dict()
        submission = latest_submission(session, partner.id, month)
        flagged = None
        if submission is not None:
            flagged = reconcile(session, submission, percent=percent, min_users=min_users)["flagged"]
        yield {
            "partner_id": partner.id,
            "slug": partner.slug,
            "method": "+".join(sorted(totals["per_basis"])) or "none",
            "users": totals["users"],
            "closed": report is not None,
            "version": report.version if report is not None else None,
            "csv_sha256": report.csv_sha256 if report is not None else None,
            "submitted_version": submission.version if submission is not None else None,
            "reconciliation_flagged": flagged,
        }
