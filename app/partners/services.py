"""Partner services: onboarding, lifecycle, API keys and operator settings."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import audited
from app.db import utcnow
from app.formats import is_slug
from app.partners.models import KEY_ROLES, PARTNER_STATUSES, ApiKey, OperatorSetting, Partner
from app.problems import Conflict, ValidationProblem

# onboarding -> live -> suspended, and a suspended partner may be reinstated
STATUS_TRANSITIONS = {"onboarding": {"live", "suspended"}, "live": {"suspended"}, "suspended": {"live"}}
KEY_PREFIX = "lvk_"
SETTING_STANDARD_VIEWER_URL = "standard_viewer_url"


def create_partner(session: Session, *, slug: str, name: str, actor: str) -> Partner:
    """A new partner in status ``onboarding``."""
    problems: dict[str, list[str]] = {}
    if not is_slug(slug):
        problems["slug"] = ["Must be 2-63 lower-case letters, digits and hyphens, starting with a letter or digit."]
    if not name or not name.strip() or len(name) > 200:
        problems["name"] = ["Must be 1-200 characters."]
    if problems:
        raise ValidationProblem(problems)
    if session.scalar(select(Partner.id).where(Partner.slug == slug)) is not None:
        raise Conflict(f"A partner with slug {slug!r} already exists.", code="duplicate_slug")
    with audited(session, actor, "partner.create") as change:
        change.row = partner = Partner(slug=slug, name=name.strip())
        session.add(partner)
    return partner


def set_partner_status(session: Session, partner: Partner, status: str, *, actor: str) -> Partner:
    """Move a partner through its lifecycle; suspension makes every code answer 410."""
    if status not in PARTNER_STATUSES:
        raise ValidationProblem({"status": [f"Must be one of {', '.join(PARTNER_STATUSES)}."]})
    if status == partner.status:
        return partner
    if status not in STATUS_TRANSITIONS[partner.status]:
        raise ValidationProblem({"status": [f"A partner cannot go from {partner.status} to {status}."]})
    with audited(session, actor, "partner.set_status", partner):
        partner.status = status
    return partner


def key_digest(plain: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(plain.encode()).hexdigest()


def create_api_key(
    session: Session, *, role: str, actor: str, partner: Partner | None = None, label: str = ""
) -> tuple[ApiKey, str]:
    """A new API key; the plain key is returned once and never stored."""
    if role not in KEY_ROLES or (role == "operator") != (partner is None):
        raise ValidationProblem({"role": ["Operator keys have no partner; partner keys are admin or viewer."]})
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    with audited(session, actor, "api_key.create") as change:
        change.row = key = ApiKey(
            partner_id=partner.id if partner else None,
            role=role,
            digest=key_digest(plain),
            prefix=plain[: len(KEY_PREFIX) + 6],
            label=label,
            created_by=actor,
        )
        session.add(key)
    return key, plain


def authenticate(session: Session, plain: str) -> ApiKey | None:
    """The active key matching ``plain``, with its last-used time updated, or None."""
    key = session.scalar(select(ApiKey).where(ApiKey.digest == key_digest(plain), ApiKey.revoked_at.is_(None)))
    if key is not None:
        key.last_used_at = utcnow()
    return key


def partner_is_read_only(partner: Partner) -> bool:
    """Whether the partner's own keys may only read: a suspended partner changes nothing until live again."""
    return partner.status == "suspended"


def get_setting(session: Session, name: str, default: str) -> str:
    """An operator setting, or ``default`` (the deployment's configuration) when never set."""
    row = session.get(OperatorSetting, name)
    return row.value if row is not None else default


def set_setting(session: Session, name: str, value: str, *, actor: str, default: str) -> None:
    """Change an operator setting; public answers that show it are refreshed."""
    row = session.get(OperatorSetting, name)
    with audited(session, actor, "settings.update", row) as change:
        if row is None:
            change.before = {"value": default}  # never set: the deployment's configuration applied
            change.row = row = OperatorSetting(name=name, value=value)
            session.add(row)
        else:
            row.value = value


def revoke_api_key(session: Session, key: ApiKey, *, actor: str) -> ApiKey:
    """Revoke ``key`` at once; requests with it answer 401 from now on."""
    if key.revoked_at is not None:
        raise Conflict("This API key is already revoked.", code="already_revoked")
    with audited(session, actor, "api_key.revoke", key):
        key.revoked_at = utcnow()
    return key
