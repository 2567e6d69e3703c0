"""Onboarding services: the checklist, readiness facts, go-live now or at a scheduled time."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import audited
from app.branding.models import Brand, BrandRevision
from app.licensing.webservice.services import last_verification_passed
from app.onboarding.checklist import STEPS, StepDefinition, step_definition, step_problems
from app.onboarding.launches import has_test_launch
from app.onboarding.models import OnboardingStep
from app.onboarding.readiness import BrandFacts, Check, ReadinessFacts, failing, readiness_checks
from app.partners.models import Partner
from app.partners.services import set_partner_status
from app.problems import Conflict, NotFound, ValidationProblem
from app.upgrades.services import find_channel

log = logging.getLogger(__name__)
STEP_FIELDS = ("status", "owner", "due_on", "done_on", "note")


def _values(definition: StepDefinition, row: OnboardingStep | None) -> dict[str, Any]:
    """A step's current values: its row's once edited, else the step's defaults."""
    if row is not None:
        return {field: getattr(row, field) for field in STEP_FIELDS}
    return {"status": "todo", "owner": definition.owner, "due_on": None, "done_on": None, "note": ""}


def checklist(session: Session, partner: Partner) -> list[dict[str, Any]]:
    """Every step of ``partner``'s checklist: its row when edited, else the step's defaults."""
    rows = {
        row.key: row for row in session.scalars(select(OnboardingStep).where(OnboardingStep.partner_id == partner.id))
    }
    steps = []
    for definition in STEPS:
        row = rows.get(definition.key)
        values = _values(definition, row)
        steps.append({"key": definition.key, "title": definition.title, **values, "updated_at": row and row.updated_at})
    return steps


def update_step(session: Session, partner: Partner, key: str, changes: dict[str, Any], *, actor: str) -> OnboardingStep:
    """Change one step of ``partner``'s checklist (audited)."""
    definition = step_definition(key)
    if definition is None:
        raise NotFound(f"No onboarding step {key!r}; steps are: {', '.join(s.key for s in STEPS)}.")
    row = session.scalar(
        select(OnboardingStep).where(OnboardingStep.partner_id == partner.id, OnboardingStep.key == key)
    )
    values = {**_values(definition, row), **{k: v for k, v in changes.items() if k in STEP_FIELDS}}
    problems = step_problems(values)
    if problems:
        raise ValidationProblem(problems)
    with audited(session, actor, "onboarding.update_step", row) as change:
        if row is None:
            change.row = row = OnboardingStep(partner_id=partner.id, key=key)
            session.add(row)
        for field, value in values.items():
            setattr(row, field, value)
    return row


def readiness_facts(session: Session, partner: Partner, signing_keys: int) -> ReadinessFacts:
    """What the readiness checks look at, loaded for ``partner``."""
    brands = []
    for brand in session.scalars(select(Brand).where(Brand.partner_id == partner.id).order_by(Brand.id)):
        revision = session.get(BrandRevision, brand.live_revision_id) if brand.live_revision_id else None
        content = revision.content if revision is not None else brand.draft
        channel = find_channel(session, partner.id, content["upgrade_channel"])
        brands.append(
            BrandFacts(
                name=brand.name,
                published=revision is not None,
                licensing_method=revision.content.get("licensing_method") if revision is not None else None,
                channel=content["upgrade_channel"],
                channel_active=channel is not None and channel.active_serial is not None,
                upgrades_off=channel is not None and channel.halted,
            )
        )
    needs_web = any(b.licensing_method == "web_service" for b in brands)
    return ReadinessFacts(
        brands=tuple(brands),
        web_service_verified=needs_web and last_verification_passed(session, partner.id),
        signing_keys=signing_keys,
        test_launched=has_test_launch(session, partner.id),
    )


def readiness(session: Session, partner: Partner, signing_keys: int) -> list[Check]:
    """Every go-live check for ``partner``."""
    return readiness_checks(readiness_facts(session, partner, signing_keys))


class PartnerNotReady(Conflict):
    """409: go-live refused; ``failing`` lists each check that does not pass and why."""

    def __init__(self, checks: list[Check]) -> None:
        names = ", ".join(check.name for check in checks)
        super().__init__(
            f"The partner is not ready to go live; failing checks: {names}. See GET .../readiness.",
            code="partner_not_ready",
            failing=[{"name": c.name, "why": c.why} for c in checks],
        )


def change_status(session: Session, partner: Partner, status: str, *, actor: str, signing_keys: int) -> Partner:
    """Move ``partner`` to ``status``; going live from onboarding needs every readiness check to pass."""
    if status == "live" and partner.status == "onboarding":
        failed = failing(readiness(session, partner, signing_keys))
        if failed:
            raise PartnerNotReady(failed)
        partner.go_live_at = None
    return set_partner_status(session, partner, status, actor=actor)


def schedule_go_live(session: Session, partner: Partner, when: datetime | None, *, actor: str) -> Partner:
    """Schedule (or with None, cancel) ``partner``'s go-live; the scheduler makes it live then if ready."""
    if partner.status != "onboarding":
        raise Conflict(f"The partner is {partner.status}; only an onboarding partner's go-live is scheduled.")
    with audited(session, actor, "partner.schedule_go_live", partner):
        partner.go_live_at = when
    return partner


def run_scheduled(session: Session, now: datetime, *, signing_keys: int, actor: str = "scheduler") -> list[dict]:
    """Make live every onboarding partner whose go-live time has come and who is ready (caller commits).

    Safe with several schedulers at once: rows are claimed with ``FOR UPDATE SKIP LOCKED`` on
    PostgreSQL, so a second scheduler skips them until the first commits and then no longer finds
    them onboarding; on SQLite one writer runs at a time and the partner's version column refuses a
    status change made from a stale read (StaleDataError). A partner not ready keeps its date and
    is retried at the next run.
    """
    results = []
    stmt = (
        select(Partner)
        .where(Partner.status == "onboarding", Partner.go_live_at.is_not(None), Partner.go_live_at <= now)
        .order_by(Partner.id)
        .with_for_update(skip_locked=True)
    )
    for partner in session.scalars(stmt).all():
        failed = failing(readiness(session, partner, signing_keys))
        if failed:
            log.warning("scheduled go-live of partner %s postponed: %s", partner.id, [c.name for c in failed])
            results.append({"partner": partner.slug, "live": False, "failing": [c.name for c in failed]})
            continue
        change_status(session, partner, "live", actor=actor, signing_keys=signing_keys)
        results.append({"partner": partner.slug, "live": True, "failing": []})
    return results
