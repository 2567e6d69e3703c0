"""Verification runs: stored, audited, and the go-live rule that reads them.

The rule: the web-service method cannot be activated for a live brand until the last
verification of the partner's web service passed (:func:`last_verification_passed`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.audit.services import audited
from app.licensing.webservice.contract import WebServiceSettings
from app.licensing.webservice.models import LicensingVerification
from app.problems import Problem

KEPT_PER_PARTNER = 20


def record_verification(session: Session, partner_id: int, report: dict[str, Any], *, actor: str):
    """Store a run's report (the partner keeps its last 20) and audit it; the caller commits."""
    with audited(session, actor, "licensing.verify") as change:
        change.row = row = LicensingVerification(
            partner_id=partner_id, passed=bool(report["passed"]), report=report, actor=actor
        )
        session.add(row)
    kept = (
        select(LicensingVerification.id)
        .where(LicensingVerification.partner_id == partner_id)
        .order_by(LicensingVerification.id.desc())
        .limit(KEPT_PER_PARTNER)
    )
    session.execute(
        delete(LicensingVerification)
        .where(LicensingVerification.partner_id == partner_id)
        .where(LicensingVerification.id.not_in(kept.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    return row


def latest_verification(session: Session, partner_id: int) -> LicensingVerification | None:
    """The partner's most recent verification run, or None."""
    stmt = (
        select(LicensingVerification)
        .where(LicensingVerification.partner_id == partner_id)
        .order_by(LicensingVerification.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def last_verification_passed(session: Session, partner_id: int) -> bool:
    """Whether the partner's most recent verification passed (False when it never ran)."""
    latest = latest_verification(session, partner_id)
    return latest is not None and latest.passed


class LicensingNotVerified(Problem):
    def __init__(self, partner_id: int) -> None:
        super().__init__(
            "licensing_not_verified",
            "The web-service licensing method can go live only after the partner's web service passed "
            f"verification: run POST /admin/v1/partners/{partner_id}/licensing/verify until it passes.",
        )


def require_verified_web_service(session: Session, partner_id: int, before: str | None, after: str | None) -> None:
    """Refuse (409) to make a brand's licensing method ``web_service`` unless the last verification passed."""
    if after == "web_service" and before != "web_service" and not last_verification_passed(session, partner_id):
        raise LicensingNotVerified(partner_id)


def configured_web_service(session: Session, partner_id: int) -> WebServiceSettings | None:
    """The partner's stored web-service settings, or None when licensing settings are not stored yet."""
    try:  # the settings table belongs to the licensing core (app/licensing/settings.py)
        from app.licensing.settings import settings_row, settings_values
    except ImportError:
        return None
    return WebServiceSettings.from_mapping(partner_id, settings_values(settings_row(session, partner_id)))
